"""The ways storing a video can fail: each a `VideoCopyError` with a stable `code`.

`retryable` says whether a new attempt may succeed: the state machine retries FinalizeVideo
on exactly those (infra/constructs/workflow.py, RETRYABLE_COPY_ERRORS, names them); any
other copy error fails the job with its code.
"""

from __future__ import annotations


class VideoCopyError(Exception):
    """Base of every copy failure. `code` is stable; `message` never holds the source URL
    (provider URLs are usually pre-signed: their query string is a credential)."""

    code = "video_copy_failed"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VideoDownloadFailed(VideoCopyError):
    """The source answered with a non-2xx status."""

    code = "download_failed"
    retryable = True  # for some statuses: decided per instance below

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        # 429 and 5xx may succeed later, so may a 404 of a video the provider just finished
        # (its CDN may not have it yet; FinalizeVideo's retries bound the wait); other 4xx
        # (an expired or refused URL) will not.
        self.retryable = status_code in (404, 429) or status_code >= 500


class VideoDownloadIncomplete(VideoCopyError):
    """The body ended before Content-Length, stalled past the read timeout, or the
    connection failed mid-way."""

    code = "download_incomplete"
    retryable = True


class VideoNotMp4(VideoCopyError):
    """The body does not start with an MP4 `ftyp` box."""

    code = "not_mp4"


class VideoUploadFailed(VideoCopyError):
    """S3 refused or failed the upload."""

    code = "upload_failed"
    retryable = True
