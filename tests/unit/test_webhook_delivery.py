"""The webhook retry schedule and the decision after each attempt (no network, no AWS)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from videohook.config import Settings
from videohook.webhook_delivery import (
    JITTER,
    SCHEDULE_SECONDS,
    DeliveryRequest,
    attempt_delivery,
    next_wait_seconds,
)
from videohook.webhook_models import WebhookAttempt
from videohook.webhook_post import DeliveryAttempt
from videohook.webhook_urls import VettedUrl


def test_the_schedule_is_the_standard_webhooks_one():
    assert SCHEDULE_SECONDS == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert 3 * 86400 < sum(SCHEDULE_SECONDS) < 3.5 * 86400


@pytest.mark.parametrize("attempts_made", range(1, len(SCHEDULE_SECONDS)))
def test_each_wait_is_the_schedule_with_bounded_jitter(attempts_made):
    base = SCHEDULE_SECONDS[attempts_made]
    waits = {next_wait_seconds(attempts_made, None, random.Random(seed)) for seed in range(50)}
    assert all(base * (1 - JITTER) - 1 <= wait <= base * (1 + JITTER) + 1 for wait in waits)
    if base >= 300:
        assert len(waits) > 1  # jittered, so retries of many jobs don't arrive in lockstep


def test_the_schedule_ends_after_the_last_attempt():
    assert next_wait_seconds(len(SCHEDULE_SECONDS), None, random.Random(1)) is None


def test_retry_after_is_honoured_but_capped():
    assert next_wait_seconds(1, 120, random.Random(1)) == 120
    assert next_wait_seconds(1, 10**9, random.Random(1)) == 86400
    assert next_wait_seconds(3, 5, random.Random(1)) >= 1800 * (1 - JITTER)  # never sooner than planned


class FakeLog:
    def __init__(self, disabled: bool = False) -> None:
        self.records: list[WebhookAttempt] = []
        self.disabled_urls: list[str] = []
        self.disabled = disabled

    def record(self, job_id, record):
        self.records.append(record)

    def attempts(self, job_id):
        return self.records

    def disable_url(self, tenant_id, url, reason):
        self.disabled_urls.append(url)

    def is_disabled(self, tenant_id, url):
        return self.disabled


def _runtime(log: FakeLog, webhook_url: str | None = "https://hooks.example.com/x"):
    sent: list[dict] = []
    job = SimpleNamespace(id="vid_1", tenant_id="key_a", webhook_url=webhook_url)
    return SimpleNamespace(
        settings=Settings(webhook_dlq_url="https://sqs.local/dlq"),
        store=SimpleNamespace(get=lambda job_id: job),
        deliveries=log,
        webhook_secret=lambda: "whsec_" + "A" * 32,
        http=None,
        sqs=SimpleNamespace(send_message=lambda **kwargs: sent.append(kwargs)),
        sent=sent,
    )


@pytest.fixture
def answers(monkeypatch):
    """Script the receiver: deliver_webhook returns these attempts in order."""
    script: list[DeliveryAttempt] = []
    vetted = VettedUrl(
        url="https://hooks.example.com/x", host="hooks.example.com", addresses=["93.184.215.14"]
    )
    monkeypatch.setattr("videohook.webhook_urls.validate_webhook_url", lambda url, **kwargs: vetted)
    monkeypatch.setattr("videohook.webhook_post.deliver_webhook", lambda **kwargs: script.pop(0))
    return script


def _attempt(status: int | None, retry_after: float | None = None) -> DeliveryAttempt:
    delivered = status is not None and 200 <= status < 300
    return DeliveryAttempt(
        status_code=status,
        latency_ms=3,
        error=None if delivered else "x",
        delivered=delivered,
        retry_after=retry_after,
    )


REQUEST = DeliveryRequest(job_id="vid_1", event_id="evt_1_succeeded", event={"type": "video.succeeded"})


def test_2xx_is_delivered(answers):
    answers.append(_attempt(204))
    log = FakeLog()
    step = attempt_delivery(_runtime(log), REQUEST)
    assert (step.outcome, step.attempt) == ("delivered", 1)
    assert [(r.attempt, r.status_code, r.delivered) for r in log.records] == [(1, 204, True)]


def test_a_failure_is_retried_on_schedule_with_retry_after(answers):
    answers.append(_attempt(429, retry_after=42))
    step = attempt_delivery(_runtime(FakeLog()), REQUEST, rng=random.Random(7))
    assert (step.outcome, step.attempt, step.wait_seconds) == ("retry", 1, 42)


def test_410_stops_and_disables_the_url(answers):
    answers.append(_attempt(410))
    log = FakeLog()
    step = attempt_delivery(_runtime(log), REQUEST)
    assert step.outcome == "gone" and log.disabled_urls == ["https://hooks.example.com/x"]


def test_the_last_failure_goes_to_the_dead_letter_queue(answers, capsys):
    answers.append(_attempt(500))
    log = FakeLog()
    runtime = _runtime(log)
    last = REQUEST.model_copy(update={"attempt": len(SCHEDULE_SECONDS) - 1})
    step = attempt_delivery(runtime, last)
    assert step.outcome == "exhausted" and step.attempt == len(SCHEDULE_SECONDS)
    (letter,) = runtime.sent
    assert letter["QueueUrl"] == "https://sqs.local/dlq" and '"evt_1_succeeded"' in letter["MessageBody"]
    assert '"WebhookDeadLettered"' in capsys.readouterr().out  # the EMF metric


def test_no_webhook_url_or_a_disabled_one_is_skipped(answers):
    assert attempt_delivery(_runtime(FakeLog(), webhook_url=None), REQUEST).outcome == "skipped"
    assert attempt_delivery(_runtime(FakeLog(disabled=True)), REQUEST).outcome == "skipped"
    assert answers == []  # nothing was sent
