"""Every error the client raises is a `VideohookError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videohook_client.models import Job


class VideohookError(Exception):
    """Base class of the client's errors."""


class VideohookConfigError(VideohookError):
    """The base URL or the API key is missing or unusable."""


class VideohookInputError(VideohookError, ValueError):
    """An argument the client checks itself before calling the API (e.g. an image it cannot read)."""


class VideohookApiError(VideohookError):
    """The API answered with an error: `{"error": {"code", "message", "field"}}` and a 4xx/5xx status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} (field: {self.field})" if self.field else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )


class VideohookClientError(VideohookApiError):
    """4xx: the API refused the request; retrying it unchanged will not help."""


class VideohookServerError(VideohookApiError):
    """5xx: the API (or the provider behind it) failed; retrying later may help."""


class VideohookConnectionError(VideohookError):
    """The API could not be reached, or the connection broke before an answer arrived."""


class VideohookTimeout(VideohookError):
    """`wait` gave up before the job reached a terminal status; `job` is the last state seen."""

    def __init__(self, message: str, job: Job | None = None) -> None:
        super().__init__(message)
        self.job = job


class VideoNotReadyError(VideohookError):
    """`download` was asked for a job that has no video: not finished yet, or it did not succeed."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


class VideoIntegrityError(VideohookError):
    """The downloaded file's size or SHA-256 differs from the job's `video`; nothing was written."""

    def __init__(self, message: str, *, expected: str | int | None, actual: str | int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
