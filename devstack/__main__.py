"""`make dev`: run the local stack in the foreground until interrupted."""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading

from devstack.stack import DEFAULT_API_KEY, LocalStack, LocalStackConfig

# A stop that takes longer than this prints every thread's stack, so a user sees what it waits for.
SLOW_STOP_SECONDS = 15


def main() -> int:
    config = LocalStackConfig.from_env()
    stack = LocalStack(config).start()
    print(f"provider: {config.provider}" + (f" (sandbox at {stack.sandbox.url})" if stack.sandbox else ""))
    if config.api_keys == [DEFAULT_API_KEY]:
        print(f"API key (x-api-key): {DEFAULT_API_KEY}  (set VIDEOHOOK_API_KEY to choose one)")
    if not config.webhook_secret:
        print("webhook secret: generated for this run (set VIDEOHOOK_WEBHOOK_SECRET to verify signatures)")
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
    sys.stderr.flush()
    # Why not a normal interpreter exit: executions still in flight run in moto's daemon
    # threads, which may hold locks that the interpreter's teardown then waits on forever
    # (and tearing moto's in-memory state down object by object takes seconds for nothing).
    # Everything the stack owns is stopped; nothing is left to clean up.
    os._exit(code)
