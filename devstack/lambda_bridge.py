"""Run moto's Lambda invocations in-process.

moto executes Lambda code only in Docker, which this project never needs.
The bridge replaces that single call: the function's `Handler` from the
template names a module under `functions/`, which is imported and called
with the event, like the Lambda runtime would. Errors come back the way
Lambda reports them (`errorType`, `errorMessage`), so the state machine's
Retry and Catch rules see the same error names as in the cloud. A test
simulates a runtime killed mid-invocation (its timeout, out of memory) by
raising `LambdaKilled` inside the handler: as it is no `Exception`, no
`except Exception` cleanup runs on its way out, and it is reported as
Lambda reports a runtime that exited (`Runtime.ExitError`).
"""

from __future__ import annotations

import importlib
import json
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda import models as lambda_models

_original_invoke = lambda_models.LambdaFunction._invoke_lambda
invocations: dict[str, int] = {}
_lock = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


class LambdaKilled(BaseException):  # noqa: N818 - named for what it simulates, not an error
    """Raised inside a handler: its runtime is killed there (see the module docstring)."""


def resolve_handler(handler: str) -> Any:
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _invoke_in_process(self: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    with _lock:
        invocations[self.handler] = invocations.get(self.handler, 0) + 1
    function = resolve_handler(self.handler)
    context = LambdaContext(
        function_name=self.function_name,
        memory_limit_in_mb=int(self.memory_size),
        invoked_function_arn=self.function_arn,
    )
    payload = json.loads(event) if isinstance(event, str) else (event or {})
    try:
        result = function(payload, context)
    except LambdaKilled:
        message = f"RequestId: {context.aws_request_id} Error: Runtime exited with error: signal: killed"
        body = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return json.dumps(body), True, traceback.format_exc()
    except Exception as error:  # noqa: BLE001 - reported to the caller exactly as Lambda would
        body = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(body), True, traceback.format_exc()
    return json.dumps(result), False, ""


def install() -> None:
    lambda_models.LambdaFunction._invoke_lambda = _invoke_in_process


def installed() -> bool:
    return lambda_models.LambdaFunction._invoke_lambda is _invoke_in_process
