"""`python -S bench/cold_probe.py MODULE EVENT_FILE`: one cold start, timed inside the process.

Run by bench/cold_start.py in a fresh interpreter that has only functions/ and the
runtime dependencies on its path, so this file imports nothing but the standard library
before the timed import. It imports MODULE (a handler module: `handler` is the function
the template names), calls `handler(event, context)` once with the event in EVENT_FILE, and
prints one JSON line: seconds for the import, seconds for the first invocation, and how
that invocation ended (the answer's HTTP status, "returned", or the exception's type).
An audit hook refuses any connection or name lookup that is not loopback, without importing
anything before the timed import.
"""

from __future__ import annotations

import importlib
import json
import sys
import time


class Context:
    """What Lambda passes as `context` (the attributes Powertools reads)."""

    function_name = "ColdStartBench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ColdStartBench"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/ColdStartBench"
    log_stream_name = "2026/01/01/[$LATEST]0"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


LOOPBACK = ("127.0.0.1", "::1", "localhost")
NETWORK_EVENTS = ("socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname")


def loopback_only(event: str, args: tuple) -> None:
    if event not in NETWORK_EVENTS:
        return
    address = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if isinstance(host, str) and host not in LOOPBACK and not host.startswith("/"):
        raise ConnectionRefusedError(f"the cold-start bench reaches loopback only, not {host!r}")


def main(module_name: str, event_file: str) -> None:
    sys.addaudithook(loopback_only)
    with open(event_file, encoding="utf-8") as source:
        event = json.load(source)
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    try:
        answer = module.handler(event, Context())
        outcome = str(answer.get("statusCode", "returned")) if isinstance(answer, dict) else "returned"
    except Exception as error:  # the invocation ran; how it ended is reported, not judged
        outcome = type(error).__name__
    invoked = time.perf_counter()
    seconds = {"import_seconds": imported - started, "invoke_seconds": invoked - imported}
    print(json.dumps({**seconds, "outcome": outcome}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
