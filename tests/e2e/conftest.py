"""End-to-end tests share one local stack (tests/conftest.py)."""

from __future__ import annotations

import pytest

from devstack.receiver import WebhookReceiver
from tests.conftest import stop_running_deliveries


@pytest.fixture
def stop_deliveries():
    return stop_running_deliveries


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
def stack_settings(monkeypatch):
    """`stack_settings(NAME="value", ...)` sets variables videohook.config.Settings reads, for one
    test: the stack's handlers run in this process and read them from the next invocation on."""
    from videohook.config import get_settings

    def set_variables(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_variables
    monkeypatch.undo()
    get_settings.cache_clear()


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


@pytest.fixture
def sns_queue(local_stack):
    """An SQS queue subscribed to the job topic, as a subscriber in the cloud would be."""
    import time

    import boto3

    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"e2e-{time.monotonic_ns()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=local_stack.environment["VIDEOHOOK_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return url
