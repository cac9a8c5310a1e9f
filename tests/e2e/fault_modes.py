"""The sandbox provider's fault modes as end-to-end cases, and running a batch of them.

Every mode is a set of ``sandbox:key=value`` directives (sandbox/faults.py's docstring) and
what a caller should see: the job's final status and error code, hence its terminal
webhook, the submit attempt the provider accepted, and whether a video is stored.
``run_modes`` submits a batch through the local stack's HTTP API, waits for the terminal
webhooks of all its jobs, and gathers what each job left behind (`Outcome`).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from boto3.dynamodb.conditions import Attr
from standardwebhooks import Webhook

from devstack.api_gateway import tenant_id_for
from devstack.receiver import WebhookReceiver
from tests.conftest import DELIVERY_WORKFLOW, wait_until_executions_end
from videohook.config import get_settings
from videohook.runtime import get_runtime

TERMINAL_EVENTS = {
    "succeeded": "video.succeeded",
    "failed": "video.failed",
    "expired": "video.expired",
    "canceled": "video.canceled",
}
# A generation far longer than any job deadline used here.
NEVER_DONE = "sandbox:seconds=100000"
# The shortest job deadline the settings allow (provider seconds, times the time scale).
SHORT_DEADLINE_SECONDS = 60


@dataclass(frozen=True)
class FaultMode:
    """One fault mode and the outcome a caller should see."""

    name: str
    directives: str
    # The job's final status; None when the submit is refused (503) and no job exists.
    status: str | None
    error_code: str | None = None
    contract: str = "xai"
    # The submit attempt the provider accepted: the refused ones before it were retried.
    attempt: int = 1
    # The sandbox counter (GET /sandbox/stats) the fault moves, to show it was injected.
    fault: str | None = None
    # A job deadline (provider seconds) shorter than the default, set while submitting.
    deadline_seconds: int | None = None
    request: dict[str, Any] = field(default_factory=lambda: {"duration": 1, "resolution": "480p"})
    marks: tuple[Any, ...] = ()

    def expected(self) -> dict[str, Any]:
        created = self.status is not None
        return {
            "answer": 202 if created else 503,
            "status": self.status,
            "error_code": self.error_code,
            "terminal_webhooks": [TERMINAL_EVENTS[self.status]] if created else [],
            "accepted_attempts": [self.attempt] if created else [],
            "duplicate_accepted": 0,
            "s3_objects": 1 if self.status == "succeeded" else 0,
            "multipart_uploads": 0,
        }

    @property
    def environment(self) -> dict[str, str]:
        """Settings of its submit."""
        if self.deadline_seconds is None:
            return {}
        return {"VIDEOHOOK_JOB_DEADLINE_SECONDS": str(self.deadline_seconds)}

    def param(self) -> Any:
        return pytest.param(self, id=self.name, marks=self.marks)


def _outcomes(contract: str) -> list[FaultMode]:
    """Succeeded, and failed / expired / moderated without a video, in the contract's wire shapes."""
    return [
        FaultMode(f"{contract}-succeeded", "", "succeeded", contract=contract),
        FaultMode(
            f"{contract}-failed", "sandbox:outcome=failed", "failed", "generation_failed", contract=contract
        ),
        FaultMode(
            f"{contract}-expired",
            "sandbox:outcome=expired",
            "expired",
            "provider_expired",
            contract=contract,
        ),
        FaultMode(
            f"{contract}-moderated",
            "sandbox:outcome=moderated",
            "failed",
            "moderation_blocked",
            contract=contract,
        ),
    ]


def _refused_submits(kind: str, *, retried: str = "", exhausted: str = "") -> list[FaultMode]:
    """The provider refuses submits (`submit_<kind>`): twice, so the third attempt is accepted;
    then three times, every attempt, so the caller gets 503 and no job. `retried` and
    `exhausted` are more directives of each."""
    directive, fault = f"sandbox:submit_{kind}", f"fault_submit_{kind}"
    return [
        FaultMode(
            f"xai-submit_{kind}", f"{directive}=2 {retried}".strip(), "succeeded", attempt=3, fault=fault
        ),
        FaultMode(
            f"xai-submit_{kind}_exhausted",
            f"{directive}=3 {exhausted}".strip(),
            None,
            "provider_unavailable",
            fault=fault,
        ),
    ]


SUBMIT_TIMEOUT = "xai-submit_timeout"
MODES: list[FaultMode] = [
    *_outcomes("xai"),
    # Submit faults: submission.SUBMIT_ATTEMPTS (3) attempts within the request, then 503.
    *_refused_submits("429", retried="sandbox:retry_after=1", exhausted="sandbox:retry_after=1"),
    *_refused_submits("5xx", exhausted="sandbox:status_5xx=500"),
    FaultMode("xai-submit_html", "sandbox:submit_html=2", "succeeded", attempt=3, fault="fault_submit_html"),
    # The answer outlasts the provider timeout, max(2 s, 30 s x time scale); submit_delay is real
    # seconds (the sandbox does not scale it).
    FaultMode(
        SUBMIT_TIMEOUT,
        "sandbox:submit_delay=3",
        "failed",
        "provider_submit_timeout",
        fault="fault_submit_delay",
    ),
    # Poll faults are transient: the workflow backs off and polls again until the job is done.
    FaultMode(
        "xai-poll_5xx_bursts",
        "sandbox:poll_5xx=2 sandbox:poll_5xx_every=3",
        "succeeded",
        fault="fault_poll_5xx",
    ),
    # 250 provider seconds (5 s here): the first polls fall in the window even on a busy machine.
    FaultMode(
        "xai-poll_404_first_seconds", "sandbox:poll_404_seconds=250", "succeeded", fault="fault_poll_404"
    ),
    FaultMode("xai-poll_html", "sandbox:poll_html=3", "succeeded", fault="fault_poll_html"),
    # Only an unfinished job's polls answer 202: a generation longer than the first wait.
    FaultMode(
        "xai-pending_202", "sandbox:pending_202=1 sandbox:seconds=100", "succeeded", fault="fault_pending_202"
    ),
    FaultMode("xai-poll_malformed", "sandbox:poll_malformed=3", "succeeded", fault="fault_poll_malformed"),
    # workflow_steps.MAX_CONSECUTIVE_POLL_ERRORS unreadable answers in a row fail the job.
    FaultMode(
        "xai-poll_malformed_budget",
        "sandbox:poll_malformed=10",
        "failed",
        "provider_malformed_response",
        fault="fault_poll_malformed",
    ),
    # A very slow provider: 600 provider seconds, within the default deadline; then one past it.
    FaultMode(
        "xai-slow_provider", "sandbox:seconds=600", "succeeded", request={"duration": 5, "resolution": "720p"}
    ),
    FaultMode(
        "xai-past_deadline",
        NEVER_DONE,
        "expired",
        "deadline_exceeded",
        deadline_seconds=SHORT_DEADLINE_SECONDS,
        request={"duration": 5, "resolution": "720p"},
    ),
    *_outcomes("cometapi"),
    *_outcomes("aimlapi"),
    # Download faults: only the AI/ML API contract has no upload_url, so only it downloads the video.
    FaultMode(
        "aimlapi-video_404",
        "sandbox:video_404=1",
        "succeeded",
        contract="aimlapi",
        fault="fault_video_404",
    ),
    # FinalizeVideo's retrier: the first attempt and 3 retries, each cut short.
    FaultMode(
        "aimlapi-truncated_body",
        "sandbox:truncate=70000",
        "failed",
        "download_incomplete",
        contract="aimlapi",
        fault="fault_truncate",
    ),
    # A stall shorter than the HTTP read timeout: the copy waits it out.
    FaultMode(
        "aimlapi-stalled_download",
        "sandbox:stall_after=65536 sandbox:stall_seconds=1",
        "succeeded",
        contract="aimlapi",
        fault="fault_stall",
    ),
    FaultMode(
        "aimlapi-slow_download",
        "sandbox:slow_download_bps=262144",
        "succeeded",
        contract="aimlapi",
        fault="fault_slow_download",
    ),
]


@dataclass
class Outcome:
    """What one submitted mode left behind."""

    mode: FaultMode
    prompt: str
    answer: httpx.Response
    job: dict[str, Any] | None = None
    terminal_webhooks: list[str] = field(default_factory=list)
    provider_jobs: list[dict[str, Any]] = field(default_factory=list)
    job_records: int = 0
    s3_objects: int = 0
    multipart_uploads: int = 0
    fault_injected: bool = True

    @property
    def job_id(self) -> str | None:
        return self.answer.json()["id"] if self.answer.status_code == 202 else None

    def observed(self) -> dict[str, Any]:
        error = self.job.get("error") if self.job is not None else self.answer.json().get("error")
        return {
            "answer": self.answer.status_code,
            "status": self.job["status"] if self.job else None,
            "error_code": error["code"] if error else None,
            "terminal_webhooks": self.terminal_webhooks,
            "accepted_attempts": [job["attempt"] for job in self.provider_jobs],
            "duplicate_accepted": sum(job["duplicate"] for job in self.provider_jobs),
            "s3_objects": self.s3_objects,
            "multipart_uploads": self.multipart_uploads,
        }


@contextmanager
def _environment(**variables: str):
    """Settings of the in-process handlers, for the duration of the block."""
    if not variables:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            patch.undo()
            get_settings.cache_clear()


def run_modes(
    stack: Any, receiver: WebhookReceiver, modes: list[FaultMode], *, timeout: float
) -> list[Outcome]:
    """Run `modes` through the stack in one batch per contract (a process setting): a batch is
    submitted, then awaited, all its jobs running together, for at most `timeout` seconds."""
    outcomes: list[Outcome] = []
    for contract, batch in itertools.groupby(sorted(modes, key=_contract), key=_contract):
        with _environment(VIDEOHOOK_SANDBOX_CONTRACT=contract):
            before = stack.sandbox.stats
            submitted = _submit(stack, receiver, list(batch))
            _observe(stack, receiver, submitted, timeout)
            after = stack.sandbox.stats
        for outcome in submitted:
            fault = outcome.mode.fault
            outcome.fault_injected = fault is None or after[fault] > before[fault]
        outcomes += submitted
    return outcomes


def _contract(mode: FaultMode) -> str:
    return mode.contract


def _submit(stack: Any, receiver: WebhookReceiver, modes: list[FaultMode]) -> list[Outcome]:
    """One submit after the other: the API emulator runs concurrent requests through one shared
    Powertools resolver, which can hand a request another one's body (reported to the lead)."""
    outcomes = []
    with httpx.Client(base_url=stack.url, headers={"x-api-key": stack.config.api_keys[0]}, timeout=60) as api:
        for mode in modes:
            prompt = f"A fault matrix scene {uuid.uuid4().hex} {mode.directives}".strip()
            body = {"prompt": prompt, **mode.request, "webhook_url": receiver.url}
            with _environment(**mode.environment):
                outcomes.append(Outcome(mode, prompt, api.post("/v1/videos", json=body)))
    return outcomes


def _observe(stack: Any, receiver: WebhookReceiver, outcomes: list[Outcome], timeout: float) -> None:
    """Wait for every job's terminal webhook and for its deliveries to end, then gather the rest."""
    job_ids = {outcome.job_id for outcome in outcomes} - {None}
    webhooks = terminal_webhooks(stack, receiver, job_ids, timeout)
    api_key = stack.config.api_keys[0]
    runtime, tenant = get_runtime(), tenant_id_for(api_key)
    s3, bucket = boto3.client("s3"), stack.environment["VIDEOHOOK_VIDEO_BUCKET"]
    table = boto3.resource("dynamodb").Table(stack.environment["VIDEOHOOK_JOBS_TABLE"])
    provider_jobs = stack.sandbox.jobs
    with httpx.Client(base_url=stack.url, headers={"x-api-key": api_key}, timeout=30) as api:
        for outcome in outcomes:
            outcome.provider_jobs = [j for j in provider_jobs if j["body"].get("prompt") == outcome.prompt]
            if outcome.job_id is None:
                records = table.scan(FilterExpression=Attr("prompt").eq(outcome.prompt), ConsistentRead=True)
                outcome.job_records = len(records["Items"])
                continue
            outcome.job = api.get(f"/v1/videos/{outcome.job_id}").json()
            outcome.terminal_webhooks = webhooks.get(outcome.job_id, [])
            key = runtime.video_key(tenant, outcome.job_id)
            outcome.s3_objects = s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"]
            uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
            outcome.multipart_uploads = len(uploads)


def terminal_webhooks(
    stack: Any, receiver: WebhookReceiver, job_ids: set[str], timeout: float
) -> dict[str, list[str]]:
    """The terminal events each job's webhook got: their types, one per webhook-id.

    A POST that the receiver answered too late for the sender is sent again with the same
    webhook-id (Standard Webhooks: at least once; receivers skip an id they have seen), so
    it is one webhook, counted once; a second *event* would have its own id. Waits until
    every job has one and no delivery execution is still running, so a second event would
    have arrived too."""
    webhook = Webhook(stack.webhook_secret)
    received: dict[str, dict[str, str]] = defaultdict(dict)
    deadline = time.monotonic() + timeout

    def drain(wait: float) -> None:
        while (delivery := receiver.next(timeout=wait)) is not None:
            headers, body = delivery
            event = webhook.verify(body, headers)
            if event["type"] in TERMINAL_EVENTS.values():
                received[event["data"]["id"]][headers["webhook-id"]] = event["type"]
            wait = 0

    while time.monotonic() < deadline and not job_ids <= received.keys():
        drain(wait=0.5)
    wait_until_executions_end(stack, DELIVERY_WORKFLOW, deadline)
    drain(wait=0)
    return {job_id: list(events.values()) for job_id, events in received.items()}


def describe(outcomes: list[Outcome]) -> str:
    """A compact table of what each mode did (printed by the tests, for the report)."""
    rows = [f"{'mode':<34} {'answer':>6} {'status':<10} {'error code':<28} {'hooks':>5} {'acc':>3} {'s3':>2}"]
    for outcome in outcomes:
        seen = outcome.observed()
        rows.append(
            f"{outcome.mode.name:<34} {seen['answer']:>6} {seen['status'] or '-':<10} "
            f"{seen['error_code'] or '-':<28} {len(seen['terminal_webhooks']):>5} "
            f"{len(seen['accepted_attempts']):>3} {seen['s3_objects']:>2}"
        )
    return "\n".join(rows)
