"""End-to-end tests share one local stack (tests/conftest.py)."""

from __future__ import annotations

import time

import boto3
import pytest

from devstack.receiver import WebhookReceiver
from tests.e2e.fault_modes import running_executions

JOB_WORKFLOW_GRACE_SECONDS = 30


def stop_running_deliveries(stack) -> None:
    """Let the jobs' workflows end (they start the terminal deliveries), then stop every delivery."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + JOB_WORKFLOW_GRACE_SECONDS
    while (
        running_executions(sfn, stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"])
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    arn = stack.environment["VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN"]
    for execution in running_executions(sfn, arn):
        sfn.stop_execution(executionArn=execution["executionArn"], cause="test finished")


@pytest.fixture
def stop_deliveries():
    return stop_running_deliveries


@pytest.fixture(autouse=True)
def _no_lingering_deliveries(request):
    """Deliveries still retrying when a test ends (a receiver that is gone) are stopped."""
    yield
    if "local_stack" in request.fixturenames:
        stop_running_deliveries(request.getfixturevalue("local_stack"))


def _serve_webhooks():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver():
    """A loopback webhook endpoint (answers 204) for one test."""
    yield from _serve_webhooks()


@pytest.fixture(scope="module")
def module_receiver():
    """One loopback webhook endpoint for a module whose tests share jobs run together."""
    yield from _serve_webhooks()


@pytest.fixture
def provider_cannot_upload(monkeypatch):
    """Upload URLs on a closed loopback port: a sandbox speaking a contract with
    `output.upload_url` fails its PUT and reports the job done anyway, so FinalizeVideo copies
    the video from the provider's URL (the fallback of zero-copy, tests/e2e/test_zero_copy.py)."""
    import socket

    from videohook.runtime import Runtime

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(
        Runtime,
        "presigned_video_upload_url",
        lambda self, key, *, expires_in: f"http://127.0.0.1:{port}/nowhere/{key}",
    )
