"""`make demo`: the main job end to end on the local stack.

Starts the local stack, submits a text-to-video and an image-to-video job
(the image sent as a data URI of `events/first-frame.png`), receives both
webhooks on a loopback receiver, verifies their signatures, downloads each
video from its `download_url`, checks its SHA-256, prints a summary, and
exits 0 only if all of that held. Metrics and the handlers' logs go to a file
(devstack.local_output); `--verbose` prints them too.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import time
from typing import Any

import httpx
from standardwebhooks import Webhook

from devstack.local_output import VERBOSE_HELP, LocalOutput
from devstack.receiver import WebhookReceiver
from devstack.stack import REPO, LocalStack, LocalStackConfig

DEMO_TIME_SCALE = 0.05
WEBHOOK_TIMEOUT_SECONDS = 90
# Where the demo's metrics and the handlers' logs go (VIDEOHOOK_LOG_FILE chooses another file).
DEMO_LOG_FILE = REPO / "build" / "demo.log"


def run_demo(stack: LocalStack) -> list[str]:
    """Returns the problems found; empty means every check held."""
    problems: list[str] = []
    receiver = WebhookReceiver()
    image = base64.b64encode((REPO / "events" / "first-frame.png").read_bytes()).decode()
    jobs = {
        "text-to-video": {
            "prompt": "A candle flickers on a wooden table.",
            "duration": 2,
            "resolution": "480p",
        },
        "image-to-video": {
            "prompt": "Animate the clouds drifting across the sky.",
            "image": {"url": f"data:image/png;base64,{image}"},
            "duration": 2,
            "resolution": "720p",
            "aspect_ratio": "16:9",
        },
    }
    api = httpx.Client(base_url=stack.url, headers={"x-api-key": stack.config.api_keys[0]}, timeout=30)
    started = time.monotonic()
    ids: dict[str, str] = {}
    for name, body in jobs.items():
        answer = api.post(
            "/v1/videos", json={**body, "webhook_url": receiver.url, "metadata": {"demo": name}}
        )
        if answer.status_code != 202:
            problems.append(f"{name}: submit answered {answer.status_code} {answer.text}")
            continue
        ids[answer.json()["id"]] = name
        print(f"submitted {name}: {answer.json()['id']} ({answer.json()['status']})")

    verifier = Webhook(stack.webhook_secret)
    events: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + WEBHOOK_TIMEOUT_SECONDS
    while len(events) < len(ids) and time.monotonic() < deadline:
        delivery = receiver.next(timeout=1)
        if delivery is None:
            continue
        headers, body = delivery
        try:
            event = verifier.verify(body, headers)
        except Exception as error:  # noqa: BLE001 - any verification failure is a finding
            problems.append(f"webhook signature did not verify: {error}")
            continue
        if event["data"]["status"] in ("succeeded", "failed", "expired", "canceled"):
            events[event["data"]["id"]] = event  # video.queued and video.running arrive first
    receiver.stop()

    rows = []
    for job_id, name in ids.items():
        event = events.get(job_id)
        if event is None:
            problems.append(f"{name}: no webhook within {WEBHOOK_TIMEOUT_SECONDS} s")
            continue
        job = api.get(f"/v1/videos/{job_id}").json()
        if job["status"] != "succeeded" or event["type"] != "video.succeeded":
            problems.append(f"{name}: ended {job['status']} ({event['type']}): {job.get('error')}")
            continue
        video = job["video"]
        digest = hashlib.sha256()
        with httpx.stream("GET", video["download_url"], timeout=60) as download:
            for chunk in download.iter_bytes():
                digest.update(chunk)
        if digest.hexdigest() != video["sha256"]:
            problems.append(f"{name}: downloaded bytes do not match sha256 {video['sha256']}")
        if stack.sandbox is not None:
            from sandbox.mp4 import mp4_sha256

            expected = mp4_sha256(job["provider_request_id"], video["bytes"])
            if expected != video["sha256"]:
                problems.append(f"{name}: stored video differs from the provider's bytes")
        rows.append((name, job_id, video["bytes"], video["sha256"][:16], event["type"]))

    print(f"\n{'job':<16}{'id':<32}{'bytes':>10}  {'sha256':<18}webhook")
    for name, job_id, size, digest_prefix, event_type in rows:
        print(f"{name:<16}{job_id:<32}{size:>10}  {digest_prefix:<18}{event_type} (signature verified)")
    print(f"\n{len(rows)}/{len(jobs)} jobs verified end to end in {time.monotonic() - started:.1f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)

    config = LocalStackConfig.from_env()
    config.port = 0
    if "VIDEOHOOK_TIME_SCALE" not in os.environ and config.provider == "sandbox":
        config.time_scale = DEMO_TIME_SCALE
    output = LocalOutput.from_env(verbose=args.verbose, default_file=DEMO_LOG_FILE)
    output.install()
    try:
        print(output.describe())
        print(f"starting the local stack (provider: {config.provider}) ...", flush=True)
        stack = LocalStack(config).start()
        try:
            print(f"videohook ready: {stack.url}", flush=True)
            problems = run_demo(stack)
        finally:
            stack.stop()
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        print("demo passed: every check held" if not problems else f"demo FAILED: {len(problems)} problem(s)")
    finally:
        output.restore()
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
