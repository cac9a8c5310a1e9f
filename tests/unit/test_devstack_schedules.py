"""devstack.schedules: the template's EventBridge schedules, played by the local stack."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from devstack.schedules import Schedule, Scheduler, period_of, scheduled_event, schedules_from_template


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert period_of(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "rate(5 fortnights)", "rate(-1 minutes)"])
def test_other_expressions_are_refused_not_misread(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        period_of(expression)


def _rule(expression: str, target: str, state: str = "ENABLED") -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": expression,
            "State": state,
            "Targets": [{"Arn": {"Fn::GetAtt": [target, "Arn"]}, "Id": "Target0"}],
        },
    }


def test_schedules_from_template_takes_enabled_scheduled_rules_with_lambda_targets() -> None:
    template = {
        "Resources": {
            "Sweep": _rule("rate(5 minutes)", "SweepFunction"),
            "Paused": _rule("rate(1 minute)", "SweepFunction", state="DISABLED"),
            "ToAQueue": _rule("rate(1 minute)", "SomeQueue"),
            "OnEvents": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["x"]}}},
            "SweepFunction": {"Type": "AWS::Lambda::Function", "Properties": {}},
        }
    }
    found = schedules_from_template(template, {"SweepFunction": "Videohook-SweepFunction"})
    assert found == [Schedule("Sweep", "Videohook-SweepFunction", 300)]


class FakeLambda:
    def __init__(self, error: bool = False) -> None:
        self.invocations: list[dict[str, Any]] = []
        self.error = error

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        answer: dict[str, Any] = {"Payload": io.BytesIO(b'{"examined": 0}')}
        if self.error:
            answer["FunctionError"] = "Unhandled"
        return answer


def test_a_run_invokes_the_target_with_eventbridges_scheduled_event() -> None:
    client = FakeLambda()
    schedule = Schedule("Sweep", "Videohook-SweepFunction", 300)
    scheduler = Scheduler([schedule], time_scale=lambda: 1.0, lambda_client=client)
    assert scheduler.invoke(schedule) == {"examined": 0}
    (call,) = client.invocations
    assert call["FunctionName"] == "Videohook-SweepFunction"
    event = json.loads(call["Payload"])
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event.keys() == scheduled_event("Sweep").keys()
    assert scheduler.runs == {"Sweep": 1}


def test_the_schedule_runs_on_the_scaled_clock_and_stops() -> None:
    client = FakeLambda(error=True)  # a failing run is logged; the schedule goes on
    schedule = Schedule("Sweep", "f", 300)
    scheduler = Scheduler([schedule], time_scale=lambda: 0.0002, lambda_client=client).start()  # every 60 ms
    try:
        deadline = time.monotonic() + 10
        while len(client.invocations) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.stop()
    assert len(client.invocations) >= 3
    stopped_at = len(client.invocations)
    time.sleep(0.2)
    assert len(client.invocations) == stopped_at


def test_no_run_starts_while_paused() -> None:
    client = FakeLambda()
    scheduler = Scheduler([Schedule("Sweep", "f", 300)], time_scale=lambda: 0.0002, lambda_client=client)
    with scheduler.paused():
        scheduler.start()
        time.sleep(0.3)  # five periods
        assert client.invocations == []
    deadline = time.monotonic() + 10
    while not client.invocations and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    assert client.invocations
