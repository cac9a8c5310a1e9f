"""The provider adapters (functions/videohook/providers) against the sandbox's faults
(sandbox/faults.py), and one such fault through the local stack."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox import SandboxServer
from tests.integration.sandbox_client import TLS
from videohook.models import JobStatus
from videohook.providers import AimlApiAdapter, CometApiAdapter, XaiAdapter
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderError,
    ProviderMalformed,
    ProviderTransient,
)

# --------------------------------------------------------------------------- what the adapters make of them
# The provider adapters (functions/videohook/providers) against each fault, as docs/providers.md
# §5 classifies them. Known disagreements are strict xfails: fix the adapter, drop the mark.

ADAPTERS = {"xai": XaiAdapter, "cometapi": CometApiAdapter, "aimlapi": AimlApiAdapter}


@pytest.fixture
def adapter_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, verify=TLS) as http:
        yield http


@pytest.fixture(params=list(ADAPTERS))
def adapter(
    request: pytest.FixtureRequest, instant: SandboxServer, adapter_http: httpx.Client
) -> HttpAdapter:
    """Each contract's adapter, talking to the ``instant`` sandbox."""
    return ADAPTERS[request.param](instant.url, "test-key", adapter_http)


@pytest.mark.parametrize(
    ("directives", "error", "status", "retry_after"),
    [
        ("sandbox:submit_429=1 sandbox:retry_after=0.25", ProviderTransient, 429, 0.25),
        ("sandbox:submit_5xx=1", ProviderTransient, 503, None),
        ("sandbox:submit_html=1", ProviderTransient, 502, None),
    ],
)
def test_adapters_retry_submit_refusals_and_the_same_request_is_then_accepted(
    instant: SandboxServer,
    adapter: HttpAdapter,
    directives: str,
    error: type[ProviderError],
    status: int,
    retry_after: float | None,
) -> None:
    request = GenerationRequest(prompt=f"x {directives}", duration=1, resolution="480p")
    with pytest.raises(error) as refused:
        adapter.submit(request)
    assert refused.value.status_code == status and refused.value.retry_after == retry_after
    assert adapter.submit(request) == instant.jobs[0]["id"]  # the adapter sends the identical body again
    assert instant.stats["accepted"] == 1 and instant.stats["duplicate_accepted"] == 0


@pytest.mark.parametrize(
    ("directives", "error", "status"),
    [
        ("sandbox:poll_404_seconds=1000", ProviderTransient, 404),
        ("sandbox:poll_5xx=1", ProviderTransient, 503),
        ("sandbox:poll_html=1", ProviderTransient, 502),
        ("sandbox:poll_malformed=1", ProviderMalformed, 200),
    ],
)
def test_adapters_treat_poll_faults_as_transient(
    adapter: HttpAdapter, directives: str, error: type[ProviderError], status: int
) -> None:
    request_id = adapter.submit(GenerationRequest(prompt=f"x {directives}", duration=1, resolution="480p"))
    with pytest.raises(error) as raised:
        adapter.poll(request_id)
    assert type(raised.value) is error and raised.value.status_code == status
    if "poll_404" not in directives:
        assert adapter.poll(request_id).status is JobStatus.SUCCEEDED  # the burst is over


_AIMLAPI_MODERATED = pytest.param(
    "aimlapi",
    "moderated",
    JobStatus.FAILED,
    "moderation_blocked",
)


@pytest.mark.parametrize(
    ("contract", "outcome", "status", "code"),
    [
        *[
            (contract, outcome, status, code)
            for contract in ("xai", "cometapi")
            for outcome, status, code in (
                ("failed", JobStatus.FAILED, "generation_failed"),
                ("expired", JobStatus.EXPIRED, "provider_expired"),
                ("moderated", JobStatus.FAILED, "moderation_blocked"),
            )
        ],
        ("aimlapi", "failed", JobStatus.FAILED, "generation_failed"),
        _AIMLAPI_MODERATED,
    ],
)
def test_adapters_read_the_terminal_outcomes(
    instant: SandboxServer,
    adapter_http: httpx.Client,
    contract: str,
    outcome: str,
    status: JobStatus,
    code: str,
) -> None:
    adapter = ADAPTERS[contract](instant.url, "test-key", adapter_http)
    request_id = adapter.submit(GenerationRequest(prompt=f"x sandbox:outcome={outcome}", duration=1))
    state = adapter.poll(request_id)
    assert state.status is status and state.error is not None and state.error.code == code


def test_xai_adapter_reads_the_empty_202_as_queued(
    instant: SandboxServer, adapter_http: httpx.Client
) -> None:
    adapter = XaiAdapter(instant.url, "test-key", adapter_http)
    request_id = adapter.submit(GenerationRequest(prompt="x sandbox:pending_202=1 sandbox:seconds=1000"))
    assert adapter.poll(request_id).status is JobStatus.QUEUED
    assert instant.stats["fault_pending_202"] == 1


@pytest.mark.e2e
def test_a_5xx_burst_does_not_use_up_the_malformed_poll_budget(api: httpx.Client) -> None:
    prompt = f"a kite {time.monotonic_ns()} sandbox:poll_5xx=9 sandbox:poll_malformed=10"
    created = api.post("/v1/videos", json={"prompt": prompt, "duration": 1, "resolution": "480p"})
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 60
    job = created.json()
    while job["status"] not in ("succeeded", "failed", "expired", "canceled") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = api.get(f"/v1/videos/{job_id}").json()
    assert job["status"] == "succeeded", job.get("error")
