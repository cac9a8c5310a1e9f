"""Domain errors: what went wrong, in the API's words (`code`, `message`, `field`), no HTTP.

The API handler answers each class with its status (functions/handlers/rest_api/errors.py).
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the caller can act on: a stable `code`, a human `message`, the offending `field`."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request asks for something this deployment cannot do (a rule that needs runtime state)."""


class NotFound(DomainError):
    """No such job for this tenant."""


class Conflict(DomainError):
    """The job's state does not allow it."""


class ProviderRefused(DomainError):
    """The provider answered no: nothing was started."""


class ProviderAuthFailed(DomainError):
    """The provider refused videohook's own credentials."""


class ProviderUnavailable(DomainError):
    """The provider could not take the job now; `retry_after` seconds, if it said."""

    def __init__(
        self, code: str, message: str, *, field: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(code, message, field=field)
        self.retry_after = retry_after


class ProviderNotConfigured(DomainError):
    """The deployment's default provider has no key."""


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was first used with a different request body."""


class IdempotencyInProgress(DomainError):
    """The first request with this Idempotency-Key is still running; retry after `retry_after` seconds."""

    def __init__(self, code: str, message: str, *, field: str | None = None, retry_after: float) -> None:
        super().__init__(code, message, field=field)
        self.retry_after = retry_after
