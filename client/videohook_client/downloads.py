"""Downloading a job's video: streamed to a temporary file, size and SHA-256 checked, then renamed."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx

from videohook_client.errors import VideohookApiError, VideohookError, VideoIntegrityError, VideoNotReadyError
from videohook_client.http_support import USER_AGENT, api_error, connection_error
from videohook_client.models import Job, JobStatus

DOWNLOAD_CHUNK = 1024 * 1024

DownloadProgress = Callable[[int, int | None], None]


class _DownloadUrlRefused(Exception):
    def __init__(self, error: VideohookApiError) -> None:
        self.error = error


def download_video(
    http: httpx.Client,
    get_video: Callable[[str], Job],
    job: Job | str,
    dest_path: str | os.PathLike[str],
    *,
    timeout: float,
    verify_sha256: bool,
    on_progress: DownloadProgress | None,
) -> Path:
    """Stream the job's video to `dest_path` (`VideohookClient.download` says how)."""
    fetched = isinstance(job, str)
    current = get_video(job) if isinstance(job, str) else job
    require_video(current)
    dest = Path(dest_path)
    if dest.is_dir():
        dest = dest / f"{current.id}.mp4"
    try:
        return _download_once(http, current, dest, timeout, verify_sha256, on_progress)
    except _DownloadUrlRefused as refused:
        if fetched:
            raise refused.error from None
    # The job we were handed carried an expired presigned URL: fetch a fresh one, once.
    current = get_video(current.id)
    require_video(current)
    try:
        return _download_once(http, current, dest, timeout, verify_sha256, on_progress)
    except _DownloadUrlRefused as refused:
        raise refused.error from None


def require_video(job: Job) -> None:
    """Raise `VideoNotReadyError`, saying why, unless the job has a video to download."""
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
    http: httpx.Client,
    job: Job,
    dest: Path,
    timeout: float,
    verify_sha256: bool,
    on_progress: DownloadProgress | None,
) -> Path:
    video = job.video
    assert video is not None and video.download_url  # checked by require_video
    url = video.download_url
    expected_size = video.bytes
    part = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    try:
        # Never the API key: the URL is presigned, and it may point at another host.
        with http.stream(
            "GET", url, headers={"user-agent": USER_AGENT}, timeout=timeout, follow_redirects=True
        ) as response:
            if response.status_code >= 400:
                response.read()
                error = api_error(response, default_code="download_failed")
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
        raise connection_error(url, error) from error
    except FileExistsError:  # the random part name collided: vanishingly unlikely, but never clobber
        raise VideohookError(f"{part}: temporary file already exists") from None
    finally:
        part.unlink(missing_ok=True)
