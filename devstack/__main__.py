"""`make dev`: run the local stack in the foreground until interrupted."""

from __future__ import annotations

import signal
import threading

from devstack.stack import DEFAULT_API_KEY, LocalStack, LocalStackConfig


def main() -> int:
    config = LocalStackConfig.from_env()
    stack = LocalStack(config).start()
    print(f"provider: {config.provider}" + (f" (sandbox at {stack.sandbox.url})" if stack.sandbox else ""))
    if config.api_keys == [DEFAULT_API_KEY]:
        print(f"API key (x-api-key): {DEFAULT_API_KEY}  (set VIDEOHOOK_API_KEY to choose one)")
    if not config.webhook_secret:
        print("webhook secret: generated for this run (set VIDEOHOOK_WEBHOOK_SECRET to verify signatures)")
    print(f"videohook ready: {stack.url}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
