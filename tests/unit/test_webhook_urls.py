"""videohook.webhook_urls: the SSRF check on webhook URLs (no test resolves or connects for real)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from videohook.webhook_urls import (
    WebhookUrlRejected,
    is_forbidden_address,
    parse_ipv4_like,
    validate_webhook_url,
)

# ---- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.0x10.1", "10.16.0.1"),
        ("0251.0376.0251.0376", "169.254.169.254"),
        ("8.8.8.8.", "8.8.8.8"),
    ],
)
def test_parse_ipv4_like_follows_inet_aton(host, expected):
    assert parse_ipv4_like(host) == ipaddress.IPv4Address(expected)
    try:  # agree with the platform's inet_aton where it accepts the form
        packed = socket.inet_aton(host.rstrip("."))
    except OSError:
        return
    assert ipaddress.IPv4Address(packed) == ipaddress.IPv4Address(expected)


@pytest.mark.parametrize("host", ["1.2.3.4.5", "08.1.1.1", "256.1.1.1", "1.16777216", "0x", "4294967296"])
def test_parse_ipv4_like_refuses_malformed_numbers(host):
    with pytest.raises(ValueError):
        parse_ipv4_like(host)


@pytest.mark.parametrize("host", ["example.com", "0x7f.example", "1e100.net", "a.1"])
def test_parse_ipv4_like_leaves_names_alone(host):
    assert parse_ipv4_like(host) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("fd12:3456::1", "unique local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
        ("2002:a00:1::", "6to4 private"),
        ("240.0.0.1", ""),  # reserved; which rule names it depends on the Python version
        ("192.0.2.10", ""),
    ],
)
def test_forbidden_addresses(address, reason):
    found = is_forbidden_address(ipaddress.ip_address(address), allow_loopback=False)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address):
    assert is_forbidden_address(ipaddress.ip_address(address), allow_loopback=False) is None


def test_loopback_is_allowed_only_when_asked():
    for address in ("127.0.0.1", "127.5.5.5", "::1", "::ffff:127.0.0.1"):
        ip = ipaddress.ip_address(address)
        assert is_forbidden_address(ip, allow_loopback=True) is None
        assert is_forbidden_address(ip, allow_loopback=False) is not None
    # allow_loopback opens loopback only, not the rest of the private space
    assert is_forbidden_address(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) == "private address"


# ---- URLs -----------------------------------------------------------------------------------

DNS = {
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "internal.example.com": ["10.0.0.5"],
    "half-internal.example.com": ["93.184.216.34", "192.168.0.7"],
    "metadata.example.com": ["::ffff:169.254.169.254"],
    "localhost": ["127.0.0.1", "::1"],
    "xn--bcher-kva.example": ["93.184.216.35"],
}


def fake_resolver(host, port, family=0, type=0, proto=0, flags=0):
    """Stands in for socket.getaddrinfo: tests never resolve (or connect) for real."""
    host = host.removesuffix(".")  # a fully qualified name resolves like the relative one
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [
        (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
        for a in DNS[host]
    ]


def no_resolver(*args, **kwargs):
    raise AssertionError(f"literal addresses must not be resolved: {args}")


REFUSED = [
    ("https://2130706433/", "loopback"),
    ("https://0177.0.0.1/", "loopback"),
    ("https://0x7f.0.0.1/", "loopback"),
    ("https://0x7f000001/", "loopback"),
    ("https://127.1/", "loopback"),
    ("http://2130706433/", "https"),
    ("http://0177.0.0.1/", "https"),
    ("https://[::1]/hook", "loopback"),
    ("https://[fd00::1]/hook", "unique local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fe80::1%25eth0]/hook", "link-local"),
    ("https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
    ("https://[::ffff:a9fe:a9fe]/", "IPv4-mapped link-local"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://0251.0376.0251.0376/", "link-local"),
    ("https://100.64.1.1/", "CGNAT"),
    ("https://10.1.2.3/", "private"),
    ("https://172.16.5.4/", "private"),
    ("https://192.168.1.1/", "private"),
    ("https://0.0.0.0/", "unspecified"),
    ("https://[::]/", "unspecified"),
    ("https://224.0.0.1/", "multicast"),
    ("https://[ff02::1]/", "multicast"),
    ("https://internal.example.com/hook", "private"),
    ("https://half-internal.example.com/hook", "private"),
    ("https://metadata.example.com/hook", "IPv4-mapped link-local"),
    ("https://localhost/hook", "loopback"),
    ("http://hooks.example.com/hook", "https"),
    ("ftp://hooks.example.com/hook", "https"),
    ("https://user:pass@hooks.example.com/hook", "user information"),
    ("https://user@hooks.example.com/hook", "user information"),
    ("https://hooks.example.com\\@127.0.0.1/", "backslash"),
    ("https://hooks.example.com /hook", "whitespace"),
    ("https://unknown.example.com/hook", "does not resolve"),
    ("https://1.2.3.4.5/", "malformed"),
    ("https://256.0.0.1/", "malformed"),
    ("https:///hook", "no host"),
    ("https://hooks.example.com:99999/", "not a valid URL"),
    ("", "empty"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused_urls(url, reason):
    with pytest.raises(WebhookUrlRejected) as info:
        validate_webhook_url(url, allow_loopback=False, resolver=fake_resolver)
    assert reason in str(info.value)
    assert info.value.field == "webhook_url"
    assert info.value.code == "invalid_webhook_url"


def test_refusal_table_is_large_enough():
    assert len(REFUSED) >= 15


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/hook",
        "https://hooks.example.com:8443/hook?x=1",
        "https://HOOKS.example.com./hook",
        "https://bücher.example/hook",
        "https://93.184.216.34/hook",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
def test_public_https_urls_are_accepted(url):
    validate_webhook_url(url, allow_loopback=False, resolver=fake_resolver)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]:8080/hook",
        "http://localhost:9000/hook",
        "https://127.0.0.1/",
    ],
)
def test_loopback_is_accepted_only_with_allow_loopback(url):
    validate_webhook_url(url, allow_loopback=True, resolver=fake_resolver)
    with pytest.raises(WebhookUrlRejected):
        validate_webhook_url(url, allow_loopback=False, resolver=fake_resolver)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/hook", "loopback receivers only"),
        ("http://10.0.0.1/hook", "private"),
        ("http://internal.example.com/hook", "private"),
        ("https://169.254.169.254/", "link-local"),
    ],
)
def test_allow_loopback_opens_nothing_else(url, reason):
    with pytest.raises(WebhookUrlRejected, match=reason):
        validate_webhook_url(url, allow_loopback=True, resolver=fake_resolver)


def test_literal_addresses_are_never_resolved():
    with pytest.raises(WebhookUrlRejected):
        validate_webhook_url("https://2130706433/", allow_loopback=False, resolver=no_resolver)
    validate_webhook_url("https://8.8.8.8/", allow_loopback=False, resolver=no_resolver)
    validate_webhook_url("http://127.0.0.1:1/", allow_loopback=True, resolver=no_resolver)


def test_resolver_is_asked_for_the_idna_name_and_port():
    calls = []

    def resolver(host, port, **kwargs):
        calls.append((host, port, kwargs))
        return fake_resolver(host, port)

    validate_webhook_url("https://bücher.example/hook", allow_loopback=False, resolver=resolver)
    validate_webhook_url("https://hooks.example.com:8443/", allow_loopback=False, resolver=resolver)
    assert calls == [
        ("xn--bcher-kva.example", 443, {"type": socket.SOCK_STREAM}),
        ("hooks.example.com", 8443, {"type": socket.SOCK_STREAM}),
    ]


def _public_resolver(host, port, **kwargs):
    return [(2, 1, 6, "", ("93.184.215.14", port))]


def test_allowed_webhook_schemes_decide_http_for_public_hosts():
    url = "http://hooks.example.com/x"
    with pytest.raises(WebhookUrlRejected, match="must use https"):
        validate_webhook_url(url, allow_loopback=False, resolver=_public_resolver)
    vetted = validate_webhook_url(
        url, allow_loopback=False, resolver=_public_resolver, schemes=("https", "http")
    )
    assert vetted.addresses == ["93.184.215.14"]
    with pytest.raises(WebhookUrlRejected, match="must use one of: http"):
        validate_webhook_url(
            "https://hooks.example.com/x", allow_loopback=False, resolver=_public_resolver, schemes=("http",)
        )
    # Allowing http never allows internal addresses.
    with pytest.raises(WebhookUrlRejected):
        validate_webhook_url("http://10.0.0.5/x", allow_loopback=False, schemes=("https", "http"))


def test_settings_read_the_allowed_schemes():
    from videohook.config import Settings

    assert Settings.from_env({}).allowed_webhook_schemes == ("https",)
    assert Settings.from_env(
        {"VIDEOHOOK_ALLOWED_WEBHOOK_SCHEMES": "https, http"}
    ).allowed_webhook_schemes == (
        "https",
        "http",
    )
