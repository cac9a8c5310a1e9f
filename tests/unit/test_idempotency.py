"""videohook.idempotency.once: the idempotent submit's wait, with Powertools' idempotent_function scripted."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from videohook import idempotency
from videohook.config import Settings


class ScriptedRun:
    """Stands in for Powertools' idempotent_function: each call takes the next outcome."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.payloads: list[dict[str, Any]] = []

    def __call__(self, function: Any, **options: Any) -> Any:
        assert options["data_keyword_argument"] == "submission"
        assert options["key_prefix"] == "videohook.create_video"
        config = options["config"]
        assert (config.event_key_jmespath, config.payload_validation_jmespath) == (
            "[tenant_id, key]",
            "request",
        )

        def run(*, submission: dict[str, Any], start: Any) -> dict[str, str]:
            self.payloads.append(submission)
            outcome = self.outcomes.pop(0)
            if isinstance(outcome, Exception):
                raise outcome
            return function(submission=submission, start=start) if outcome == "run" else {"job_id": outcome}

        return run


@pytest.fixture
def idem_runtime() -> Any:
    return SimpleNamespace(settings=Settings(), idempotency_store=object())


def once(runtime: Any, sleeps: list[float], max_wait: float = 5.0) -> str:
    return idempotency.once(
        runtime,
        tenant_id="key_a",
        key="order-42",
        request={"prompt": "a heron"},
        start=lambda: "vid_new",
        max_wait_seconds=max_wait,
        sleep=sleeps.append,
    )


def test_the_first_request_runs_the_submit(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    scripted = ScriptedRun(["run"])
    monkeypatch.setattr(idempotency, "idempotent_function", scripted)
    assert once(idem_runtime, []) == "vid_new"
    assert scripted.payloads == [{"tenant_id": "key_a", "key": "order-42", "request": {"prompt": "a heron"}}]


def test_a_duplicate_in_progress_waits_then_answers_the_stored_job(
    monkeypatch: pytest.MonkeyPatch, idem_runtime: Any
) -> None:
    busy = IdempotencyAlreadyInProgressError("in progress")
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([busy, busy, busy, "vid_first"]))
    sleeps: list[float] = []
    assert once(idem_runtime, sleeps) == "vid_first"
    assert sleeps == [0.05, 0.1, 0.2]


def test_the_wait_is_bounded(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    busy = IdempotencyAlreadyInProgressError("in progress")
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([busy] * 1000))
    sleeps: list[float] = []
    with pytest.raises(idempotency.StillInProgress):
        once(idem_runtime, sleeps, max_wait=0.0)
    assert sleeps == []


def test_another_body_is_key_reused(monkeypatch: pytest.MonkeyPatch, idem_runtime: Any) -> None:
    monkeypatch.setattr(idempotency, "idempotent_function", ScriptedRun([IdempotencyValidationError("x")]))
    with pytest.raises(idempotency.KeyReused):
        once(idem_runtime, [])
