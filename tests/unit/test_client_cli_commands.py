"""`videohook`'s subcommands (cli_commands.py): submit (and its --wait, --out), status, list,
cancel and download, their output and exit codes."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes import VIDEO_BYTES, VIDEO_SHA256, job_json, succeeded_json
from tests.unit.cli_runner import run_cli


def test_cli_submit_prints_one_line_or_the_json(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    code, out, err = run_cli(client, "submit", "A candle", "--duration", "2", "--metadata", '{"order": 42}')
    assert (code, err) == (0, "")
    assert out.split() == ["vid_1", "queued", "0%", "2025-01-02T03:04:05Z"]
    body = json.loads(api.requests[0].content)
    assert body == {"prompt": "A candle", "duration": 2, "metadata": {"order": 42}}
    assert api.requests[0].headers["idempotency-key"].startswith("cli-")

    code, out, _ = run_cli(client, "submit", "A candle", "--json", "--idempotency-key", "mine")
    assert code == 0 and json.loads(out) == job_json()
    assert api.requests[1].headers["idempotency-key"] == "mine"


def test_cli_submit_wait_out_downloads_the_video(api, client, tmp_path):
    api.submits_then_polls(job_json(status="running", progress=50), succeeded_json())
    api.serves_video()
    out_file = tmp_path / "v.mp4"
    code, out, err = run_cli(client, "submit", "A candle", "--out", str(out_file), "--poll-interval", "0.01")
    assert code == 0, err
    assert out.split()[:3] == ["vid_1", "succeeded", "100%"]
    assert out_file.read_bytes() == VIDEO_BYTES
    assert "submitted vid_1" in err and "vid_1: running 50%" in err and f"sha256 {VIDEO_SHA256}" in err
    assert "\r" not in err  # stderr is not a terminal: plain lines, no bar


@pytest.mark.parametrize(
    ("final", "message"),
    [
        (
            job_json(status="failed", error={"code": "generation_failed", "message": "boom"}),
            "error: job vid_1 ended failed: generation_failed: boom",
        ),  # fmt: skip
        (job_json(status="expired", error={"code": "provider_expired", "message": "late"}), "ended expired"),
        (job_json(status="canceled"), "error: job vid_1 ended canceled"),
    ],
)
def test_cli_exit_1_when_the_job_does_not_succeed(api, client, tmp_path, final, message):
    api.submits_then_polls(final)
    code, out, err = run_cli(client, "submit", "p", "--wait", "--out", str(tmp_path / "v.mp4"))
    assert code == 1 and message in err
    assert out.split()[1] == final["status"]
    assert not (tmp_path / "v.mp4").exists()


def test_cli_exit_5_when_waiting_times_out(api, client, clock):
    api.submits_then_polls(job_json(status="running", progress=5))
    code, out, err = run_cli(client, "submit", "p", "--wait", "--timeout", "30")
    assert (code, out) == (5, "")
    assert "error: timed out: job vid_1 did not finish within 30 s (last seen: running, 5%)" in err
    assert "videohook status vid_1" in err


def test_cli_download_and_its_exit_1_without_a_video(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    api.serves_video()
    code, out, err = run_cli(client, "download", "vid_1", "--out", str(tmp_path / "v.mp4"))
    assert (code, out) == (0, "") and err.startswith(f"wrote {tmp_path / 'v.mp4'}")
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO_BYTES
    api.on("GET", "/prod/v1/videos/vid_2", httpx.Response(200, json=job_json("vid_2", "running", 20)))
    code, _, err = run_cli(client, "download", "vid_2", "--out", str(tmp_path / "w.mp4"))
    assert code == 1 and "still running (20%)" in err


def test_cli_status_list_and_cancel(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    code, out, _ = run_cli(client, "status", "vid_1")
    assert code == 0 and out.split() == ["vid_1", "succeeded", "100%", "2025-01-02T03:04:05Z"]
    assert json.loads(run_cli(client, "status", "vid_1", "--json")[1]) == succeeded_json()

    pages = {
        None: {"data": [job_json("vid_3"), job_json("vid_2")], "next_cursor": "c1"},
        "c1": {"data": [job_json("vid_1")], "next_cursor": None},
    }
    api.on("GET", "/prod/v1/videos", lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    code, out, err = run_cli(client, "list", "--limit", "2", "--status", "queued")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["vid_3", "vid_2"]
    assert err == "more: videohook list --status queued --limit 2 --cursor c1\n"
    assert json.loads(run_cli(client, "list", "--json")[1]) == pages[None]
    code, out, _ = run_cli(client, "list", "--all")
    assert [line.split()[0] for line in out.splitlines()] == ["vid_3", "vid_2", "vid_1"]
    code, out, _ = run_cli(client, "list", "--all", "--json")
    assert [job["id"] for job in json.loads(out)["data"]] == ["vid_3", "vid_2", "vid_1"]

    api.on("POST", "/prod/v1/videos/vid_1/cancel", httpx.Response(200, json=job_json(status="canceled")))
    assert run_cli(client, "cancel", "vid_1")[:2] == (0, "vid_1  canceled     0%  2025-01-02T03:04:05Z\n")
