"""`make dev`: run the local stack in the foreground until interrupted.

`python -m devstack [--verbose]`: the console shows the ready line, the API's requests, the
jobs' transitions and errors; metrics and the handlers' logs go to a file
(devstack.local_output). A busy port is reported in one line, before anything starts.
"""

from __future__ import annotations

import argparse
import errno
import faulthandler
import os
import signal
import socket
import sys
import threading

from devstack.local_output import VERBOSE_HELP, LocalOutput
from devstack.stack import DEFAULT_API_KEY, LocalStack, LocalStackConfig

# A stop that takes longer than this prints every thread's stack, so a user sees what it waits for.
SLOW_STOP_SECONDS = 15
# The exit status when the stack cannot start for a reason the message names (a busy port, a bad setting).
CANNOT_START = 2


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on host:port (a socket in TIME_WAIT does not count: the API
    server binds with SO_REUSEADDR, as http.server does)."""
    if port == 0:
        return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def port_in_use_message(port: int) -> str:
    return f"port {port} is in use; set VIDEOHOOK_PORT"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)

    try:
        config = LocalStackConfig.from_env()
        output = LocalOutput.from_env(verbose=args.verbose)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return CANNOT_START
    if port_in_use(config.port):
        print(port_in_use_message(config.port), file=sys.stderr)
        return CANNOT_START
    output.install()
    print(output.describe())
    stack = LocalStack(config)
    try:
        stack.start()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        stack.stop()  # another process took the port while the stack was starting
        print(port_in_use_message(config.port), file=sys.stderr)
        return CANNOT_START
    print(f"provider: {config.provider}" + (f" (sandbox at {stack.sandbox.url})" if stack.sandbox else ""))
    if config.api_keys == [DEFAULT_API_KEY]:
        print(f"API key (x-api-key): {DEFAULT_API_KEY}  (set VIDEOHOOK_API_KEY to choose one)")
    if not config.webhook_secret:
        print("webhook secret: generated for this run (set VIDEOHOOK_WEBHOOK_SECRET to verify signatures)")
    print("jobs are kept in memory: they are gone when the stack stops")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"videohook ready: {stack.url}", flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    faulthandler.dump_traceback_later(SLOW_STOP_SECONDS)
    stack.stop()
    faulthandler.cancel_dump_traceback_later()
    print("videohook stopped", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Why not a normal interpreter exit: executions still in flight run in moto's daemon
    # threads, which may hold locks that the interpreter's teardown then waits on forever
    # (and tearing moto's in-memory state down object by object takes seconds for nothing).
    # Everything the stack owns is stopped; nothing is left to clean up.
    os._exit(code)
