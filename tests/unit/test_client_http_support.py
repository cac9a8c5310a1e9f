"""What every HTTP call of the client shares (http_support.py): typed errors from error answers and
broken connections, and retries with their backoff."""

from __future__ import annotations

import httpx
import pytest
from videohook_client import (
    VideohookApiError,
    VideohookClientError,
    VideohookConnectionError,
    VideohookServerError,
)

from tests.fakes import CLIENT_API_KEY, dropped_connection, error_json, job_json


@pytest.mark.parametrize(
    ("response", "kind", "status", "code", "field"),
    [
        (
            error_json(400, "invalid_field", "duration: too big", "duration"),
            VideohookClientError,
            400,
            "invalid_field",
            "duration",
        ),  # fmt: skip
        (httpx.Response(403, json={"message": "Forbidden"}), VideohookClientError, 403, "forbidden", None),
        (error_json(404, "not_found", "no such job"), VideohookClientError, 404, "not_found", None),
        (
            httpx.Response(413, json={"message": "Request Too Long"}),
            VideohookClientError,
            413,
            "request_too_large",
            None,
        ),  # fmt: skip
        (
            error_json(502, "provider_auth_failed", "nope"),
            VideohookServerError,
            502,
            "provider_auth_failed",
            None,
        ),
        (httpx.Response(500, text="<html>boom</html>"), VideohookServerError, 500, "server_error", None),
    ],
)
def test_error_answers_map_to_typed_errors(api, client, response, kind, status, code, field):
    api.on("POST", "/prod/v1/videos", response)
    with pytest.raises(kind) as caught:
        client.create_video("p")
    error = caught.value
    assert isinstance(error, VideohookApiError)
    assert (error.status, error.code, error.field) == (status, code, field)
    assert error.message
    assert len(api.requests) == 1  # a create without an idempotency key is never retried


def test_gets_are_retried_on_503_honouring_retry_after(api, client, clock):
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(503, headers={"retry-after": "3"}, json={"error": {"code": "x", "message": "y"}}),
        httpx.Response(200, json=job_json()),
    )
    assert client.get_video("vid_1").id == "vid_1"
    assert clock.sleeps == [3.0]


def test_an_idempotent_create_is_retried_after_a_connection_error(api, client, clock):
    api.on("POST", "/prod/v1/videos", dropped_connection, httpx.Response(202, json=job_json()))
    assert client.create_video("p", idempotency_key="k").id == "vid_1"
    assert len(api.requests) == 2 and clock.sleeps == [0.5]


def test_connection_errors_say_where_but_never_the_key(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", dropped_connection)
    with pytest.raises(VideohookConnectionError) as caught:
        client.get_video("vid_1")
    assert "https://api.example.test" in str(caught.value) and CLIENT_API_KEY not in str(caught.value)
    assert len(api.requests) == 3  # one try and two retries


def test_a_success_that_is_not_json_is_a_server_error(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(VideohookServerError, match="did not answer JSON"):
        client.get_video("vid_1")
