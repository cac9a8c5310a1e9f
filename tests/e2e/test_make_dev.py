"""`make dev`'s entry point as a user runs it: a separate process on 127.0.0.1:$VIDEOHOOK_PORT.

Its console stays readable while `make demo`'s jobs run against it (the ready line, requests,
job transitions); the metrics and the handlers' logs are all in its log file
(devstack.local_output). A busy port is one line and a non-zero exit, no traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack.demo import run_demo
from devstack.stack import REPO, new_webhook_secret

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(**variables: str) -> dict[str, str]:
    inherited = ("AWS_", "VIDEOHOOK_", "MOTO_", "POWERTOOLS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(variables)
    return env


def test_dev_stack_prints_its_ready_line_and_serves_the_api(tmp_path):
    port = _free_port()
    log_file = tmp_path / "dev.log"
    secret = new_webhook_secret()
    env = _environment(
        VIDEOHOOK_PORT=str(port),
        VIDEOHOOK_API_KEY="vh_dev_test",
        VIDEOHOOK_TIME_SCALE="0.02",
        VIDEOHOOK_LOG_FILE=str(log_file),
        VIDEOHOOK_WEBHOOK_SECRET=secret,
    )
    # A deployment setting from the environment beats the template's (devstack.function_environment).
    env.update(VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS="1234")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(line.decode() for line in process.stdout), daemon=True
    )
    reader.start()
    try:
        ready = None
        deadline = time.monotonic() + 120
        while ready is None and time.monotonic() < deadline:
            time.sleep(0.2)
            ready = next(
                (line.split(": ", 1)[1].strip() for line in output if line.startswith("videohook ready: ")),
                None,
            )
        assert ready == f"http://127.0.0.1:{port}"
        # A fresh process: the first requests import the handlers' modules (several seconds
        # on a loaded machine), more than httpx's 5 s default allows.
        with httpx.Client(base_url=ready, headers={"x-api-key": "vh_dev_test"}, timeout=60) as api:
            created = api.post("/v1/videos", json={"prompt": "hi"})
            assert created.status_code == 202, created.text
            job_id = created.json()["id"]
            deadline = time.monotonic() + 60
            while (job := api.get(f"/v1/videos/{job_id}").json())["status"] != "succeeded":
                assert time.monotonic() < deadline, job
                time.sleep(0.3)
            query = parse_qs(urlsplit(job["video"]["download_url"]).query)
            assert query["X-Amz-Expires"] == ["1234"]
        # `make demo`'s jobs, against this stack: webhooks verified, videos downloaded and hashed.
        config = SimpleNamespace(api_keys=["vh_dev_test"])
        stack = SimpleNamespace(url=ready, config=config, webhook_secret=secret, sandbox=None)
        assert run_demo(stack) == []
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            code = None
        reader.join(timeout=5)
    # On a slow stop the process prints every thread's stack (devstack.__main__.SLOW_STOP_SECONDS).
    assert code == 0 and output[-1] == "videohook stopped\n", "".join(output[-200:])

    console = "".join(output)
    hint = "(--verbose or VIDEOHOOK_LOG_LEVEL=DEBUG shows them here)"
    assert output[0] == f"logs and metrics: {log_file} {hint}\n"
    assert "jobs are kept in memory: they are gone when the stack stops\n" in output
    assert [line for line in output if line.lstrip().startswith("{")] == [], console
    assert re.search(r"^\d\d:\d\d:\d\d POST /v1/videos 202$", console, re.MULTILINE), console
    assert re.search(rf"^\d\d:\d\d:\d\d {job_id} succeeded$", console, re.MULTILINE), console
    # The file has every metric and log line: the three jobs' submits, outcomes and webhooks.
    documents = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    metrics = [document for document in documents if "_aws" in document]

    def total(name: str) -> float:  # an EMF value is a number or a list of them
        values = [document.get(name, 0) for document in metrics]
        return sum(sum(v) if isinstance(v, list) else v for v in values)

    assert (total("JobsSubmitted"), total("JobsSucceeded")) == (3, 3)
    assert total("WebhookAttempts") >= 2
    assert any(document.get("message") == "job polled" for document in documents)
    # What went to the file is no more secret-free than the console was (test_secrets_not_logged.py
    # searches a full run's output in every encoding; here, the webhook secret as set).
    written = log_file.read_text()
    assert not [form for form in (secret, secret.removeprefix("whsec_")) if form in console + written]


def test_a_busy_port_is_one_line_and_a_non_zero_exit():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=REPO,
            env=_environment(VIDEOHOOK_PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 2  # README.md: "exits with status 2"
    assert run.stderr == f"port {port} is in use; set VIDEOHOOK_PORT\n"
    assert run.stdout == ""
