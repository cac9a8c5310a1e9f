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
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from videohook_client.downloads import DownloadProgress, download_video
from videohook_client.errors import VideohookConfigError, VideohookInputError, VideohookServerError
from videohook_client.http_support import (
    RETRYABLE_STATUSES,
    USER_AGENT,
    api_error,
    backoff_seconds,
    connection_error,
)
from videohook_client.images import INLINE_IMAGE_LIMIT, inspect_image, looks_like_url
from videohook_client.models import Job, JobStatus, Page, Upload
from videohook_client.waiting import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    ProgressCallback,
    wait_until_terminal,
)

URL_ENV = "VIDEOHOOK_URL"
API_KEY_ENV = "VIDEOHOOK_API_KEY"
DEFAULT_TIMEOUT = 30.0


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
                    self._sleep(backoff_seconds(attempt))
                    attempt += 1
                    continue
                raise connection_error(url, error) from error
            if response.status_code in RETRYABLE_STATUSES and retry and attempt < self._retries:
                self._sleep(backoff_seconds(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise api_error(response)
            try:
                return response.json()
            except ValueError:
                raise VideohookServerError(
                    response.status_code, "invalid_response", f"{method} {path} did not answer JSON"
                ) from None

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
        if isinstance(image, str) and looks_like_url(image):
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
            # Streamed: httpx reads the file in chunks, Content-Length from stat.
            with path.open("rb") as file:
                response = self._http.request(
                    "PUT", upload.upload_url, content=file, headers=headers, timeout=self._timeout
                )
        except httpx.TransportError as error:
            raise connection_error(upload.upload_url, error) from error
        if response.status_code >= 400:
            raise api_error(response, default_code="upload_failed")
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
        return wait_until_terminal(
            self.get_video,
            job,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            on_progress=on_progress,
            clock=self._clock,
            sleep=self._sleep,
        )

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
        return download_video(
            self._http,
            self.get_video,
            job,
            dest_path,
            timeout=self._timeout,
            verify_sha256=verify_sha256,
            on_progress=on_progress,
        )
