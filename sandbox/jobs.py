"""The sandbox's jobs: their model and timeline, and the book of every job, attempt and counter."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox import faults
from sandbox.answers import ApiError, CannedResponse, json_error

RESOLUTION_FACTOR = {"480p": 1.0, "720p": 1.5, "1080p": 2.5}
BASE_SECONDS = 8.0
SECONDS_PER_DURATION_SECOND = 2.0
ECHO_FRACTION = 0.1
QUEUED_FRACTION = 0.2
COUNTERS = (
    "submissions",
    "accepted",
    "refused",
    "duplicate_accepted",
    "polls",
    "downloads",
    "uploads",
    "rejected",
    *faults.FAULT_COUNTERS,
)


def generation_seconds(duration: int, resolution: str) -> float:
    """Simulated generation time before ``time_factor``."""
    return (BASE_SECONDS + SECONDS_PER_DURATION_SECOND * duration) * RESOLUTION_FACTOR[resolution]


def _redact_uri(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("data:"):
        return f"<data URI redacted: {len(value)} chars>"
    return value


def redact_body(body: dict[str, Any]) -> dict[str, Any]:
    """The request body as recorded for introspection: image data URIs replaced by a placeholder."""
    redacted = copy.deepcopy(body)
    image = redacted.get("image")
    if isinstance(image, dict) and "url" in image:
        image["url"] = _redact_uri(image["url"])
    if "image_url" in redacted:
        redacted["image_url"] = _redact_uri(redacted["image_url"])
    if isinstance(redacted.get("reference_images"), list):
        redacted["reference_images"] = [_redact_uri(v) for v in redacted["reference_images"]]
    return redacted


@dataclass
class Job:
    id: str
    contract: str
    body: dict[str, Any]
    fingerprint: str
    submit_index: int
    submitted_mono: float
    submitted_wall: float
    generation_seconds: float
    outcome: str
    size: int
    truncate_at: int | None
    model: str
    duration: int
    resolution: str
    aspect_ratio: str
    upload_url: str | None
    video_url: str
    directives: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    duplicate: bool = False
    polls: int = 0
    downloads: int = 0
    video_requests: int = 0
    upload: dict[str, Any] | None = None
    upload_finished: threading.Event = field(default_factory=threading.Event)

    def phase(self, now: float) -> tuple[str, int]:
        """``("pending"|"queued"|"processing"|"terminal", progress percent)`` at monotonic time ``now``."""
        elapsed = now - self.submitted_mono
        gen = self.generation_seconds
        if gen <= 0 or elapsed >= gen:
            if self.upload_url and self.outcome == "succeeded" and not self.upload_finished.is_set():
                return "processing", 99  # a real provider uploads before it reports done
            return "terminal", 100
        fraction = max(0.0, elapsed / gen)
        if fraction < ECHO_FRACTION:
            return "pending", 0
        if fraction < QUEUED_FRACTION:
            return "queued", 0
        return "processing", max(1, min(99, int(fraction * 100)))

    def snapshot(self, now: float, submit_count: int) -> dict[str, Any]:
        phase, progress = self.phase(now)
        return {
            "id": self.id,
            "contract": self.contract,
            "body": copy.deepcopy(self.body),
            "submit_count": submit_count,
            "submit_index": self.submit_index,
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "submitted_at": self.submitted_wall,
            "model": self.model,
            "duration": self.duration,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "outcome": self.outcome,
            "bytes": self.size,
            "truncate_at": self.truncate_at,
            "directives": copy.deepcopy(self.directives),
            "generation_seconds": self.generation_seconds,
            "state": self.outcome if phase == "terminal" else phase,
            "progress": progress,
            "polls": self.polls,
            "downloads": self.downloads,
            "video_requests": self.video_requests,
            "video_url": self.video_url,
            "upload_url": self.upload_url,
            "uploaded": bool(self.upload and self.upload.get("status") == "succeeded"),
            "upload": copy.deepcopy(self.upload),
        }


def fingerprint(contract: str, body: Any) -> str:
    """The same for two submissions of one contract with equal JSON bodies."""
    text = contract + "\x00" + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class JobBook:
    """Every job, submit attempt and counter of one sandbox, behind one lock.

    Its methods take the time (``now``, monotonic) and the options they need from the
    caller, which reads them live on every request.
    """

    def __init__(self, fault_settings: faults.FaultSettings) -> None:
        self._faults = fault_settings
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._fingerprints: dict[str, int] = {}  # accepted submissions per body
        self._attempts: dict[str, int] = {}  # submit attempts per body (accepted or refused)
        self._counters = dict.fromkeys(COUNTERS, 0)

    def knob(self, job: Job, key: str) -> Any:
        """The job's own directive for ``key`` if it has one, else the live global value."""
        if key in job.directives:
            return job.directives[key]
        return self._faults.value(key)

    def count(self, key: str) -> None:
        with self._lock:
            self._counters[key] += 1

    def _count_fault(self, answer: CannedResponse) -> None:
        if answer.fault is not None:
            self._counters[answer.fault] += 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def snapshots(self, now: float) -> list[dict[str, Any]]:
        with self._lock:
            return [job.snapshot(now, self._fingerprints[job.fingerprint]) for job in self._jobs.values()]

    def snapshot(self, job_id: str, now: float) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.snapshot(now, self._fingerprints[job.fingerprint]) if job else None

    def reset(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._fingerprints.clear()
            self._attempts.clear()
            for key in self._counters:
                self._counters[key] = 0

    def submit(
        self,
        contract: str,
        body: dict[str, Any],
        params: Mapping[str, Any],
        directives: dict[str, Any],
        *,
        now: float,
        time_factor: float,
        video_url: Callable[[str], str],
    ) -> tuple[Job, float]:
        """One create attempt of a valid body: the accepted job and how long to hold its answer.

        Raises ``CannedResponse`` for an injected refusal (429, 5xx, HTML 502), before any job exists.
        """
        same_body = fingerprint(contract, body)
        job_id = str(uuid.uuid4())
        with self._lock:
            knobs = self._faults.for_job(directives)
            attempt = self._attempts.get(same_body, 0) + 1
            self._attempts[same_body] = attempt
            delay = faults.submit_delay(knobs, attempt)
            if delay > 0:
                self._counters["fault_submit_delay"] += 1
            refusal = faults.submit_refusal(knobs, attempt)
            if refusal is not None:
                self._count_fault(refusal)
                self._counters["refused"] += 1
                refusal.delay = delay
                raise refusal

            seconds = knobs["seconds"]
            if seconds is None:
                seconds = generation_seconds(params["duration"], params["resolution"])
            accepted_before = self._fingerprints.get(same_body, 0)
            self._fingerprints[same_body] = accepted_before + 1
            self._counters["submissions"] += 1
            self._counters["accepted"] += 1
            if accepted_before:
                self._counters["duplicate_accepted"] += 1
            job = Job(
                id=job_id,
                contract=contract,
                body=redact_body(body),
                fingerprint=same_body,
                submit_index=self._counters["submissions"],
                submitted_mono=now,
                submitted_wall=time.time(),
                generation_seconds=seconds * time_factor,
                outcome=knobs["outcome"],
                size=knobs["bytes"],
                truncate_at=directives.get("truncate"),
                model=params["model"],
                duration=params["duration"],
                resolution=params["resolution"],
                aspect_ratio=params["aspect_ratio"],
                upload_url=params["upload_url"],
                video_url=video_url(job_id),
                directives=directives,
                attempt=attempt,
                duplicate=bool(accepted_before),
            )
            self._jobs[job_id] = job
        return job, delay

    def record_poll(
        self, contract: str, job_id: str, *, now: float, time_factor: float
    ) -> tuple[Job, int, float, CannedResponse | None]:
        """Count a poll; return the job, the poll's number, its delay and its injected fault (if any)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.contract != contract:
                raise ApiError(404, "not_found", f"no video generation with id {job_id!r}")
            job.polls += 1
            self._counters["polls"] += 1
            number = job.polls
            knobs = self._faults.for_job(job.directives)
            delay = faults.poll_delay(knobs, number)
            if delay > 0:
                self._counters["fault_poll_delay"] += 1
            fault = faults.poll_fault(knobs, number, now - job.submitted_mono, time_factor, job_id)
            if fault is not None:
                self._count_fault(fault)
            return job, number, delay, fault

    def job_for_download(self, job_id: str, now: float) -> Job:
        """Count a request for the job's video URL (raises a 404 if there is no video, or ``video_404``)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.phase(now)[0] != "terminal" or job.outcome != "succeeded":
                raise ApiError(404, "not_found", f"no video file {job_id}.mp4")
            job.video_requests += 1
            if job.video_requests <= self.knob(job, "video_404"):
                self._counters["fault_video_404"] += 1
                raise json_error(404, "not_found", f"no video file {job_id}.mp4")
            job.downloads += 1
            self._counters["downloads"] += 1
            return job

    def record_upload(self, job: Job, result: dict[str, Any]) -> None:
        """The outcome of the PUT to the job's ``output.upload_url``; the job may now report done."""
        with self._lock:
            job.upload = result
            if result["status"] == "succeeded":
                self._counters["uploads"] += 1
        job.upload_finished.set()
