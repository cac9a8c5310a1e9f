"""Provider adapters: one per wire contract, chosen by `build_adapter`.

The sandbox provider has no contract of its own: it speaks the contract named
by `Settings.sandbox_contract` at the sandbox base URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from videohook.config import Settings
from videohook.models import ProviderName
from videohook.providers.aimlapi import AimlApiAdapter
from videohook.providers.base import GenerationRequest, HttpAdapter, ProviderAdapter
from videohook.providers.cometapi import CometApiAdapter
from videohook.providers.xai import XaiAdapter

if TYPE_CHECKING:
    import httpx

ADAPTERS: dict[ProviderName, type[HttpAdapter]] = {
    ProviderName.XAI: XaiAdapter,
    ProviderName.COMETAPI: CometApiAdapter,
    ProviderName.AIMLAPI: AimlApiAdapter,
}

# Capability facts, read off the adapter classes so they are stated once.
SUPPORTS_REFERENCE_IMAGES = frozenset(p for p, cls in ADAPTERS.items() if cls.supports_reference_images)
SUPPORTS_UPLOAD_URL = frozenset(p for p, cls in ADAPTERS.items() if cls.supports_upload_url)
CAPABILITIES = {"reference_images": SUPPORTS_REFERENCE_IMAGES, "upload_url": SUPPORTS_UPLOAD_URL}
# The setting that chooses the sandbox's contract (videohook.config reads it; `make dev` passes it on).
SANDBOX_CONTRACT_SETTING = "VIDEOHOOK_SANDBOX_CONTRACT"


def contract_of(provider: ProviderName, settings: Settings) -> ProviderName:
    """The wire contract `provider` is spoken to with (the configured one for the sandbox)."""
    contract = settings.sandbox_contract if provider is ProviderName.SANDBOX else provider
    if contract not in ADAPTERS:
        raise ValueError(f"sandbox_contract must be one of {sorted(ADAPTERS)}, not {contract!r}")
    return contract


def unsupported_message(provider: ProviderName, feature: str, settings: Settings) -> str:
    """Why `provider` cannot serve `feature` (a key of CAPABILITIES), and where it can be had: for the
    sandbox, which contract it is speaking and how to choose one that has the feature."""
    able = sorted(contract.value for contract in CAPABILITIES[feature])
    if provider is ProviderName.SANDBOX:
        contract = contract_of(provider, settings).value
        return (
            f"the sandbox is speaking the {contract} contract, which has no {feature}; run the local stack "
            f"with a contract that has it ({', '.join(able)}): {SANDBOX_CONTRACT_SETTING}={able[0]} make dev"
        )
    return f"provider '{provider.value}' does not support {feature}; providers that do: {', '.join(able)}"


def validate_capabilities(contract: ProviderName, request: GenerationRequest) -> None:
    """Raise ProviderUnsupported if `contract` cannot serve `request` (same check submit makes)."""
    ADAPTERS[contract].check_supported(request)


def build_adapter(
    provider: ProviderName, *, settings: Settings, api_key: str, client: httpx.Client
) -> ProviderAdapter:
    import httpx  # here: a handler that never calls a provider does not load it (cold start)

    adapter_class = ADAPTERS[contract_of(provider, settings)]
    timeout = httpx.Timeout(
        settings.provider_timeout_seconds, connect=settings.provider_connect_timeout_seconds
    )
    return adapter_class(settings.base_url(provider), api_key, client, label=provider.value, timeout=timeout)


__all__ = [
    "ADAPTERS",
    "CAPABILITIES",
    "SUPPORTS_REFERENCE_IMAGES",
    "SUPPORTS_UPLOAD_URL",
    "SANDBOX_CONTRACT_SETTING",
    "AimlApiAdapter",
    "CometApiAdapter",
    "XaiAdapter",
    "build_adapter",
    "contract_of",
    "unsupported_message",
    "validate_capabilities",
]
