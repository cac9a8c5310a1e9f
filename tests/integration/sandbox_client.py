"""Talking to a sandbox provider in tests: its create paths, a bearer key, create and poll.

Shared by tests/integration/test_sandbox_*.py; the paths are spelled here, apart from
the sandbox's own code, as the wire contracts (docs/providers.md §1-§3) state them.
"""

from __future__ import annotations

import contextlib
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer

REPO_ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key"}
CREATE_PATHS = {
    "xai": "/v1/videos/generations",
    "cometapi": "/grok/v1/videos/generations",
    "aimlapi": "/v2/video/generations",
}
# One TLS context for every client: building one per httpx.Client costs ~0.2 s (everything here is http).
TLS = ssl.create_default_context()


def client_for(srv: SandboxServer, **options: Any) -> httpx.Client:
    """A client of ``srv`` sending the bearer key (``headers={}`` for none)."""
    return httpx.Client(**{"base_url": srv.url, "headers": AUTH, "timeout": 10, "verify": TLS, **options})


def body_for(contract: str, prompt: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt, **fields}
    if contract == "aimlapi":
        body.setdefault("model", "x-ai/grok-imagine-video")
    return body


def submit(client: httpx.Client, contract: str, prompt: str, **fields: Any) -> httpx.Response:
    return client.post(CREATE_PATHS[contract], json=body_for(contract, prompt, **fields))


def job_id_of(contract: str, response: httpx.Response) -> str:
    """The id an accepted create answers with, checking the contract's answer shape."""
    assert response.status_code == 200, response.text
    payload = response.json()
    if contract == "aimlapi":
        assert payload["status"] == "queued"
        return payload["id"]
    assert set(payload) == {"request_id"}
    return payload["request_id"]


def create(client: httpx.Client, contract: str, prompt: str, **fields: Any) -> str:
    return job_id_of(contract, submit(client, contract, prompt, **fields))


def poll(client: httpx.Client, contract: str, job_id: str) -> httpx.Response:
    if contract == "aimlapi":
        return client.get("/v2/video/generations", params={"generation_id": job_id})
    return client.get(("/grok/v1/videos/" if contract == "cometapi" else "/v1/videos/") + job_id)


def poll_until(
    client: httpx.Client,
    contract: str,
    job_id: str,
    done: Callable[[httpx.Response], bool],
    timeout: float = 5,
) -> tuple[httpx.Response, list[httpx.Response]]:
    seen: list[httpx.Response] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = poll(client, contract, job_id)
        seen.append(response)
        if done(response):
            return response, seen
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} not done in {timeout}s; last: {seen[-1].status_code} {seen[-1].text}")


def flat_done(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json().get("status") in ("done", "failed", "expired")


def aiml_done(r: httpx.Response) -> bool:
    return r.json()["status"] in ("completed", "error")


@contextlib.contextmanager
def sandbox_process(*options: str) -> Iterator[str]:
    """``python -m sandbox --port 0 --quiet *options`` in a child process: its URL once ready.

    On exit the child is terminated and must exit 0; a watchdog kills it after 15 s.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--quiet", *options],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(15, proc.kill)
    watchdog.start()
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.fullmatch(r"sandbox ready: (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        yield match.group(1)
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        watchdog.cancel()


def video_url(client: httpx.Client, job_id: str) -> str:
    """The video URL of a finished xAI job."""
    return poll(client, "xai", job_id).json()["video"]["url"]


def assert_json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def assert_html_502(response: httpx.Response) -> None:
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.lstrip().startswith("<html>") and "502 Bad Gateway" in response.text
    with pytest.raises(ValueError):
        response.json()
