"""Standard Webhooks signing, delivery, and the SSRF check on webhook URLs.

Signing follows https://www.standardwebhooks.com (the `standardwebhooks` library):
headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256>`
of `{id}.{timestamp}.{body}`). Receivers verify with `Webhook(secret).verify(body, headers)`.

Secret rotation: the secret may hold several space-separated secrets (new first);
every event is then signed with each, and `webhook-signature` carries all the
signatures space separated, so receivers verify with either key during the overlap.

SSRF: `validate_webhook_url` resolves the host and returns the vetted addresses;
`deliver_webhook` connects to one of those addresses (Host header and TLS SNI keep
the name), so no second DNS lookup can rebind the name to an internal address.

Nothing here logs or returns the secret or the signature.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import math
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel
from standardwebhooks import Webhook

logger = logging.getLogger(__name__)

USER_AGENT = "videohook/0.1"
MAX_RESPONSE_BYTES = 64 * 1024
_SECRET_PREFIX = "whsec_"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# ---- signing --------------------------------------------------------------------------------


def _secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 secret, with or without `whsec_`, decoded strictly."""
    value = secret.strip()
    value = value.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        # Never echo the secret, not even a part of it.
        raise ValueError("the webhook secret is not valid base64") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign_event(*, secret: str, event_id: str, body: bytes, timestamp: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`.

    `secret` is `whsec_<base64>` or the bare base64 (as stored in Secrets Manager), or
    several of those separated by spaces while a rotation overlaps (one signature each).
    `timestamp` must be timezone-aware; it is signed as whole Unix seconds.
    """
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    # The library's sign() does `timestamp.replace(tzinfo=utc)`, which would shift a
    # non-UTC aware datetime: convert first so the instant is kept.
    timestamp = timestamp.astimezone(UTC)
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the webhook body must be UTF-8") from None
    secrets = secret.split()
    if not secrets:
        raise ValueError("the webhook secret is empty")
    signature = " ".join(Webhook(_secret_key(key)).sign(event_id, timestamp, data) for key in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(timestamp.timestamp())),
        "webhook-signature": signature,
    }


# ---- delivery ---------------------------------------------------------------------------------


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


# ---- the SSRF check -------------------------------------------------------------------------------


class WebhookUrlRejected(ValueError):
    code = "invalid_webhook_url"
    field = "webhook_url"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_forbidden_address(ip: IPAddress, allow_loopback: bool) -> str | None:
    """Why a webhook may not go to `ip`, or None if it may. One rule per line, first match wins."""
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that route to an IPv4 address are judged by it (Teredo, 2001::/32,
        # is refused below as not globally routable).
        embedded = (
            ("IPv4-mapped", ip.ipv4_mapped),
            ("6to4", ip.sixtofour),
            ("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None),
        )
        for kind, v4 in embedded:
            if v4 is not None:
                reason = is_forbidden_address(v4, allow_loopback)
                return f"{kind} {reason}" if reason else None

    if ip.is_loopback:
        return None if allow_loopback else "loopback address"
    rules: tuple[tuple[str, Callable[[Any], bool]], ...] = (
        ("unspecified address", lambda a: a.is_unspecified),
        ("link-local address", lambda a: a.is_link_local),
        ("multicast address", lambda a: a.is_multicast),
        ("shared (CGNAT 100.64.0.0/10) address", lambda a: a in _CGNAT),
        ("unique local (fc00::/7) address", lambda a: a in _UNIQUE_LOCAL),
        ("site-local address", lambda a: getattr(a, "is_site_local", False)),
        ("private address", lambda a: a.is_private),
        ("reserved address", lambda a: a.is_reserved),
        ("address that is not globally routable", lambda a: not a.is_global),
    )
    for reason, matches in rules:
        if matches(ip):
            return reason
    return None


_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _inet_aton_part(text: str) -> int:
    lowered = text.lower()
    if lowered.startswith("0x"):
        if len(lowered) == 2:
            raise ValueError(text)
        return int(lowered, 0)  # the label regex already excluded underscores
    if len(text) > 1 and text.startswith("0"):
        return int(text[1:], 8)  # raises for 8 and 9
    return int(text, 10)


def parse_ipv4_like(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address `host` means to inet_aton (and so to getaddrinfo), or None if
    `host` is not numeric. `2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` are all
    127.0.0.1. Raises ValueError for numeric hosts that are not a valid address."""
    labels = host.removesuffix(".").split(".")
    if not all(_NUMERIC_LABEL.match(label) for label in labels):
        return None
    if len(labels) > 4:
        raise ValueError(host)
    values = [_inet_aton_part(label) for label in labels]
    *leading, last = values
    if any(v > 0xFF for v in leading) or last >= 1 << (8 * (5 - len(values))):
        raise ValueError(host)
    number = 0
    for v in leading:
        number = number << 8 | v
    number = number << (8 * (5 - len(values))) | last
    return ipaddress.IPv4Address(number)


def _same_host(connect_host: str, host: str, literal: IPAddress | None) -> bool:
    """Whether the HTTP client's reading of the host is the one that was checked."""
    if isinstance(literal, ipaddress.IPv6Address):
        try:
            return ipaddress.ip_address(connect_host) == literal
        except ValueError:
            return False
    return connect_host.lower() == host


class VettedUrl(BaseModel):
    """A webhook URL and the addresses it was checked against: connect only to these."""

    url: str
    host: str
    addresses: list[str]

    def connect_url(self) -> str:
        """The URL with its host replaced by the first vetted address."""
        return str(httpx.URL(self.url).copy_with(host=self.addresses[0]))


# Tests replace this to map names to chosen addresses (no real DNS in tests).
RESOLVER: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo


def _reject(message: str) -> WebhookUrlRejected:
    return WebhookUrlRejected(f"webhook_url {message}")


def validate_webhook_url(
    url: str,
    *,
    allow_loopback: bool,
    resolver: Callable[..., list[tuple[Any, ...]]] | None = None,
    schemes: tuple[str, ...] = ("https",),
) -> VettedUrl:
    """Raise WebhookUrlRejected unless `url` is a safe place to POST events to.

    https only (http only to loopback, and only with allow_loopback); no userinfo; the
    host, a literal IP in any inet_aton form or a name resolved with `resolver`
    (called like `socket.getaddrinfo(host, port, type=SOCK_STREAM)`), must only ever
    mean public addresses (see `is_forbidden_address`). Returns the vetted addresses;
    `deliver_webhook` connects to them, never to a fresh resolution of the name.
    """
    resolver = resolver or RESOLVER
    if not isinstance(url, str) or not url:
        raise _reject("is empty")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise _reject("contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _reject(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    # `schemes` is the deployment's allowed_webhook_schemes; loopback http is the local stack's own.
    http_allowed = "http" in schemes
    if scheme == "http" and not (http_allowed or allow_loopback):
        raise _reject("must use https")
    if scheme not in ("https", "http") or (scheme == "https" and "https" not in schemes):
        raise _reject(f"must use one of: {', '.join(schemes)}")
    if "@" in parts.netloc:
        raise _reject("must not contain user information")
    host = parts.hostname
    if not host:
        raise _reject("has no host")

    # Literal addresses, including the forms only inet_aton understands.
    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host) if ":" in host else parse_ipv4_like(host)
    except ValueError:
        raise _reject(f"has a malformed numeric host {host!r}") from None

    # What the HTTP client will actually connect to must be the same host.
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        if literal is not None and (reason := is_forbidden_address(literal, allow_loopback)):
            raise _reject(f"is refused: {reason} ({literal})") from None
        raise _reject("is not a valid URL") from None
    if parsed.userinfo:
        raise _reject("must not contain user information")
    if not _same_host(parsed.host, host, literal):
        raise _reject("has an ambiguous host")
    connect_host = parsed.raw_host.decode("ascii").lower()

    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        name = connect_host.removesuffix(".")
        if len(name) > 253 or not all(_DNS_LABEL.match(label) for label in name.split(".")):
            raise _reject(f"has an invalid host name {host!r}")
        if port is None:
            port = 443 if scheme == "https" else 80
        try:
            infos = resolver(connect_host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise _reject(f"host {host!r} does not resolve") from None
        addresses = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            try:
                addresses.append(ipaddress.ip_address(address))
            except ValueError:
                raise _reject(f"host {host!r} resolves to an unusable address") from None
        if not addresses:
            raise _reject(f"host {host!r} does not resolve")

    for address in addresses:
        reason = is_forbidden_address(address, allow_loopback)
        if reason:
            raise _reject(f"is refused: {reason} ({address})")
    if scheme == "http" and not http_allowed and not all(address.is_loopback for address in addresses):
        raise _reject("must use https (http is allowed for loopback receivers only)")
    return VettedUrl(url=url, host=connect_host, addresses=[str(address) for address in addresses])
