"""videohook.providers.base: how every adapter classifies answers and errors (one helper), over
httpx.MockTransport (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tests.fakes import (
    ALL_ADAPTERS,
    PROVIDER_KEY,
    ProviderReply,
    raising,
    scripted_adapter,
)
from videohook.providers.base import (
    GenerationRequest,
    HttpAdapter,
    ProviderAuthError,
    ProviderMalformed,
    ProviderRejected,
    ProviderTimeout,
    ProviderTransient,
    ProviderUnsupported,
    parse_progress,
    parse_retry_after,
)
from videohook.providers.xai import XaiAdapter

# ---- error classification (one helper, every adapter) ------------------------


def submit(cls: type[HttpAdapter], *replies: ProviderReply) -> str:
    adapter, _ = scripted_adapter(cls, *replies)
    return adapter.submit(GenerationRequest(prompt="p"))


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_429_retry_after_seconds(cls: type[HttpAdapter]) -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(cls, httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow down"}))
    assert (info.value.status_code, info.value.retry_after) == (429, 7.0)
    assert not isinstance(info.value, ProviderMalformed)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_429_retry_after_http_date(cls: type[HttpAdapter]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    adapter, _ = scripted_adapter(cls, httpx.Response(429, headers={"Retry-After": when}))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("req-1")
    assert 100 <= info.value.retry_after <= 121


def test_429_without_retry_after() -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(XaiAdapter, httpx.Response(429))
    assert info.value.retry_after is None


def test_parse_retry_after_edge_cases() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("value", [42, 42.9, "42%", " 42 % ", "42"])
def test_parse_progress(value: object) -> None:
    assert parse_progress(value) == 42
    assert parse_progress("n/a") is None
    assert parse_progress(True) is None
    assert parse_progress(250) == 100


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("status_code", [500, 502, 503])
def test_5xx_is_transient(cls: type[HttpAdapter], status_code: int) -> None:
    with pytest.raises(ProviderTransient) as info:
        submit(cls, httpx.Response(status_code, text="<html>bad gateway</html>"))
    assert info.value.status_code == status_code
    assert not isinstance(info.value, ProviderMalformed)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    "exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError, httpx.RemoteProtocolError]
)
def test_timeouts_and_resets_are_transient(
    cls: type[HttpAdapter], exc_type: type[httpx.RequestError]
) -> None:
    adapter, _ = scripted_adapter(cls, raising(exc_type))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("req-1")
    assert cls.name in info.value.message


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    ("exc_type", "may_have_arrived"),
    [
        (httpx.ConnectTimeout, False),
        (httpx.ConnectError, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
    ],
)
def test_a_submit_that_may_have_reached_the_provider_is_a_timeout(
    cls: type[HttpAdapter], exc_type: type[httpx.RequestError], may_have_arrived: bool
) -> None:
    """Submit must not retry these (a second paid job): they are told apart from the safe ones."""
    adapter, _ = scripted_adapter(cls, raising(exc_type))
    with pytest.raises(ProviderTransient) as info:
        adapter.submit(GenerationRequest(prompt="a fox"))
    assert isinstance(info.value, ProviderTimeout) is may_have_arrived


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("status_code", [401, 403])
def test_auth_errors_never_show_the_key(cls: type[HttpAdapter], status_code: int) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {PROVIDER_KEY}"}}
    with pytest.raises(ProviderAuthError) as info:
        submit(cls, httpx.Response(status_code, json=body))
    assert PROVIDER_KEY not in info.value.message
    assert PROVIDER_KEY not in str(info.value)
    assert "refused our API key" in info.value.message
    assert info.value.status_code == status_code


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize(
    ("status_code", "body", "expected"),
    [
        (400, {"error": {"message": "duration must be <= 15"}}, "duration must be <= 15"),
        (400, {"code": "invalid_request", "message": "prompt too long"}, "prompt too long"),
        (422, {"detail": "unsupported resolution"}, "unsupported resolution"),
        (
            400,
            {"message": ["duration must not be greater than 15"], "error": "Bad Request", "statusCode": 400},
            "duration must not be greater than 15",
        ),
        (400, "plain text complaint", "plain text complaint"),
    ],
)
def test_4xx_is_rejected_with_provider_message(
    cls: type[HttpAdapter], status_code: int, body: Any, expected: str
) -> None:
    reply = (
        httpx.Response(status_code, text=body)
        if isinstance(body, str)
        else httpx.Response(status_code, json=body)
    )
    with pytest.raises(ProviderRejected) as info:
        submit(cls, reply)
    assert expected in info.value.message
    assert info.value.status_code == status_code
    assert not isinstance(info.value, ProviderUnsupported)


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_404_rejected_on_submit_but_transient_on_poll(cls: type[HttpAdapter]) -> None:
    with pytest.raises(ProviderRejected):
        submit(cls, httpx.Response(404, json={"error": "model not found"}))
    adapter, _ = scripted_adapter(cls, httpx.Response(404, json={"error": "not found"}))
    with pytest.raises(ProviderTransient) as info:
        adapter.poll("fresh-id")
    assert info.value.status_code == 404


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
def test_200_non_json_is_malformed_with_scrubbed_snippet(cls: type[HttpAdapter]) -> None:
    text = f"<html>maintenance {PROVIDER_KEY} " + "x" * 1000 + "</html>"
    for call in ("submit", "poll"):
        adapter, _ = scripted_adapter(cls, httpx.Response(200, text=text))
        with pytest.raises(ProviderMalformed) as info:
            adapter.submit(GenerationRequest(prompt="p")) if call == "submit" else adapter.poll("req-1")
        message = info.value.message
        assert "<html>maintenance" in message
        assert PROVIDER_KEY not in message
        snippet = message.split(": ", 1)[1]
        assert len(snippet) <= 200


@pytest.mark.parametrize("cls", ALL_ADAPTERS)
@pytest.mark.parametrize("body", [[1, 2], {"unexpected": True}, "null"])
def test_200_unknown_shape_on_submit_is_malformed(cls: type[HttpAdapter], body: Any) -> None:
    reply = httpx.Response(200, text=body) if isinstance(body, str) else httpx.Response(200, json=body)
    with pytest.raises(ProviderMalformed):
        submit(cls, reply)


def test_empty_200_poll_is_malformed() -> None:
    with pytest.raises(ProviderMalformed) as info:
        scripted_adapter(XaiAdapter, httpx.Response(200))[0].poll("req-1")
    assert "(empty body)" in info.value.message
