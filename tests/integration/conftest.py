"""Fixtures of the sandbox provider's tests (tests/integration/test_sandbox_*.py): three sandboxes
on different clocks, each with a client sending the bearer key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer
from tests.fakes import FakeClock
from tests.integration.sandbox_client import client_for


def _serving(**options: Any) -> Iterator[SandboxServer]:
    with SandboxServer(**options) as srv:
        yield srv


def _talking_to(srv: SandboxServer) -> Iterator[httpx.Client]:
    with client_for(srv) as c:
        yield c


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    """A sandbox on a hand-moved clock: `sandbox:seconds=100` makes 1 clock second = 1 % of the job."""
    yield from _serving(clock=clock)


@pytest.fixture
def fast() -> Iterator[SandboxServer]:
    """A sandbox on the real clock with a small time factor."""
    yield from _serving(time_factor=0.01)


@pytest.fixture
def instant() -> Iterator[SandboxServer]:
    """Jobs finish at once unless a test says otherwise (``seconds=0``)."""
    yield from _serving(time_factor=0.01, default_seconds=0)


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    yield from _talking_to(server)


@pytest.fixture
def fast_client(fast: SandboxServer) -> Iterator[httpx.Client]:
    yield from _talking_to(fast)


@pytest.fixture
def instant_client(instant: SandboxServer) -> Iterator[httpx.Client]:
    yield from _talking_to(instant)
