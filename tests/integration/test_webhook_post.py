"""videohook.webhook_post: deliver_webhook against a real loopback receiver that verifies
Standard Webhooks signatures, and the Retry-After parsing."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from videohook.webhook_post import MAX_RESPONSE_BYTES, DeliveryAttempt, deliver_webhook, parse_retry_after
from videohook.webhook_urls import VettedUrl, validate_webhook_url

SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-0123456789!!").decode()
BODY = json.dumps(
    {"type": "video.succeeded", "timestamp": "2025-01-01T00:00:00Z", "data": {"id": "v1"}}
).encode()
HUGE = 64 * 1024 * 1024


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ReceiverServer

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(SECRET).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        self.server.requests.append(
            {"path": self.path, "headers": headers, "body": body, "verified": verified}
        )

        if self.path == "/ok":
            self._answer(200, b'{"ok":true}')
        elif self.path == "/accepted":
            self._answer(204, b"")
        elif self.path == "/fail":
            self._answer(500, b"boom")
        elif self.path == "/redirect":
            self._answer(302, b"", {"Location": "/ok"})
        elif self.path == "/busy":
            self._answer(429, b"slow down", {"Retry-After": "7"})
        elif self.path == "/huge":
            self._huge()
        elif self.path == "/silent":
            self.server.release.wait(10)  # never answers while the test runs
            self.close_connection = True
        else:
            self._answer(404, b"")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(HUGE))
        self.end_headers()
        block = b"x" * (64 * 1024)
        sent = 0
        try:
            while sent < HUGE:
                self.wfile.write(block)
                sent += len(block)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            self.server.huge_sent = sent
            self.server.huge_done.set()
            self.close_connection = True


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receiver)
        self.requests: list[dict] = []
        self.release = threading.Event()
        self.huge_done = threading.Event()
        self.huge_sent = 0


@pytest.fixture
def receiver() -> Iterator[_ReceiverServer]:
    server = _ReceiverServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def url(server: _ReceiverServer, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def deliver(server, path, client, **kwargs) -> DeliveryAttempt:
    target = validate_webhook_url(url(server, path), allow_loopback=True)
    return deliver_webhook(
        target=target, event_id="evt_123", body=BODY, secret=SECRET, client=client, **kwargs
    )


def assert_no_secret(attempt: DeliveryAttempt) -> None:
    dumped = attempt.model_dump_json()
    assert SECRET not in dumped and SECRET.removeprefix("whsec_") not in dumped


def test_200_is_delivered_and_the_receiver_verifies_it(receiver, client):
    attempt = deliver(receiver, "/ok", client)
    assert attempt.delivered is True
    assert attempt.status_code == 200
    assert attempt.error is None
    assert attempt.retry_after is None
    assert attempt.response_bytes == len(b'{"ok":true}')
    assert 0 <= attempt.latency_ms < 5000
    assert_no_secret(attempt)

    [request] = receiver.requests
    assert request["verified"] is True
    assert request["body"] == BODY
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "videohook/0.1"
    assert headers["webhook-id"] == "evt_123"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert Webhook(SECRET).verify(request["body"], headers)["data"] == {"id": "v1"}


def test_204_is_delivered(receiver, client):
    attempt = deliver(receiver, "/accepted", client)
    assert attempt.delivered is True and attempt.status_code == 204


def test_500_is_not_delivered(receiver, client):
    attempt = deliver(receiver, "/fail", client)
    assert attempt.delivered is False
    assert attempt.status_code == 500
    assert attempt.error == "HTTP 500"
    assert receiver.requests[0]["verified"] is True


def test_redirect_is_not_followed(receiver):
    # Even a client configured to follow redirects must not follow this one.
    with httpx.Client(follow_redirects=True) as following:
        attempt = deliver(receiver, "/redirect", following)
    assert attempt.delivered is False
    assert attempt.status_code == 302
    assert "redirect" in attempt.error
    assert [r["path"] for r in receiver.requests] == ["/redirect"]


def test_parse_retry_after():
    now = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now=now) == 0.0
    for bad in (None, "", "-3", "soon", "nan", "inf"):
        assert parse_retry_after(bad) is None


def test_429_captures_retry_after(receiver, client):
    attempt = deliver(receiver, "/busy", client)
    assert attempt.delivered is False
    assert attempt.status_code == 429
    assert attempt.retry_after == 7.0


def test_huge_answer_is_read_only_up_to_the_cap(receiver, client):
    started = time.monotonic()
    attempt = deliver(receiver, "/huge", client)
    assert time.monotonic() - started < 5
    assert attempt.delivered is True
    assert attempt.status_code == 200
    assert attempt.response_bytes == MAX_RESPONSE_BYTES
    # The connection was dropped: the receiver could not push the whole body.
    assert receiver.huge_done.wait(5)
    assert receiver.huge_sent < HUGE // 2


def test_never_answering_receiver_times_out(receiver, client):
    started = time.monotonic()
    attempt = deliver(receiver, "/silent", client, timeout=0.5)
    assert time.monotonic() - started < 3
    assert attempt.delivered is False
    assert attempt.status_code is None
    assert "timeout" in attempt.error.lower()
    assert attempt.latency_ms >= 400
    assert len(receiver.requests) == 1  # the request did arrive; the answer never came
    assert_no_secret(attempt)


def test_refused_connection_is_not_delivered(client):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    target = validate_webhook_url(f"http://127.0.0.1:{port}/hook", allow_loopback=True)
    attempt = deliver_webhook(target=target, event_id="e", body=BODY, secret=SECRET, client=client, timeout=2)
    assert attempt.delivered is False
    assert attempt.status_code is None
    assert "ConnectError" in attempt.error
    assert_no_secret(attempt)


def test_delivery_connects_to_the_vetted_address_without_a_second_lookup(receiver, client, monkeypatch):
    """A rebinding DNS name cannot redirect the POST: the vetted address is used as is."""
    lookups: list[str] = []
    # Every lookup in the process, the HTTP client's included, goes through socket.getaddrinfo:
    # the test name means loopback, anything else resolves as tests/conftest.py allows.
    guarded = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        lookups.append(host)
        if host == "hooks.example.test":
            return [(2, 1, 6, "", ("127.0.0.1", port))]
        return guarded(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    port = receiver.server_address[1]
    target = validate_webhook_url(f"http://hooks.example.test:{port}/ok", allow_loopback=True)
    assert target.addresses == ["127.0.0.1"] and lookups == ["hooks.example.test"]

    def rebound(host, port, *args, **kwargs):
        if host == "hooks.example.test":
            raise AssertionError("delivery must not resolve the name again")
        return resolver(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    attempt = deliver_webhook(target=target, event_id="evt_pin", body=BODY, secret=SECRET, client=client)
    assert attempt.delivered
    assert lookups.count("hooks.example.test") == 1
    assert receiver.requests[-1]["headers"]["host"] == f"hooks.example.test:{port}"
    assert receiver.requests[-1]["verified"]


def test_a_target_pinned_elsewhere_is_what_gets_connected(receiver, client):
    port = receiver.server_address[1]
    target = VettedUrl(
        url=f"http://unresolvable.invalid:{port}/ok", host="unresolvable.invalid", addresses=["127.0.0.1"]
    )
    assert deliver_webhook(target=target, event_id="e2", body=BODY, secret=SECRET, client=client).delivered
