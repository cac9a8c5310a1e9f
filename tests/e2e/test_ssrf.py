"""SSRF: webhook URLs that mean internal addresses are refused at submit or at delivery.

No test here can send a packet off this machine: names resolve through a stand-in for
socket.getaddrinfo, and tests/conftest.py fails any non-loopback connect. A loopback listener
stands in for "an internal service" and must see no connection at all.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from videohook import job_events
from videohook.runtime import get_runtime

pytestmark = pytest.mark.e2e

NAMES = {
    "evil.test": "10.0.0.5",
    "metadata.test": "169.254.169.254",
    "ula.test": "fd00::1",
    "loop.test": "127.0.0.1",
}


class Listener:
    """Counts every TCP connection it accepts on 127.0.0.1."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._socket.close()


@pytest.fixture
def resolver(monkeypatch):
    calls: list[str] = []

    guarded = socket.getaddrinfo  # tests/conftest.py's: loopback names and literal addresses only

    def resolve(host, port, *args, **kwargs):
        if host != "rebind.test" and host not in NAMES:
            return guarded(host, port, *args, **kwargs)
        calls.append(host)
        if host == "rebind.test":
            # Loopback while vetted at submit, an internal address by delivery time.
            address = "127.0.0.1" if calls.count("rebind.test") == 1 else "10.0.0.5"
        else:
            address = NAMES[host]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return calls


@pytest.fixture
def deliveries_stopped_before_the_resolver_is_restored(resolver, local_stack, stop_deliveries):
    """Retries must not outlive the fake resolver: they would resolve the test names for real."""
    yield
    stop_deliveries(local_stack)


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.stop()


@pytest.fixture
def cloud_rules(stack_settings):
    """As in the cloud: no loopback webhooks at all."""
    stack_settings(VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS="0")


def refused_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/hook",
        f"https://127.0.0.1:{port}/hook",
        f"https://2130706433:{port}/hook",  # decimal
        f"https://0177.0.0.1:{port}/hook",  # octal
        f"https://0x7f.0.0.1:{port}/hook",  # hex
        f"https://127.1:{port}/hook",  # short form
        f"https://[::1]:{port}/hook",
        f"https://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped
        f"https://loop.test:{port}/hook",  # a name for loopback
        "https://10.0.0.5/hook",
        "https://172.16.3.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.1.1/hook",  # CGNAT
        "https://[fd00::1]/hook",  # unique local
        "https://[fe80::1]/hook",  # link-local
        "https://224.0.0.1/hook",  # multicast
        "https://0.0.0.0/hook",
        "https://evil.test/hook",  # resolves to 10.0.0.5
        "https://metadata.test/hook",  # resolves to 169.254.169.254
        "https://ula.test/hook",  # resolves to fd00::1
        "https://user:secret@evil.test/hook",
        "ftp://evil.test/hook",
    ]


def test_internal_webhook_urls_are_refused_at_submit(local_stack, api, resolver, listener, cloud_rules):
    submissions = local_stack.sandbox.stats["submissions"]
    urls = refused_urls(listener.port)
    assert len(urls) >= 15
    for url in urls:
        answer = api.post("/v1/videos", json={"prompt": "A harbour", "webhook_url": url})
        assert answer.status_code == 400, (url, answer.text)
        assert answer.json()["error"]["field"] == "webhook_url", url
    assert local_stack.sandbox.stats["submissions"] == submissions
    assert listener.connections == 0


def _wait_for_attempts(local_stack, job_id: str, timeout: float = 30):
    from devstack.api_gateway import tenant_id_for

    tenant = tenant_id_for(local_stack.config.api_keys[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempts = job_events.delivery_log(get_runtime(), job_id, tenant_id=tenant)
        if attempts:
            return attempts
        time.sleep(0.1)
    raise AssertionError("no delivery attempt was logged")


def test_a_name_rebound_to_an_internal_address_is_refused_at_delivery(
    local_stack, api, resolver, listener, deliveries_stopped_before_the_resolver_is_restored
):
    answer = api.post(
        "/v1/videos",
        json={"prompt": "A lighthouse", "webhook_url": f"http://rebind.test:{listener.port}/hook"},
    )
    assert answer.status_code == 202, answer.text
    first = _wait_for_attempts(local_stack, answer.json()["id"])[0]
    assert first.delivered is False and first.status_code is None
    assert "10.0.0.5" in first.error
    assert resolver.count("rebind.test") >= 2  # vetted again at delivery
    assert listener.connections == 0


def test_a_redirect_to_an_internal_address_is_not_followed(
    local_stack, api, resolver, deliveries_stopped_before_the_resolver_is_restored
):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        answer = api.post("/v1/videos", json={"prompt": "A quay", "webhook_url": url})
        assert answer.status_code == 202, answer.text
        first = _wait_for_attempts(local_stack, answer.json()["id"])[0]
        assert first.status_code == 307 and first.delivered is False
        assert "redirects are not followed" in first.error
    finally:
        server.shutdown()
        server.server_close()
