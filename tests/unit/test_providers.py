"""videohook.providers: build_adapter, contracts and capabilities (every adapter refuses what its
contract cannot do before any request)."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes import (
    PROVIDER_KEY,
    scripted_adapter,
)
from videohook.config import Settings
from videohook.models import ProviderName
from videohook.providers import (
    SUPPORTS_REFERENCE_IMAGES,
    build_adapter,
    contract_of,
    validate_capabilities,
)
from videohook.providers.aimlapi import AimlApiAdapter
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderAuthError,
    ProviderRejected,
    ProviderUnsupported,
)
from videohook.providers.cometapi import CometApiAdapter
from videohook.providers.xai import XaiAdapter

# ---- build_adapter and capabilities ------------------------------------------


@pytest.mark.parametrize(
    ("provider", "contract", "cls", "url"),
    [
        (ProviderName.XAI, ProviderName.XAI, XaiAdapter, "https://x.test/v1/videos/generations"),
        (
            ProviderName.COMETAPI,
            ProviderName.COMETAPI,
            CometApiAdapter,
            "https://comet.test/grok/v1/videos/generations",
        ),
        (
            ProviderName.AIMLAPI,
            ProviderName.AIMLAPI,
            AimlApiAdapter,
            "https://aiml.test/v2/video/generations",
        ),
        (
            ProviderName.SANDBOX,
            ProviderName.COMETAPI,
            CometApiAdapter,
            "http://127.0.0.1:9/grok/v1/videos/generations",
        ),
    ],
)
def test_build_adapter(provider: ProviderName, contract: ProviderName, cls: type, url: str) -> None:
    settings = Settings(
        sandbox_contract=ProviderName.COMETAPI,
        base_urls={
            ProviderName.XAI: "https://x.test",
            ProviderName.COMETAPI: "https://comet.test/",
            ProviderName.AIMLAPI: "https://aiml.test",
            ProviderName.SANDBOX: "http://127.0.0.1:9",
        },
    )
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"request_id": "r", "id": "r"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    adapter = build_adapter(provider, settings=settings, api_key=PROVIDER_KEY, client=client)
    assert type(adapter) is cls
    assert contract_of(provider, settings) is contract
    adapter.submit(GenerationRequest(prompt="p"))
    assert str(calls[0].url) == url


def test_sandbox_errors_name_the_sandbox() -> None:
    settings = Settings(sandbox_contract=ProviderName.XAI)
    client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401)))
    adapter = build_adapter(ProviderName.SANDBOX, settings=settings, api_key=PROVIDER_KEY, client=client)
    with pytest.raises(ProviderAuthError, match="^sandbox refused"):
        adapter.poll("r")


def test_contract_of_rejects_sandbox_as_its_own_contract() -> None:
    with pytest.raises(ValueError, match="sandbox_contract"):
        contract_of(ProviderName.SANDBOX, Settings(sandbox_contract=ProviderName.SANDBOX))


def test_validate_capabilities() -> None:
    refs = GenerationRequest(prompt="p", reference_images=("https://a/1.png",))
    assert SUPPORTS_REFERENCE_IMAGES == {ProviderName.AIMLAPI}
    validate_capabilities(ProviderName.AIMLAPI, refs)
    for contract in (ProviderName.XAI, ProviderName.COMETAPI):
        with pytest.raises(ProviderUnsupported):
            validate_capabilities(contract, refs)
    validate_capabilities(ProviderName.XAI, GenerationRequest(prompt="p", upload_url="https://b/put"))


@pytest.mark.parametrize(
    ("time_scale", "read", "connect"), [(1.0, 30.0, 10.0), (0.5, 15.0, 5.0), (0.02, 2.0, 2.0)]
)
def test_provider_timeouts_follow_the_stack_clock_down_to_a_floor(
    time_scale: float, read: float, connect: float
) -> None:
    """The local stack's sandbox waits scale with its clock; a submit timeout must too, or a
    `submit_delay` fault could never outlast it. A floor keeps a busy machine's answers in time."""
    seen: list[dict[str, float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"request_id": "req-1"})

    client = httpx.Client(transport=httpx.MockTransport(answer))
    settings = Settings(time_scale=time_scale)
    adapter = build_adapter(ProviderName.XAI, settings=settings, api_key=PROVIDER_KEY, client=client)
    assert adapter.submit(GenerationRequest(prompt="a fox")) == "req-1"
    (timeout,) = seen
    assert (timeout["read"], timeout["connect"]) == (read, connect)


@pytest.mark.parametrize(
    ("cls", "request_", "field"),
    [
        (
            XaiAdapter,
            GenerationRequest(prompt="p", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
        (
            CometApiAdapter,
            GenerationRequest(prompt="p", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
        (
            AimlApiAdapter,
            GenerationRequest(prompt="p", upload_url="https://bucket.invalid/put"),
            "upload_url",
        ),
        (
            AimlApiAdapter,
            GenerationRequest(prompt="p", image_url="https://a/0.png", reference_images=("https://a/1.png",)),
            "reference_images",
        ),
    ],
)
def test_unsupported_features_refused_before_any_request(
    cls: type[HttpAdapter], request_: GenerationRequest, field: str
) -> None:
    adapter, calls = scripted_adapter(cls)
    with pytest.raises(ProviderUnsupported) as info:
        adapter.submit(request_)
    assert info.value.field == field
    assert isinstance(info.value, ProviderRejected)
    assert calls == []
