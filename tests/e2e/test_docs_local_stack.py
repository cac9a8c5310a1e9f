"""The docs' commands against the local stack: every runnable block of README.md and
docs/*.md run as written (tests/docs_text.py says which blocks are runnable), the
docs/webhooks.md receiver verifying a real delivery, the `curl` lines of README.md and
docs/deploy.md replayed with httpx, and the architecture diagram against the local
stack's state machines and functions (tests/unit/test_docs.py checks the rest of the
docs, without a stack).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.docs_text import DOCS, REPO, Block, all_code_blocks, blocks, code_blocks, commands, shell_lines

pytestmark = pytest.mark.e2e


def curl_requests(path: Path) -> list[tuple[str, str, dict[str, str], str | None]]:
    """(method, url, headers, body) of every curl line of a document."""
    found = []
    for line in shell_lines(path):
        if not line.startswith("curl "):
            continue
        words = shlex.split(line, posix=True)
        url, headers, body = "", {}, None
        index = 1
        while index < len(words):
            word = words[index]
            if word == "-H":
                name, _, value = words[index + 1].partition(":")
                headers[name.strip().lower()] = value.strip()
                index += 2
            elif word == "-d":
                body = words[index + 1]
                index += 2
            elif word.startswith("-"):
                index += 1
            else:
                url = word
                index += 1
        found.append(("POST" if body is not None else "GET", url, headers, body))
    return found


@pytest.mark.parametrize("doc", ["README.md", "docs/deploy.md"])
def test_the_curl_lines_work_against_the_local_stack(local_stack, doc: str) -> None:
    from tests.conftest import API_KEY

    requests = curl_requests(REPO / doc)
    assert [method for method, *_ in requests][:2] == ["POST", "GET"]
    job_id = None
    for method, url, headers, body in requests:
        url = url.replace("http://127.0.0.1:8787/", "${API_URL}").replace("${API_URL}", f"{local_stack.url}/")
        if job_id:
            url = url.replace("vid_01k...", job_id)
        headers = {k: API_KEY if v in ("$API_KEY", "vh_local_dev_key") else v for k, v in headers.items()}
        answer = httpx.request(method, url, headers=headers, content=body, timeout=30)
        if method == "POST":
            assert answer.status_code == 202, answer.text
            assert answer.json()["status"] == "running"
            job_id = answer.json()["id"]
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["id"] == job_id


def test_the_architecture_diagram_matches_the_deployed_state_machines_and_functions(local_stack) -> None:
    import boto3

    (diagram,) = blocks(DOCS / "architecture.md", "mermaid")
    sfn = boto3.client("stepfunctions")
    states: set[str] = set()
    for machine in sfn.list_state_machines()["stateMachines"]:
        definition = json.loads(
            sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
        )
        states |= set(definition["States"])
    shown = set(re.findall(r"\w+\[(\w+)(?:<br/>|\])", diagram)) | set(re.findall(r"\{(\w+)\}", diagram))
    shown |= set(re.findall(r"\(\[(\w+)\]\)", diagram))
    assert states <= shown, states - shown
    handlers = {f["Handler"] for f in boto3.client("lambda").list_functions()["Functions"]}
    drawn = {f"{name}.handler" for name in re.findall(r"(handlers\.\w+)", diagram)}
    assert drawn == handlers


# ---- every runnable block, as written -------------------------------------------------

# What the docs assume and the test stack differs in: `make dev`'s URL and key, the receiver's port.
DEV_URL = "http://127.0.0.1:8787"
DEV_KEY = "vh_local_dev_key"
RECEIVER_URL = "http://127.0.0.1:8000"
JOB_PLACEHOLDER = "vid_01k..."  # "the id the command above answered"
BLOCK_TIMEOUT = 180


def is_receiver_walkthrough(block: Block) -> bool:
    """docs/webhooks.md's receiver, its start command and the job that reports to it: run
    together by test_the_webhooks_receiver_verifies_a_real_delivery."""
    return "serve_forever" in block.code or "receiver.py" in block.code or RECEIVER_URL in block.code


RUNNABLE = [block for block in all_code_blocks() if block.runnable]


def reader_env(local_stack, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A reader's shell at the repository's root: .venv/bin on PATH, the local stack's URL and
    key exported (the README's CLI block, deploy.md's step 7), and the stack's webhook secret."""
    from tests.conftest import API_KEY

    (tmp_path / "events").symlink_to(REPO / "events")  # the docs name the repository's sample image
    return {
        **os.environ,
        "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIDEOHOOK_URL": local_stack.url,
        "VIDEOHOOK_API_KEY": API_KEY,
        "API_URL": f"{local_stack.url}/",
        "API_KEY": API_KEY,
        "VIDEOHOOK_WEBHOOK_SECRET": local_stack.webhook_secret,
        **extra,
    }


def for_the_test_stack(code: str, local_stack, receiver_url: str = RECEIVER_URL) -> str:
    from tests.conftest import API_KEY

    code = code.replace(DEV_URL, local_stack.url).replace(DEV_KEY, API_KEY)
    return code.replace(RECEIVER_URL, receiver_url)


def job_ids(output: str) -> list[str]:
    return re.findall(r'"id":\s*"(vid_\w+)"', output)


def run_shell_block(block: Block, local_stack, cwd: Path, env: dict[str, str]) -> str:
    """Paragraph by paragraph (blank lines part them), each with `bash -euo pipefail`; a
    `vid_01k...` in a command is the job the block's output named last."""
    output, job_id = "", None
    for paragraph in block.code.split("\n\n"):
        script = for_the_test_stack(paragraph, local_stack)
        if any(JOB_PLACEHOLDER in line for line in commands(script)):
            assert job_id, f"{block.name}: {JOB_PLACEHOLDER} before any job was created"
            script = script.replace(JOB_PLACEHOLDER, job_id)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
        assert done.returncode == 0, (block.name, script, done.stdout, done.stderr)
        # curl -s exits 0 on a 4xx: no answer of the block is an error body.
        assert not re.search(r'^\{\s*"error":\s*\{', done.stdout, re.MULTILINE), (block.name, done.stdout)
        output += done.stdout
        job_id = (job_ids(done.stdout) or [job_id])[-1]
    return output


def run_python_block(block: Block, cwd: Path, env: dict[str, str]) -> str:
    """As a script, with the project's venv (this interpreter)."""
    script = cwd / "block.py"
    script.write_text(block.code)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT
    )
    assert done.returncode == 0, (block.name, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.parametrize(
    "block", [b for b in RUNNABLE if not is_receiver_walkthrough(b)], ids=lambda block: block.name
)
def test_each_runnable_block_runs_as_written(local_stack, block: Block, tmp_path: Path) -> None:
    env = reader_env(local_stack, tmp_path)
    if block.lang == "python":
        run_python_block(block, tmp_path, env)
    else:
        run_shell_block(block, local_stack, tmp_path, env)
    # The videos a block says it writes are there.
    for name in re.findall(r'--out (\S+)|"(\w+\.mp4)"', block.code):
        written = tmp_path / "".join(name)
        assert written.is_file() and written.stat().st_size > 0, (block.name, written.name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else process.returncode
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_the_webhooks_receiver_verifies_a_real_delivery(local_stack, tmp_path: Path) -> None:
    """docs/webhooks.md, "Try it against the local stack", as a reader does it: the receiver
    saved as receiver.py and started with the page's command (the stack's secret exported),
    then the page's job, whose events it must verify (it answers 401 otherwise) and print."""
    from tests.conftest import API_KEY

    walkthrough = [block for block in code_blocks(DOCS / "webhooks.md") if is_receiver_walkthrough(block)]
    (receiver,) = [block for block in walkthrough if block.lang == "python"]
    (start,) = [block for block in walkthrough if block.lang == "sh" and "receiver.py" in block.code]
    (submit,) = [block for block in walkthrough if block.lang == "sh" and RECEIVER_URL in block.code]
    assert receiver.runnable and start.runnable and submit.runnable
    (tmp_path / "receiver.py").write_text(receiver.code)
    port = free_port()
    env = reader_env(local_stack, tmp_path, PORT=str(port))
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", start.code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: bash and the receiver stop together
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        wait_for_port(port, process)
        script = for_the_test_stack(submit.code, local_stack, receiver_url=f"http://127.0.0.1:{port}")
        answer = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert answer.returncode == 0, answer.stderr
        job = json.loads(answer.stdout)
        printed = lines.get(timeout=120).rstrip("\n")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert printed.startswith(f"{job['id']} ready: http://127.0.0.1:"), printed
    final = httpx.get(f"{local_stack.url}/v1/videos/{job['id']}", headers={"x-api-key": API_KEY}).json()
    assert final["status"] == "succeeded"
    attempts = httpx.get(
        f"{local_stack.url}/v1/videos/{job['id']}/deliveries", headers={"x-api-key": API_KEY}
    ).json()["data"]
    # Every event reached the receiver and verified: it answers 204 only then (401 otherwise).
    assert {"video.queued", "video.succeeded"} <= {attempt["event_type"] for attempt in attempts}
    assert all(attempt["status_code"] == 204 and attempt["delivered"] for attempt in attempts), attempts
