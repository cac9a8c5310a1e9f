"""The sandbox provider: one real HTTP server speaking the three provider wire contracts.

See ``sandbox/__init__.py`` for the public API. Contracts (all on one port, they do
not collide):

* xAI:       ``POST /v1/videos/generations``, ``GET /v1/videos/{id}``
* CometAPI:  ``POST /grok/v1/videos/generations``, ``GET /grok/v1/videos/{id}``
* AI/ML API: ``POST /v2/video/generations``, ``GET /v2/video/generations?generation_id={id}``

plus ``GET|HEAD /files/{id}.mp4`` (the temporary video URL, no auth: rendered to a
temporary file on its first GET, then sent with ``sendfile``) and the
introspection routes ``GET /sandbox/jobs``, ``GET /sandbox/stats``,
``GET /sandbox/health``, ``POST /sandbox/reset`` and ``GET|POST|DELETE /sandbox/faults``.

Faults
======

Every knob is selectable **per job**, as a directive anywhere in the prompt
(``"a red fox sandbox:submit_429=2 sandbox:retry_after=0.5"``), and **globally**: the
``faults={...}`` argument, ``server.set_faults(key=value)``, ``python -m sandbox --fault
key=value``, or ``POST /sandbox/faults`` with a JSON object of knobs (``null`` restores a
knob's default; ``GET`` reads every knob, ``DELETE`` restores all defaults). A directive
overrides the global value for its own job. Global values are read live on every
request (also for jobs submitted earlier), except ``outcome``, ``bytes`` and ``seconds``,
which are fixed when a job is accepted. ``POST /sandbox/reset`` keeps the faults.

*Submit faults* are decided per **attempt**: the n-th POST of an identical body (same
contract, same JSON) is attempt n, so a client retrying one request walks through them
and is eventually accepted. Attempts ``1..A`` answer 429, the next ``B`` answer 5xx, the
next ``C`` answer an HTML 502 (``A, B, C = submit_429, submit_5xx, submit_html``); every later
attempt is accepted (creates a job). Refused attempts create nothing. *Poll faults* count
the polls of one job (1, 2, ...), *download faults* the requests for its video URL.

Times: ``seconds`` and ``poll_404_seconds`` are multiplied by ``time_factor``; the waits
meant to outlast a client's timeout (``submit_delay``, ``poll_delay``, ``stall_seconds``,
``slow_download_bps``) and ``retry_after`` are real seconds. Each single wait is at most
``MAX_FAULT_WAIT`` (600 s) and every wait ends at once on ``stop()`` (the connection is
then closed unanswered).

========================  =========  ===========  ==========================================================
knob                      default    applies to   wire behaviour
========================  =========  ===========  ==========================================================
``outcome``               succeeded  job          terminal state: ``succeeded``; ``failed`` (xAI/CometAPI
                                                  ``status: failed`` + ``error``, wrapper ``FAILURE``; AI/ML
                                                  ``status: error``); ``expired``; ``moderated`` (done /
                                                  completed with no video URL, ``respect_moderation: false``)
``bytes``                 262144     job          size of the video (``N``, ``64MiB``, ``1g``)
``seconds``               computed   job          generation time x ``time_factor`` (a very slow provider)
``submit_429``            0          submit       attempts ``1..N``: 429 ``{"error": {"code":
                                                  "rate_limit_exceeded"}}`` with ``Retry-After``, no job
``retry_after``           1          submit       ``Retry-After`` of those 429s in seconds (a fraction is
                                                  sent as a decimal); ``none``: no header at all
``submit_5xx``            0          submit       the next N attempts: ``status_5xx``, JSON error, no job
``status_5xx``            503        submit/poll  status (500-599) of ``submit_5xx`` and ``poll_5xx``
``submit_html``           0          submit       the next N attempts: 502 ``text/html`` page, no job
``submit_delay``          0          submit       attempts ``1..submit_delay_count`` are answered S seconds
                                                  late; an accepted job exists from the start (a client that
                                                  times out has still started, and paid for, the job)
``submit_delay_count``    1          submit       how many attempts ``submit_delay`` holds
``poll_404_seconds``      0          poll         polls less than F x ``time_factor`` seconds after the
                                                  submit answer 404 ``not_found`` (like an unknown id)
``poll_5xx``              0          poll         polls ``1..N`` answer ``status_5xx`` with a JSON error
``poll_5xx_every``        0          poll         with M > 0: N consecutive failures in every M polls
                                                  (polls p with ``(p - 1) % M < N``)
``poll_html``             0          poll         polls ``1..N``: 502 ``text/html`` gateway page
``poll_malformed``        0          poll         polls ``1..N``: 200 ``application/json`` with a cut-off,
                                                  unparseable JSON body
``poll_delay``            0          poll         polls ``1..poll_delay_count`` are answered S seconds late
``poll_delay_count``      1          poll         how many polls ``poll_delay`` holds
``pending_202``           0          poll         xAI only: pending polls answer 202 with an empty body
``video_404``             0          download     requests ``1..N`` (GET or HEAD) of the video URL: 404
``truncate``              off        download     every download sends only N body bytes of the promised
                                                  ``Content-Length``, then closes the connection
``stall_after``           off        download     every download sends N body bytes, then nothing for
                                                  ``stall_seconds``, then the rest
``stall_seconds``         30         download     length of that stall
``slow_download_bps``     off        download     every download is throttled to N bytes per second
========================  =========  ===========  ==========================================================

Poll faults are checked in the order 404 window, 5xx, HTML, malformed (the first that
applies answers); ``poll_delay`` / ``submit_delay`` hold whatever answer follows. Download
byte offsets count the body of one response (a Range response counts from its start).

Stats (``GET /sandbox/stats``): ``accepted`` (= ``submissions``) jobs created, ``refused``
create requests that created nothing (faults, validation, auth), ``duplicate_accepted``
accepted submissions whose contract and body equal an earlier accepted one (give every
job a distinct prompt to use it), ``polls``, ``downloads`` (bodies served), ``uploads``,
``rejected`` (4xx answers of validation, auth, unknown ids) and one ``fault_<name>``
counter per injected fault.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import http.client
import json
import math
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, Self
from urllib.parse import parse_qs, urlsplit

from sandbox import mp4

CONTRACTS = ("xai", "cometapi", "aimlapi")
OUTCOMES = ("succeeded", "failed", "expired", "moderated")
COMET_ENVELOPES = ("flat", "wrapped", "alternate")
RESOLUTIONS = ("480p", "720p", "1080p")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
SIZES = {"848x480": "480p", "1696x960": "720p", "1280x720": "720p", "1920x1080": "1080p"}
MODELS_WITHOUT_1080P = ("grok-imagine-video", "x-ai/grok-imagine-video")
RESOLUTION_FACTOR = {"480p": 1.0, "720p": 1.5, "1080p": 2.5}
BASE_SECONDS = 8.0
SECONDS_PER_DURATION_SECOND = 2.0
ECHO_FRACTION = 0.1
QUEUED_FRACTION = 0.2
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_FAULT_WAIT = 600.0
"""The longest single fault wait in seconds (``submit_delay``, ``poll_delay``, ``stall_seconds``)."""
DEFAULT_BYTES = 262144
VIDEO_FILES_BYTES = 3 * 1024**3
"""Disk kept for rendered videos (least recently used evicted; the one being served never)."""
DIRECTIVE_RE = re.compile(r"sandbox:([A-Za-z_0-9]+)=(\S+)")
_SIZE_SUFFIX = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
_5XX_CODES = {500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"}
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
MALFORMED_JSON = b'{"status": "processing", "progress": 4'
FAULT_COUNTERS = (
    "fault_submit_429",
    "fault_submit_5xx",
    "fault_submit_html",
    "fault_submit_delay",
    "fault_poll_404",
    "fault_poll_5xx",
    "fault_poll_html",
    "fault_poll_malformed",
    "fault_poll_delay",
    "fault_pending_202",
    "fault_video_404",
    "fault_truncate",
    "fault_stall",
    "fault_slow_download",
)
COUNTERS = (
    "submissions",
    "accepted",
    "refused",
    "duplicate_accepted",
    "polls",
    "downloads",
    "uploads",
    "rejected",
    *FAULT_COUNTERS,
)


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class CannedResponse(Exception):
    """A ready-made answer (an injected fault), optionally held back ``delay`` seconds first."""

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.delay = delay


def _json_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> CannedResponse:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return CannedResponse(status, body, "application/json", headers)


def _server_error(status: int) -> CannedResponse:
    code = _5XX_CODES.get(status, "server_error")
    return _json_error(
        status, code, f"The service is temporarily unavailable (sandbox fault, HTTP {status})."
    )


def _html_502() -> CannedResponse:
    return CannedResponse(502, HTML_502, "text/html")


def _format_seconds(value: float) -> str:
    """``1.0`` -> ``"1"``, ``0.25`` -> ``"0.25"`` (the Retry-After text)."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- fault knobs


def parse_size(text: str) -> int:
    """``"262144"``, ``"64MiB"``, ``"3g"`` -> bytes."""
    match = re.fullmatch(r"(\d+)([A-Za-z]*)", text.strip())
    if not match or match.group(2).lower() not in _SIZE_SUFFIX:
        raise ValueError(f"not a byte size: {text!r}")
    return int(match.group(1)) * _SIZE_SUFFIX[match.group(2).lower()]


def _integer(raw: Any) -> int:
    if isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
        raw = int(raw)
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError("must be an integer >= 0")
    return raw


def _number(raw: Any) -> float:
    if isinstance(raw, str):
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ValueError("must be a finite number >= 0") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
        raise ValueError("must be a finite number >= 0")
    return float(raw)


def _wait(raw: Any) -> float:
    value = _number(raw)
    if value > MAX_FAULT_WAIT:
        raise ValueError(f"must be at most {MAX_FAULT_WAIT:g} seconds")
    return value


def _size(raw: Any) -> int:
    return parse_size(raw) if isinstance(raw, str) else _integer(raw)


def _positive_size(raw: Any) -> int:
    value = _size(raw)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _video_size(raw: Any) -> int:
    value = _size(raw)
    if value < mp4.MIN_SIZE:
        raise ValueError(f"bytes must be at least {mp4.MIN_SIZE}")
    return value


def _outcome(raw: Any) -> str:
    if raw not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    return str(raw)


def _flag(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 0 or 1")


def _status_5xx(raw: Any) -> int:
    value = _integer(raw)
    if not 500 <= value <= 599:
        raise ValueError("must be an HTTP status from 500 to 599")
    return value


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``none`` / ``off`` turn the knob off (``None``); anything else goes through ``parse``."""

    def parse_optional(raw: Any) -> Any:
        if isinstance(raw, str) and raw.strip().lower() in ("none", "off"):
            return None
        return parse(raw)

    return parse_optional


@dataclass(frozen=True)
class Knob:
    """One fault or job knob: its directive key, parser, built-in default and ``--help`` line."""

    key: str
    parse: Callable[[Any], Any]
    default: Any
    applies_to: str
    summary: str


KNOBS: dict[str, Knob] = {
    knob.key: knob
    for knob in (
        Knob("outcome", _outcome, "succeeded", "job", "succeeded|failed|expired|moderated: terminal state"),
        Knob("bytes", _video_size, DEFAULT_BYTES, "job", "video size (N, 64MiB, 1g)"),
        Knob("seconds", _optional(_number), None, "job", "generation seconds (x time factor): slow provider"),
        Knob("submit_429", _integer, 0, "submit", "attempts 1..N: 429 with Retry-After, no job"),
        Knob(
            "retry_after",
            _optional(_number),
            1.0,
            "submit",
            "Retry-After seconds of the 429s (none: no header)",
        ),
        Knob("submit_5xx", _integer, 0, "submit", "the next N attempts: status_5xx, JSON error, no job"),
        Knob("status_5xx", _status_5xx, 503, "submit,poll", "status of submit_5xx and poll_5xx (500-599)"),
        Knob("submit_html", _integer, 0, "submit", "the next N attempts: 502 text/html page, no job"),
        Knob("submit_delay", _wait, 0.0, "submit", "attempts 1..submit_delay_count answered S s late"),
        Knob("submit_delay_count", _integer, 1, "submit", "how many attempts submit_delay holds"),
        Knob("poll_404_seconds", _number, 0.0, "poll", "polls within F x time factor s of submit: 404"),
        Knob("poll_5xx", _integer, 0, "poll", "polls 1..N: status_5xx with a JSON error"),
        Knob("poll_5xx_every", _integer, 0, "poll", "M > 0: N consecutive 5xx polls in every M"),
        Knob("poll_html", _integer, 0, "poll", "polls 1..N: 502 text/html page"),
        Knob("poll_malformed", _integer, 0, "poll", "polls 1..N: 200 with cut-off, unparseable JSON"),
        Knob("poll_delay", _wait, 0.0, "poll", "polls 1..poll_delay_count answered S s late"),
        Knob("poll_delay_count", _integer, 1, "poll", "how many polls poll_delay holds"),
        Knob("pending_202", _flag, False, "poll", "xAI: pending polls answer 202 with an empty body"),
        Knob("video_404", _integer, 0, "download", "requests 1..N of the video URL: 404"),
        Knob("truncate", _optional(_size), None, "download", "send N body bytes, then close (short body)"),
        Knob("stall_after", _optional(_size), None, "download", "send N body bytes, stall, then the rest"),
        Knob("stall_seconds", _wait, 30.0, "download", "length of the stall_after stall"),
        Knob("slow_download_bps", _optional(_positive_size), None, "download", "throttle to N bytes/s"),
    )
}
DIRECTIVE_KEYS = tuple(KNOBS)
FAULT_DEFAULTS: dict[str, Any] = {key: knob.default for key, knob in KNOBS.items()}


def parse_knob(key: str, raw: Any) -> Any:
    """The value of knob ``key`` from a directive's text or a JSON value (raises ``ValueError``)."""
    knob = KNOBS.get(key)
    if knob is None:
        raise ValueError(f"unknown knob {key!r} (known: {', '.join(DIRECTIVE_KEYS)})")
    return knob.parse(raw)


def parse_directives(prompt: str | None) -> dict[str, Any]:
    """Extract ``sandbox:<key>=<value>`` directives from a prompt (raises ``ApiError`` 400 on bad ones)."""
    found: dict[str, Any] = {}
    for key, raw in DIRECTIVE_RE.findall(prompt or ""):
        key = key.lower()
        try:
            if key not in KNOBS:
                raise ValueError(f"unknown directive key (known: {', '.join(DIRECTIVE_KEYS)})")
            found[key] = KNOBS[key].parse(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid_directive", f"sandbox:{key}={raw}: {exc}") from None
    return found


def faults_help() -> str:
    """The knob table of ``python -m sandbox --help``."""
    lines = ["fault knobs (prompt directive sandbox:KEY=VALUE, or --fault KEY=VALUE for all jobs):", ""]
    for knob in KNOBS.values():
        if knob.key == "seconds":
            default = "computed"
        elif knob.default is None:
            default = "off"
        elif isinstance(knob.default, bool):
            default = str(int(knob.default))
        elif isinstance(knob.default, float):
            default = _format_seconds(knob.default)
        else:
            default = str(knob.default)
        lines.append(f"  {knob.key + '=' + default:<26} {knob.applies_to:<12} {knob.summary}")
    lines += [
        "",
        "Submit faults count attempts per identical body: 429s first, then 5xx, then HTML, then",
        "accepted. Global knobs: POST /sandbox/faults {json}, GET to read, DELETE to restore.",
        "See sandbox/server.py's module docstring for the wire behaviour of each.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_url(value: Any, field_name: str, *, allow_data: bool) -> None:
    if not isinstance(value, str) or not value:
        raise ApiError(422, "invalid_value", f"{field_name} must be a non-empty string")
    if value.startswith(("http://", "https://")):
        return
    if allow_data and value.startswith("data:image/") and ";base64," in value:
        return
    allowed = "an http(s) URL or a data:image/...;base64, URI" if allow_data else "an http(s) URL"
    raise ApiError(422, "invalid_value", f"{field_name} must be {allowed}")


def _validate_common(body: dict[str, Any], default_duration: int) -> tuple[int, str, str]:
    duration = body.get("duration", default_duration)
    if not _is_int(duration) or not 1 <= duration <= 15:
        raise ApiError(422, "invalid_value", "duration must be an integer from 1 to 15")
    resolution = body.get("resolution")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ApiError(422, "invalid_value", f"resolution must be one of {', '.join(RESOLUTIONS)}")
    aspect_ratio = body.get("aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise ApiError(422, "invalid_value", f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    return duration, resolution or "720p", aspect_ratio or "16:9"


def validate_create(contract: str, body: Any) -> dict[str, Any]:
    """Validate a create body like the real API; return the normalized job parameters."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ApiError(422, "invalid_value", "prompt must be a string")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(422, "invalid_value", "model must be a string")

    if contract == "aimlapi":
        if model is None:
            raise ApiError(400, "missing_field", "model is required")
        if not model.startswith("x-ai/grok-imagine-video"):
            raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
        image_url = body.get("image_url")
        references = body.get("reference_images")
        if image_url is not None and references is not None:
            raise ApiError(400, "invalid_request", "image_url cannot be combined with reference_images")
        if image_url is not None:
            _check_url(image_url, "image_url", allow_data=True)
        if references is not None:
            if not isinstance(references, list) or not 1 <= len(references) <= 7:
                raise ApiError(422, "invalid_value", "reference_images must be a list of 1 to 7 URLs")
            for index, ref in enumerate(references):
                _check_url(ref, f"reference_images[{index}]", allow_data=True)
        if not prompt and image_url is None and references is None:
            raise ApiError(400, "missing_field", "prompt is required for text-to-video")
        duration, resolution, aspect_ratio = _validate_common(body, default_duration=10)
        upload_url = None
    else:
        if not prompt:
            raise ApiError(400, "missing_field", "prompt is required")
        if "reference_images" in body:
            raise ApiError(400, "unsupported_field", "reference_images is not supported by this endpoint")
        if model is None:
            model = "grok-imagine-video"
        elif not model.startswith("grok-imagine-video"):
            raise ApiError(422, "invalid_value", f"model {model!r} is not supported by this endpoint")
        image = body.get("image")
        if image is not None:
            if not isinstance(image, dict):
                raise ApiError(422, "invalid_value", "image must be an object with a url")
            _check_url(image.get("url"), "image.url", allow_data=True)
        output = body.get("output")
        upload_url = None
        if output is not None:
            if not isinstance(output, dict):
                raise ApiError(422, "invalid_value", "output must be an object with an upload_url")
            _check_url(output.get("upload_url"), "output.upload_url", allow_data=False)
            upload_url = output["upload_url"]
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise ApiError(422, "invalid_value", "user must be a string")
        size = body.get("size")
        if size is not None:
            if "resolution" in body or "aspect_ratio" in body:
                raise ApiError(
                    400, "invalid_request", "size cannot be combined with resolution or aspect_ratio"
                )
            if size not in SIZES:
                raise ApiError(422, "invalid_value", f"size must be one of {', '.join(SIZES)}")
        duration, resolution, aspect_ratio = _validate_common(body, default_duration=8)
        if size is not None:
            resolution = SIZES[size]
    if resolution == "1080p" and model in MODELS_WITHOUT_1080P:
        raise ApiError(
            422, "unsupported_resolution", f"model {model} does not support 1080p; use a 1.5 model"
        )
    return {
        "prompt": prompt or "",
        "model": model,
        "duration": duration,
        "resolution": resolution,
        "aspect_ratio": aspect_ratio,
        "upload_url": upload_url,
    }


def _redact_uri(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("data:"):
        return f"<data URI redacted: {len(value)} chars>"
    return value


def redact_body(body: dict[str, Any]) -> dict[str, Any]:
    """The request body as recorded for introspection: image data URIs replaced by a placeholder."""
    redacted = copy.deepcopy(body)
    image = redacted.get("image")
    if isinstance(image, dict) and "url" in image:
        image["url"] = _redact_uri(image["url"])
    if "image_url" in redacted:
        redacted["image_url"] = _redact_uri(redacted["image_url"])
    if isinstance(redacted.get("reference_images"), list):
        redacted["reference_images"] = [_redact_uri(v) for v in redacted["reference_images"]]
    return redacted


# --------------------------------------------------------------------------- jobs


@dataclass
class Job:
    id: str
    contract: str
    body: dict[str, Any]
    fingerprint: str
    submit_index: int
    submitted_mono: float
    submitted_wall: float
    generation_seconds: float
    outcome: str
    size: int
    truncate_at: int | None
    model: str
    duration: int
    resolution: str
    aspect_ratio: str
    upload_url: str | None
    video_url: str
    directives: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    duplicate: bool = False
    polls: int = 0
    downloads: int = 0
    video_requests: int = 0
    upload: dict[str, Any] | None = None
    upload_finished: threading.Event = field(default_factory=threading.Event)

    def phase(self, now: float) -> tuple[str, int]:
        """``("pending"|"queued"|"processing"|"terminal", progress percent)`` at monotonic time ``now``."""
        elapsed = now - self.submitted_mono
        gen = self.generation_seconds
        if gen <= 0 or elapsed >= gen:
            if self.upload_url and self.outcome == "succeeded" and not self.upload_finished.is_set():
                return "processing", 99  # a real provider uploads before it reports done
            return "terminal", 100
        fraction = max(0.0, elapsed / gen)
        if fraction < ECHO_FRACTION:
            return "pending", 0
        if fraction < QUEUED_FRACTION:
            return "queued", 0
        return "processing", max(1, min(99, int(fraction * 100)))

    def snapshot(self, now: float, submit_count: int) -> dict[str, Any]:
        phase, progress = self.phase(now)
        return {
            "id": self.id,
            "contract": self.contract,
            "body": copy.deepcopy(self.body),
            "submit_count": submit_count,
            "submit_index": self.submit_index,
            "attempt": self.attempt,
            "duplicate": self.duplicate,
            "submitted_at": self.submitted_wall,
            "model": self.model,
            "duration": self.duration,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "outcome": self.outcome,
            "bytes": self.size,
            "truncate_at": self.truncate_at,
            "directives": copy.deepcopy(self.directives),
            "generation_seconds": self.generation_seconds,
            "state": self.outcome if phase == "terminal" else phase,
            "progress": progress,
            "polls": self.polls,
            "downloads": self.downloads,
            "video_requests": self.video_requests,
            "video_url": self.video_url,
            "upload_url": self.upload_url,
            "uploaded": bool(self.upload and self.upload.get("status") == "succeeded"),
            "upload": copy.deepcopy(self.upload),
        }


# --------------------------------------------------------------------------- response bodies


def flat_body(job: Job, now: float) -> dict[str, Any] | None:
    """The xAI-shaped poll body, or ``None`` while pending (the "echo" phase)."""
    phase, progress = job.phase(now)
    if phase == "pending":
        return None
    if phase == "queued":
        return {"status": "queued"}
    if phase == "processing":
        return {"status": "processing", "progress": progress}
    if job.outcome == "succeeded":
        return {
            "status": "done",
            "progress": 100,
            "video": {"url": job.video_url, "duration": job.duration, "respect_moderation": True},
            "model": job.model,
        }
    if job.outcome == "moderated":
        return {
            "status": "done",
            "progress": 100,
            "video": {"duration": job.duration, "respect_moderation": False},
            "model": job.model,
        }
    if job.outcome == "failed":
        return {"status": "failed", "error": _failure_error()}
    return {"status": "expired"}


def _failure_error() -> dict[str, str]:
    return {"code": "generation_failed", "message": "Video generation failed (sandbox:outcome=failed)."}


def wrapped_body(job: Job, now: float) -> dict[str, Any]:
    """The CometAPI envelope around the flat body."""
    phase, progress = job.phase(now)
    flat = flat_body(job, now) or {"request_id": job.id}
    gen = job.generation_seconds
    submit_time = int(job.submitted_wall)
    start_time = int(job.submitted_wall + gen * QUEUED_FRACTION) if phase in ("processing", "terminal") else 0
    finish_time = int(job.submitted_wall + gen) if phase == "terminal" else 0
    fail_reason = ""
    if phase in ("pending", "queued"):
        status = "NOT_START"
    elif phase == "processing":
        status = "IN_PROGRESS"
    elif job.outcome == "succeeded":
        status, fail_reason = "SUCCESS", job.video_url  # the documented quirk
    elif job.outcome == "moderated":
        status = "SUCCESS"
    elif job.outcome == "failed":
        status, fail_reason = "FAILURE", _failure_error()["message"]
    else:
        status, fail_reason = "FAILURE", "video expired"
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": job.id,
            "action": "VIDEO_GENERATION",
            "status": status,
            "fail_reason": fail_reason,
            "submit_time": submit_time,
            "start_time": start_time,
            "finish_time": finish_time,
            "progress": f"{progress}%",
            "data": flat,
        },
    }


def aimlapi_body(job: Job, now: float) -> dict[str, Any]:
    phase, _ = job.phase(now)
    body: dict[str, Any] = {"id": job.id, "status": "queued", "video": None, "error": None}
    if phase == "processing":
        body["status"] = "generating"
    elif phase == "terminal":
        if job.outcome == "succeeded":
            body.update(status="completed", video={"url": job.video_url})
        elif job.outcome == "moderated":
            body.update(status="completed", video={"url": None, "respect_moderation": False})
        elif job.outcome == "failed":
            body.update(status="error", error=_failure_error())
        else:
            body.update(status="error", error={"code": "expired", "message": "The generation expired."})
    return body


# --------------------------------------------------------------------------- rendered videos


class _VideoFiles:
    """Rendered videos on disk, least recently used evicted beyond ``budget`` bytes.

    A video's bytes are computed (SHAKE-256, ~300 MB/s) once, on its first download,
    then every download is a ``sendfile`` from the page cache: serving costs the sandbox
    next to no CPU, as a CDN's serving costs a provider's client none (a copy measured
    against the sandbox on shared cores is not slowed by the sandbox's hashing). Rendering
    is streamed in ``chunk_size`` pieces: memory stays bounded whatever the size. An
    evicted file still being sent stays readable (POSIX: unlinking keeps open files).
    """

    def __init__(self, budget: int, chunk_size: int) -> None:
        self._budget = budget
        self._chunk_size = chunk_size
        self._lock = threading.Lock()
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._files: OrderedDict[str, int] = OrderedDict()  # file name -> size, oldest first
        self._renders: dict[str, threading.Lock] = {}  # one render at a time per video

    def open(self, job_id: str, size: int) -> BinaryIO:
        """The whole video for ``(job_id, size)``, opened for reading; rendered if need be."""
        name = f"{job_id}-{size}.mp4"
        with self._lock:
            if self._directory is None:
                self._directory = tempfile.TemporaryDirectory(prefix="videohook-sandbox-")
            directory = Path(self._directory.name)
            render = self._renders.setdefault(name, threading.Lock())
        with render:
            with self._lock:
                if name in self._files:
                    self._files.move_to_end(name)
                    return (directory / name).open("rb")
            partial = directory / f"{name}.partial"
            with partial.open("wb") as out:
                for chunk in mp4.iter_mp4(job_id, size, self._chunk_size):
                    out.write(chunk)
            partial.rename(directory / name)
            with self._lock:
                self._files[name] = size
                self._renders.pop(name, None)
                while sum(self._files.values()) > self._budget and len(self._files) > 1:
                    evicted, _ = self._files.popitem(last=False)
                    (directory / evicted).unlink(missing_ok=True)
                return (directory / name).open("rb")

    def close(self) -> None:
        with self._lock:
            if self._directory is not None:
                self._directory.cleanup()
                self._directory = None
            self._files.clear()


# --------------------------------------------------------------------------- HTTP


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "videohook-sandbox/1"
    disable_nagle_algorithm = True
    timeout = 60
    server: _HTTPServer

    # ---- plumbing

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.log_requests:
            sys.stderr.write(f"sandbox {self.address_string()} {format % args}\n")

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_canned(CannedResponse(status, json.dumps(payload).encode(), "application/json", headers))

    def _send_canned(self, canned: CannedResponse) -> None:
        self.send_response(canned.status)
        if canned.content_type:
            self.send_header("Content-Type", canned.content_type)
        self.send_header("Content-Length", str(len(canned.body)))
        for key, value in canned.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and canned.body:
            self.wfile.write(canned.body)

    def _send_error(self, err: ApiError, headers: dict[str, str] | None = None) -> None:
        self._send_json(err.status, {"error": {"code": err.code, "message": err.message}}, headers)

    def _abort(self) -> None:
        """Close the connection now, whatever was promised (a cut body, or no answer at all)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hold(self, seconds: float) -> bool:
        """Wait ``seconds`` before answering; on ``stop()`` close the connection and return False."""
        if seconds <= 0 or self.server.sandbox._pause(seconds):
            return True
        self._abort()
        return False

    def _read_body(self) -> bytes:
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked_body()
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid_request", "malformed request framing") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "payload_too_large", "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            chunk_len = int(line.split(b";")[0].strip() or b"0", 16)
            if chunk_len == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += chunk_len
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise ApiError(413, "payload_too_large", "request body too large")
            parts.append(self.rfile.read(chunk_len))
            self.rfile.readline(1024)

    def _check_auth(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing bearer token in the Authorization header")
        expected = self.server.sandbox.api_key
        if expected is not None and not hmac.compare_digest(token.encode(), expected.encode()):
            raise ApiError(401, "unauthorized", "invalid API key")

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        method = self.command
        route = _route(method, path)
        is_create = route is not None and route[0] == "create"
        try:
            body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
            if route is None:
                raise ApiError(404, "not_found", f"no route for {method} {path}")
            kind, arg = route
            if kind == "method_not_allowed":
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed on {path}")
            if kind == "file":
                self._serve_file(arg)
                return
            if kind == "sandbox":
                self._serve_sandbox(arg, body)
                return
            self._check_auth()
            if kind == "create":
                self._create(arg, body)
                return
            # poll
            if arg == "aimlapi":
                ids = parse_qs(parts.query).get("generation_id") or []
                if not ids or not ids[0]:
                    raise ApiError(400, "missing_field", "generation_id query parameter is required")
                job_id = ids[0]
            else:
                job_id = path.rsplit("/", 1)[1]
            self._poll(arg, job_id)
        except ApiError as err:
            sandbox._count("rejected")
            if is_create:
                sandbox._count("refused")
            extra = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
            self._send_error(err, extra)
        except CannedResponse as canned:  # an injected fault
            if self._hold(canned.delay):
                self._send_canned(canned)

    def _create(self, contract: str, body: bytes) -> None:
        try:
            payload = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
        job, delay = self.server.sandbox._submit(contract, payload)  # raises CannedResponse when refused
        if not self._hold(delay):
            return
        if contract == "aimlapi":
            self._send_json(200, {"id": job.id, "status": "queued"})
        else:
            self._send_json(200, {"request_id": job.id})

    def _poll(self, contract: str, job_id: str) -> None:
        sandbox = self.server.sandbox
        job, poll_number, delay, fault = sandbox._record_poll(contract, job_id)
        if not self._hold(delay):
            return
        if fault is not None:
            self._send_canned(fault)
            return
        now = sandbox.clock()
        if contract == "aimlapi":
            self._send_json(200, aimlapi_body(job, now))
            return
        flat = flat_body(job, now)
        if contract == "xai":
            pending = flat is None or flat["status"] in ("queued", "processing")
            if pending and sandbox._knob(job, "pending_202"):
                sandbox._count("fault_pending_202")
                self._send_canned(CannedResponse(202, b"", None))
                return
            self._send_json(200, flat if flat is not None else {"request_id": job.id})
            return
        envelope = sandbox.comet_envelope
        wrapped = envelope == "wrapped" or (envelope == "alternate" and poll_number % 2 == 1)
        if wrapped:
            self._send_json(200, wrapped_body(job, now))
        else:
            self._send_json(200, flat if flat is not None else {"request_id": job.id})

    def _serve_sandbox(self, what: str, body: bytes) -> None:
        sandbox = self.server.sandbox
        if what == "jobs":
            self._send_json(200, sandbox.jobs)
        elif what == "stats":
            self._send_json(200, sandbox.stats)
        elif what == "health":
            self._send_json(200, {"ok": True})
        elif what == "reset":
            sandbox.reset()
            self._send_json(200, {"ok": True})
        elif self.command == "GET":  # faults
            self._send_json(200, sandbox.faults)
        elif self.command == "DELETE":
            sandbox.clear_faults()
            self._send_json(200, sandbox.faults)
        else:
            try:
                values = json.loads(body) if body else None
            except (ValueError, UnicodeDecodeError):
                raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
            if not isinstance(values, dict):
                raise ApiError(400, "invalid_request", "the body must be a JSON object of fault knobs")
            try:
                sandbox.set_faults(**values)
            except ValueError as exc:
                raise ApiError(400, "invalid_fault", str(exc)) from None
            self._send_json(200, sandbox.faults)

    def _serve_file(self, job_id: str) -> None:
        sandbox = self.server.sandbox
        job = sandbox._job_for_download(job_id)  # raises CannedResponse for video_404
        size = job.size
        start, stop, status = 0, size, 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                raise ApiError(416, "range_not_satisfiable", f"cannot satisfy {range_header!r}")
            start, stop = parsed
            status = 206
        if self.command == "HEAD":
            self._send_video_headers(job, status, start, stop)
            return
        # Rendered on its first download, before the answer starts.
        with sandbox._videos.open(job.id, size) as video:
            self._send_video_headers(job, status, start, stop)
            try:
                self._stream_video(job, video, start, stop)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True

    def _send_video_headers(self, job: Job, status: int, start: int, stop: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(stop - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{job.id}-{job.size}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{job.size}")
        self.end_headers()

    def _stream_video(self, job: Job, video: BinaryIO, start: int, stop: int) -> None:
        """Send bytes ``[start, stop)`` with the job's download faults: truncate, stall, throttle."""
        sandbox = self.server.sandbox
        length = stop - start
        truncate = sandbox._knob(job, "truncate")
        if truncate is not None and truncate >= length:
            truncate = None
        limit = length if truncate is None else truncate
        stall_at = sandbox._knob(job, "stall_after")
        if stall_at is not None and stall_at >= limit:
            stall_at = None
        stall_seconds = sandbox._knob(job, "stall_seconds")
        bps = sandbox._knob(job, "slow_download_bps")
        piece = max(1, min(sandbox.chunk_size, bps // 20)) if bps else 0  # throttled: ~20 writes/s
        for name, active in (("truncate", truncate), ("stall", stall_at), ("slow_download", bps)):
            if active is not None:
                sandbox._count(f"fault_{name}")
        self.wfile.flush()  # the headers go out before any stall
        sent = 0
        began = time.monotonic()
        stalled = 0.0  # time spent in the stall, not counted against the throttle
        while sent < limit:
            if stall_at is not None and sent == stall_at:
                stall_at = None
                paused_at = time.monotonic()
                if not self._hold(stall_seconds):
                    return
                stalled += time.monotonic() - paused_at
            n = limit - sent
            if stall_at is not None:
                n = min(n, stall_at - sent)
            if bps:
                n = min(n, piece)
            # sendfile: from the page cache to the socket, no copy through this process.
            sent += self.connection.sendfile(video, offset=start + sent, count=n)
            if bps:
                ahead = began + stalled + sent / bps - time.monotonic()
                if ahead > 0 and not self._hold(ahead):
                    return
        if truncate is not None:
            self._abort()  # the promised Content-Length is never completed

    def _handle(self) -> None:
        try:
            self._dispatch()
        except ApiError as err:  # raised while reading the request body
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


_FILE_RE = re.compile(r"/files/([A-Za-z0-9_-]+)\.mp4")
_XAI_POLL_RE = re.compile(r"/v1/videos/([^/]+)")
_COMET_POLL_RE = re.compile(r"/grok/v1/videos/([^/]+)")
_SANDBOX_ROUTES = {
    "/sandbox/jobs": (("GET",), "jobs"),
    "/sandbox/stats": (("GET",), "stats"),
    "/sandbox/health": (("GET",), "health"),
    "/sandbox/reset": (("POST",), "reset"),
    "/sandbox/faults": (("GET", "POST", "DELETE"), "faults"),
}


def _route(method: str, path: str) -> tuple[str, str] | None:
    creates = {
        "/v1/videos/generations": "xai",
        "/grok/v1/videos/generations": "cometapi",
        "/v2/video/generations": "aimlapi",
    }
    if path in creates:
        contract = creates[path]
        if method == "POST":
            return "create", contract
        if method == "GET" and contract == "aimlapi":
            return "poll", "aimlapi"
        return "method_not_allowed", path
    for regex, contract in ((_COMET_POLL_RE, "cometapi"), (_XAI_POLL_RE, "xai")):
        if regex.fullmatch(path):
            return ("poll", contract) if method == "GET" else ("method_not_allowed", path)
    match = _FILE_RE.fullmatch(path)
    if match:
        return ("file", match.group(1)) if method in ("GET", "HEAD") else ("method_not_allowed", path)
    if path in _SANDBOX_ROUTES:
        methods, name = _SANDBOX_ROUTES[path]
        return ("sandbox", name) if method in methods else ("method_not_allowed", path)
    return None


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        stop = min(size, int(last) + 1) if last else size
    else:  # suffix range: the last N bytes
        start, stop = max(0, size - int(last)), size
    if start >= size or stop <= start:
        return None
    return start, stop


# --------------------------------------------------------------------------- the server


class SandboxServer:
    """A real HTTP server speaking the xAI, CometAPI and AI/ML API video contracts on one port.

    The socket is bound in ``__init__`` (so ``url`` is known at once); ``start()`` serves
    from a background thread, ``serve_forever()`` in the foreground. The options below are
    plain attributes read on every request, so tests may change them on a running server.
    ``default_outcome``, ``default_bytes``, ``default_seconds``, ``truncate_at`` and
    ``xai_pending_as_202`` are the global values of the knobs ``outcome``, ``bytes``,
    ``seconds``, ``truncate`` and ``pending_202``; ``faults`` / ``set_faults()`` /
    ``clear_faults()`` read and write every knob (see the module docstring).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        time_factor: float = 1.0,
        api_key: str | None = None,
        comet_envelope: str = "wrapped",
        xai_pending_as_202: bool = False,
        default_bytes: int = DEFAULT_BYTES,
        default_outcome: str = "succeeded",
        default_seconds: float | None = None,
        truncate_at: int | None = None,
        faults: Mapping[str, Any] | None = None,
        public_url: str | None = None,
        chunk_size: int = mp4.DEFAULT_CHUNK_SIZE,
        log_requests: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if comet_envelope not in COMET_ENVELOPES:
            raise ValueError(f"comet_envelope must be one of {COMET_ENVELOPES}")
        if time_factor < 0:
            raise ValueError("time_factor must be >= 0")
        self.time_factor = time_factor
        self.api_key = api_key or None
        self.comet_envelope = comet_envelope
        self.public_url = public_url.rstrip("/") if public_url else None
        self.chunk_size = chunk_size
        self.log_requests = log_requests
        self.clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, Any] = dict(FAULT_DEFAULTS)
        options = {
            "outcome": default_outcome,
            "bytes": default_bytes,
            "seconds": default_seconds,
            "truncate": truncate_at,
            "pending_202": xai_pending_as_202,
        }
        self.set_faults(**{**options, **dict(faults or {})})  # `faults` wins over the older options
        self._jobs: dict[str, Job] = {}
        self._fingerprints: dict[str, int] = {}  # accepted submissions per body
        self._attempts: dict[str, int] = {}  # submit attempts per body (accepted or refused)
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._stopping = threading.Event()
        self._upload_threads: list[threading.Thread] = []
        self._videos = _VideoFiles(VIDEO_FILES_BYTES, chunk_size)
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self.host = host
        self.port = self._httpd.server_address[1]

    # ---- lifecycle

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The base of the video URLs handed out (``public_url`` if set, else ``url``)."""
        return self.public_url or self.url

    def start(self) -> Self:
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="sandbox-http",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` (from another thread) or KeyboardInterrupt."""
        self._serving = True
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving; every fault wait in progress ends at once (its connection is closed)."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for thread in list(self._upload_threads):
            thread.join(timeout=5)
        self._videos.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- faults

    @property
    def faults(self) -> dict[str, Any]:
        """Every knob's global value (same as ``GET /sandbox/faults``)."""
        with self._lock:
            return dict(self._faults)

    def set_faults(self, **values: Any) -> None:
        """Set global knobs (``None`` restores a knob's default); all are checked before any is set."""
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in KNOBS:
                raise ValueError(f"unknown fault knob {key!r} (known: {', '.join(DIRECTIVE_KEYS)})")
            try:
                parsed[key] = KNOBS[key].default if raw is None else KNOBS[key].parse(raw)
            except ValueError as exc:
                raise ValueError(f"{key}={raw!r}: {exc}") from None
        with self._lock:
            self._faults.update(parsed)

    def clear_faults(self) -> None:
        """Every knob back to its built-in default (the table in the module docstring)."""
        with self._lock:
            self._faults = dict(FAULT_DEFAULTS)

    def _knob(self, job: Job, key: str) -> Any:
        """The job's own directive for ``key`` if it has one, else the live global value."""
        if key in job.directives:
            return job.directives[key]
        return self._faults[key]

    @property
    def default_outcome(self) -> str:
        return self._faults["outcome"]

    @default_outcome.setter
    def default_outcome(self, value: str) -> None:
        self.set_faults(outcome=value)

    @property
    def default_bytes(self) -> int:
        return self._faults["bytes"]

    @default_bytes.setter
    def default_bytes(self, value: int) -> None:
        self.set_faults(bytes=value)

    @property
    def default_seconds(self) -> float | None:
        return self._faults["seconds"]

    @default_seconds.setter
    def default_seconds(self, value: float | None) -> None:
        self.set_faults(seconds="none" if value is None else value)

    @property
    def truncate_at(self) -> int | None:
        return self._faults["truncate"]

    @truncate_at.setter
    def truncate_at(self, value: int | None) -> None:
        self.set_faults(truncate="none" if value is None else value)

    @property
    def xai_pending_as_202(self) -> bool:
        return self._faults["pending_202"]

    @xai_pending_as_202.setter
    def xai_pending_as_202(self, value: bool) -> None:
        self.set_faults(pending_202=value)

    # ---- introspection

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Snapshots of every job in submission order (same as ``GET /sandbox/jobs``)."""
        now = self.clock()
        with self._lock:
            return [job.snapshot(now, self._fingerprints[job.fingerprint]) for job in self._jobs.values()]

    def job(self, job_id: str) -> dict[str, Any] | None:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            return job.snapshot(now, self._fingerprints[job.fingerprint]) if job else None

    @property
    def stats(self) -> dict[str, int]:
        """Counters (see the module docstring): ``accepted``, ``refused``, ``duplicate_accepted``, ..."""
        with self._lock:
            return dict(self._counters)

    def reset(self) -> None:
        """Forget all jobs, submit attempts and counters (pending uploads still finish; faults stay)."""
        with self._lock:
            self._jobs.clear()
            self._fingerprints.clear()
            self._attempts.clear()
            for key in self._counters:
                self._counters[key] = 0

    def video_url(self, job_id: str) -> str:
        return f"{self.base_url}/files/{job_id}.mp4"

    def generation_seconds(self, duration: int, resolution: str) -> float:
        """Simulated generation time before ``time_factor``."""
        return (BASE_SECONDS + SECONDS_PER_DURATION_SECOND * duration) * RESOLUTION_FACTOR[resolution]

    # ---- internals used by the handler

    def _count(self, key: str) -> None:
        with self._lock:
            self._counters[key] += 1

    def _pause(self, seconds: float) -> bool:
        """Sleep up to ``MAX_FAULT_WAIT`` seconds; False if ``stop()`` cut the wait short."""
        return not self._stopping.wait(min(seconds, MAX_FAULT_WAIT))

    def _submit(self, contract: str, body: Any) -> tuple[Job, float]:
        """One create attempt: the accepted job and how long to hold its answer.

        Raises ``ApiError`` for a bad request and ``CannedResponse`` for an injected refusal
        (429, 5xx, HTML 502), both before any job exists.
        """
        params = validate_create(contract, body)
        directives = parse_directives(params["prompt"])
        fingerprint = hashlib.sha256(
            (contract + "\x00" + json.dumps(body, sort_keys=True, separators=(",", ":"))).encode()
        ).hexdigest()
        job_id = str(uuid.uuid4())
        with self._lock:
            knobs = {**self._faults, **directives}
            attempt = self._attempts.get(fingerprint, 0) + 1
            self._attempts[fingerprint] = attempt
            delay = knobs["submit_delay"] if attempt <= knobs["submit_delay_count"] else 0.0
            if delay > 0:
                self._counters["fault_submit_delay"] += 1
            refusal: tuple[str, CannedResponse] | None = None
            too_many = knobs["submit_429"]
            unavailable = too_many + knobs["submit_5xx"]
            bad_gateway = unavailable + knobs["submit_html"]
            if attempt <= too_many:
                retry_after = knobs["retry_after"]
                headers = {} if retry_after is None else {"Retry-After": _format_seconds(retry_after)}
                refusal = (
                    "fault_submit_429",
                    _json_error(
                        429, "rate_limit_exceeded", "Too many requests (sandbox fault); retry later.", headers
                    ),
                )
            elif attempt <= unavailable:
                refusal = "fault_submit_5xx", _server_error(knobs["status_5xx"])
            elif attempt <= bad_gateway:
                refusal = "fault_submit_html", _html_502()
            if refusal is not None:
                counter, canned = refusal
                self._counters[counter] += 1
                self._counters["refused"] += 1
                canned.delay = delay
                raise canned

            seconds = knobs["seconds"]
            if seconds is None:
                seconds = self.generation_seconds(params["duration"], params["resolution"])
            accepted_before = self._fingerprints.get(fingerprint, 0)
            self._fingerprints[fingerprint] = accepted_before + 1
            self._counters["submissions"] += 1
            self._counters["accepted"] += 1
            if accepted_before:
                self._counters["duplicate_accepted"] += 1
            job = Job(
                id=job_id,
                contract=contract,
                body=redact_body(body),
                fingerprint=fingerprint,
                submit_index=self._counters["submissions"],
                submitted_mono=self.clock(),
                submitted_wall=time.time(),
                generation_seconds=seconds * self.time_factor,
                outcome=knobs["outcome"],
                size=knobs["bytes"],
                truncate_at=directives.get("truncate"),
                model=params["model"],
                duration=params["duration"],
                resolution=params["resolution"],
                aspect_ratio=params["aspect_ratio"],
                upload_url=params["upload_url"],
                video_url=self.video_url(job_id),
                directives=directives,
                attempt=attempt,
                duplicate=bool(accepted_before),
            )
            self._jobs[job_id] = job
        if job.upload_url and job.outcome == "succeeded":
            job.upload = {"url": job.upload_url, "status": "pending", "status_code": None, "error": None}
            thread = threading.Thread(
                target=self._upload, args=(job,), name=f"sandbox-upload-{job_id}", daemon=True
            )
            self._upload_threads = [t for t in self._upload_threads if t.is_alive()] + [thread]
            thread.start()
        return job, delay

    def _record_poll(self, contract: str, job_id: str) -> tuple[Job, int, float, CannedResponse | None]:
        """Count a poll; return the job, the poll's number, its delay and its injected fault (if any)."""
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.contract != contract:
                raise ApiError(404, "not_found", f"no video generation with id {job_id!r}")
            job.polls += 1
            self._counters["polls"] += 1
            number = job.polls
            knobs = {**self._faults, **job.directives}
            delay = knobs["poll_delay"] if number <= knobs["poll_delay_count"] else 0.0
            if delay > 0:
                self._counters["fault_poll_delay"] += 1
            burst, every = knobs["poll_5xx"], knobs["poll_5xx_every"]
            fault: tuple[str, CannedResponse] | None = None
            if now - job.submitted_mono < knobs["poll_404_seconds"] * self.time_factor:
                message = f"no video generation with id {job_id!r}"
                fault = "fault_poll_404", _json_error(404, "not_found", message)
            elif burst and (number <= burst if every == 0 else (number - 1) % every < burst):
                fault = "fault_poll_5xx", _server_error(knobs["status_5xx"])
            elif number <= knobs["poll_html"]:
                fault = "fault_poll_html", _html_502()
            elif number <= knobs["poll_malformed"]:
                fault = "fault_poll_malformed", CannedResponse(200, MALFORMED_JSON, "application/json")
            if fault is None:
                return job, number, delay, None
            self._counters[fault[0]] += 1
            return job, number, delay, fault[1]

    def _job_for_download(self, job_id: str) -> Job:
        now = self.clock()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.phase(now)[0] != "terminal" or job.outcome != "succeeded":
                raise ApiError(404, "not_found", f"no video file {job_id}.mp4")
            job.video_requests += 1
            if job.video_requests <= self._knob(job, "video_404"):
                self._counters["fault_video_404"] += 1
                raise _json_error(404, "not_found", f"no video file {job_id}.mp4")
            job.downloads += 1
            self._counters["downloads"] += 1
            return job

    def _upload(self, job: Job) -> None:
        """PUT the finished video to ``output.upload_url``, streamed, then mark the job finished."""
        due = job.submitted_mono + job.generation_seconds
        while not self._stopping.is_set():
            remaining = due - self.clock()
            if remaining <= 0:
                break
            self._stopping.wait(max(0.005, min(remaining, 0.1)))
        if self._stopping.is_set():
            return
        result: dict[str, Any] = {
            "url": job.upload_url,
            "status": "failed",
            "status_code": None,
            "error": None,
        }
        sent = 0
        try:
            target = urlsplit(job.upload_url or "")
            conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
            conn = conn_cls(target.hostname or "", target.port, timeout=60)
            try:
                path = (target.path or "/") + (f"?{target.query}" if target.query else "")
                conn.putrequest("PUT", path, skip_accept_encoding=True)
                conn.putheader("Content-Type", "video/mp4")
                conn.putheader("Content-Length", str(job.size))
                conn.endheaders()
                for chunk in mp4.iter_mp4(job.id, job.size, self.chunk_size):
                    if self._stopping.is_set():
                        raise ConnectionAbortedError("sandbox stopped during the upload")
                    conn.send(chunk)
                    sent += len(chunk)
                response = conn.getresponse()
                response.read(64 * 1024)
                result["status_code"] = response.status
                if 200 <= response.status < 300:
                    result["status"] = "succeeded"
                else:
                    result["error"] = f"upload answered HTTP {response.status}"
            finally:
                conn.close()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"
        result["bytes_sent"] = sent
        with self._lock:
            job.upload = result
            if result["status"] == "succeeded":
                self._counters["uploads"] += 1
        job.upload_finished.set()
