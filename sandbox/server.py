"""The sandbox provider: one real HTTP server speaking the three provider wire contracts.

See ``sandbox/__init__.py`` for the public API and ``docs``-level summary. Contracts
(all on one port, they do not collide):

* xAI:       ``POST /v1/videos/generations``, ``GET /v1/videos/{id}``
* CometAPI:  ``POST /grok/v1/videos/generations``, ``GET /grok/v1/videos/{id}``
* AI/ML API: ``POST /v2/video/generations``, ``GET /v2/video/generations?generation_id={id}``

plus ``GET|HEAD /files/{id}.mp4`` (the temporary video URL, no auth) and the
introspection routes ``GET /sandbox/jobs``, ``GET /sandbox/stats``,
``GET /sandbox/health`` and ``POST /sandbox/reset``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import http.client
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from sandbox import mp4

CONTRACTS = ("xai", "cometapi", "aimlapi")
OUTCOMES = ("succeeded", "failed", "expired", "moderated")
COMET_ENVELOPES = ("flat", "wrapped", "alternate")
RESOLUTIONS = ("480p", "720p", "1080p")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
SIZES = {"848x480": "480p", "1696x960": "720p", "1280x720": "720p", "1920x1080": "1080p"}
MODELS_WITHOUT_1080P = ("grok-imagine-video", "x-ai/grok-imagine-video")
RESOLUTION_FACTOR = {"480p": 1.0, "720p": 1.5, "1080p": 2.5}
BASE_SECONDS = 8.0
SECONDS_PER_DURATION_SECOND = 2.0
ECHO_FRACTION = 0.1
QUEUED_FRACTION = 0.2
MAX_BODY_BYTES = 32 * 1024 * 1024
DIRECTIVE_RE = re.compile(r"sandbox:([A-Za-z_]+)=(\S+)")
DIRECTIVE_KEYS = ("outcome", "bytes", "seconds", "truncate")
_SIZE_SUFFIX = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- directives


def parse_size(text: str) -> int:
    """``"262144"``, ``"64MiB"``, ``"3g"`` -> bytes."""
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", text.strip())
    if not match or match.group(2).lower() not in _SIZE_SUFFIX:
        raise ValueError(f"not a byte size: {text!r}")
    return int(match.group(1)) * _SIZE_SUFFIX[match.group(2).lower()]


def parse_directives(prompt: str | None) -> dict[str, Any]:
    """Extract ``sandbox:<key>=<value>`` directives from a prompt (raises ``ApiError`` 400 on bad ones)."""
    found: dict[str, Any] = {}
    for key, raw in DIRECTIVE_RE.findall(prompt or ""):
        key = key.lower()
        try:
            if key == "outcome":
                if raw not in OUTCOMES:
                    raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
                found[key] = raw
            elif key == "bytes":
                value = parse_size(raw)
                if value < mp4.MIN_SIZE:
                    raise ValueError(f"bytes must be at least {mp4.MIN_SIZE}")
                found[key] = value
            elif key == "seconds":
                seconds = float(raw)
                if not seconds >= 0 or seconds == float("inf"):
                    raise ValueError("seconds must be a finite number >= 0")
                found[key] = seconds
            elif key == "truncate":
                found[key] = parse_size(raw)
            else:
                raise ValueError(f"unknown directive key (known: {', '.join(DIRECTIVE_KEYS)})")
        except ValueError as exc:
            raise ApiError(400, "invalid_directive", f"sandbox:{key}={raw}: {exc}") from None
    return found


# --------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_url(value: Any, field_name: str, *, allow_data: bool) -> None:
    if not isinstance(value, str) or not value:
        raise ApiError(422, "invalid_value", f"{field_name} must be a non-empty string")
    if value.startswith(("http://", "https://")):
        return
    if allow_data and value.startswith("data:image/") and ";base64," in value:
        return
    allowed = "an http(s) URL or a data:image/...;base64, URI" if allow_data else "an http(s) URL"
    raise ApiError(422, "invalid_value", f"{field_name} must be {allowed}")


def _validate_common(body: dict[str, Any], default_duration: int) -> tuple[int, str, str]:
    duration = body.get("duration", default_duration)
    if not _is_int(duration) or not 1 <= duration <= 15:
        raise ApiError(422, "invalid_value", "duration must be an integer from 1 to 15")
    resolution = body.get("resolution")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ApiError(422, "invalid_value", f"resolution must be one of {', '.join(RESOLUTIONS)}")
    aspect_ratio = body.get("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise ApiError(422, "invalid_value", f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    return duration, resolution or "720p", aspect_ratio or "16:9"


def validate_create(contract: str, body: Any) -> dict[str, Any]:
    """Validate a create body like the real API; return the normalized job parameters."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ApiError(422, "invalid_value", "prompt must be a string")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(422, "invalid_value", "model must be a string")

    if contract == "aimlapi":
        if model is None:
            raise ApiError(400, "missing_field", "model is required")
        if not model.startswith("x-ai/grok-imagine-video"):
            raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
        image_url = body.get("image_url")
        references = body.get("reference_images")
        if image_url is not None and references is not None:
            raise ApiError(400, "invalid_request", "image_url cannot be combined with reference_images")
        if image_url is not None:
            _check_url(image_url, "image_url", allow_data=True)
        if references is not None:
            if not isinstance(references, list) or not 1 <= len(references) <= 7:
                raise ApiError(422, "invalid_value", "reference_images must be a list of 1 to 7 URLs")
            for index, ref in enumerate(references):
                _check_url(ref, f"reference_images[{index}]", allow_data=True)
        if not prompt and image_url is None and references is None:
            raise ApiError(400, "missing_field", "prompt is required for text-to-video")
        duration, resolution, aspect_ratio = _validate_common(body, default_duration=10)
        upload_url = None
    else:
        if not prompt:
            raise ApiError(400, "missing_field", "prompt is required")
        if "reference_images" in body:
            raise ApiError(400, "unsupported_field", "reference_images is not supported by this endpoint")
        if model is None:
            model = "grok-imagine-video"
        elif not model.startswith("grok-imagine-video"):
            raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
        image = body.get("image")
        if image is not None:
            if not isinstance(image, dict):
                raise ApiError(422, "invalid_value", "image must be an object with a url")
            _check_url(image.get("url"), "image.url", allow_data=True)
        output = body.get("output")
        upload_url = None
        if output is not None:
            if not isinstance(output, dict):
                raise ApiError(422, "invalid_value", "output must be an object with an upload_url")
            _check_url(output.get("upload_url"), "output.upload_url", allow_data=False)
            upload_url = output["upload_url"]
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise ApiError(422, "invalid_value", "user must be a string")
        size = body.get("size")
        if size is not None:
            if "resolution" in body or "aspect_ratio" in body:
                raise ApiError(
                    400, "invalid_request", "size cannot be combined with resolution or aspect_ratio"
                )
            if size not in SIZES:
                raise ApiError(422, "invalid_value", f"size must be one of {', '.join(SIZES)}")
        duration, resolution, aspect_ratio = _validate_common(body, default_duration=8)
        if size is not None:
            resolution = SIZES[size]
    if resolution == "1080p" and model in MODELS_WITHOUT_1080P:
        raise ApiError(
            422, "unsupported_resolution", f"model {model} does not support 1080p; use a 1.5 model"
        )
    return {
        "prompt": prompt or "",
        "model": model,
        "duration": duration,
        "resolution": resolution,
        "aspect_ratio": aspect_ratio,
        "upload_url": upload_url,
    }


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


# --------------------------------------------------------------------------- jobs


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
    polls: int = 0
    downloads: int = 0
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
            "submitted_at": self.submitted_wall,
            "model": self.model,
            "duration": self.duration,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "outcome": self.outcome,
            "bytes": self.size,
            "truncate_at": self.truncate_at,
            "generation_seconds": self.generation_seconds,
            "state": self.outcome if phase == "terminal" else phase,
            "progress": progress,
            "polls": self.polls,
            "downloads": self.downloads,
            "video_url": self.video_url,
            "upload_url": self.upload_url,
            "uploaded": bool(self.upload and self.upload.get("status") == "succeeded"),
            "upload": copy.deepcopy(self.upload),
        }


# --------------------------------------------------------------------------- response bodies


def flat_body(job: Job, now: float) -> dict[str, Any] | None:
    """The xAI-shaped poll body, or ``None`` while pending (the "echo" phase)."""
    phase, progress = job.phase(now)
    if phase == "pending":
        return None
    if phase == "queued":
        return {"status": "queued"}
    if phase == "processing":
        return {"status": "processing", "progress": progress}
    if job.outcome == "succeeded":
        return {
            "status": "done",
            "progress": 100,
            "video": {"url": job.video_url, "duration": job.duration, "respect_moderation": True},
            "model": job.model,
        }
    if job.outcome == "moderated":
        return {
            "status": "done",
            "progress": 100,
            "video": {"duration": job.duration, "respect_moderation": False},
            "model": job.model,
        }
    if job.outcome == "failed":
        return {"status": "failed", "error": _failure_error()}
    return {"status": "expired"}


def _failure_error() -> dict[str, str]:
    return {"code": "generation_failed", "message": "Video generation failed (sandbox:outcome=failed)."}


def wrapped_body(job: Job, now: float) -> dict[str, Any]:
    """The CometAPI envelope around the flat body."""
    phase, progress = job.phase(now)
    flat = flat_body(job, now) or {"request_id": job.id}
    gen = job.generation_seconds
    submit_time = int(job.submitted_wall)
    start_time = int(job.submitted_wall + gen * QUEUED_FRACTION) if phase in ("processing", "terminal") else 0
    finish_time = int(job.submitted_wall + gen) if phase == "terminal" else 0
    fail_reason = ""
    if phase in ("pending", "queued"):
        status = "NOT_START"
    elif phase == "processing":
        status = "IN_PROGRESS"
    elif job.outcome == "succeeded":
        status, fail_reason = "SUCCESS", job.video_url  # the documented quirk
    elif job.outcome == "moderated":
        status = "SUCCESS"
    elif job.outcome == "failed":
        status, fail_reason = "FAILURE", _failure_error()["message"]
    else:
        status, fail_reason = "FAILURE", "video expired"
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": job.id,
            "action": "VIDEO_GENERATION",
            "status": status,
            "fail_reason": fail_reason,
            "submit_time": submit_time,
            "start_time": start_time,
            "finish_time": finish_time,
            "progress": f"{progress}%",
            "data": flat,
        },
    }


def aimlapi_body(job: Job, now: float) -> dict[str, Any]:
    phase, _ = job.phase(now)
    body: dict[str, Any] = {"id": job.id, "status": "queued", "video": None, "error": None}
    if phase == "processing":
        body["status"] = "generating"
    elif phase == "terminal":
        if job.outcome == "succeeded":
            body.update(status="completed", video={"url": job.video_url})
        elif job.outcome == "moderated":
            body.update(status="completed", video={"url": None, "respect_moderation": False})
        elif job.outcome == "failed":
            body.update(status="error", error=_failure_error())
        else:
            body.update(status="error", error={"code": "expired", "message": "The generation expired."})
    return body


# --------------------------------------------------------------------------- HTTP


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "videohook-sandbox/1"
    disable_nagle_algorithm = True
    timeout = 60
    server: _HTTPServer

    # ---- plumbing

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            sys.stderr.write(f"sandbox {self.address_string()} {format % args}\n")

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, err: ApiError, headers: dict[str, str] | None = None) -> None:
        self._send_json(err.status, {"error": {"code": err.code, "message": err.message}}, headers)

    def _read_body(self) -> bytes:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked_body()
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid_request", "malformed request framing") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "payload_too_large", "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            chunk_len = int(line.split(b";")[0].strip() or b"0", 16)
            if chunk_len == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += chunk_len
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise ApiError(413, "payload_too_large", "request body too large")
            parts.append(self.rfile.read(chunk_len))
            self.rfile.readline(1024)

    def _check_auth(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing bearer token in the Authorization header")
        expected = self.server.sandbox.api_key
        if expected is not None and not hmac.compare_digest(token.encode(), expected.encode()):
            raise ApiError(401, "unauthorized", "invalid API key")

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        method = self.command
        body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
        try:
            route = _route(method, path)
            if route is None:
                raise ApiError(404, "not_found", f"no route for {method} {path}")
            kind, arg = route
            if kind == "method_not_allowed":
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}")
            if kind == "file":
                self._serve_file(arg)
                return
            if kind == "sandbox":
                self._serve_sandbox(arg)
                return
            self._check_auth()
            if kind == "create":
                try:
                    payload = json.loads(body) if body else None
                except (ValueError, UnicodeDecodeError):
                    raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
                job = sandbox._create_job(arg, payload)
                if arg == "aimlapi":
                    self._send_json(200, {"id": job.id, "status": "queued"})
                else:
                    self._send_json(200, {"request_id": job.id})
                return
            # poll
            if arg == "aimlapi":
                ids = parse_qs(parts.query).get("generation_id") or []
                if not ids or not ids[0]:
                    raise ApiError(400, "missing_field", "generation_id query parameter is required")
                job_id = ids[0]
            else:
                job_id = path.rsplit("/", 1)[1]
            self._poll(arg, job_id)
        except ApiError as err:
            sandbox._count("rejected")
            extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
            self._send_error(err, extra)

    def _poll(self, contract: str, job_id: str) -> None:
        sandbox = self.server.sandbox
        job, poll_number = sandbox._record_poll(contract, job_id)
        now = sandbox.clock()
        if contract == "aimlapi":
            self._send_json(200, aimlapi_body(job, now))
            return
        flat = flat_body(job, now)
        if contract == "xai":
            pending = flat is None or flat["status"] in ("queued", "processing")
            if pending and sandbox.xai_pending_as_202:
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send_json(200, flat if flat is not None else {"request_id": job.id})
            return
        envelope = sandbox.comet_envelope
        wrapped = envelope == "wrapped" or (envelope == "alternate" and poll_number % 2 == 1)
        if wrapped:
            self._send_json(200, wrapped_body(job, now))
        else:
            self._send_json(200, flat if flat is not None else {"request_id": job.id})

    def _serve_sandbox(self, what: str) -> None:
        sandbox = self.server.sandbox
        if what == "jobs":
            self._send_json(200, sandbox.jobs)
        elif what == "stats":
            self._send_json(200, sandbox.stats)
        elif what == "health":
            self._send_json(200, {"ok": True})
        else:  # reset
            sandbox.reset()
            self._send_json(200, {"ok": True})

    def _serve_file(self, job_id: str) -> None:
        sandbox = self.server.sandbox
        job = sandbox._job_for_download(job_id)
        size = job.size
        start, stop, status = 0, size, 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                raise ApiError(416, "range_not_satisfiable", f"cannot satisfy {range_header!r}")
            start, stop = parsed
            status = 206
        length = stop - start
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{job.id}-{size}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        truncate = job.truncate_at if job.truncate_at is not None else sandbox.truncate_at
        sent = 0
        try:
            for chunk in mp4.iter_mp4(job.id, size, sandbox.chunk_size, start=start, stop=stop):
                if truncate is not None and sent + len(chunk) > truncate:
                    self.wfile.write(chunk[: max(0, truncate - sent)])
                    self.wfile.flush()
                    self.close_connection = True  # the promised Content-Length is never completed
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _handle(self) -> None:
        try:
            self._dispatch()
        except ApiError as err:  # raised while reading the request body
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


_FILE_RE = re.compile(r"/files/([A-Za-z0-9_-]+)\.mp4")
_XAI_POLL_RE = re.compile(r"/v1/videos/([^/]+)")
_COMET_POLL_RE = re.compile(r"/grok/v1/videos/([^/]+)")


def _route(method: str, path: str) -> tuple[str, str] | None:
    creates = {
        "/v1/videos/generations": "xai",
        "/grok/v1/videos/generations": "cometapi",
        "/v2/video/generations": "aimlapi",
    }
    if path in creates:
        contract = creates[path]
        if method == "POST":
            return "create", contract
        if method == "GET" and contract == "aimlapi":
            return "poll", "aimlapi"
        return "method_not_allowed", path
    for regex, contract in ((_COMET_POLL_RE, "cometapi"), (_XAI_POLL_RE, "xai")):
        if regex.fullmatch(path):
            return ("poll", contract) if method == "GET" else ("method_not_allowed", path)
    match = _FILE_RE.fullmatch(path)
    if match:
        return ("file", match.group(1)) if method in ("GET", "HEAD") else ("method_not_allowed", path)
    sandbox_routes = {
        "/sandbox/jobs": ("GET", "jobs"),
        "/sandbox/stats": ("GET", "stats"),
        "/sandbox/health": ("GET", "health"),
        "/sandbox/reset": ("POST", "reset"),
    }
    if path in sandbox_routes:
        wanted, name = sandbox_routes[path]
        return ("sandbox", name) if method == wanted else ("method_not_allowed", path)
    return None


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        stop = min(size, int(last) + 1) if last else size
    else:  # suffix range: the last N bytes
        start, stop = max(0, size - int(last)), size
    if start >= size or stop <= start:
        return None
    return start, stop


# --------------------------------------------------------------------------- the server


class SandboxServer:
    """A real HTTP server speaking the xAI, CometAPI and AI/ML API video contracts on one port.

    The socket is bound in ``__init__`` (so ``url`` is known at once); ``start()`` serves
    from a background thread, ``serve_forever()`` in the foreground. The options below are
    plain attributes read on every request, so tests may change them on a running server.
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
        default_bytes: int = 262144,
        default_outcome: str = "succeeded",
        default_seconds: float | None = None,
        truncate_at: int | None = None,
        public_url: str | None = None,
        chunk_size: int = mp4.DEFAULT_CHUNK_SIZE,
        log_requests: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if comet_envelope not in COMET_ENVELOPES:
            raise ValueError(f"comet_envelope must be one of {COMET_ENVELOPES}")
        if default_outcome not in OUTCOMES:
            raise ValueError(f"default_outcome must be one of {OUTCOMES}")
        if time_factor < 0:
            raise ValueError("time_factor must be >= 0")
        if default_bytes < mp4.MIN_SIZE:
            raise ValueError(f"default_bytes must be at least {mp4.MIN_SIZE}")
        self.time_factor = time_factor
        self.api_key = api_key or None
        self.comet_envelope = comet_envelope
        self.xai_pending_as_202 = xai_pending_as_202
        self.default_bytes = default_bytes
        self.default_outcome = default_outcome
        self.default_seconds = default_seconds
        self.truncate_at = truncate_at
        self.public_url = public_url.rstrip("/") if public_url else None
        self.chunk_size = chunk_size
        self.log_requests = log_requests
        self.clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._fingerprints: dict[str, int] = {}
        self._counters = {"submissions": 0, "polls": 0, "downloads": 0, "uploads": 0, "rejected": 0}
        self._stopping = threading.Event()
        self._upload_threads: list[threading.Thread] = []
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        self._httpd = _HTTPServer((host, port), _Handler)
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- introspection

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Snapshots of every job in submission order (same as ``GET /sandbox/jobs``)."""
        now = self.clock()
        with self._lock:
            return [job.snapshot(now, self._fingerprints[job.fingerprint]) for job in self._jobs.values()]

    def job(self, job_id: str) -> dict[str, Any] | None:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            return job.snapshot(now, self._fingerprints[job.fingerprint]) if job else None

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset(self) -> None:
        """Forget all jobs and counters (pending uploads still finish)."""
        with self._lock:
            self._jobs.clear()
            self._fingerprints.clear()
            for key in self._counters:
                self._counters[key] = 0

    def video_url(self, job_id: str) -> str:
        return f"{self.base_url}/files/{job_id}.mp4"

    def generation_seconds(self, duration: int, resolution: str) -> float:
        """Simulated generation time before ``time_factor``."""
        return (BASE_SECONDS + SECONDS_PER_DURATION_SECOND * duration) * RESOLUTION_FACTOR[resolution]

    # ---- internals used by the handler

    def _count(self, key: str) -> None:
        with self._lock:
            self._counters[key] += 1

    def _create_job(self, contract: str, body: Any) -> Job:
        params = validate_create(contract, body)
        directives = parse_directives(params["prompt"])
        seconds = directives.get("seconds", self.default_seconds)
        if seconds is None:
            seconds = self.generation_seconds(params["duration"], params["resolution"])
        job_id = str(uuid.uuid4())
        fingerprint = hashlib.sha256(
            (contract + "\x00" + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()
        ).hexdigest()
        job = Job(
            id=job_id,
            contract=contract,
            body=redact_body(body),
            fingerprint=fingerprint,
            submit_index=0,
            submitted_mono=self.clock(),
            submitted_wall=time.time(),
            generation_seconds=seconds * self.time_factor,
            outcome=directives.get("outcome", self.default_outcome),
            size=directives.get("bytes", self.default_bytes),
            truncate_at=directives.get("truncate"),
            model=params["model"],
            duration=params["duration"],
            resolution=params["resolution"],
            aspect_ratio=params["aspect_ratio"],
            upload_url=params["upload_url"],
            video_url=self.video_url(job_id),
        )
        with self._lock:
            self._counters["submissions"] += 1
            job.submit_index = self._counters["submissions"]
            self._fingerprints[fingerprint] = self._fingerprints.get(fingerprint, 0) + 1
            self._jobs[job_id] = job
        if job.upload_url and job.outcome == "succeeded":
            job.upload = {"url": job.upload_url, "status": "pending", "status_code": None, "error": None}
            thread = threading.Thread(
                target=self._upload, args=(job,), name=f"sandbox-upload-{job_id}", daemon=True
            )
            self._upload_threads = [t for t in self._upload_threads if t.is_alive()] + [thread]
            thread.start()
        return job

    def _record_poll(self, contract: str, job_id: str) -> tuple[Job, int]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.contract != contract:
                raise ApiError(404, "not_found", f"no video generation with id {job_id!r}")
            job.polls += 1
            self._counters["polls"] += 1
            return job, job.polls

    def _job_for_download(self, job_id: str) -> Job:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.phase(now)[0] != "terminal" or job.outcome != "succeeded":
                raise ApiError(404, "not_found", f"no video file {job_id}.mp4")
            job.downloads += 1
            self._counters["downloads"] += 1
            return job

    def _upload(self, job: Job) -> None:
        """PUT the finished video to ``output.upload_url``, streamed, then mark the job finished."""
        due = job.submitted_mono + job.generation_seconds
        while not self._stopping.is_set():
            remaining = due - self.clock()
            if remaining <= 0:
                break
            self._stopping.wait(max(0.005, min(remaining, 0.1)))
        if self._stopping.is_set():
            return
        result: dict[str, Any] = {
            "url": job.upload_url,
            "status": "failed",
            "status_code": None,
            "error": None,
        }
        sent = 0
        try:
            target = urlsplit(job.upload_url or "")
            conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
            conn = conn_cls(target.hostname or "", target.port, timeout=60)
            try:
                path = (target.path or "/") + (f"?{target.query}" if target.query else "")
                conn.putrequest("PUT", path, skip_accept_encoding=True)
                conn.putheader("Content-Type", "video/mp4")
                conn.putheader("Content-Length", str(job.size))
                conn.endheaders()
                for chunk in mp4.iter_mp4(job.id, job.size, self.chunk_size):
                    if self._stopping.is_set():
                        raise ConnectionAbortedError("sandbox stopped during the upload")
                    conn.send(chunk)
                    sent += len(chunk)
                response = conn.getresponse()
                response.read(64 * 1024)
                result["status_code"] = response.status
                if 200 <= response.status < 300:
                    result["status"] = "succeeded"
                else:
                    result["error"] = f"upload answered HTTP {response.status}"
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
        result["bytes_sent"] = sent
        with self._lock:
            job.upload = result
            if result["status"] == "succeeded":
                self._counters["uploads"] += 1
        job.upload_finished.set()
