"""Sending one signed webhook POST, and reading the receiver's answer (Retry-After included).

`deliver_webhook` connects to the address `videohook.webhook_urls.validate_webhook_url`
vetted (Host header and TLS SNI keep the name), never to a fresh resolution of the name.
The headers are signed by `videohook.webhook_signing`. Nothing here logs or returns the
secret or the signature.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel

from videohook.webhook_signing import sign_event
from videohook.webhook_urls import VettedUrl

logger = logging.getLogger(__name__)

USER_AGENT = "videohook/0.1"
MAX_RESPONSE_BYTES = 64 * 1024


class DeliveryAttempt(BaseModel):
    status_code: int | None
    latency_ms: int
    error: str | None
    delivered: bool
    retry_after: float | None
    # How much of the receiver's answer was read (at most MAX_RESPONSE_BYTES).
    response_bytes: int = 0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date; None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(seconds, 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def deliver_webhook(
    *,
    target: VettedUrl,
    event_id: str,
    body: bytes,
    secret: str,
    client: httpx.Client,
    timeout: float = 15.0,
) -> DeliveryAttempt:
    """POST one signed event. Never raises for what the receiver or the network does.

    2xx is delivered; anything else (3xx included: redirects are never followed, a
    redirect could point at an internal address) is not. At most 64 KiB of the answer
    is read. `timeout` applies to connecting, and to each read and write.
    The connection goes to `target`'s vetted address; the Host header and TLS SNI (and
    so certificate verification) use the URL's host name.
    """
    headers = sign_event(secret=secret, event_id=event_id, body=body, timestamp=datetime.now(UTC))
    headers["content-type"] = "application/json"
    headers["user-agent"] = USER_AGENT
    original = httpx.URL(target.url)
    headers["host"] = original.netloc.decode("ascii")

    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    status_code: int | None = None
    retry_after: float | None = None
    read = 0
    try:
        with client.stream(
            "POST",
            target.connect_url(),
            content=body,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            extensions={"sni_hostname": target.host},
        ) as response:
            status_code = response.status_code
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            # Read a little of the answer (lets a well-behaved receiver finish its write),
            # raw so that a compressed answer cannot expand; stop at the cap or the deadline
            # and let the context manager close the connection.
            for chunk in response.iter_raw(chunk_size=16 * 1024):
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES or time.monotonic() - started > timeout:
                    break
    except httpx.TimeoutException as exc:
        if status_code is None:
            return _failed(elapsed_ms(), f"timeout after {timeout:g}s ({type(exc).__name__})")
        # The status line arrived; only the courtesy read of the body timed out.
    except httpx.HTTPError as exc:
        if status_code is None:
            return _failed(elapsed_ms(), f"{type(exc).__name__}: {exc}")
    except (httpx.InvalidURL, ValueError, OSError) as exc:  # e.g. a malformed URL
        return _failed(elapsed_ms(), f"{type(exc).__name__}: {exc}")

    read = min(read, MAX_RESPONSE_BYTES)
    delivered = 200 <= status_code < 300
    if delivered:
        error = None
    elif 300 <= status_code < 400:
        error = f"HTTP {status_code}: redirects are not followed"
    else:
        error = f"HTTP {status_code}"
    attempt = DeliveryAttempt(
        status_code=status_code,
        latency_ms=elapsed_ms(),
        error=error,
        delivered=delivered,
        retry_after=retry_after,
        response_bytes=read,
    )
    logger.info(
        "webhook attempt",
        extra={
            "event_id": event_id,
            "status_code": status_code,
            "delivered": delivered,
            "latency_ms": attempt.latency_ms,
        },
    )
    return attempt


def _failed(latency_ms: int, error: str) -> DeliveryAttempt:
    logger.info("webhook attempt failed", extra={"error": error, "latency_ms": latency_ms})
    return DeliveryAttempt(
        status_code=None, latency_ms=latency_ms, error=error, delivered=False, retry_after=None
    )
