"""End-to-end tests share one local stack (tests/conftest.py)."""

from __future__ import annotations

import boto3
import pytest


def stop_running_deliveries(stack) -> None:
    sfn = boto3.client("stepfunctions")
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
