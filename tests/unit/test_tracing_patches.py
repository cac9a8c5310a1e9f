"""What the X-Ray tracer patches: botocore when it is created; httpx only in a process that
creates the runtime's HTTP client (provider and webhook calls), never in the others.

Each case runs in a fresh interpreter (patches are process-wide), as Lambda runs a function
with active tracing (LAMBDA_TASK_ROOT set).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.procs import REPO

STEP_THEN_HTTP_CLIENT = """
import json, sys
from videohook import telemetry

@telemetry.instrument
def step(event, context):
    return {"job_id": event["job_id"]}

class Context:
    function_name, aws_request_id = "Step", "request-1"
    memory_limit_in_mb, invoked_function_arn = 128, ""

step({"job_id": "vid_1"}, Context())
after_step = {
    "botocore_patched": "aws_xray_sdk.ext.botocore.patch" in sys.modules,
    "httpx_loaded": "httpx" in sys.modules,
}
from videohook.runtime import get_runtime
print(json.dumps({**after_step, "http_client": type(get_runtime().http).__module__}))
"""


@pytest.mark.parametrize("trace_disabled", [False, True])
def test_a_step_patches_botocore_and_the_http_client_is_traced_where_it_is_made(trace_disabled) -> None:
    inherited = ("PYTHON", "AWS_", "POWERTOOLS_", "VIDEOHOOK_")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    environment.update(
        PYTHONPATH=str(REPO / "functions"),
        AWS_DEFAULT_REGION="us-east-1",
        LAMBDA_TASK_ROOT=str(REPO / "functions"),
        POWERTOOLS_METRICS_NAMESPACE="test",
    )
    if trace_disabled:
        environment["POWERTOOLS_TRACE_DISABLED"] = "1"
    command = [sys.executable, "-c", STEP_THEN_HTTP_CLIENT]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["botocore_patched"] is not trace_disabled
    assert seen["httpx_loaded"] is False  # the tracer no longer imports it into every handler
    assert seen["http_client"] == ("httpx" if trace_disabled else "aws_xray_sdk.ext.httpx.patch")
