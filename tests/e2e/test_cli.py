"""The `videohook` CLI end to end on the local stack: in-process through `cli.main`, and once as a process."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from videohook_client import cli

from devstack.stack import REPO
from sandbox.mp4 import mp4_sha256

pytestmark = pytest.mark.e2e
WAIT = ("--wait", "--timeout", "60", "--poll-interval", "0.1")


@pytest.fixture
def api_key(api) -> str:
    """The suite's tenant key (tests/conftest.py's API_KEY), as its `api` client sends it."""
    return api.headers["x-api-key"]


@pytest.fixture
def videohook(local_stack, api_key, monkeypatch):
    """Run `videohook ARGV...` in-process; returns (exit code, stdout, stderr).

    The CLI writes to streams of its own: the stack's handlers run in this process too, and
    print their logs and metrics to sys.stdout.
    """
    monkeypatch.setenv("VIDEOHOOK_URL", local_stack.url)
    monkeypatch.setenv("VIDEOHOOK_API_KEY", api_key)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), stdout=out, stderr=err)
        assert api_key not in out.getvalue() + err.getvalue()
        return code, out.getvalue(), err.getvalue()

    return run


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sandbox_job(local_stack, provider_request_id: str) -> dict:
    (job,) = [j for j in local_stack.sandbox.jobs if j["id"] == provider_request_id]
    return job


def _image_sent(sandbox_job: dict) -> str | None:
    body = sandbox_job["body"]
    image = body.get("image")
    return image.get("url") if isinstance(image, dict) else body.get("image_url")


def test_submit_wait_out_downloads_the_sandbox_bytes(videohook, local_stack, tmp_path):
    out_file = tmp_path / "candle.mp4"
    code, out, err = videohook(
        "submit",
        "A candle flickers on a wooden table. sandbox:bytes=3MiB",
        "--duration", "2", "--resolution", "480p", "--metadata", '{"order": 42}',
        *WAIT, "--out", str(out_file), "--json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["progress"] == 100 and job["metadata"] == {"order": 42}
    video = job["video"]
    expected = mp4_sha256(job["provider_request_id"], video["bytes"])
    assert video["bytes"] == 3 * 2**20 and out_file.stat().st_size == video["bytes"]
    assert _sha256(out_file) == video["sha256"] == expected
    assert f"submitted {job['id']}" in err and f"wrote {out_file}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["candle.mp4"]

    # `download` fetches the same bytes again, into a directory as <id>.mp4.
    code, out, err = videohook("download", job["id"], "--out", str(tmp_path))
    assert (code, out) == (0, ""), err
    assert _sha256(tmp_path / f"{job['id']}.mp4") == expected


def test_the_installed_entry_point_submits_waits_and_downloads(local_stack, api_key, tmp_path):
    executable = Path(sys.executable).with_name("videohook")
    assert executable.exists(), f"{executable}: the [project.scripts] entry point is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOHOOK_")}
    env.update(VIDEOHOOK_URL=local_stack.url, VIDEOHOOK_API_KEY=api_key)
    out_file = tmp_path / "lake.mp4"
    done = subprocess.run(
        [
            str(executable),
            "submit",
            "A quiet lake at dawn.",
            "--duration",
            "1",
            *WAIT,
            "--out",
            str(out_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    job_id, status, progress, _created = done.stdout.split()
    assert (status, progress) == ("succeeded", "100%")
    job = httpx.get(f"{local_stack.url}/v1/videos/{job_id}", headers={"x-api-key": api_key}).json()
    assert _sha256(out_file) == job["video"]["sha256"]
    assert _sha256(out_file) == mp4_sha256(job["provider_request_id"], job["video"]["bytes"])
    assert api_key not in done.stdout + done.stderr

    usage = subprocess.run([str(executable), "submit"], env=env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and "PROMPT" in usage.stderr


def test_submit_image_file_sends_it_inline(videohook, local_stack):
    code, out, err = videohook(
        "submit", "Animate the clouds drifting.", "--image", str(REPO / "events" / "first-frame.png"),
        "--duration", "1", "--resolution", "720p", "--aspect-ratio", "16:9", *WAIT, "--json",
    )  # fmt: skip
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["aspect_ratio"] == "16:9"
    assert job["image"]["url"].startswith("data:image/png;base64,")
    assert _image_sent(_sandbox_job(local_stack, job["provider_request_id"])).startswith("<data URI redacted")


def test_status_prints_one_line_or_the_json(videohook):
    code, out, _ = videohook("submit", "A red kite in the wind.", "--duration", "1")
    assert code == 0
    job_id, status, progress, created = out.split()
    assert job_id.startswith("vid_") and status == "running" and progress == "0%" and created[:2] == "20"

    code, out, _ = videohook("status", job_id)
    assert code == 0 and out.split()[0] == job_id and out.split()[1] in ("queued", "running", "succeeded")
    code, out, _ = videohook("status", job_id, "--json")
    assert code == 0 and json.loads(out)["id"] == job_id


def test_api_refusals_exit_3_with_the_error_line(videohook, local_stack, monkeypatch):
    before = len(local_stack.sandbox.jobs)
    code, out, err = videohook("submit", "A candle.", "--duration", "99")
    assert (code, out) == (3, "")
    assert re.fullmatch(r"error: [a-z_]+: .+ \(field: duration\)\n", err), err

    code, out, err = videohook("status", "vid_doesnotexist")
    assert (code, out) == (3, "") and err.startswith("error: not_found: ")

    monkeypatch.setenv("VIDEOHOOK_API_KEY", "vh_not_a_tenant")
    code, _, err = videohook("status", "vid_doesnotexist")
    assert code == 3 and err.startswith("error: forbidden: ") and "vh_not_a_tenant" not in err
    assert len(local_stack.sandbox.jobs) == before


def test_a_failed_job_exits_1(videohook, tmp_path):
    out_file = tmp_path / "storm.mp4"
    code, out, err = videohook(
        "submit", "A storm at sea sandbox:outcome=failed", "--duration", "1", *WAIT, "--out", str(out_file)
    )
    assert code == 1
    assert out.split()[1] == "failed"
    assert re.search(r"error: job vid_\S+ ended failed: generation_failed: ", err), err
    assert not out_file.exists()


def test_waiting_too_long_exits_5(videohook):
    code, out, err = videohook(
        "submit", "A slow sunset sandbox:seconds=600", "--duration", "1", "--wait", "--timeout", "0.5"
    )
    assert (code, out) == (5, "")
    job_id = re.search(r"submitted (vid_\S+)", err).group(1)
    assert f"error: timed out: job {job_id} did not finish within 0.5 s" in err


def test_missing_configuration_exits_2(videohook, monkeypatch):
    monkeypatch.delenv("VIDEOHOOK_API_KEY")
    code, _, err = videohook("list")
    assert code == 2 and err.startswith("error: VIDEOHOOK_API_KEY is not set")


# ---- list, cancel and uploads (issue 3, items 5 and 6) --------------------------


def test_list_pages_newest_first_without_gaps(videohook):
    tag = f"list-{time.monotonic_ns()}"
    created = []
    for index in range(3):
        code, out, _ = videohook("submit", f"A paper boat {tag} {index} sandbox:seconds=600", "--json")
        assert code == 0
        created.append(json.loads(out)["id"])

    code, out, _ = videohook("list", "--limit", "2", "--json")
    assert code == 0
    first = json.loads(out)
    assert [job["id"] for job in first["data"]] == created[::-1][:2] and first["next_cursor"]
    code, out, err = videohook("list", "--limit", "2", "--cursor", first["next_cursor"], "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["data"][0]["id"] == created[0]

    code, out, _ = videohook("list", "--all", "--limit", "2")
    ids = [line.split()[0] for line in out.splitlines()]
    assert len(ids) == len(set(ids)) and ids[:3] == created[::-1]

    code, out, _ = videohook("list", "--status", "succeeded", "--all", "--json")
    assert code == 0 and not {job["id"] for job in json.loads(out)["data"]} & set(created)


def test_cancel_a_running_job_then_cancel_again_exits_3(videohook, tmp_path):
    code, out, _ = videohook(
        "submit", "A long train journey sandbox:seconds=600", "--duration", "1", "--json"
    )
    job_id = json.loads(out)["id"]
    code, out, err = videohook("cancel", job_id)
    assert code == 0, err
    assert out.split()[:2] == [job_id, "canceled"]
    code, out, err = videohook("cancel", job_id)
    assert (code, out) == (3, "") and err.startswith("error: job_finished: ")
    code, out, _ = videohook("status", job_id, "--json")
    assert json.loads(out)["status"] == "canceled"
    code, _, err = videohook("download", job_id, "--out", str(tmp_path / "never.mp4"))
    assert code == 1 and "ended canceled" in err


def test_a_large_image_goes_through_uploads(videohook, local_stack, tmp_path):
    big = tmp_path / "big.png"
    png = (REPO / "events" / "first-frame.png").read_bytes()
    big.write_bytes(png + b"\x00" * (3 * 2**20 + 1024 - len(png)))  # a PNG with trailing bytes, > 3 MiB
    code, out, err = videohook(
        "submit", "Animate the big frame.", "--image", str(big), "--duration", "1", *WAIT, "--json"
    )
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded"
    sent = _image_sent(_sandbox_job(local_stack, job["provider_request_id"]))
    assert sent.startswith("http://127.0.0.1:")  # a presigned GET of the uploaded object, not a data: URI
    assert httpx.get(sent).content == big.read_bytes()
