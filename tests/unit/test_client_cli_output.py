"""What `videohook` prints (cli_output.py): the progress bar on a terminal."""

from __future__ import annotations

import io

from tests.fakes import job_json, succeeded_json
from tests.unit.cli_runner import run_cli


class Tty(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_cli_progress_bar_on_a_terminal(api, client):
    api.submits_then_polls(job_json(status="running", progress=50), succeeded_json())
    code, _, err = run_cli(client, "submit", "p", "--wait", stderr=Tty())
    assert code == 0
    assert "\r[###############---------------]  50%  running" in err
    assert "\r[##############################] 100%  succeeded" in err
    assert err.endswith("\n")
