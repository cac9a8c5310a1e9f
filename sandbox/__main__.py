"""``python -m sandbox --port 8788 --time-factor 1``: run the sandbox provider in the foreground.

Faults for every job: ``--fault submit_429=2 --fault poll_5xx=3`` (or, while it runs,
``POST /sandbox/faults`` with ``{"submit_429": 2}``); for one job: ``sandbox:KEY=VALUE``
anywhere in its prompt.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from sandbox.cometapi import COMET_ENVELOPES
from sandbox.faults import KNOBS, OUTCOMES, faults_help, parse_knob, parse_size
from sandbox.server import SandboxServer


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _fault(text: str) -> tuple[str, str]:
    key, sep, raw = text.partition("=")
    key = key.strip().lower()
    if not sep or key not in KNOBS:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE with KEY one of {', '.join(KNOBS)}")
    try:
        parse_knob(key, raw)  # checked here, parsed again by the server: `none` must stay `none`
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc}") from None
    return key, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=__doc__,
        epilog=faults_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8788, help="port (0 = any free port; default 8788)")
    parser.add_argument("--time-factor", type=float, default=1.0, help="multiplies every generation time")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SANDBOX_API_KEY"),
        help="the only accepted bearer key (default $SANDBOX_API_KEY, else any non-empty key)",
    )
    parser.add_argument("--comet-envelope", choices=COMET_ENVELOPES, default="wrapped")
    parser.add_argument(
        "--xai-pending-as-202", action="store_true", help="answer pending xAI polls 202, empty"
    )
    parser.add_argument("--default-bytes", type=parse_size, default=262144, help="video size (e.g. 64MiB)")
    parser.add_argument("--default-outcome", choices=OUTCOMES, default="succeeded")
    parser.add_argument("--default-seconds", type=float, default=None, help="fixed generation seconds")
    parser.add_argument(
        "--truncate-at", type=parse_size, default=None, help="cut every download after N bytes"
    )
    parser.add_argument(
        "--public-url", default=None, help="base of the video URLs handed out (default: own url)"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a global fault knob (repeatable; the table below)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)

    server = SandboxServer(
        args.host,
        args.port,
        time_factor=args.time_factor,
        api_key=args.api_key,
        comet_envelope=args.comet_envelope,
        xai_pending_as_202=args.xai_pending_as_202,
        default_bytes=args.default_bytes,
        default_outcome=args.default_outcome,
        default_seconds=args.default_seconds,
        truncate_at=args.truncate_at,
        faults=dict(args.fault),
        public_url=args.public_url,
        log_requests=not args.quiet,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    print(f"sandbox ready: {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
