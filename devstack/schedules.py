"""The template's EventBridge schedules, played locally.

Every `AWS::Events::Rule` with a `rate(...)` ScheduleExpression invokes its Lambda targets
through moto's Lambda service (so, in-process, through devstack.lambda_bridge) every period
times the stack's time scale, with EventBridge's scheduled-event payload: the local stack
runs the same schedules the cloud does, only faster.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    rule: str  # the rule's logical id
    function_name: str  # the target's local (physical) name
    period_seconds: float  # in the cloud's clock


def period_of(expression: str) -> float:
    """Seconds between runs of a `rate(...)` expression (cron expressions are not played)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ValueError(f"the local stack plays only rate(...) schedules, not {expression!r}")
    return int(match["value"]) * _UNIT_SECONDS[match["unit"].rstrip("s")]


def schedules_from_template(template: dict[str, Any], function_names: dict[str, str]) -> list[Schedule]:
    """Every enabled scheduled rule's Lambda targets; `function_names` maps logical id -> local name."""
    schedules = []
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Events::Rule" or "ScheduleExpression" not in props:
            continue
        if props.get("State", "ENABLED") != "ENABLED":
            continue
        for target in props.get("Targets", []):
            arn = target.get("Arn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn and arn["Fn::GetAtt"][0] in function_names:
                schedules.append(
                    Schedule(
                        logical_id,
                        function_names[arn["Fn::GetAtt"][0]],
                        period_of(props["ScheduleExpression"]),
                    )
                )
    return schedules


def scheduled_event(rule: str) -> dict[str, Any]:
    """What EventBridge sends a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "resources": [f"rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    """Runs the schedules in one daemon thread; `time_scale()` is read before every wait."""

    def __init__(
        self, schedules: list[Schedule], time_scale: Callable[[], float], lambda_client: Any
    ) -> None:
        self.schedules = schedules
        self._time_scale = time_scale
        self._lambda = lambda_client
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devstack-scheduler", daemon=True)
        self.runs: dict[str, int] = {schedule.rule: 0 for schedule in schedules}

    def start(self) -> Scheduler:
        if self.schedules:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        due = {schedule.rule: time.monotonic() + self._wait(schedule) for schedule in self.schedules}
        while not self._stop.is_set():
            schedule = min(self.schedules, key=lambda item: due[item.rule])
            if self._stop.wait(max(0.0, due[schedule.rule] - time.monotonic())):
                return
            if not self._paused.is_set():
                try:
                    self.invoke(schedule)
                except Exception:  # noqa: BLE001 - like EventBridge: a failed run does not end the schedule
                    logger.exception("could not run %s", schedule.rule)
            due[schedule.rule] = time.monotonic() + self._wait(schedule)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No scheduled run starts meanwhile (one already running finishes): for tests that
        invoke a scheduled function themselves."""
        self._paused.set()
        try:
            yield
        finally:
            self._paused.clear()

    def _wait(self, schedule: Schedule) -> float:
        return schedule.period_seconds * self._time_scale()

    def invoke(self, schedule: Schedule) -> dict[str, Any]:
        """One run of `schedule` now; returns the function's answer (errors are logged, like
        EventBridge, which retries and then gives up)."""
        answer = self._lambda.invoke(
            FunctionName=schedule.function_name, Payload=json.dumps(scheduled_event(schedule.rule))
        )
        self.runs[schedule.rule] += 1
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            logger.error("scheduled %s failed: %s", schedule.rule, payload)
        return payload
