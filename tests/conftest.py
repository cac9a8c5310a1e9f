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

# Name resolution is network traffic too (a DNS query leaves the machine): only loopback
# names and literal addresses resolve in tests; anything else fails like an unknown name.
_real_getaddrinfo = socket.getaddrinfo
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _guarded_getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - socket's signature
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name.lower().rstrip(".") not in LOOPBACK_NAMES:
        try:
            ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            blocked_connects.append(("getaddrinfo", name))
            raise socket.gaierror(
                socket.EAI_NONAME, f"test network guard: refused to resolve {name!r}"
            ) from None
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _no_off_machine_traffic():
    before = len(blocked_connects)
    yield
    attempted = blocked_connects[before:]
    assert not attempted, f"a test tried to reach non-loopback addresses: {attempted}"


# The jobs table's secondary indexes, as infra/constructs/storage.py declares them (CloudFormation
# and DynamoDB's CreateTable share this shape): the infra tests find them in the template, the
# unit tests give them to moto's table.
JOBS_TABLE_INDEXES = [
    {
        "IndexName": "by_tenant",
        "KeySchema": [
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    },
    # Sparse, keys only: the reconciler's list of unfinished submits.
    {
        "IndexName": "by_submission",
        "KeySchema": [
            {"AttributeName": "submission", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    },
]
JOBS_TABLE_ATTRIBUTES = [
    {"AttributeName": name, "AttributeType": "S"} for name in ("id", "tenant_id", "created_at", "submission")
]


# ---- the local stack, shared by the integration and end-to-end layers ------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on moto's in-process mock (the unit layer's `in_process_aws`) run first: `mock_aws`
    resets every moto backend of the process when it starts, and the local stack's moto server
    keeps its state in those."""
    items.sort(key=lambda item: "in_process_aws" not in getattr(item, "fixturenames", ()))


E2E_TIME_SCALE = 0.02
API_KEY = "vh_test_tenant_a"
# A second tenant (every API key is one), for isolation tests.
API_KEY_B = "vh_test_tenant_b"
# schemathesis' tenant: its fuzzed jobs stay out of the other tenants' listings.
API_KEY_FUZZ = "vh_test_tenant_fuzz"


# The session's local stack, once a test has started it.
_started_stacks: list = []
JOB_WORKFLOW_GRACE_SECONDS = 30


@pytest.fixture(scope="session")
def local_stack():
    """The synthesized template on moto's server, the sandbox provider and the API, once per session."""
    from devstack.stack import LocalStack, LocalStackConfig, new_webhook_secret

    stack = LocalStack(
        LocalStackConfig(
            port=0,
            api_keys=[API_KEY, API_KEY_B, API_KEY_FUZZ],
            time_scale=E2E_TIME_SCALE,
            webhook_secret=new_webhook_secret(),
        )
    ).start()
    _started_stacks.append(stack)
    yield stack
    stack.stop()


def running_executions(sfn, arn: str) -> list[dict]:  # noqa: ANN001 - a boto3 client
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
    return [execution for page in pages for execution in page["executions"]]


JOB_WORKFLOW = "VIDEOHOOK_STATE_MACHINE_ARN"
DELIVERY_WORKFLOW = "VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN"


def wait_until_executions_end(stack, workflow: str, deadline: float) -> None:  # noqa: ANN001 - devstack.stack.LocalStack
    """Until no execution of the stack's `workflow` (JOB_WORKFLOW, DELIVERY_WORKFLOW) is
    running, or time.monotonic() reaches deadline."""
    import time

    import boto3

    sfn = boto3.client("stepfunctions")
    while time.monotonic() < deadline and running_executions(sfn, stack.environment[workflow]):
        time.sleep(0.1)


def stop_running_deliveries(stack) -> None:  # noqa: ANN001 - devstack.stack.LocalStack
    """Let the jobs' workflows end (they start the terminal deliveries), then stop every delivery."""
    import time

    import boto3

    wait_until_executions_end(stack, JOB_WORKFLOW, time.monotonic() + JOB_WORKFLOW_GRACE_SECONDS)
    sfn = boto3.client("stepfunctions")
    for execution in running_executions(sfn, stack.environment[DELIVERY_WORKFLOW]):
        sfn.stop_execution(executionArn=execution["executionArn"], cause="test finished")


@pytest.fixture(autouse=True)
def _quiet_local_stack(request):
    """A test that used the local stack leaves no delivery retrying (its receiver is gone);
    other tests run with the stack's schedules paused: its background work must not print
    into the output they capture."""
    if "local_stack" in request.fixturenames:
        yield
        stop_running_deliveries(request.getfixturevalue("local_stack"))
    elif _started_stacks:
        with _started_stacks[0].scheduler.paused():
            yield
    else:
        yield


@pytest.fixture
def api(local_stack):
    import httpx

    with httpx.Client(base_url=local_stack.url, headers={"x-api-key": API_KEY}, timeout=30) as client:
        yield client


@pytest.fixture
def api_b(local_stack):
    """Like `api`, as the second tenant."""
    import httpx

    with httpx.Client(base_url=local_stack.url, headers={"x-api-key": API_KEY_B}, timeout=30) as client:
        yield client
