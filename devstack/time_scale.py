"""Multiply every Wait and Retry interval of moto's Step Functions interpreter.

The interpreter really sleeps; `VIDEOHOOK_TIME_SCALE` (e.g. 0.01) lets the
local stack run a schedule of minutes or hours in seconds, with the state
machine definition unchanged.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

_scale = 1.0


def _scaled_wait(self, env, wait_seconds):  # noqa: ANN001 - signature of WaitFunction._wait_interval
    if wait_seconds > 0:
        # Returns early when the execution is stopped, like the original.
        env.program_state_event.wait(wait_seconds * _scale)


def install(scale: float) -> None:
    global _scale
    _scale = scale
    wait_function.WaitFunction._wait_interval = _scaled_wait
    retrier_decl.time = SimpleNamespace(sleep=lambda seconds: time.sleep(seconds * _scale))
