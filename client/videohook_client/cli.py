"""The `videohook` command: submit, status, list, cancel and download videohook jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, TextIO

from videohook_client import errors
from videohook_client.cli_commands import (
    EXIT_INTEGRITY,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_REFUSED,
    EXIT_SERVER,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)
from videohook_client.cli_output import Io
from videohook_client.cli_parser import build_parser, check_out_path
from videohook_client.client import VideohookClient


def _refused(error: errors.VideohookClientError) -> str:
    text = f"error: {error.describe()}"
    if error.status in (401, 403) and error.code in ("forbidden", "unauthorized"):
        text += "\nhint: check VIDEOHOOK_API_KEY and VIDEOHOOK_URL"
    return text


def _local_file(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    return f"error: {where}{error.strerror or error}"


# What each failure prints on stderr and the exit code it ends with; the first class that
# matches wins, so subclasses come before their bases.
FAILURES: tuple[tuple[type[Exception], int, Callable[[Any], str]], ...] = (
    (errors.VideohookConfigError, EXIT_USAGE, "error: {}".format),
    (errors.VideohookInputError, EXIT_USAGE, "error: {}".format),
    (errors.VideohookClientError, EXIT_REFUSED, _refused),
    (
        errors.VideohookServerError,
        EXIT_SERVER,
        lambda error: f"error: {error.describe()} (HTTP {error.status})",
    ),
    (errors.VideohookConnectionError, EXIT_SERVER, "error: {}".format),
    (errors.VideohookTimeout, EXIT_TIMEOUT, "error: timed out: {}".format),
    (
        errors.VideoIntegrityError,
        EXIT_INTEGRITY,
        "error: integrity check failed: {}; nothing was written".format,
    ),
    (errors.VideoNotReadyError, EXIT_JOB_FAILED, "error: {}".format),
    (errors.VideohookError, EXIT_SERVER, "error: {}".format),
    (OSError, EXIT_USAGE, _local_file),  # a local file: --out not writable, disk full, ...
)


def main(
    argv: Sequence[str] | None = None,
    *,
    client: VideohookClient | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line `argv` and return its exit code (see `videohook --help`).

    `client` replaces the one built from VIDEOHOOK_URL / VIDEOHOOK_API_KEY (it is not closed).
    """
    io = Io(stdout or sys.stdout, stderr or sys.stderr)
    parser = build_parser()
    try:
        with redirect_stdout(io.stdout), redirect_stderr(io.stderr):
            args = parser.parse_args(argv)
            check_out_path(parser, getattr(args, "out", None))
    except SystemExit as exit_:  # argparse: --help, --version (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE

    try:
        own = client is None
        active = client if client is not None else VideohookClient()
        try:
            return args.handler(active, args, io)
        finally:
            if own:
                active.close()
    except KeyboardInterrupt:
        io.err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as error:
        for kind, code, message in FAILURES:
            if isinstance(error, kind):
                io.err(message(error))
                return code
        raise


if __name__ == "__main__":
    sys.exit(main())
