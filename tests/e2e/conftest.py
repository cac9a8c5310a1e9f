"""End-to-end tests share one local stack (tests/conftest.py)."""

from __future__ import annotations

import time

import boto3
import pytest

JOB_WORKFLOW_GRACE_SECONDS = 30


def _running(sfn, arn: str) -> list[dict]:
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
    return [execution for page in pages for execution in page["executions"]]


def stop_running_deliveries(stack) -> None:
    """Let the jobs' workflows end (they start the terminal deliveries), then stop every delivery."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + JOB_WORKFLOW_GRACE_SECONDS
    while _running(sfn, stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    arn = stack.environment["VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN"]
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
        for execution in page["executions"]:
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
