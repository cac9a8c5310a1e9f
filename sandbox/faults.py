"""The fault knobs: ``sandbox:key=value`` in prompts, their global values and what they inject.


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
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox import mp4
from sandbox.answers import ApiError, CannedResponse, html_502, json_error, malformed_json, server_error

OUTCOMES = ("succeeded", "failed", "expired", "moderated")
MAX_FAULT_WAIT = 600.0
"""The longest single fault wait in seconds (``submit_delay``, ``poll_delay``, ``stall_seconds``)."""
DEFAULT_BYTES = 262144
DIRECTIVE_RE = re.compile(r"sandbox:([A-Za-z_0-9]+)=(\S+)")
_SIZE_SUFFIX = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}
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


def format_seconds(value: float) -> str:
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
            default = format_seconds(knob.default)
        else:
            default = str(knob.default)
        lines.append(f"  {knob.key + '=' + default:<26} {knob.applies_to:<12} {knob.summary}")
    lines += [
        "",
        "Submit faults count attempts per identical body: 429s first, then 5xx, then HTML, then",
        "accepted. Global knobs: POST /sandbox/faults {json}, GET to read, DELETE to restore.",
        "See sandbox/faults.py's module docstring for the wire behaviour of each.",
    ]
    return "\n".join(lines)


class FaultSettings:
    """The global value of every knob (``GET|POST|DELETE /sandbox/faults``), read live."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Any] = dict(FAULT_DEFAULTS)
        self.set(**dict(values or {}))

    def values(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def value(self, key: str) -> Any:
        return self._values[key]

    def set(self, **values: Any) -> None:
        """Set knobs (``None`` restores a knob's default); all are checked before any is set."""
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in KNOBS:
                raise ValueError(f"unknown fault knob {key!r} (known: {', '.join(DIRECTIVE_KEYS)})")
            try:
                parsed[key] = KNOBS[key].default if raw is None else KNOBS[key].parse(raw)
            except ValueError as exc:
                raise ValueError(f"{key}={raw!r}: {exc}") from None
        with self._lock:
            self._values.update(parsed)

    def clear(self) -> None:
        """Every knob back to its built-in default."""
        with self._lock:
            self._values = dict(FAULT_DEFAULTS)

    def for_job(self, directives: Mapping[str, Any]) -> dict[str, Any]:
        """Every knob as one job sees it: its own directives over the live global values."""
        with self._lock:
            return {**self._values, **directives}


# ---- what the knobs inject (an answer whose ``fault`` names its counter)


def submit_delay(knobs: Mapping[str, Any], attempt: int) -> float:
    """How long submit attempt ``attempt`` is held before its answer."""
    return knobs["submit_delay"] if attempt <= knobs["submit_delay_count"] else 0.0


def _injected(counter: str, answer: CannedResponse) -> CannedResponse:
    answer.fault = counter
    return answer


def submit_refusal(knobs: Mapping[str, Any], attempt: int) -> CannedResponse | None:
    """The refusal of submit attempt ``attempt``: 429s first, then 5xx, then HTML; else ``None``."""
    too_many = knobs["submit_429"]
    unavailable = too_many + knobs["submit_5xx"]
    bad_gateway = unavailable + knobs["submit_html"]
    if attempt <= too_many:
        retry_after = knobs["retry_after"]
        headers = {} if retry_after is None else {"Retry-After": format_seconds(retry_after)}
        message = "Too many requests (sandbox fault); retry later."
        return _injected("fault_submit_429", json_error(429, "rate_limit_exceeded", message, headers))
    if attempt <= unavailable:
        return _injected("fault_submit_5xx", server_error(knobs["status_5xx"]))
    if attempt <= bad_gateway:
        return _injected("fault_submit_html", html_502())
    return None


def poll_delay(knobs: Mapping[str, Any], number: int) -> float:
    """How long poll ``number`` of a job is held before its answer."""
    return knobs["poll_delay"] if number <= knobs["poll_delay_count"] else 0.0


def poll_fault(
    knobs: Mapping[str, Any], number: int, age: float, time_factor: float, job_id: str
) -> CannedResponse | None:
    """The fault answering poll ``number``, ``age`` seconds after the submit: 404, 5xx, HTML, malformed."""
    burst, every = knobs["poll_5xx"], knobs["poll_5xx_every"]
    if age < knobs["poll_404_seconds"] * time_factor:
        message = f"no video generation with id {job_id!r}"
        return _injected("fault_poll_404", json_error(404, "not_found", message))
    if burst and (number <= burst if every == 0 else (number - 1) % every < burst):
        return _injected("fault_poll_5xx", server_error(knobs["status_5xx"]))
    if number <= knobs["poll_html"]:
        return _injected("fault_poll_html", html_502())
    if number <= knobs["poll_malformed"]:
        return _injected("fault_poll_malformed", malformed_json())
    return None
