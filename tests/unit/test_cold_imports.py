"""What a handler's cold start imports: none of the heavy modules that only some invocations need.

Timing is `make bench`'s job (bench/cold_start.py); these tests keep the structure that
makes it lean: the X-Ray SDK comes with the tracer at the first invocation, events are
validated with the models themselves (not Powertools' parser), AWS and HTTP clients are
created when first used, the OpenAPI models only when the document is asked for. Each
import runs in a fresh interpreter, where nothing else has loaded those modules yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.cold_start import handler_modules
from bench.procs import REPO

FUNCTIONS = REPO / "functions"
HEAVY = (
    "aws_xray_sdk",  # ~0.3-0.5 s with the botocore session it builds
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler.openapi.models",
    "boto3",
    "httpx",
)
# Powertools' event_handler package (every resolver: AppSync's brings asyncio, ssl and
# subprocess) and its event classes are the api's, as Powertools ships them: the state
# machine's and the scheduled handlers load none of it.
RESOLVERS = (
    "asyncio",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes.kafka_event",
)


def run_python(code: str, **env: str) -> dict:
    """Run `code` in a fresh interpreter with functions/ on the path; it prints one JSON value."""
    # Not this process's configuration (the local stack, when it ran first, set Powertools' and ours).
    inherited = ("PYTHON", "AWS_", "POWERTOOLS_", "VIDEOHOOK_")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    environment.update(PYTHONPATH=str(FUNCTIONS), AWS_DEFAULT_REGION="us-east-1", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", handler_modules())
def test_importing_a_handler_loads_no_heavy_module(module: str) -> None:
    heavy = HEAVY if module == "handlers.api" else HEAVY + RESOLVERS
    loaded = run_python(
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    assert loaded == [], f"{module} imports {loaded} at import time"


TRACED_STEP = """
import json, sys
from videohook import telemetry

imported_with_module = "aws_xray_sdk" in sys.modules

@telemetry.instrument
def step(event, context):
    return {"job_id": event["job_id"]}

class Context:
    function_name, aws_request_id = "Step", "request-1"
    memory_limit_in_mb, invoked_function_arn = 128, ""

answer = step({"job_id": "vid_1"}, Context())
print(json.dumps({
    "imported_with_module": imported_with_module,
    "answer": answer,
    "xray_after_invocation": "aws_xray_sdk.core" in sys.modules,
    "disabled": bool(telemetry.tracer().disabled),
    "one_tracer": telemetry.tracer() is telemetry.tracer(),
}))
"""


@pytest.mark.parametrize("trace_disabled", [True, False])
def test_the_tracer_is_created_at_the_first_invocation_and_honours_trace_disabled(trace_disabled) -> None:
    env = {"LAMBDA_TASK_ROOT": str(FUNCTIONS), "POWERTOOLS_METRICS_NAMESPACE": "test"}
    if trace_disabled:
        env["POWERTOOLS_TRACE_DISABLED"] = "1"
    seen = run_python(TRACED_STEP, **env)
    assert seen["imported_with_module"] is False
    assert seen["answer"] == {"job_id": "vid_1"}
    assert seen["xray_after_invocation"] is True
    assert seen["disabled"] is trace_disabled
    assert seen["one_tracer"] is True


MODELS_BUILT = """
import json, sys
import handlers.{handler}
from videohook.models import Model

def built():
    seen, stack = set(), [Model]
    while stack:
        for model in stack.pop().__subclasses__():
            seen.add(model)
            stack.append(model)
    return sorted(m.__name__ for m in seen if m.__pydantic_complete__)

at_import = built()
from videohook.models import CreateVideoRequest
CreateVideoRequest.model_validate({{"prompt": "A red fox"}})
print(json.dumps({{"at_import": at_import, "after_one_validation": built()}}))
"""


@pytest.mark.parametrize("handler", ["api", "poll_provider"])
def test_a_model_is_built_at_its_first_use_not_at_import(handler: str) -> None:
    """Each of the twenty-odd models costs its validator's build: a cold start pays for those
    its invocation uses."""
    seen = run_python(MODELS_BUILT.format(handler=handler))
    assert seen["at_import"] == []
    assert seen["after_one_validation"] == ["CreateVideoRequest"]
