"""Fixtures of the unit layer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from moto import mock_aws
from videohook_client import VideohookClient

from tests.fakes import CLIENT_API_KEY, CLIENT_BASE_URL, FakeApi, FakeClock, FakeRuntime

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def in_process_aws() -> Iterator[None]:
    """moto's in-process AWS for one module (no sockets, no endpoint of the local stack), with
    fake credentials. Creating boto3 resources is the slow part: a module shares one."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        with mock_aws():
            yield


@pytest.fixture
def runtime() -> FakeRuntime:
    """A Runtime of fakes (tests/fakes.py), with the default settings and every provider's key."""
    return FakeRuntime()


@pytest.fixture
def api() -> FakeApi:
    """The in-memory API of the client tests (here, in place of tests/conftest.py's local stack)."""
    return FakeApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(api: FakeApi, clock: FakeClock) -> VideohookClient:
    """A client of `api` that sleeps and reads the time on `clock`."""
    client = VideohookClient(
        CLIENT_BASE_URL, CLIENT_API_KEY, http=httpx.Client(transport=httpx.MockTransport(api))
    )
    client._sleep = clock.sleep
    client._clock = clock
    return client
