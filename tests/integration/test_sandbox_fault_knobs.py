"""The sandbox's fault knobs themselves (sandbox/faults.py): their global values (``/sandbox/faults``,
the constructor, the command line), directive parsing, the counters, and their documentation."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

import sandbox.faults
from sandbox import KNOBS, SandboxServer
from sandbox.__main__ import main as sandbox_main
from tests.integration.sandbox_client import (
    AUTH,
    CREATE_PATHS,
    REPO_ROOT,
    TLS,
    assert_html_502,
    assert_json_error,
    client_for,
    create,
    poll,
    sandbox_process,
    submit,
    video_url,
)

# --------------------------------------------------------------------------- global faults


def test_faults_endpoint_reads_sets_and_restores(
    instant: SandboxServer, instant_client: httpx.Client
) -> None:
    defaults = instant_client.get("/sandbox/faults").json()
    assert defaults == {key: knob.default for key, knob in KNOBS.items()} | {"seconds": 0.0}
    assert defaults["submit_429"] == 0 and defaults["truncate"] is None

    updated = instant_client.post(
        "/sandbox/faults", json={"submit_429": 1, "retry_after": "none", "bytes": "1MiB"}
    )
    assert updated.status_code == 200
    assert updated.json()["submit_429"] == 1 and updated.json()["retry_after"] is None
    assert instant.faults == updated.json() and instant.default_bytes == 1024**2

    refused = submit(instant_client, "xai", "global")
    assert refused.status_code == 429 and "retry-after" not in refused.headers
    job_id = create(instant_client, "xai", "global")
    assert instant.job(job_id)["bytes"] == 1024**2
    assert create(instant_client, "xai", "own sandbox:submit_429=0")  # a directive overrides the global value

    for bad in ({"submit_429": -1}, {"nope": 1}, {"status_5xx": 404}, {"stall_seconds": 601}, {"bytes": 3}):
        response = instant_client.post("/sandbox/faults", json={"poll_5xx": 1, **bad})
        assert_json_error(response, 400, "invalid_fault")
        assert instant.faults["poll_5xx"] == 0  # all or nothing
    assert_json_error(instant_client.post("/sandbox/faults", json=[1]), 400, "invalid_request")
    assert_json_error(instant_client.post("/sandbox/faults", content=b"{"), 400, "invalid_json")
    assert instant_client.put("/sandbox/faults", json={}).status_code == 405

    assert (
        instant_client.post("/sandbox/faults", json={"submit_429": None}).json()["submit_429"] == 0
    )  # null: default
    restored = instant_client.delete("/sandbox/faults")
    assert restored.json() == {key: knob.default for key, knob in KNOBS.items()}
    assert instant_client.post("/sandbox/reset").status_code == 200
    instant_client.post("/sandbox/faults", json={"poll_5xx": 2})
    assert instant_client.post("/sandbox/reset").status_code == 200
    assert instant.faults["poll_5xx"] == 2  # reset forgets jobs, not faults


def test_global_faults_apply_live_to_jobs_already_submitted(
    instant: SandboxServer, instant_client: httpx.Client
) -> None:
    job_id = create(instant_client, "xai", "x")
    instant.set_faults(poll_html=1, video_404=1)
    assert_html_502(poll(instant_client, "xai", job_id))
    url = video_url(instant_client, job_id)
    assert instant_client.get(url).status_code == 404
    instant.clear_faults()
    assert instant_client.get(url).status_code == 200


def test_global_faults_as_constructor_options() -> None:
    with (
        SandboxServer(time_factor=0, faults={"submit_5xx": 1, "outcome": "expired"}) as server,
        client_for(server) as client,
    ):
        assert submit(client, "xai", "x").status_code == 503
        job_id = create(client, "xai", "x")
        assert poll(client, "xai", job_id).json() == {"status": "expired"}
        server.xai_pending_as_202 = True  # the older attributes are the same knobs
        assert server.faults["pending_202"] is True
    with pytest.raises(ValueError, match="submit_429"):
        SandboxServer(faults={"submit_429": "many"})
    with pytest.raises(ValueError, match="unknown fault knob"):
        SandboxServer(faults={"submit_4299": 1})


@pytest.mark.parametrize(
    "directive",
    [
        "submit_429=-1",
        "submit_429=1.5",
        "status_5xx=404",
        "submit_delay=601",
        "stall_seconds=nan",
        "slow_download_bps=0",
        "pending_202=maybe",
        "retry_after=soon",
        "poll_404_seconds=-1",
        "video_404=x",
    ],
)
def test_bad_directives_are_refused(
    instant: SandboxServer, instant_client: httpx.Client, directive: str
) -> None:
    assert_json_error(submit(instant_client, "xai", f"x sandbox:{directive}"), 400, "invalid_directive")
    assert instant.stats["refused"] == 1 and instant.stats["accepted"] == 0


def test_accepted_refused_and_duplicate_counts(instant: SandboxServer, instant_client: httpx.Client) -> None:
    create(instant_client, "xai", "same")
    create(instant_client, "xai", "same")
    create(instant_client, "cometapi", "same")  # another contract: not the same submission
    create(instant_client, "xai", "same", duration=3)  # another body
    submit(instant_client, "xai", "")  # 400
    with client_for(instant, headers={}) as anonymous:
        assert anonymous.post(CREATE_PATHS["xai"], json={"prompt": "same"}).status_code == 401
    stats = instant_client.get("/sandbox/stats").json()
    assert (stats["accepted"], stats["submissions"], stats["refused"], stats["duplicate_accepted"]) == (
        4,
        4,
        2,
        1,
    )
    assert [job["submit_count"] for job in instant.jobs] == [2, 2, 1, 1]


# --------------------------------------------------------------------------- documentation and CLI


def test_every_knob_is_documented_in_the_docstring_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    doc = sandbox.faults.__doc__ or ""
    documented = set(re.findall(r"^``(\w+)``\s{2,}", doc, flags=re.MULTILINE))
    assert documented == set(KNOBS)
    with pytest.raises(SystemExit) as exited:
        sandbox_main(["--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "--fault KEY=VALUE" in help_text
    for key in KNOBS:
        assert re.search(rf"^  {key}=\S+", help_text, flags=re.MULTILINE), key


def test_cli_fault_options() -> None:
    with (
        sandbox_process("--fault", "submit_429=2", "--fault", "retry_after=none") as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=10, verify=TLS) as cli,
    ):
        faults = cli.get("/sandbox/faults").json()
        assert faults["submit_429"] == 2 and faults["retry_after"] is None
        refused = cli.post("/v1/videos/generations", json={"prompt": "x"})
        assert refused.status_code == 429 and "retry-after" not in refused.headers
        # reconfigured over HTTP, as a test would configure a sandbox in another process
        cli.post("/sandbox/faults", json={"submit_429": 0, "submit_5xx": 1})
        assert cli.post("/v1/videos/generations", json={"prompt": "y"}).status_code == 503

    command = [sys.executable, "-m", "sandbox", "--port", "0", "--quiet"]
    bad = subprocess.run(
        [*command, "--fault", "submit_429=lots"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "submit_429=lots" in bad.stderr
