"""The sandbox's ready-made answers: API errors, injected faults and the bodies they carry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
MALFORMED_JSON = b'{"status": "processing", "progress": 4'
_5XX_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class CannedResponse(Exception):
    """A ready-made answer, optionally held back ``delay`` seconds first.

    Raised for an injected fault (``fault`` names its counter, as in ``FAULT_COUNTERS``);
    also returned as a plain value by the wire contracts.
    """

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        fault: str | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.delay = delay
        self.fault = fault


def json_answer(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> CannedResponse:
    return CannedResponse(status, json.dumps(payload).encode(), "application/json", headers)


def json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> CannedResponse:
    return json_answer(status, {"error": {"code": code, "message": message}}, headers)


def server_error(status: int) -> CannedResponse:
    code = _5XX_CODES.get(status, "server_error")
    return json_error(status, code, f"The service is temporarily unavailable (sandbox fault, HTTP {status}).")


def html_502() -> CannedResponse:
    return CannedResponse(502, HTML_502, "text/html")


def malformed_json() -> CannedResponse:
    return CannedResponse(200, MALFORMED_JSON, "application/json")
