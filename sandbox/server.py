"""The sandbox provider: one real HTTP server speaking the three provider wire contracts.

See ``sandbox/__init__.py`` for the public API. Contracts (all on one port, they do
not collide), one module each:

* xAI (``sandbox/xai.py``):            ``POST /v1/videos/generations``, ``GET /v1/videos/{id}``
* CometAPI (``sandbox/cometapi.py``):  ``POST /grok/v1/videos/generations``, ``GET /grok/v1/videos/{id}``
* AI/ML API (``sandbox/aimlapi.py``):  ``POST /v2/video/generations``,
  ``GET /v2/video/generations?generation_id={id}``

plus ``GET|HEAD /files/{id}.mp4`` (the temporary video URL, no auth: rendered to a
temporary file on its first GET, then sent with ``sendfile``: ``sandbox/video_files.py``)
and the introspection routes ``GET /sandbox/jobs``, ``GET /sandbox/stats``,
``GET /sandbox/health``, ``POST /sandbox/reset`` and ``GET|POST|DELETE /sandbox/faults``
(``sandbox/http_handler.py`` routes them all).

Faults: every knob, per job (``sandbox:key=value`` in the prompt) or global, and its wire
behaviour are in ``sandbox/faults.py``'s docstring. Jobs, their timeline and the counters:
``sandbox/jobs.py``.

Stats (``GET /sandbox/stats``): ``accepted`` (= ``submissions``) jobs created, ``refused``
create requests that created nothing (faults, validation, auth), ``duplicate_accepted``
accepted submissions whose contract and body equal an earlier accepted one (give every
job a distinct prompt to use it), ``polls``, ``downloads`` (bodies served), ``uploads``,
``rejected`` (4xx answers of validation, auth, unknown ids) and one ``fault_<name>``
counter per injected fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

from sandbox import mp4, uploads
from sandbox.answers import CannedResponse
from sandbox.cometapi import COMET_ENVELOPES
from sandbox.contract import Contract, PollOptions
from sandbox.faults import DEFAULT_BYTES, MAX_FAULT_WAIT, FaultSettings, parse_directives
from sandbox.http_handler import Handler, HTTPServer
from sandbox.jobs import Job, JobBook, generation_seconds
from sandbox.video_files import VIDEO_FILES_BYTES, VideoFiles


def _knob_option(key: str, doc: str) -> property:
    """An older constructor option, read and written as the global value of knob ``key``."""

    def get(server: SandboxServer) -> Any:
        return server.fault_settings.value(key)

    def set_(server: SandboxServer, value: Any) -> None:
        server.set_faults(**{key: value})  # None: the knob's default

    return property(get, set_, doc=doc)


class SandboxServer:
    """A real HTTP server speaking the xAI, CometAPI and AI/ML API video contracts on one port.

    The socket is bound in ``__init__`` (so ``url`` is known at once); ``start()`` serves
    from a background thread, ``serve_forever()`` in the foreground. The options below are
    plain attributes read on every request, so tests may change them on a running server.
    ``default_outcome``, ``default_bytes``, ``default_seconds``, ``truncate_at`` and
    ``xai_pending_as_202`` are the global values of the knobs ``outcome``, ``bytes``,
    ``seconds``, ``truncate`` and ``pending_202``; ``faults`` / ``set_faults()`` /
    ``clear_faults()`` read and write every knob (see ``sandbox/faults.py``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        time_factor: float = 1.0,
        api_key: str | None = None,
        comet_envelope: str = "wrapped",
        xai_pending_as_202: bool = False,
        default_bytes: int = DEFAULT_BYTES,
        default_outcome: str = "succeeded",
        default_seconds: float | None = None,
        truncate_at: int | None = None,
        faults: Mapping[str, Any] | None = None,
        public_url: str | None = None,
        chunk_size: int = mp4.DEFAULT_CHUNK_SIZE,
        log_requests: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if comet_envelope not in COMET_ENVELOPES:
            raise ValueError(f"comet_envelope must be one of {COMET_ENVELOPES}")
        if time_factor < 0:
            raise ValueError("time_factor must be >= 0")
        self.time_factor = time_factor
        self.api_key = api_key or None
        self.comet_envelope = comet_envelope
        self.public_url = public_url.rstrip("/") if public_url else None
        self.chunk_size = chunk_size
        self.log_requests = log_requests
        self.clock = clock
        options = {
            "outcome": default_outcome,
            "bytes": default_bytes,
            "seconds": default_seconds,
            "truncate": truncate_at,
            "pending_202": xai_pending_as_202,
        }
        self.fault_settings = FaultSettings({**options, **dict(faults or {})})  # `faults` wins
        self.book = JobBook(self.fault_settings)
        self.videos = VideoFiles(VIDEO_FILES_BYTES, chunk_size)
        self._stopping = threading.Event()
        self._upload_threads: list[threading.Thread] = []
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        self._httpd = HTTPServer((host, port), Handler)
        self._httpd.sandbox = self
        self.host = host
        self.port = self._httpd.server_address[1]

    # ---- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The base of the video URLs handed out (``public_url`` if set, else ``url``)."""
        return self.public_url or self.url

    def start(self) -> Self:
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sandbox-http",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` (from another thread) or KeyboardInterrupt."""
        self._serving = True
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving; every fault wait in progress ends at once (its connection is closed)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for thread in list(self._upload_threads):
            thread.join(timeout=5)
        self.videos.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- faults

    @property
    def faults(self) -> dict[str, Any]:
        """Every knob's global value (same as ``GET /sandbox/faults``)."""
        return self.fault_settings.values()

    def set_faults(self, **values: Any) -> None:
        """Set global knobs (``None`` restores a knob's default); all are checked before any is set."""
        self.fault_settings.set(**values)

    def clear_faults(self) -> None:
        """Every knob back to its built-in default (the table in ``sandbox/faults.py``)."""
        self.fault_settings.clear()

    default_outcome = _knob_option("outcome", "The global ``outcome`` knob.")
    default_bytes = _knob_option("bytes", "The global ``bytes`` knob.")
    default_seconds = _knob_option("seconds", "The global ``seconds`` knob (``None``: computed).")
    truncate_at = _knob_option("truncate", "The global ``truncate`` knob (``None``: off).")
    xai_pending_as_202 = _knob_option("pending_202", "The global ``pending_202`` knob.")

    # ---- introspection

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Snapshots of every job in submission order (same as ``GET /sandbox/jobs``)."""
        return self.book.snapshots(self.clock())

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.book.snapshot(job_id, self.clock())

    @property
    def stats(self) -> dict[str, int]:
        """Counters (see the module docstring): ``accepted``, ``refused``, ``duplicate_accepted``, ..."""
        return self.book.counters()

    def reset(self) -> None:
        """Forget all jobs, submit attempts and counters (pending uploads still finish; faults stay)."""
        self.book.reset()

    def video_url(self, job_id: str) -> str:
        return f"{self.base_url}/files/{job_id}.mp4"

    def generation_seconds(self, duration: int, resolution: str) -> float:
        """Simulated generation time before ``time_factor``."""
        return generation_seconds(duration, resolution)

    # ---- what the requests do (sandbox/http_handler.py calls these)

    def pause(self, seconds: float) -> bool:
        """Sleep up to ``MAX_FAULT_WAIT`` seconds; False if ``stop()`` cut the wait short."""
        return not self._stopping.wait(min(seconds, MAX_FAULT_WAIT))

    def create(self, contract: Contract, payload: Any) -> tuple[Job, float]:
        """One create attempt: the accepted job and how long to hold its answer.

        Raises ``ApiError`` for a bad request and ``CannedResponse`` for an injected refusal
        (429, 5xx, HTML 502), both before any job exists.
        """
        params = contract.validate(payload)
        directives = parse_directives(params["prompt"])
        job, delay = self.book.submit(
            contract.name,
            payload,
            params,
            directives,
            now=self.clock(),
            time_factor=self.time_factor,
            video_url=self.video_url,
        )
        if job.upload_url and job.outcome == "succeeded":
            job.upload = {"url": job.upload_url, "status": "pending", "status_code": None, "error": None}
            thread = threading.Thread(
                target=self._upload, args=(job,), name=f"sandbox-upload-{job.id}", daemon=True
            )
            self._upload_threads = [t for t in self._upload_threads if t.is_alive()] + [thread]
            thread.start()
        return job, delay

    def record_poll(self, contract: Contract, job_id: str) -> tuple[Job, int, float, CannedResponse | None]:
        """Count a poll; return the job, the poll's number, its delay and its injected fault (if any)."""
        return self.book.record_poll(contract.name, job_id, now=self.clock(), time_factor=self.time_factor)

    def poll_answer(self, contract: Contract, job: Job, poll_number: int) -> CannedResponse:
        """The contract's answer to a poll of ``job``, now."""
        options = PollOptions(
            pending_202=self.book.knob(job, "pending_202"), comet_envelope=self.comet_envelope
        )
        answer = contract.poll_answer(job, self.clock(), poll_number, options)
        if answer.fault is not None:
            self.book.count(answer.fault)
        return answer

    def job_for_download(self, job_id: str) -> Job:
        return self.book.job_for_download(job_id, self.clock())

    def _upload(self, job: Job) -> None:
        """PUT the finished video to ``output.upload_url`` once it is due, then mark the upload finished."""
        due = job.submitted_mono + job.generation_seconds
        while not self._stopping.is_set():
            remaining = due - self.clock()
            if remaining <= 0:
                break
            self._stopping.wait(max(0.005, min(remaining, 0.1)))
        if self._stopping.is_set():
            return
        result = uploads.put_video(job.upload_url or "", job.id, job.size, self.chunk_size, self._stopping)
        self.book.record_upload(job, result)
