"""AWS-side faults injected into botocore clients through their event hooks.

`FaultInjector.inject(client, "PutObject", [SLOW_DOWN, INTERNAL_ERROR])` makes the first
attempts of that operation on that client answer those errors without reaching the service:
a `before-send` handler that returns a response short-circuits the HTTP request, and the
client's retry handler judges that response like any other (botocore/endpoint.py,
`_do_get_response` and `_needs_retry`). Every attempt of an injected operation is recorded
with its thread and time; `RetrySleeps` records each delay the endpoint sleeps before a retry.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse
from urllib3 import HTTPResponse


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str = "injected by the test"


# botocore treats these codes as throttling (retries/standard.py) and 5xx as transient.
THROTTLING = Fault(400, "ThrottlingException", "Rate exceeded")
THROTTLING_QUERY = Fault(400, "Throttling", "Rate exceeded")  # the query protocol's name (SNS)
PROVISIONED_THROUGHPUT_EXCEEDED = Fault(400, "ProvisionedThroughputExceededException")
SLOW_DOWN = Fault(503, "SlowDown", "Please reduce your request rate.")
INTERNAL_ERROR = Fault(500, "InternalError", "We encountered an internal error. Please try again.")
INTERNAL_SERVER_ERROR = Fault(500, "InternalServerError")  # DynamoDB's name
SERVICE_UNAVAILABLE = Fault(503, "ServiceUnavailable")


def error_response(fault: Fault, *, protocol: str, url: str) -> AWSResponse:
    """The error as the service would send it in its wire protocol."""
    request_id = str(uuid.uuid4())
    message = escape(fault.message)
    if protocol == "json":
        content_type = "application/x-amz-json-1.0"
        body = json.dumps({"__type": fault.code, "message": fault.message})
    elif protocol == "query":
        content_type = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code><Message>{message}"
            f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    elif protocol == "rest-xml":
        content_type = "application/xml"
        body = (
            f"<Error><Code>{fault.code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:
        raise ValueError(f"no error format for the {protocol!r} protocol")
    data = body.encode()
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(data)),
        "x-amzn-RequestId": request_id,
        "x-amz-request-id": request_id,
    }
    raw = HTTPResponse(body=io.BytesIO(data), headers=headers, status=fault.status, preload_content=False)
    return AWSResponse(url, fault.status, headers, raw)


@dataclass(frozen=True)
class Attempt:
    """One attempt of an injected operation: the fault it got, or None if it was sent."""

    service: str
    operation: str
    call: str  # botocore's invocation id: the same for every attempt of one call
    number: int  # 1 for the first attempt of the call
    max_attempts: int
    thread: int
    at: float  # time.monotonic()
    fault: Fault | None


# The retry headers botocore adds to every attempt (handlers.add_retry_headers).
_ATTEMPT_HEADER = re.compile(r"attempt=(\d+); max=(\d+)")


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name) or b""
    return value.decode() if isinstance(value, bytes) else value


class FaultInjector:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._registered: list[tuple[Any, str, Any]] = []

    def inject(self, client: Any, operation: str, faults: Iterable[Fault]) -> None:
        """The next attempts of `operation` on `client`, in any thread, get `faults` in order;
        later ones go through. `itertools.repeat(fault)` fails them all."""
        model = client.meta.service_model
        service = model.service_id.hyphenize()
        pending: Iterator[Fault] = iter(faults)

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            numbers = _ATTEMPT_HEADER.search(_header(request, "amz-sdk-request"))
            assert numbers, f"no attempt numbers on {service}.{operation}"
            with self._lock:
                fault = next(pending, None)
                self.attempts.append(
                    Attempt(
                        service=service,
                        operation=operation,
                        call=_header(request, "amz-sdk-invocation-id"),
                        number=int(numbers[1]),
                        max_attempts=int(numbers[2]),
                        thread=threading.get_ident(),
                        at=time.monotonic(),
                        fault=fault,
                    )
                )
            return None if fault is None else error_response(fault, protocol=model.protocol, url=request.url)

        event = f"before-send.{service}.{operation}"
        client.meta.events.register(event, before_send)
        self._registered.append((client, event, before_send))

    def remove(self) -> None:
        for client, event, handler in self._registered:
            client.meta.events.unregister(event, handler)
        self._registered.clear()

    def calls(self, operation: str | None = None) -> list[list[Attempt]]:
        """The attempts grouped by call, in the order the calls began."""
        calls: dict[str, list[Attempt]] = {}
        for attempt in self.attempts:
            if operation is None or attempt.operation == operation:
                calls.setdefault(attempt.call, []).append(attempt)
        return list(calls.values())

    def faults_by_service(self) -> dict[str, int]:
        services = [attempt.service for attempt in self.attempts if attempt.fault is not None]
        return {service: services.count(service) for service in sorted(set(services))}


@dataclass(frozen=True)
class Sleep:
    thread: int
    seconds: float
    at: float  # time.monotonic() as the sleep began


class RetrySleeps(logging.Handler):
    """Every delay botocore's endpoint sleeps before a retry, from the debug record it logs just
    before sleeping ("Response received to retry, sleeping for %s seconds"), in that thread."""

    LOGGER = "botocore.endpoint"
    MESSAGE = "Response received to retry, sleeping for %s seconds"

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sleeps: list[Sleep] = []
        self._saved = (logging.NOTSET, True)

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == self.MESSAGE and isinstance(record.args, tuple):
            self.sleeps.append(Sleep(threading.get_ident(), float(record.args[0]), time.monotonic()))

    def __enter__(self) -> RetrySleeps:
        logger = logging.getLogger(self.LOGGER)
        self._saved = (logger.level, logger.propagate)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # its other debug records (one per request) stay out of the test's log
        logger.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logger = logging.getLogger(self.LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._saved[0])
        logger.propagate = self._saved[1]


def backoff_problems(injector: FaultInjector, sleeps: RetrySleeps) -> list[str]:
    """Each retry must follow a faulted attempt of its call, after exactly one positive sleep
    in the call's thread, and no sooner than that sleep; the problems found, else empty."""
    problems = []
    for call in injector.calls():
        for first, retry in itertools.pairwise(call):
            name = f"{first.service}.{first.operation} attempt {first.number}"
            between = [s for s in sleeps.sleeps if s.thread == first.thread and first.at <= s.at <= retry.at]
            if first.fault is None or retry.number != first.number + 1:
                problems.append(f"{name}: followed by attempt {retry.number} of the same call")
            elif len(between) != 1 or between[0].seconds <= 0:
                problems.append(f"{name}: slept {[s.seconds for s in between]} before its retry")
            elif retry.at - first.at < between[0].seconds:
                problems.append(f"{name}: retried {retry.at - first.at:.3f} s later, within its backoff")
    return problems
