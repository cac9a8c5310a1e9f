"""What must be refused before Powertools parses a request: it would parse these too leniently."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from handlers.rest_api.errors import JSON, proxy_error

# `\ud800`-`\udfff` in JSON text: only valid in pairs, and text with a lone one cannot be stored.
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Routes whose body is JSON; anything else is answered 415 before it is parsed.
JSON_BODY_ROUTES = {("POST", "/v1/videos"), ("POST", "/v1/uploads")}


def refuse_before_parsing(event: dict[str, Any]) -> dict[str, Any] | None:
    """The error answer for a JSON route's body that is not declared application/json, not
    UTF-8 or not a JSON object (Powertools would unwrap `[{...}]`); None to go on."""
    route = (event.get("httpMethod"), event.get("resource") or event.get("path"))
    if route not in JSON_BODY_ROUTES:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != JSON:
        return proxy_error(415, "unsupported_media_type", "send the body as application/json", "Content-Type")
    text = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(text).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return proxy_error(400, "invalid_json", "the request body is not UTF-8 JSON")
    if text.lstrip()[:1] in ("", "{") and not _ESCAPED_SURROGATE.search(text):
        return None  # the usual case: Powertools parses and validates it
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Powertools answers invalid_json
    if value is None:
        return None  # ... and missing_body
    if not isinstance(value, dict):
        return proxy_error(400, "invalid_body", "the request body must be a JSON object")
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return proxy_error(400, "invalid_body", "the request body holds an unpaired UTF-16 surrogate")
    return None
