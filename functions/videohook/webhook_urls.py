"""Webhook URL safety: the SSRF check, and the vetted (pinned) target a delivery connects to.

`validate_webhook_url` resolves the host and returns the vetted addresses; the delivery
connects to one of those addresses (Host header and TLS SNI keep the name), so no second
DNS lookup can rebind the name to an internal address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlRejected(ValueError):
    code = "invalid_webhook_url"
    field = "webhook_url"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Named by every refusal a loopback receiver gets: the local stack's setting that allows them.
LOOPBACK_SETTING = "VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS=1"
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


def _reject(message: str) -> WebhookUrlRejected:
    return WebhookUrlRejected(f"webhook_url {message}")


def _refused(reason: str, address: IPAddress) -> WebhookUrlRejected:
    message = f"is refused: {reason} ({address})"
    if "loopback" in reason:  # a receiver on this machine: say how a local stack allows it
        message += f"; loopback receivers are allowed only on a local stack run with {LOOPBACK_SETTING}"
    return _reject(message)


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
    (`socket.getaddrinfo` unless given; called as `resolver(host, port, type=SOCK_STREAM)`),
    must only ever mean public addresses (see `is_forbidden_address`). Returns the vetted
    addresses; `deliver_webhook` connects to them, never to a fresh resolution of the name.
    """
    resolver = resolver or socket.getaddrinfo
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
        raise _reject(
            "must use https (http only reaches loopback receivers, "
            f"on a local stack run with {LOOPBACK_SETTING})"
        )
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
            raise _refused(reason, literal) from None
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
            raise _refused(reason, address)
    if scheme == "http" and not http_allowed and not all(address.is_loopback for address in addresses):
        raise _reject("must use https (http is allowed for loopback receivers only)")
    return VettedUrl(url=url, host=connect_host, addresses=[str(address) for address in addresses])
