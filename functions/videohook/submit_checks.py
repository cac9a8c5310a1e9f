"""The rules of a submit that need runtime state (settings, provider keys, S3); the models hold the rest.

A request that passes creates a job; one that fails creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from videohook import errors
from videohook.models import MODELS_WITHOUT_1080P, CreateVideoRequest, ProviderName
from videohook.providers import SUPPORTS_REFERENCE_IMAGES, contract_of, unsupported_message
from videohook.runtime import ProviderNotConfigured, Runtime
from videohook.uploads import uploaded_image_url


@dataclass(frozen=True)
class Prepared:
    """What submit needs after every check passed: no write has happened yet."""

    provider: ProviderName
    image_url: str | None


def prepare(runtime: Runtime, request: CreateVideoRequest, *, tenant_id: str) -> Prepared:
    """Every check that needs this deployment's state, in the order callers see them."""
    settings = runtime.settings
    provider = request.provider or settings.provider
    if (
        request.model is None
        and request.resolution == "1080p"
        and settings.default_model in MODELS_WITHOUT_1080P
    ):
        raise errors.InvalidInput(
            "unsupported_resolution", f"{settings.default_model} has no 1080p", field="resolution"
        )
    if (
        request.reference_images is not None
        and contract_of(provider, settings) not in SUPPORTS_REFERENCE_IMAGES
    ):
        raise errors.InvalidInput(
            "unsupported_by_provider",
            unsupported_message(provider, "reference_images", settings),
            field="reference_images",
        )
    if request.webhook_url is not None:
        # Imported here for cold start: it brings httpx, which the reconciler never needs.
        from videohook.webhook_urls import WebhookUrlRejected, validate_webhook_url

        try:
            validate_webhook_url(
                request.webhook_url,
                allow_loopback=settings.allow_loopback_webhooks,
                schemes=settings.allowed_webhook_schemes,
            )
        except WebhookUrlRejected as error:
            raise errors.InvalidInput("invalid_webhook_url", str(error), field="webhook_url") from error
    try:
        runtime.provider_key(provider)
    except ProviderNotConfigured as error:
        # The caller's choice is the caller's mistake; the deployment's default is ours.
        refusal = errors.InvalidInput if request.provider else errors.ProviderNotConfigured
        raise refusal("provider_not_configured", str(error), field="provider") from error
    image_url = request.image.url if request.image else None
    if request.image is not None and request.image.upload_id is not None:
        image_url = uploaded_image_url(runtime, tenant_id, request.image.upload_id)
    return Prepared(provider, image_url)
