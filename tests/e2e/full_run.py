"""A representative full run of the local stack, for inspecting everything it logs.

`python -m tests.e2e.full_run` starts the local stack from the environment
(`LocalStackConfig.from_env`, like `make demo`), runs `make demo`'s two jobs
(`devstack.demo.run_demo`), then a job the provider fails, a provider auth error at
submit and at a poll (the sandbox starts refusing videohook's key), and webhooks whose
first delivery is refused (503) and retried. Everything it logs goes to this process's
stdout and stderr: the product's Powertools JSON lines (stdout, from DEBUG), every other
Python logger from INFO (the devstack's and the sandbox's from DEBUG), moto's request log
and the sandbox's. The last line is `{"ok": ..., "problems": [...]}`; the exit status is 1 if a
scenario did not end as expected.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock, Thread
from typing import Any

import httpx
from standardwebhooks import Webhook

from devstack.demo import run_demo
from devstack.stack import LocalStack, LocalStackConfig

TIMEOUT_SECONDS = 60
NOT_TERMINAL = ("video.queued", "video.running")


class RefuseFirstReceiver:
    """A loopback webhook endpoint that answers 503 to each event's first delivery, then 204."""

    def __init__(self) -> None:
        self.accepted: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.refused: list[str] = []  # webhook-ids
        lock = Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook_id = self.headers.get("webhook-id", "")
                with lock:
                    first = webhook_id not in receiver.refused
                    if first:
                        receiver.refused.append(webhook_id)
                self.send_response(503 if first else 204)
                self.end_headers()
                if not first:
                    receiver.accepted.put(({k.lower(): v for k, v in self.headers.items()}, body))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/videohook"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _terminal_event(receiver: RefuseFirstReceiver, verifier: Webhook, job_id: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            headers, body = receiver.accepted.get(timeout=0.5)
        except queue.Empty:
            continue
        event = verifier.verify(body, headers)
        if event["data"]["id"] == job_id and event["type"] not in NOT_TERMINAL:
            return event
    return None


def run_scenarios(stack: LocalStack) -> list[str]:
    """A provider failure, provider auth errors and retried webhooks; the problems found."""
    problems: list[str] = []
    receiver = RefuseFirstReceiver()
    verifier = Webhook(stack.webhook_secret)
    api = httpx.Client(base_url=stack.url, headers={"x-api-key": stack.config.api_keys[0]}, timeout=30)

    def submit(prompt: str) -> httpx.Response:
        return api.post("/v1/videos", json={"prompt": prompt, "duration": 1, "webhook_url": receiver.url})

    def expect_failure(name: str, job_id: str, code: str) -> None:
        event = _terminal_event(receiver, verifier, job_id)
        if event is None:
            problems.append(f"{name}: no terminal webhook within {TIMEOUT_SECONDS} s")
        elif (event["type"], (event["data"].get("error") or {}).get("code")) != ("video.failed", code):
            problems.append(f"{name}: ended {event['type']} {event['data'].get('error')}, not {code}")
        else:
            print(f"{name}: {job_id} ended {event['type']} ({code}) after a retried webhook", flush=True)

    try:
        answer = submit("A storm at sea sandbox:outcome=failed")
        if answer.status_code != 202:
            problems.append(f"provider failure: submit answered {answer.status_code} {answer.text}")
        else:
            expect_failure("provider failure", answer.json()["id"], "generation_failed")

        # A job the provider would work on for days, then a provider that refuses videohook's key.
        answer = submit("A glacier sandbox:seconds=100000")
        stack.sandbox.api_key = "wrong-" + secrets.token_urlsafe(16)
        if answer.status_code != 202:
            problems.append(f"auth error at poll: submit answered {answer.status_code} {answer.text}")
        else:
            expect_failure("auth error at poll", answer.json()["id"], "provider_auth_failed")
        refused = submit("A lantern in the fog")
        if refused.status_code != 502 or refused.json()["error"]["code"] != "provider_auth_failed":
            problems.append(f"auth error at submit: answered {refused.status_code} {refused.text}")
        else:
            print(f"auth error at submit: answered {refused.status_code} {refused.json()}", flush=True)
        if len(receiver.refused) < 2:
            problems.append(f"expected retried webhooks, refused only {receiver.refused}")
    finally:
        stack.sandbox.api_key = stack.config.sandbox_api_key or None
        receiver.stop()
        api.close()
    return problems


def _configure_logging() -> None:
    """Every logger's records from INFO on stderr; the devstack's and the sandbox's from DEBUG.

    Not botocore's DEBUG: it dumps every request and response body on the wire by design
    (the devstack's CreateSecret too); Lambda never enables it.
    """
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )
    for name in ("devstack", "sandbox"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def main() -> int:
    _configure_logging()
    config = LocalStackConfig.from_env()
    config.port = 0
    print(f"starting the local stack (provider: {config.provider}) ...", flush=True)
    stack = LocalStack(config).start()
    # start() puts the template's POWERTOOLS_LOG_LEVEL (INFO; DEBUG in config/staging.example.json)
    # in the environment, and the API handler's import sets the Powertools logger to it: the
    # product logs at DEBUG from here on, which every module's logger inherits.
    logging.getLogger("videohook").setLevel(logging.DEBUG)
    logging.getLogger("werkzeug").setLevel(logging.INFO)  # moto's request log, which start() silences
    stack.sandbox.log_requests = True
    try:
        print(f"videohook ready: {stack.url}", flush=True)
        problems = run_demo(stack)
        problems += run_scenarios(stack)
    finally:
        stack.stop()
    print(json.dumps({"ok": not problems, "problems": problems}), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
