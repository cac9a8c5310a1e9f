"""The logs of a full run contain neither the provider key nor the webhook secret.

A representative run (tests/e2e/full_run.py: `make demo`'s jobs, a provider failure,
provider auth errors at submit and at a poll, webhooks delivered on a retry) runs in a
subprocess with distinctive values for both secrets; its whole stdout and stderr (Powertools'
JSON lines, every Python logger, moto's and the sandbox's request logs, the devstack's prints)
are searched for them in every encoding a log line could carry them in.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from urllib.parse import quote, quote_plus

import pytest

from devstack.stack import REPO

pytestmark = pytest.mark.e2e
RUN_TIMEOUT_SECONDS = 240
# What the child must not inherit from this process (a session stack's endpoint and settings).
INHERITED_PREFIXES = ("AWS_", "VIDEOHOOK_", "MOTO_", "POWERTOOLS_", "SANDBOX_")


def _base64_cores(data: bytes) -> set[str]:
    """The characters of data's base64 that are the same wherever data sits in a longer encoded
    string: one per alignment (0, 1, 2 bytes), less the groups shared with its neighbours."""
    cores = set()
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode()
        core = encoded[4 if shift else 0 : -4]
        cores |= {core, core.translate(str.maketrans("+/", "-_"))}  # and the URL-safe alphabet
    return cores


def secret_forms(secret: str) -> set[str]:
    """`secret` as it could appear in a log: itself, URL- and JSON-escaped, hex, base64."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms |= {secret.encode().hex(), *_base64_cores(secret.encode())}
    if secret.startswith("whsec_"):  # a Standard Webhooks secret: also its signing key's bytes
        key = secret.removeprefix("whsec_")
        raw = base64.b64decode(key)
        forms |= {key, quote(key, safe=""), raw.hex(), *_base64_cores(raw)}
    return forms


@pytest.fixture(scope="module")
def full_run():
    """The run's secrets and everything it wrote."""
    provider_key = "sk-sandbox-" + secrets.token_urlsafe(32)
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)}
    env.update(
        SANDBOX_API_KEY=provider_key,
        VIDEOHOOK_WEBHOOK_SECRET=webhook_secret,
        VIDEOHOOK_TIME_SCALE="0.02",
    )
    run = subprocess.run(
        [sys.executable, "-m", "tests.e2e.full_run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    return {"provider key": provider_key, "webhook secret": webhook_secret}, run


def test_a_full_run_logs_neither_the_provider_key_nor_the_webhook_secret(full_run):
    secret_values, run = full_run
    output = run.stdout + run.stderr
    # The run did what it should, with these secrets: the sandbox accepted only this provider
    # key, and the demo verified every webhook's signature with this webhook secret.
    assert run.returncode == 0, output[-4000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"ok": True, "problems": []}
    assert "2/2 jobs verified end to end" in run.stdout

    # What was searched is the run's real log, not an empty one.
    records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"level"')]
    attempts = [r for r in records if r["message"] == "webhook attempt"]
    assert {r["function_name"] for r in records} >= {
        "videohook-api",
        "Videohook-PollProviderFunction",
        "Videohook-FinalizeVideoFunction",
        "Videohook-PublishEventFunction",
        "Videohook-DeliverWebhookFunction",
    }
    assert {(r["status_code"], r["delivered"]) for r in attempts} >= {(503, False), (204, True)}
    assert '"error_code":"provider_auth_failed"' in run.stdout
    assert " INFO werkzeug " in run.stderr  # moto's request log
    # The sandbox's request log: its 401s to the submit and to the poll.
    assert '"POST /v1/videos/generations HTTP/1.1" 401' in run.stderr
    assert re.search(r'"GET /v1/videos/\S+ HTTP/1.1" 401', run.stderr)

    leaked = {
        name: sorted(form for form in secret_forms(value) if form in output)
        for name, value in secret_values.items()
    }
    assert leaked == {name: [] for name in secret_values}, "a secret is in the run's logs"
