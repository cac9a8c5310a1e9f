"""Test fakes shared by the tests (unit, and the sandbox's integration tests): one definition each."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx

from videohook.config import Settings
from videohook.job_store import JobAlreadyTerminal, JobNotFound
from videohook.models import CreateVideoRequest, Job, JobStatus, ProviderName, utc_now
from videohook.providers.aimlapi import AimlApiAdapter
from videohook.providers.base import GenerationRequest, HttpAdapter, ProviderJobState
from videohook.providers.cometapi import CometApiAdapter
from videohook.providers.xai import XaiAdapter
from videohook.runtime import ProviderNotConfigured

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:videohook-test"
ALL_KEYS = {p: f"key-{p.value}" for p in ProviderName}


PNG_DATA_URI = (  # a 1x1 PNG
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def video_request(**values: Any) -> CreateVideoRequest:
    """A `POST /v1/videos` body of one prompt; `values` replace or add fields."""
    return CreateVideoRequest(**{"prompt": "a red fox running through snow", **values})


def make_job(**fields: Any) -> Job:
    """A job of tenant `key_t` at xAI, created now with an hour to its deadline; `fields`
    replace or add fields."""
    now = utc_now()
    values: dict[str, Any] = {
        "id": "vid_01test",
        "tenant_id": "key_t",
        "provider": ProviderName.XAI,
        "prompt": "p",
        "created_at": now,
        "updated_at": now,
        "deadline_at": now + timedelta(hours=1),
    }
    values.update(fields)
    return Job(**values)


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


# ---- the videohook API as its typed client sees it (tests/unit/test_client_*.py) ----------

CLIENT_BASE_URL = "https://api.example.test/prod"
CLIENT_API_KEY = "vh_secret_key_never_printed"
VIDEO_BYTES = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: several download chunks
VIDEO_SHA256 = hashlib.sha256(VIDEO_BYTES).hexdigest()
VIDEO_DOWNLOAD_URL = "https://bucket.s3.example.test/videos/vid_1.mp4?X-Amz-Signature=abc"


def job_json(
    job_id: str = "vid_1", status: str = "queued", progress: int = 0, **extra: Any
) -> dict[str, Any]:
    """A job as the API answers it (`GET /v1/videos/{id}`); `extra` replaces or adds fields."""
    body = {
        "id": job_id,
        "status": status,
        "provider": "sandbox",
        "provider_request_id": "req_1",
        "progress": progress,
        "prompt": "A candle",
        "model": "grok-imagine-video",
        "duration": 2,
        "resolution": "480p",
        "aspect_ratio": None,
        "image": None,
        "reference_images": None,
        "user": None,
        "webhook_url": None,
        "metadata": None,
        "video": None,
        "error": None,
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-02T03:04:05Z",
        "completed_at": None,
    }
    body.update(extra)
    return body


def succeeded_json(job_id: str = "vid_1", **video: Any) -> dict[str, Any]:
    """A succeeded job whose video is VIDEO_BYTES at VIDEO_DOWNLOAD_URL; `video` replaces its fields."""
    return job_json(
        job_id,
        "succeeded",
        100,
        video={
            "download_url": VIDEO_DOWNLOAD_URL,
            "s3_uri": f"s3://bucket/videos/{job_id}.mp4",
            "bytes": len(VIDEO_BYTES),
            "sha256": VIDEO_SHA256,
            "content_type": "video/mp4",
            **video,
        },
        completed_at="2025-01-02T03:05:00Z",
    )


def error_json(status: int, code: str, message: str, field: str | None = None) -> httpx.Response:
    """An error answer of the API: `{"error": {"code", "message", "field"}}`."""
    return httpx.Response(status, json={"error": {"code": code, "message": message, "field": field}})


def dropped_connection(request: httpx.Request) -> httpx.Response:
    """An answer that never comes: the connection is refused."""
    raise httpx.ConnectError("connection refused", request=request)


class FakeApi:
    """The API, S3 and a CDN behind one `httpx.MockTransport`: records every request;
    `routes[(method, path)]` answers (a Response or a function of the request; several are
    used in turn, the last one repeating)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Any] = {}

    def on(
        self, method: str, path: str, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]
    ):
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.raw_path.decode().split("?")[0])
        answers = self.routes.get(key)
        if not answers:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no such route"}})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def submits_then_polls(self, *polls: dict[str, Any]) -> None:
        """`POST /v1/videos` creates job vid_1 (queued); its `GET`s answer `polls` in turn."""
        self.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
        self.on("GET", "/prod/v1/videos/vid_1", *(httpx.Response(200, json=poll) for poll in polls))

    def serves_video(self, content: bytes = VIDEO_BYTES) -> None:
        """VIDEO_DOWNLOAD_URL answers `content`, streamed in chunks."""

        def stream(request: httpx.Request) -> httpx.Response:
            chunks = (content[i : i + 65536] for i in range(0, len(content), 65536))
            return httpx.Response(200, content=chunks)

        self.on("GET", urlsplit(VIDEO_DOWNLOAD_URL).path, stream)


# ---- provider adapters over httpx.MockTransport (tests/unit/test_providers*.py) -----------

PROVIDER_BASE_URL = "https://provider.invalid"
PROVIDER_KEY = "sk-test-SUPERSECRET-0123456789"
PROVIDER_VIDEO_URL = "https://vidgen.x.ai/xai-vidgen-bucket/xai-video-abc.mp4"
ALL_ADAPTERS = [XaiAdapter, CometApiAdapter, AimlApiAdapter]
FLAT_ADAPTERS = [XaiAdapter, CometApiAdapter]  # the xAI contract's flat answers
# A submit with every field but reference images (xAI's contract has none).
SUBMIT_EVERY_FIELD = GenerationRequest(
    prompt="clouds drift",
    model="grok-imagine-video-1.5",
    duration=5,
    resolution="720p",
    aspect_ratio="16:9",
    image_url=PNG_DATA_URI,
    user="end-user-7",
    upload_url="https://bucket.invalid/signed?sig=1",
)
ProviderReply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def scripted_adapter(cls: type[HttpAdapter], *replies: ProviderReply) -> tuple[Any, list[httpx.Request]]:
    """An adapter whose client answers with `replies` in order and records every request."""
    calls: list[httpx.Request] = []
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        reply = queue.pop(0)
        return reply(request) if callable(reply) else reply

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return cls(PROVIDER_BASE_URL, PROVIDER_KEY, client), calls


def poll_with(cls: type[HttpAdapter], body: Any, status_code: int = 200) -> Any:
    adapter, _ = scripted_adapter(cls, httpx.Response(status_code, json=body))
    return adapter.poll("req-1")


def sent_json(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def raising(exc_type: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    """A reply that never comes: the client raises `exc_type`."""

    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return reply


# ---- a fresh interpreter ------------------------------------------------------------------


def run_python(code: str, **env: str) -> dict:
    """Run `code` in a fresh interpreter with functions/ on the path; it prints one JSON value.

    For what only a new process shows: what an import loads, what the tracer patches."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    functions = Path(__file__).resolve().parent.parent / "functions"
    # Not this process's configuration (the local stack, when it ran first, set Powertools' and ours).
    inherited = ("PYTHON", "AWS_", "POWERTOOLS_", "VIDEOHOOK_")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    environment.update(PYTHONPATH=str(functions), AWS_DEFAULT_REGION="us-east-1", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
