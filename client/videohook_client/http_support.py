"""What every HTTP call of the client shares: its User-Agent, typed errors for failed answers
and broken connections, and the retry backoff."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from videohook_client.errors import (
    VideohookApiError,
    VideohookClientError,
    VideohookConnectionError,
    VideohookServerError,
)

USER_AGENT = "videohook-client/0.1"

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


def api_error(response: httpx.Response, *, default_code: str | None = None) -> VideohookApiError:
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


def connection_error(url: str, error: httpx.TransportError) -> VideohookConnectionError:
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}"  # never the query: presigned URLs carry credentials
    detail = str(error) or type(error).__name__
    return VideohookConnectionError(f"cannot reach {where}: {detail}")


def backoff_seconds(attempt: int, retry_after: str | None = None) -> float:
    """The wait before retry `attempt` (0-based): the answer's Retry-After (capped), else 0.5 s doubling."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return 0.5 * 2**attempt
