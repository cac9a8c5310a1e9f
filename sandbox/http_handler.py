"""The sandbox's HTTP side: routes, request framing, auth, and sending answers and videos.

What each request does is the server's (``sandbox/server.py``) and the wire contracts'
(``sandbox/xai.py``, ``sandbox/cometapi.py``, ``sandbox/aimlapi.py``); this module reads
requests and writes answers. Videos go out with ``sendfile``, from the page cache.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from sandbox import aimlapi, cometapi, xai
from sandbox.answers import ApiError, CannedResponse, json_answer, json_error
from sandbox.contract import Contract
from sandbox.jobs import Job, JobBook
from sandbox.video_files import VideoFiles

WIRE_CONTRACTS = (xai.CONTRACT, cometapi.CONTRACT, aimlapi.CONTRACT)
CONTRACTS = tuple(contract.name for contract in WIRE_CONTRACTS)
MAX_BODY_BYTES = 32 * 1024 * 1024
_FILE_RE = re.compile(r"/files/([A-Za-z0-9_-]+)\.mp4")
_SANDBOX_ROUTES = {
    "/sandbox/jobs": (("GET",), "jobs"),
    "/sandbox/stats": (("GET",), "stats"),
    "/sandbox/health": (("GET",), "health"),
    "/sandbox/reset": (("POST",), "reset"),
    "/sandbox/faults": (("GET", "POST", "DELETE"), "faults"),
}


class Sandbox(Protocol):
    """What the handler asks of the server (``sandbox.server.SandboxServer``)."""

    api_key: str | None
    chunk_size: int
    log_requests: bool
    book: JobBook
    videos: VideoFiles

    @property
    def jobs(self) -> list[dict[str, Any]]: ...

    @property
    def stats(self) -> dict[str, int]: ...

    @property
    def faults(self) -> dict[str, Any]: ...

    def set_faults(self, **values: Any) -> None: ...

    def clear_faults(self) -> None: ...

    def reset(self) -> None: ...

    def pause(self, seconds: float) -> bool: ...

    def create(self, contract: Contract, payload: Any) -> tuple[Job, float]: ...

    def record_poll(
        self, contract: Contract, job_id: str
    ) -> tuple[Job, int, float, CannedResponse | None]: ...

    def poll_answer(self, contract: Contract, job: Job, poll_number: int) -> CannedResponse: ...

    def job_for_download(self, job_id: str) -> Job: ...


def route(method: str, path: str) -> tuple[str, Any] | None:
    """``(kind, argument)`` of a request: ``create``/``poll`` (a Contract), ``file`` (a job id),
    ``sandbox`` (an introspection route), ``method_not_allowed``; ``None``: no such path."""
    for contract in WIRE_CONTRACTS:
        if path == contract.create_path:
            if method == "POST":
                return "create", contract
            if method == "GET" and contract.poll_path is None:
                return "poll", contract
            return "method_not_allowed", path
    for contract in WIRE_CONTRACTS:
        if contract.poll_path is not None and contract.poll_path.fullmatch(path):
            return ("poll", contract) if method == "GET" else ("method_not_allowed", path)
    match = _FILE_RE.fullmatch(path)
    if match:
        return ("file", match.group(1)) if method in ("GET", "HEAD") else ("method_not_allowed", path)
    if path in _SANDBOX_ROUTES:
        methods, name = _SANDBOX_ROUTES[path]
        return ("sandbox", name) if method in methods else ("method_not_allowed", path)
    return None


def parse_range(header: str, size: int) -> tuple[int, int] | None:
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


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    sandbox: Sandbox


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "videohook-sandbox/1"
    disable_nagle_algorithm = True
    timeout = 60
    server: HTTPServer

    # ---- plumbing

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            sys.stderr.write(f"sandbox {self.address_string()} {format % args}\n")

    def _send(self, answer: CannedResponse) -> None:
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    def _send_error(self, err: ApiError, headers: dict[str, str] | None = None) -> None:
        self._send(json_error(err.status, err.code, err.message, headers))

    def _abort(self) -> None:
        """Close the connection now, whatever was promised (a cut body, or no answer at all)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hold(self, seconds: float) -> bool:
        """Wait ``seconds`` before answering; on ``stop()`` close the connection and return False."""
        if seconds <= 0 or self.server.sandbox.pause(seconds):
            return True
        self._abort()
        return False

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

    # ---- requests

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        method = self.command
        found = route(method, path)
        is_create = found is not None and found[0] == "create"
        try:
            body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
            if found is None:
                raise ApiError(404, "not_found", f"no route for {method} {path}")
            kind, arg = found
            if kind == "method_not_allowed":
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}")
            if kind == "file":
                self._serve_file(arg)
                return
            if kind == "sandbox":
                self._serve_sandbox(arg, body)
                return
            self._check_auth()
            if kind == "create":
                self._create(arg, body)
            else:
                self._poll(arg, arg.poll_id(path, parts.query))
        except ApiError as err:
            sandbox.book.count("rejected")
            if is_create:
                sandbox.book.count("refused")
            extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
            self._send_error(err, extra)
        except CannedResponse as canned:  # an injected fault
            if self._hold(canned.delay):
                self._send(canned)

    def _create(self, contract: Contract, body: bytes) -> None:
        # raises CannedResponse when refused
        job, delay = self.server.sandbox.create(contract, _json_body(body))
        if self._hold(delay):
            self._send(json_answer(200, contract.created(job)))

    def _poll(self, contract: Contract, job_id: str) -> None:
        sandbox = self.server.sandbox
        job, poll_number, delay, fault = sandbox.record_poll(contract, job_id)
        if self._hold(delay):
            self._send(fault if fault is not None else sandbox.poll_answer(contract, job, poll_number))

    def _serve_sandbox(self, what: str, body: bytes) -> None:
        sandbox = self.server.sandbox
        if what == "jobs":
            self._send(json_answer(200, sandbox.jobs))
        elif what == "stats":
            self._send(json_answer(200, sandbox.stats))
        elif what == "health":
            self._send(json_answer(200, {"ok": True}))
        elif what == "reset":
            sandbox.reset()
            self._send(json_answer(200, {"ok": True}))
        elif self.command == "GET":  # faults
            self._send(json_answer(200, sandbox.faults))
        elif self.command == "DELETE":
            sandbox.clear_faults()
            self._send(json_answer(200, sandbox.faults))
        else:
            values = _json_body(body)
            if not isinstance(values, dict):
                raise ApiError(400, "invalid_request", "the body must be a JSON object of fault knobs")
            try:
                sandbox.set_faults(**values)
            except ValueError as exc:
                raise ApiError(400, "invalid_fault", str(exc)) from None
            self._send(json_answer(200, sandbox.faults))

    # ---- videos

    def _serve_file(self, job_id: str) -> None:
        sandbox = self.server.sandbox
        job = sandbox.job_for_download(job_id)  # raises CannedResponse for video_404
        size = job.size
        start, stop, status = 0, size, 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = parse_range(range_header, size)
            if parsed is None:
                raise ApiError(416, "range_not_satisfiable", f"cannot satisfy {range_header!r}")
            start, stop = parsed
            status = 206
        if self.command == "HEAD":
            self._send_video_headers(job, status, start, stop)
            return
        # Rendered on its first download, before the answer starts.
        with sandbox.videos.open(job.id, size) as video:
            self._send_video_headers(job, status, start, stop)
            try:
                self._stream_video(job, video, start, stop)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True

    def _send_video_headers(self, job: Job, status: int, start: int, stop: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(stop - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{job.id}-{job.size}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{job.size}")
        self.end_headers()

    def _stream_video(self, job: Job, video: BinaryIO, start: int, stop: int) -> None:
        """Send bytes ``[start, stop)`` with the job's download faults: truncate, stall, throttle."""
        sandbox = self.server.sandbox
        book = sandbox.book
        length = stop - start
        truncate = book.knob(job, "truncate")
        if truncate is not None and truncate >= length:
            truncate = None
        limit = length if truncate is None else truncate
        stall_at = book.knob(job, "stall_after")
        if stall_at is not None and stall_at >= limit:
            stall_at = None
        stall_seconds = book.knob(job, "stall_seconds")
        bps = book.knob(job, "slow_download_bps")
        piece = max(1, min(sandbox.chunk_size, bps // 20)) if bps else 0  # throttled: ~20 writes/s
        for name, active in (("truncate", truncate), ("stall", stall_at), ("slow_download", bps)):
            if active is not None:
                book.count(f"fault_{name}")
        self.wfile.flush()  # the headers go out before any stall
        sent = 0
        began = time.monotonic()
        stalled = 0.0  # time spent in the stall, not counted against the throttle
        while sent < limit:
            if stall_at is not None and sent == stall_at:
                stall_at = None
                paused_at = time.monotonic()
                if not self._hold(stall_seconds):
                    return
                stalled += time.monotonic() - paused_at
            n = limit - sent
            if stall_at is not None:
                n = min(n, stall_at - sent)
            if bps:
                n = min(n, piece)
            # sendfile: from the page cache to the socket, no copy through this process.
            sent += self.connection.sendfile(video, offset=start + sent, count=n)
            if bps:
                ahead = began + stalled + sent / bps - time.monotonic()
                if ahead > 0 and not self._hold(ahead):
                    return
        if truncate is not None:
            self._abort()  # the promised Content-Length is never completed

    def _handle(self) -> None:
        try:
            self._dispatch()
        except ApiError as err:  # raised while reading the request body
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle
