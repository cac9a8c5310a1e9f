"""Fixtures of the unit layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

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
