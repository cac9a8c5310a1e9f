"""What `videohook` prints (cli_output.py): the progress bar on a terminal."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from videohook_client.cli_output import Progress

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


def test_the_bar_advances_between_polls_toward_the_expected_end_and_snaps_to_reports(api, client, clock):
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    start = clock()

    def wall() -> datetime:  # the server's time, on the test's clock
        return created + timedelta(seconds=clock() - start)

    expected_at_20s = job_json(status="running", estimated_done_at="2025-01-02T03:04:25Z")
    reported_60 = job_json(
        status="running",
        progress=60,
        updated_at="2025-01-02T03:04:10Z",  # 60% reported 5 s in
        estimated_done_at="2025-01-02T03:04:20Z",  # and then expected at 15 s
    )
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=expected_at_20s),  # polls at 0, 2 and 5 s
        httpx.Response(200, json=expected_at_20s),
        httpx.Response(200, json=reported_60),
        httpx.Response(200, json=succeeded_json()),  # at 9.5 s
    )
    err = Tty()
    progress = Progress(err, clock=clock, wall_clock=wall)
    client.wait("vid_1", poll_interval=2.0, max_poll_interval=4.5, on_progress=progress.job)
    progress.close()
    shown = [int(p) for p in re.findall(r"\r\[[#-]+\] +(\d+)%", err.getvalue())]
    assert len(api.requests) == 4
    # Every half second: 5% a second toward the end expected at 20 s (nothing reported), then the
    # report (60%) at 5 s, then the 40% left over the 10 s to the new expected end, then done.
    assert shown == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 60, 62, 64, 66, 68, 70, 72, 74, 76, 100]
    assert "~6s left" in err.getvalue()  # at 9 s (the last tick), expected at 15 s
