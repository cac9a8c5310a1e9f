"""Suite-wide guard: no test may open a connection to anything but loopback.

The spy wraps `socket.socket.connect` for the whole session, before any test
code runs, so even a broken SSRF check or a misconfigured base URL fails the
test instead of sending a packet off this machine.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
blocked_connects: list[object] = []


def _is_loopback(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(real):
    def connect(self, address):  # noqa: ANN001 - mirrors socket.connect
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            blocked_connects.append(address)
            raise ConnectionRefusedError(f"test network guard: refused non-loopback connect to {address!r}")
        return real(self, address)

    return connect


socket.socket.connect = _guarded(_real_connect)
socket.socket.connect_ex = _guarded(_real_connect_ex)


@pytest.fixture(autouse=True)
def _no_off_machine_traffic():
    before = len(blocked_connects)
    yield
    attempted = blocked_connects[before:]
    assert not attempted, f"a test tried to reach non-loopback addresses: {attempted}"


# ---- the local stack, shared by the integration and end-to-end layers ------

E2E_TIME_SCALE = 0.02
API_KEY = "vh_test_tenant_a"


@pytest.fixture(scope="session")
def local_stack():
    """The synthesized template on moto's server, the sandbox provider and the API, once per session."""
    from devstack.stack import LocalStack, LocalStackConfig, new_webhook_secret

    stack = LocalStack(
        LocalStackConfig(
            port=0, api_keys=[API_KEY], time_scale=E2E_TIME_SCALE, webhook_secret=new_webhook_secret()
        )
    ).start()
    yield stack
    stack.stop()


@pytest.fixture
def api(local_stack):
    import httpx

    with httpx.Client(base_url=local_stack.url, headers={"x-api-key": API_KEY}, timeout=30) as client:
        yield client
