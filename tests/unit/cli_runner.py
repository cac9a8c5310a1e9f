"""Running the `videohook` command in-process for the CLI's unit tests (tests/unit/test_client_cli*.py)."""

from __future__ import annotations

import io

from videohook_client import VideohookClient, cli

from tests.fakes import CLIENT_API_KEY


def run_cli(
    client: VideohookClient | None, *argv: str, stderr: io.StringIO | None = None
) -> tuple[int, str, str]:
    """`(exit code, stdout, stderr)` of `videohook argv` run with `client`; the API key is never printed."""
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = cli.main(list(argv), client=client, stdout=out, stderr=err)
    assert CLIENT_API_KEY not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()
