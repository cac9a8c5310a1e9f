"""`make dev`'s entry point as a user runs it: a separate process on 127.0.0.1:$VIDEOHOOK_PORT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack.stack import REPO

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dev_stack_prints_its_ready_line_and_serves_the_api():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIDEOHOOK_", "MOTO_"))}
    env.update(VIDEOHOOK_PORT=str(port), VIDEOHOOK_API_KEY="vh_dev_test", VIDEOHOOK_TIME_SCALE="0.02")
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
