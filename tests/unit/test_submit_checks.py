"""videohook.submit_checks: what a submit refuses, or allows, given the runtime's settings and keys
(the request rules of the models are tested through the handler: tests/unit/test_handlers_api.py)."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.rest_api.errors import answer_domain_error, status_of
from tests.fakes import ALL_KEYS, STATE_MACHINE_ARN, FakeRuntime, video_request
from videohook import submit
from videohook.config import Settings
from videohook.errors import DomainError
from videohook.models import ProviderName

RUNTIME_REJECTIONS: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("1080p default model", {"resolution": "1080p"}, 400, "unsupported_resolution", "resolution"),
    (
        "reference images on default (sandbox speaking xai)",
        {"reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "reference images on xai",
        {"provider": "xai", "reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "reference images on cometapi",
        {"provider": "cometapi", "reference_images": ["https://example.com/b.png"]},
        400,
        "unsupported_by_provider",
        "reference_images",
    ),
    (
        "webhook to private ip",
        {"webhook_url": "https://10.0.0.7/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to 192.168",
        {"webhook_url": "https://192.168.1.20/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to loopback",
        {"webhook_url": "https://127.0.0.1:9000/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook to metadata service",
        {"webhook_url": "https://169.254.169.254/latest"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
    (
        "webhook over http",
        {"webhook_url": "http://93.184.215.14/hook"},
        400,
        "invalid_webhook_url",
        "webhook_url",
    ),
]


@pytest.mark.parametrize(
    ("values", "status", "code", "field"),
    [
        pytest.param(values, status, code, field, id=name)
        for name, values, status, code, field in RUNTIME_REJECTIONS
    ],
)
def test_submit_rejections(
    runtime: FakeRuntime, values: dict[str, Any], status: int, code: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, video_request(**values), tenant_id="key_t")
    error = caught.value
    assert (status_of(error), error.code, error.field) == (status, code, field)
    assert error.message
    assert answer_domain_error(error).body == {
        "error": {"code": code, "message": error.message, "field": field}
    }
    assert runtime.log == [], "nothing may be stored, submitted or started for a rejected request"
    assert runtime.store.jobs == {}


@pytest.mark.parametrize(
    ("provider", "status"),
    [(ProviderName.COMETAPI, 400), (ProviderName.AIMLAPI, 400), (None, 503)],
)
def test_unconfigured_provider_key(provider: ProviderName | None, status: int) -> None:
    # 400 when the caller named the provider, 503 when it is the deployment's default (sandbox).
    missing = provider or ProviderName.SANDBOX
    runtime = FakeRuntime(keys={p: k for p, k in ALL_KEYS.items() if p is not missing})
    values = {"provider": provider.value} if provider else {}
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, video_request(**values), tenant_id="key_t")
    assert (status_of(caught.value), caught.value.code, caught.value.field) == (
        status,
        "provider_not_configured",
        "provider",
    )
    assert missing.value in caught.value.message
    assert runtime.log == []


def test_1080p_allowed_on_the_newer_model(runtime: FakeRuntime) -> None:
    job = submit.submit_job(
        runtime, video_request(model="grok-imagine-video-1.5", resolution="1080p"), tenant_id="t"
    )
    assert job.resolution == "1080p" and job.model == "grok-imagine-video-1.5"


def test_reference_images_allowed_when_the_sandbox_speaks_aimlapi() -> None:
    runtime = FakeRuntime(
        Settings(state_machine_arn=STATE_MACHINE_ARN, sandbox_contract=ProviderName.AIMLAPI)
    )
    refs = ["https://example.com/a.png", "https://example.com/b.png"]
    job = submit.submit_job(runtime, video_request(reference_images=refs), tenant_id="key_t")
    assert job.reference_images == refs
    (sent,) = runtime.calls("adapter.submit")
    assert sent.reference_images == tuple(refs)


def test_a_feature_the_sandboxs_contract_lacks_names_the_contract_and_how_to_choose_another(
    runtime: FakeRuntime,
) -> None:
    # The default sandbox speaks the xai contract (Settings.sandbox_contract), which has no reference images.
    with pytest.raises(DomainError) as caught:
        submit.submit_job(
            runtime, video_request(reference_images=["https://example.com/b.png"]), tenant_id="key_t"
        )
    assert caught.value.message == (
        "the sandbox is speaking the xai contract, which has no reference_images; run the local stack "
        "with a contract that has it (aimlapi): VIDEOHOOK_SANDBOX_CONTRACT=aimlapi make dev"
    )


def test_a_provider_without_a_feature_names_the_providers_with_it(runtime: FakeRuntime) -> None:
    request = video_request(provider="cometapi", reference_images=["https://example.com/b.png"])
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, request, tenant_id="key_t")
    assert caught.value.message == (
        "provider 'cometapi' does not support reference_images; providers that do: aimlapi"
    )


@pytest.mark.parametrize("url", ["https://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"])
def test_a_loopback_webhook_refused_names_the_setting_that_allows_it(runtime: FakeRuntime, url: str) -> None:
    assert not runtime.settings.allow_loopback_webhooks
    with pytest.raises(DomainError) as caught:
        submit.submit_job(runtime, video_request(webhook_url=url), tenant_id="key_t")
    assert (caught.value.code, caught.value.field) == ("invalid_webhook_url", "webhook_url")
    assert "VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS=1" in caught.value.message
    assert runtime.log == []
