"""Test fakes shared by the tests (unit, and the sandbox's integration tests): one definition each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from videohook.config import Settings
from videohook.job_store import JobAlreadyTerminal, JobNotFound
from videohook.models import Job, JobStatus, ProviderName
from videohook.providers.base import GenerationRequest, ProviderJobState
from videohook.runtime import ProviderNotConfigured

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:videohook-test"
ALL_KEYS = {p: f"key-{p.value}" for p in ProviderName}


class FakeStore:
    """In-memory JobStore with the same terminal-state condition on update and cancel."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.jobs: dict[str, Job] = {}
        self.claims: dict[str, str] = {}
        self.before_update: Callable[[Job], None] | None = None

    def create(self, job: Job) -> None:
        self.log.append(("store.create", job.model_copy(deep=True)))
        assert job.id not in self.jobs
        self.jobs[job.id] = job.model_copy(deep=True)

    def get(self, job_id: str) -> Job:
        if job_id not in self.jobs:
            raise JobNotFound(job_id)
        return self.jobs[job_id].model_copy(deep=True)

    def get_for_tenant(self, job_id: str, tenant_id: str) -> Job:
        job = self.get(job_id)
        if job.tenant_id != tenant_id:
            raise JobNotFound(job_id)
        return job

    def update(self, job: Job, *, allow_after_terminal: bool = False) -> None:
        self.log.append(("store.update", job.model_copy(deep=True)))
        if self.before_update is not None:
            self.before_update(job)
        stored = self.jobs.get(job.id)
        if stored is None or (stored.status.is_terminal and not allow_after_terminal):
            raise JobAlreadyTerminal(job.id)
        self.jobs[job.id] = job.model_copy(deep=True)

    def delete(self, job_id: str) -> None:
        self.log.append(("store.delete", job_id))
        self.jobs.pop(job_id, None)

    def claim(self, claim_id: str, job_id: str, *, now: datetime, expires_at: datetime) -> str:
        self.log.append(("store.claim", claim_id))
        return self.claims.setdefault(claim_id, job_id)

    def end_submission(self, job_id: str) -> None:
        self.log.append(("store.end_submission", job_id))
        self.jobs[job_id].submission = None

    def unfinished_submissions(self, *, started_before: datetime, limit: int = 100) -> list[Job]:
        return [
            job.model_copy(deep=True)
            for job in self.jobs.values()
            if job.submission is not None and job.created_at < started_before
        ]

    def cancel(self, job_id: str, tenant_id: str, *, now: datetime) -> Job:
        self.log.append(("store.cancel", (job_id, tenant_id)))
        job = self.get_for_tenant(job_id, tenant_id)
        if job.status.is_terminal:
            raise JobAlreadyTerminal(job_id)
        job.status, job.updated_at, job.completed_at = JobStatus.CANCELED, now, now
        self.jobs[job_id] = job.model_copy(deep=True)
        return job


class FakeAdapter:
    """Each call takes the next scripted outcome: a value to return or an exception to raise."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.submit_outcomes: list[Any] = []
        self.poll_outcomes: list[Any] = []

    def _next(self, outcomes: list[Any], default: Any) -> Any:
        outcome = outcomes.pop(0) if outcomes else default
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def submit(self, request: GenerationRequest) -> str:
        self.log.append(("adapter.submit", request))
        return self._next(self.submit_outcomes, "req-123")

    def poll(self, request_id: str) -> ProviderJobState:
        self.log.append(("adapter.poll", request_id))
        return self._next(self.poll_outcomes, ProviderJobState(status=JobStatus.RUNNING))


class ExecutionAlreadyExists(Exception):
    pass


class ExecutionDoesNotExist(Exception):
    pass


class FakeSfn:
    """Step Functions: one execution per name; `crash` raises before the next start;
    `stop_error`, `start_error` are raised by every stop and start."""

    exceptions = SimpleNamespace(
        ExecutionAlreadyExists=ExecutionAlreadyExists, ExecutionDoesNotExist=ExecutionDoesNotExist
    )

    def __init__(
        self,
        log: list[tuple[str, Any]],
        *,
        stop_error: Exception | None = None,
        start_error: Exception | None = None,
    ) -> None:
        self.log = log
        self.names: set[str] = set()
        self.crash: BaseException | None = None
        self.stop_error, self.start_error = stop_error, start_error

    def start_execution(self, **kwargs: Any) -> dict[str, str]:
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        self.log.append(("sfn.start_execution", kwargs))
        if self.start_error is not None:
            raise self.start_error
        if kwargs["name"] in self.names:
            raise ExecutionAlreadyExists(kwargs["name"])
        self.names.add(kwargs["name"])
        return {"executionArn": f"{kwargs['stateMachineArn']}:{kwargs['name']}"}

    def stop_execution(self, **kwargs: Any) -> None:
        self.log.append(("sfn.stop_execution", kwargs))
        if self.stop_error is not None:
            raise self.stop_error


class FakeS3:
    """Presigns URLs of the form https://s3.example/<key>?signed; HEAD answers `head`."""

    def __init__(self, head: dict[str, Any] | Exception | None = None) -> None:
        self.head = head
        self.presigned: list[tuple[str, dict[str, Any], int]] = []

    def generate_presigned_url(self, operation: str, Params: dict[str, Any], ExpiresIn: int) -> str:  # noqa: N803
        self.presigned.append((operation, Params, ExpiresIn))
        return f"https://s3.example/{Params['Key']}?signed"

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        if isinstance(self.head, Exception):
            raise self.head
        assert self.head is not None
        return self.head


class FakeHistory:
    """The completion-time history (videohook.job_history): none yet; records are logged."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def stats(self, kind: str) -> None:
        return None

    def record(self, kind: str, seconds: float) -> None:
        self.log.append(("history.record", (kind, seconds)))


class FakeRuntime:
    """A Runtime of fakes; every call is logged in order (`names`, `calls`)."""

    def __init__(self, settings: Settings | None = None, keys: dict[ProviderName, str] | None = None) -> None:
        self.settings = settings or Settings(state_machine_arn=STATE_MACHINE_ARN)
        self.keys = dict(ALL_KEYS if keys is None else keys)
        self.log: list[tuple[str, Any]] = []
        self.store = FakeStore(self.log)
        self.sfn = FakeSfn(self.log)
        self.s3 = FakeS3()
        self.history = FakeHistory(self.log)
        self._adapter = FakeAdapter(self.log)
        # Where submit announces video.queued (SNS and EventBridge).
        self.sns = SimpleNamespace(publish=lambda **kwargs: self.log.append(("sns.publish", kwargs)))
        self.events = SimpleNamespace(
            put_events=lambda **kwargs: self.log.append(("events.put_events", kwargs))
        )

    def video_key(self, tenant_id: str, job_id: str) -> str:
        return f"videos/{tenant_id}/{job_id}.mp4"

    def incoming_video_key(self, tenant_id: str, job_id: str) -> str:
        return f"incoming/{tenant_id}/{job_id}.mp4"

    def presigned_video_upload_url(self, key: str, *, expires_in: int) -> str:
        return f"https://videos.s3.invalid/{key}?X-Amz-Expires={expires_in}"

    def presigned_download_url(self, bucket: str, key: str) -> str:
        return f"https://{bucket}.s3.invalid/{key}?signed"

    def provider_key(self, provider: ProviderName) -> str:
        if not self.keys.get(provider):
            raise ProviderNotConfigured(provider)
        return self.keys[provider]

    def adapter(self, provider: ProviderName) -> FakeAdapter:
        self.log.append(("runtime.adapter", provider))
        self.provider_key(provider)
        return self._adapter

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def calls(self, name: str) -> list[Any]:
        return [value for logged, value in self.log if logged == name]


class FakeClock:
    """A monotonic clock the test moves by hand: `advance`, or `sleep` (recorded in `sleeps`)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
