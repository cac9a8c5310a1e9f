"""`VideohookClient`: a typed, synchronous client of the videohook API.

    from videohook_client import VideohookClient

    with VideohookClient() as client:               # VIDEOHOOK_URL, VIDEOHOOK_API_KEY
        job = client.create_video("A candle flickers.", duration=2, image="first-frame.png")
        job = client.wait(job.id, timeout=600)
        if job.succeeded:
            client.download(job, "candle.mp4")       # streamed, size and SHA-256 verified

The API key is sent only to the videohook API, never to a download or upload URL,
and never appears in an error message or a repr.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from videohook_client.errors import (
    VideohookApiError,
    VideohookClientError,
    VideohookConfigError,
    VideohookConnectionError,
    VideohookError,
    VideohookInputError,
    VideohookServerError,
    VideohookTimeout,
    VideoIntegrityError,
    VideoNotReadyError,
)
from videohook_client.models import Job, JobStatus, Page, Upload

URL_ENV = "VIDEOHOOK_URL"
API_KEY_ENV = "VIDEOHOOK_API_KEY"
USER_AGENT = "videohook-client/0.1"

DEFAULT_TIMEOUT = 30.0
DEFAULT_WAIT_TIMEOUT = 900.0
DEFAULT_POLL_INTERVAL = 2.0
DEFAULT_MAX_POLL_INTERVAL = 10.0
POLL_BACKOFF = 1.5
# Consecutive 5xx / connection failures that `wait` rides out before giving up.
WAIT_MAX_CONSECUTIVE_FAILURES = 5

# Local images below this size travel inline as a data: URI (base64 makes them 4/3 larger; API Gateway
# takes 10 MiB); larger ones go through `POST /v1/uploads` and a presigned PUT.
INLINE_IMAGE_LIMIT = 3 * 1024 * 1024
DOWNLOAD_CHUNK = 1024 * 1024

# Statuses worth retrying for an idempotent request, and the longest Retry-After honoured.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 30.0

# Codes for error answers that do not carry `{"error": {...}}` (API Gateway's own, a proxy's, S3's).
_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "request_too_large",
    429: "too_many_requests",
}

ProgressCallback = Callable[[Job], None]
DownloadProgress = Callable[[int, int | None], None]


# ---- images --------------------------------------------------------------------


def sniff_image_type(head: bytes) -> str | None:
    """The media type of an image from its first bytes: PNG, JPEG or WEBP, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def inspect_image(path: str | os.PathLike[str]) -> tuple[Path, str, int]:
    """`(path, media type, size)` of a local image, or a `VideohookInputError` saying what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(16)
            size = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        raise VideohookInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise VideohookInputError(f"{path}: is a directory, not an image file") from None
    except OSError as error:
        raise VideohookInputError(f"{path}: cannot read: {error.strerror or error}") from None
    media_type = sniff_image_type(head)
    if media_type is None:
        raise VideohookInputError(f"{path}: not a PNG, JPEG or WEBP image (checked its first bytes)")
    return path, media_type, size


def _looks_like_url(value: str) -> bool:
    return value.startswith("data:") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) is not None


# ---- errors --------------------------------------------------------------------


def _api_error(response: httpx.Response, *, default_code: str | None = None) -> VideohookApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code = error["code"]
        message = str(error.get("message") or response.reason_phrase)
        field = error.get("field") if isinstance(error.get("field"), str) else None
    else:
        code = default_code or _DEFAULT_CODES.get(status, "server_error" if status >= 500 else "http_error")
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        else:
            text = " ".join(response.text.split())[:200] if response.text else ""
            message = text or response.reason_phrase or f"HTTP {status}"
        field = None
    kind = VideohookServerError if status >= 500 else VideohookClientError
    return kind(status, code, message, field)


def _connection_error(url: str, error: httpx.TransportError) -> VideohookConnectionError:
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}"  # never the query: presigned URLs carry credentials
    detail = str(error) or type(error).__name__
    return VideohookConnectionError(f"cannot reach {where}: {detail}")


class _DownloadUrlRefused(Exception):
    def __init__(self, error: VideohookApiError) -> None:
        self.error = error


# ---- the client ----------------------------------------------------------------


class VideohookClient:
    """A client of one videohook deployment.

    `base_url` and `api_key` default to `VIDEOHOOK_URL` and `VIDEOHOOK_API_KEY`;
    `timeout` applies to each HTTP request; `retries` is how often an idempotent
    request (GETs, and a create that carries an idempotency key) is retried after a
    connection error or a 429/502/503/504. Pass `http` to reuse your own
    `httpx.Client` (it is not closed by `close()`).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 2,
        http: httpx.Client | None = None,
    ) -> None:
        base_url = (base_url if base_url is not None else os.environ.get(URL_ENV, "")).strip()
        api_key = (api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")).strip()
        if not base_url:
            raise VideohookConfigError(
                f"{URL_ENV} is not set: the base URL of the videohook API, e.g. http://127.0.0.1:8787"
            )
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise VideohookConfigError(f"{URL_ENV} must be an http(s) URL, got {base_url!r}")
        if not api_key:
            raise VideohookConfigError(f"{API_KEY_ENV} is not set: the API key sent in x-api-key")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout
        self._retries = max(0, retries)
        self._http = http if http is not None else httpx.Client(follow_redirects=False)
        self._owns_http = http is None
        # Seams for tests; `wait` and the retry backoff use them.
        self._sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"VideohookClient(base_url={self.base_url!r})"

    def __enter__(self) -> VideohookClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # ---- plumbing ----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> Any:
        url = self.base_url + path
        request_headers = {
            "x-api-key": self._api_key,
            "accept": "application/json",
            "user-agent": USER_AGENT,
            **(headers or {}),
        }
        params = {name: value for name, value in (params or {}).items() if value is not None} or None
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, url, json=json, params=params, headers=request_headers, timeout=self._timeout
                )
            except httpx.TransportError as error:
                if retry and attempt < self._retries:
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise _connection_error(url, error) from error
            if response.status_code in RETRYABLE_STATUSES and retry and attempt < self._retries:
                self._sleep(self._backoff(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise _api_error(response)
            try:
                return response.json()
            except ValueError:
                raise VideohookServerError(
                    response.status_code, "invalid_response", f"{method} {path} did not answer JSON"
                ) from None

    @staticmethod
    def _backoff(attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass
        return 0.5 * 2**attempt

    @staticmethod
    def _job_path(job: Job | str, suffix: str = "") -> str:
        job_id = job.id if isinstance(job, Job) else job
        if not job_id:
            raise VideohookInputError("a job id is required")
        return f"/v1/videos/{quote(job_id, safe='')}{suffix}"

    # ---- jobs --------------------------------------------------------------------

    def create_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        duration: int | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        image: str | os.PathLike[str] | dict[str, str] | None = None,
        reference_images: list[str] | None = None,
        user: str | None = None,
        webhook_url: str | None = None,
        metadata: dict[str, Any] | None = None,
        provider: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Start a job (`POST /v1/videos`).

        `image` is an https URL or data: URI (sent as `{"url": ...}`), a local PNG/JPEG/WEBP
        file (inlined below 3 MiB, uploaded through `/v1/uploads` above), or the API's own
        `{"url": ...}` / `{"upload_id": ...}` object. With `idempotency_key`, a retried call
        returns the same job, so the client retries it on connection errors and 5xx.
        """
        body: dict[str, Any] = {
            "prompt": prompt,
            "model": model,
            "duration": duration,
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "image": self.image_input(image) if image is not None else None,
            "reference_images": reference_images,
            "user": user,
            "webhook_url": webhook_url,
            "metadata": metadata,
            "provider": provider,
        }
        body = {name: value for name, value in body.items() if value is not None}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        data = self._request("POST", "/v1/videos", json=body, headers=headers, retry=bool(idempotency_key))
        return Job.from_json(data)

    def get_video(self, job: Job | str) -> Job:
        """The job's current state (`GET /v1/videos/{id}`)."""
        return Job.from_json(self._request("GET", self._job_path(job), retry=True))

    def list_videos(
        self, status: JobStatus | str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page:
        """One page of jobs, newest first (`GET /v1/videos`); pass `page.next_cursor` for the next."""
        params = {"status": str(status) if status is not None else None, "limit": limit, "cursor": cursor}
        return Page.from_json(self._request("GET", "/v1/videos", params=params, retry=True))

    def iter_videos(
        self, status: JobStatus | str | None = None, *, page_size: int | None = None
    ) -> Iterator[Job]:
        """Every job, newest first, following `next_cursor` page by page."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_videos(status=status, limit=page_size, cursor=cursor)
            yield from page.data
            cursor = page.next_cursor
            if not cursor:
                return
            if cursor in seen:
                raise VideohookServerError(200, "cursor_loop", f"the API returned cursor {cursor!r} twice")
            seen.add(cursor)

    def cancel_video(self, job: Job | str) -> Job:
        """Cancel a queued or running job; a finished one raises `VideohookClientError` 409 `job_finished`."""
        return Job.from_json(self._request("POST", self._job_path(job, "/cancel")))

    # ---- images ------------------------------------------------------------------

    def image_input(self, image: str | os.PathLike[str] | dict[str, str]) -> dict[str, str]:
        """The API's `image` object for a URL, a data: URI, a local file or an `{url|upload_id}` dict."""
        if isinstance(image, dict):
            return image
        if isinstance(image, str) and _looks_like_url(image):
            return {"url": image}
        path, media_type, size = inspect_image(image)
        if size >= INLINE_IMAGE_LIMIT:
            return {"upload_id": self.upload_image(path)}
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return {"url": f"data:{media_type};base64,{encoded}"}

    def upload_image(self, path: str | os.PathLike[str]) -> str:
        """Upload a local image through `POST /v1/uploads` and its presigned PUT; returns the upload id."""
        path, media_type, size = inspect_image(path)
        upload = Upload.model_validate(
            self._request("POST", "/v1/uploads", json={"content_type": media_type, "bytes": size})
        )
        if upload.method.upper() != "PUT":
            raise VideohookServerError(
                200, "unsupported_upload", f"the API asked for an upload by {upload.method}, not PUT"
            )
        headers = {name.lower(): value for name, value in upload.headers.items()}
        headers.setdefault("content-type", media_type)
        try:
            with path.open(
                "rb"
            ) as file:  # streamed: httpx reads the file in chunks, Content-Length from stat
                response = self._http.request(
                    "PUT", upload.upload_url, content=file, headers=headers, timeout=self._timeout
                )
        except httpx.TransportError as error:
            raise _connection_error(upload.upload_url, error) from error
        if response.status_code >= 400:
            raise _api_error(response, default_code="upload_failed")
        return upload.upload_id

    # ---- waiting -----------------------------------------------------------------

    def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_progress: ProgressCallback | None = None,
    ) -> Job:
        """Poll the job until it is terminal and return it, whatever the outcome.

        The interval starts at `poll_interval` and grows by half each poll up to
        `max_poll_interval`. `on_progress(job)` is called with every state seen. A few
        consecutive 5xx or connection failures are ridden out. Raises `VideohookTimeout`
        (with the last state seen) when `timeout` seconds pass; `None` waits forever.
        """
        deadline = None if timeout is None else self._clock() + timeout
        interval = max(poll_interval, 0.0)
        ceiling = max(max_poll_interval, interval)
        last: Job | None = job if isinstance(job, Job) else None
        failures = 0
        while True:
            try:
                current = self.get_video(job)
            except (VideohookServerError, VideohookConnectionError):
                failures += 1
                if failures >= WAIT_MAX_CONSECUTIVE_FAILURES:
                    raise
            else:
                failures = 0
                last = current
                if on_progress is not None:
                    on_progress(current)
                if current.is_terminal:
                    return current
            now = self._clock()
            if deadline is not None and now >= deadline:
                job_id = job.id if isinstance(job, Job) else job
                state = f" (last seen: {last.status}, {last.progress}%)" if last is not None else ""
                raise VideohookTimeout(f"job {job_id} did not finish within {timeout:g} s{state}", last)
            self._sleep(interval if deadline is None else min(interval, deadline - now))
            interval = min(interval * POLL_BACKOFF, ceiling)

    # ---- downloading -------------------------------------------------------------

    def download(
        self,
        job: Job | str,
        dest_path: str | os.PathLike[str],
        *,
        verify_sha256: bool = True,
        on_progress: DownloadProgress | None = None,
    ) -> Path:
        """Stream the job's video to `dest_path` (a file, or a directory for `<id>.mp4`) and return the path.

        The bytes go to a temporary file beside the destination, which replaces it only
        once the size (and, with `verify_sha256`, the SHA-256) matches the job's `video`;
        otherwise `VideoIntegrityError` and nothing is written. Constant memory.
        `on_progress(received, total)` is called after every chunk.
        """
        fetched = isinstance(job, str)
        current = self.get_video(job) if isinstance(job, str) else job
        self._require_video(current)
        dest = Path(dest_path)
        if dest.is_dir():
            dest = dest / f"{current.id}.mp4"
        try:
            return self._download_once(current, dest, verify_sha256, on_progress)
        except _DownloadUrlRefused as refused:
            if fetched:
                raise refused.error from None
        # The job we were handed carried an expired presigned URL: fetch a fresh one, once.
        current = self.get_video(current.id)
        self._require_video(current)
        try:
            return self._download_once(current, dest, verify_sha256, on_progress)
        except _DownloadUrlRefused as refused:
            raise refused.error from None

    @staticmethod
    def _require_video(job: Job) -> None:
        if job.status is JobStatus.SUCCEEDED and job.video is not None and job.video.download_url:
            return
        if job.is_terminal:
            reason = f"it ended {job.status}"
            if job.error is not None:
                reason += f" ({job.error.code}: {job.error.message})"
        else:
            reason = f"it is still {job.status} ({job.progress}%)"
        raise VideoNotReadyError(f"job {job.id} has no video to download: {reason}", job)

    def _download_once(
        self, job: Job, dest: Path, verify_sha256: bool, on_progress: DownloadProgress | None
    ) -> Path:
        video = job.video
        assert video is not None and video.download_url  # checked by _require_video
        url = video.download_url
        expected_size = video.bytes
        part = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            # Never the API key: the URL is presigned, and it may point at another host.
            with self._http.stream(
                "GET", url, headers={"user-agent": USER_AGENT}, timeout=self._timeout, follow_redirects=True
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    error = _api_error(response, default_code="download_failed")
                    if response.status_code in (401, 403):
                        raise _DownloadUrlRefused(error)
                    raise error
                total = expected_size
                if total is None and response.headers.get("content-length", "").isdigit():
                    total = int(response.headers["content-length"])
                digest = hashlib.sha256()
                received = 0
                with part.open("xb") as out:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        received += len(chunk)
                        if expected_size is not None and received > expected_size:
                            raise VideoIntegrityError(
                                f"{job.id}: the download is longer than the expected {expected_size} bytes",
                                expected=expected_size,
                                actual=received,
                            )
                        out.write(chunk)
                        digest.update(chunk)
                        if on_progress is not None:
                            on_progress(received, total)
                    out.flush()
                    os.fsync(out.fileno())
            if expected_size is not None and received != expected_size:
                raise VideoIntegrityError(
                    f"{job.id}: received {received} bytes, expected {expected_size}",
                    expected=expected_size,
                    actual=received,
                )
            actual_sha = digest.hexdigest()
            if verify_sha256 and video.sha256 and actual_sha != video.sha256.lower():
                raise VideoIntegrityError(
                    f"{job.id}: SHA-256 {actual_sha} differs from the job's {video.sha256}",
                    expected=video.sha256,
                    actual=actual_sha,
                )
            os.replace(part, dest)
            return dest
        except httpx.TransportError as error:
            raise _connection_error(url, error) from error
        except FileExistsError:  # the random part name collided: vanishingly unlikely, but never clobber
            raise VideohookError(f"{part}: temporary file already exists") from None
        finally:
            part.unlink(missing_ok=True)
