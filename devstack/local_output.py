"""What `make dev` and `make demo` print: lines a person reads on the console, everything in a file.

The handlers run in this process (devstack.lambda_bridge) and write what they write for
CloudWatch to stdout: an EMF document per metric event (videohook.telemetry) and a
Powertools JSON line per log record. `LocalOutput.install` puts a router in place of
`sys.stdout` that writes every line to the log file (`VIDEOHOOK_LOG_FILE`, default
`build/dev.log`) and, on the console, keeps

- every line that is not a JSON document (the stack's own prints: the ready line, the demo's summary),
- the API's requests (`devstack.requests`, one line each: method, path, status),
- a job's transitions (the product's "event published" record: `vid_... succeeded`),
- the product's warnings and errors, one line each (their traceback stays in the file).

Verbose (`--verbose`, or `VIDEOHOOK_LOG_LEVEL` set to a level name) keeps the console as it
was before: every line, metrics included, with the handlers logging at that level
(`--verbose`: DEBUG). The file gets every line either way; quiet, the handlers log at DEBUG
into it unless `POWERTOOLS_LOG_LEVEL` says otherwise. Errors on stderr (Python's
tracebacks, the logging module's last resort) are untouched.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from devstack.stack import REPO

LOG_FILE_ENV = "VIDEOHOOK_LOG_FILE"
LOG_LEVEL_ENV = "VIDEOHOOK_LOG_LEVEL"
DEFAULT_LOG_FILE = REPO / "build" / "dev.log"
# The API's request lines: one INFO record per request answered (devstack.api_gateway).
REQUESTS_LOGGER = "devstack.requests"
# The Powertools logger of the handlers (videohook.telemetry's `Logger(service=SERVICE)`).
PRODUCT_LOGGER = "videohook"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The stack's own log lines (devstack.*): INFO and up into the file, warnings on stderr too.
STACK_FORMAT = "%(levelname)s %(name)s: %(message)s"
VERBOSE_HELP = f"print every log line and metric on the console too ({LOG_LEVEL_ENV}=DEBUG)"
# Fields of a product log record worth a place on a warning's or error's console line.
DETAIL_KEYS = ("job_id", "error", "error_code", "status_code", "exception_name")


def clock() -> str:
    return time.strftime("%H:%M:%S")


def console_line(record: Mapping[str, Any]) -> str | None:
    """The console's line for one product log record (a Powertools JSON line), or None for
    none: a job's transition, or a warning or an error."""
    message = str(record.get("message", ""))
    if message == "event published" and record.get("job_id") and record.get("event_type"):
        status = str(record["event_type"]).removeprefix("video.")
        return f"{clock()} {record['job_id']} {status}"
    level = str(record.get("level", ""))
    if level in ("WARNING", "ERROR", "CRITICAL"):
        details = ", ".join(f"{key}: {record[key]}" for key in DETAIL_KEYS if record.get(key) is not None)
        where = record.get("function_name") or record.get("location") or ""
        return f"{clock()} {level} {where}: {message}" + (f" ({details})" if details else "")
    return None


def routed(line: str) -> str | None:
    """What of one complete stdout line the quiet console shows: the line, its summary, or None."""
    if not line.startswith("{"):
        return line
    try:
        document = json.loads(line)
    except ValueError:
        return line
    if not isinstance(document, dict):
        return line
    if "_aws" in document:  # an EMF metric document
        return None
    if "level" in document and "message" in document:
        summary = console_line(document)
        return None if summary is None else summary + "\n"
    return line


class LineRouter(io.TextIOBase):
    """A stdout that writes each complete line to `file`, and to `console` what `routed` keeps
    (every line when verbose). Lines are assembled per thread: the handlers print from many."""

    def __init__(self, console: IO[str], file: IO[str], *, verbose: bool) -> None:
        self.console = console
        self.file = file
        self.verbose = verbose
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.console.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.console, "encoding", "utf-8")

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        with self._lock:
            pending = self._partial.pop(thread, "") + text
            *lines, rest = pending.split("\n")
            if rest:
                self._partial[thread] = rest
            for line in lines:
                self._route(line + "\n")
        return len(text)

    def _route(self, line: str) -> None:
        self.file.write(line)
        shown = line if self.verbose else routed(line)
        if shown is not None:
            self.console.write(shown)

    def flush(self) -> None:
        with self._lock:
            self.file.flush()
            self.console.flush()

    def close(self) -> None:
        with self._lock:
            for rest in self._partial.values():
                self._route(rest + "\n")
            self._partial.clear()
            self.file.flush()
            self.console.flush()


@dataclass
class LocalOutput:
    log_file: Path
    verbose: bool
    # The handlers' log level (POWERTOOLS_LOG_LEVEL); None leaves the operator's or the template's.
    handler_level: str | None
    # What `install` changed, for `restore`: the stdout it replaced, the handlers it added.
    _undo: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] = os.environ,
        *,
        verbose: bool = False,
        default_file: Path = DEFAULT_LOG_FILE,
    ) -> LocalOutput:
        """`--verbose` is VIDEOHOOK_LOG_LEVEL=DEBUG; an unknown level name raises ValueError."""
        level = (environ.get(LOG_LEVEL_ENV) or ("DEBUG" if verbose else "")).strip().upper()
        if level and level not in LEVELS:
            raise ValueError(f"{LOG_LEVEL_ENV}={environ[LOG_LEVEL_ENV]}: use one of {', '.join(LEVELS)}")
        if not level and not environ.get("POWERTOOLS_LOG_LEVEL"):
            level_for_handlers: str | None = "DEBUG"  # quiet: the file gets the debug logs
        else:
            level_for_handlers = level or None
        log_file = Path(environ.get(LOG_FILE_ENV) or default_file)
        return cls(log_file=log_file, verbose=bool(level), handler_level=level_for_handlers)

    def install(self) -> LineRouter:
        """Before the stack starts: route stdout, set the handlers' level, log the API's requests."""
        if self.handler_level:
            os.environ["POWERTOOLS_LOG_LEVEL"] = self.handler_level
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        file = self.log_file.open("w", encoding="utf-8", buffering=1)
        router = LineRouter(sys.stdout, file, verbose=self.verbose)
        sys.stdout = router
        self._undo.append(lambda: (router.close(), setattr(sys, "stdout", router.console), file.close()))
        # A Powertools logger created before this (its handler holds the old stdout) writes here too.
        for handler in logging.getLogger(PRODUCT_LOGGER).handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is router.console:
                handler.setStream(router)
                self._undo.append(lambda handler=handler: handler.setStream(router.console))
        # The stack's own loggers: INFO and up into the file (the synthesis' output), warnings on stderr.
        stack_logger = logging.getLogger("devstack")
        self._add(stack_logger, logging.StreamHandler(file), f"%(asctime)s {STACK_FORMAT}")
        self._add(stack_logger, logging.StreamHandler(sys.stderr), STACK_FORMAT, logging.WARNING)
        requests = logging.getLogger(REQUESTS_LOGGER)
        self._add(requests, logging.StreamHandler(router), "%(asctime)s %(message)s")
        requests.propagate = False
        self._undo.append(lambda: setattr(requests, "propagate", True))
        return router

    def _add(self, logger: logging.Logger, handler: logging.Handler, form: str, level: int = 0) -> None:
        handler.setFormatter(logging.Formatter(form, datefmt="%H:%M:%S"))
        handler.setLevel(level)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            previous = logger.level
            logger.setLevel(logging.INFO)
            self._undo.append(lambda: logger.setLevel(previous))
        self._undo.append(lambda: logger.removeHandler(handler))

    def restore(self) -> None:
        """Undo `install` (the stack stopped): stdout and the loggers as they were, the file closed."""
        while self._undo:
            self._undo.pop()()

    def describe(self) -> str:
        """The line printed at start: where the rest went, and how to see it here."""
        shown = self.log_file
        try:
            shown = self.log_file.resolve().relative_to(Path.cwd())
        except ValueError:
            pass
        if self.verbose:
            return f"logs and metrics: here and in {shown}"
        return f"logs and metrics: {shown} (--verbose or {LOG_LEVEL_ENV}=DEBUG shows them here)"
