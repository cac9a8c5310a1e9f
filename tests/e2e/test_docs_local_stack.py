"""The docs' commands against the local stack: the `curl` lines of README.md and
docs/deploy.md, replayed with httpx, and the architecture diagram against the local
stack's state machines and functions (tests/unit/test_docs.py checks the rest of the
docs, without a stack).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest

from tests.docs_text import DOCS, REPO, blocks, shell_lines

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
            assert answer.json()["status"] == "queued"
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
