"""`python -m bench.stack_bench JOBS TIME_SCALE SEQUENTIAL COPY_JOBS`: jobs through the local stack.

The local stack of `make dev` (devstack.stack: moto's server, the synthesized state
machine on moto's interpreter, the handlers in-process, the sandbox provider), all on
127.0.0.1. First SEQUENTIAL jobs one at a time (the unloaded baseline), then JOBS jobs
submitted at once, each with a loopback webhook; the sandbox speaks the xAI contract, so
it uploads each video to the presigned URL it was given (zero-copy). Then COPY_JOBS more
jobs with the sandbox speaking the AI/ML API contract (no upload_url): FinalizeVideo
copies those. Prints one JSON line:

- submit latency of every POST /v1/videos (seconds);
- provider done -> webhook received (seconds): "done" is when the sandbox job's
  generation time ended (the sandbox then reports done at the next poll; its upload of
  the 256 KiB video to S3 takes milliseconds), "received" when the receiver got the POST
  of the job's terminal event (jobs also announce video.queued and video.running);
- per job: state transitions (StateEntered events of its execution), Lambda invocations
  and their in-process durations per handler, polls;
- bytes that went through FinalizeVideo (`bytes_copied`) for the zero-copy and the copy jobs.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

API_KEY = "vh_bench_tenant"


@contextmanager
def _timed_bridge(durations: dict[str, list[float]]) -> Iterator[None]:
    """Time every in-process Lambda invocation (on top of devstack.lambda_bridge)."""
    from moto.awslambda import models as lambda_models

    bridged = lambda_models.LambdaFunction._invoke_lambda
    lock = threading.Lock()

    def timed(self: Any, event: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return bridged(self, event)
        finally:
            with lock:
                durations[self.handler].append(time.perf_counter() - started)

    lambda_models.LambdaFunction._invoke_lambda = timed
    try:
        yield
    finally:
        lambda_models.LambdaFunction._invoke_lambda = bridged


@contextmanager
def _sandbox_contract(contract: str) -> Iterator[None]:
    import os

    from videohook.config import get_settings

    before = os.environ.get("VIDEOHOOK_SANDBOX_CONTRACT")
    os.environ["VIDEOHOOK_SANDBOX_CONTRACT"] = contract
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VIDEOHOOK_SANDBOX_CONTRACT", None)
        else:
            os.environ["VIDEOHOOK_SANDBOX_CONTRACT"] = before
        get_settings.cache_clear()


def _transitions(sfn: Any) -> tuple[int, int]:
    """(state transitions, executions still running) over every execution of every state machine:
    the job's workflow and the deliveries it starts."""
    entered = running = 0
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            for execution in page["executions"]:
                running += execution["status"] == "RUNNING"
                events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
                entered += sum(1 for event in events["events"] if event["type"].endswith("StateEntered"))
    return entered, running


def _memory_sizes(template: dict[str, Any]) -> dict[str, int]:
    sizes = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            properties = resource["Properties"]
            sizes[properties["Handler"]] = int(properties.get("MemorySize", 128))
    return sizes


def _run_jobs(api: Any, receiver_url: str, count: int, tag: str) -> tuple[list[str], list[float]]:
    def submit(index: int) -> tuple[str, float]:
        body = {
            "prompt": f"bench {tag} {index} {uuid.uuid4().hex[:8]}",
            "duration": 1 + index % 3,
            "resolution": ("480p", "720p")[index % 2],
            "webhook_url": receiver_url,
        }
        started = time.perf_counter()
        answer = api.post("/v1/videos", json=body)
        latency = time.perf_counter() - started
        if answer.status_code != 202:
            raise RuntimeError(f"submit failed: {answer.status_code} {answer.text[:300]}")
        return answer.json()["id"], latency

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(submit, range(count)))
    return [job_id for job_id, _ in results], [latency for _, latency in results]


def _settle(sfn: Any, timeout: float = 60) -> None:
    """Wait until no execution runs (deliveries may still be finishing after their POST)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _transitions(sfn)[1]:
        time.sleep(0.2)


TERMINAL_EVENTS = ("video.succeeded", "video.failed", "video.expired", "video.canceled")


class _Receiver:
    """The loopback webhook receiver, with the arrival time of each job's terminal event."""

    def __init__(self) -> None:
        from devstack.receiver import WebhookReceiver

        self._receiver = WebhookReceiver()
        self.url = self._receiver.url
        self.received: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            delivery = self._receiver.next(timeout=0.1)
            if delivery is not None:
                at = time.time()
                event = json.loads(delivery[1])
                # Jobs also announce video.queued and video.running: the terminal event is the one.
                if event.get("type") in TERMINAL_EVENTS:
                    self.received.setdefault(event["data"]["id"], at)

    def wait_for(self, ids: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(job_id in self.received for job_id in ids):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._receiver.stop()


def run_on(stack: Any, *, jobs: int, sequential: int, copy_jobs: int, api_key: str) -> dict[str, Any]:
    """The measurements on a running LocalStack (this process runs its handlers)."""
    import boto3
    import httpx

    from devstack import lambda_bridge

    sfn = boto3.client("stepfunctions")
    table = boto3.resource("dynamodb").Table(stack.environment["VIDEOHOOK_JOBS_TABLE"])
    durations: dict[str, list[float]] = defaultdict(list)
    receiver = _Receiver()

    def done_to_webhook(job_id: str) -> float | None:
        job = table.get_item(Key={"id": job_id})["Item"]
        provider = stack.sandbox.job(job["provider_request_id"])
        if job_id not in receiver.received or provider is None:
            return None
        return receiver.received[job_id] - (provider["submitted_at"] + provider["generation_seconds"])

    def transfer(job_id: str) -> dict[str, Any] | None:
        """How FinalizeVideo stored the job's video: its output's `transfer`, from the execution's history."""
        arn = stack.environment["VIDEOHOOK_STATE_MACHINE_ARN"].replace(":stateMachine:", ":execution:")
        events = sfn.get_execution_history(executionArn=f"{arn}:{job_id}", maxResults=1000)["events"]
        for event in events:
            details = event.get("stateExitedEventDetails") or {}
            if event["type"] == "TaskStateExited" and details.get("name") == "FinalizeVideo":
                return json.loads(details["output"]).get("transfer")
        return None

    try:
        with (
            _timed_bridge(durations),
            _sandbox_contract("xai"),
            httpx.Client(base_url=stack.url, headers={"x-api-key": api_key}, timeout=120) as api,
        ):
            # The baseline: one job at a time, each to its webhook.
            alone_ids, alone_latencies = [], []
            for index in range(sequential):
                (job_id,), (latency,) = _run_jobs(api, receiver.url, 1, f"alone-{index}")
                receiver.wait_for([job_id], 120)
                alone_ids.append(job_id)
                alone_latencies.append(latency)

            alone_durations = {name: list(values) for name, values in durations.items()}
            _settle(sfn)
            transitions_before, _ = _transitions(sfn)
            invocations_before = dict(lambda_bridge.invocations)
            ids, latencies = _run_jobs(api, receiver.url, jobs, "concurrent")
            receiver.wait_for(ids, 600)
            _settle(sfn)
            transitions = _transitions(sfn)[0] - transitions_before
            invocations = {
                name: count - invocations_before.get(name, 0)
                for name, count in lambda_bridge.invocations.items()
            }
            polls, statuses = [], defaultdict(int)
            for job_id in ids:
                job = table.get_item(Key={"id": job_id})["Item"]
                statuses[str(job["status"])] += 1
                polls.append(int(job.get("poll_count", 0)))
            zero_copy = [transfer(i) for i in ids]

        # The same pipeline where the provider cannot upload (no upload_url): FinalizeVideo copies.
        with (
            _sandbox_contract("aimlapi"),
            httpx.Client(base_url=stack.url, headers={"x-api-key": api_key}, timeout=120) as api,
        ):
            copy_ids, _ = _run_jobs(api, receiver.url, copy_jobs, "copy")
            receiver.wait_for(copy_ids, 300)
            copied = [transfer(i) for i in copy_ids]
        lags = [lag for lag in map(done_to_webhook, ids) if lag is not None]
        alone_lags = [lag for lag in map(done_to_webhook, alone_ids) if lag is not None]
    finally:
        receiver.stop()

    def through_lambda(results: list[Any]) -> dict[str, Any]:
        done = [r for r in results if r is not None]
        return {
            "jobs": len(done),
            "bytes_copied": sum(r["bytes_copied"] for r in done),
            "bytes_stored": sum(r["bytes"] for r in done),
            "bytes_read_to_verify": sum(r["bytes_read_to_verify"] for r in done),
            "transfers": sorted({r["kind"] for r in done}),
        }

    return {
        "jobs": jobs,
        "statuses": dict(statuses),
        "webhooks": sum(1 for i in ids if i in receiver.received),
        "submit_latency": latencies,
        "submit_latency_alone": alone_latencies,
        "done_to_webhook": lags,
        "done_to_webhook_alone": alone_lags,
        "transitions_per_job": transitions / jobs,
        "polls_per_job": statistics.fmean(polls) if polls else 0.0,
        "invocations_per_job": {name: count / jobs for name, count in invocations.items() if count},
        # Durations of the jobs run one at a time: what one invocation costs without contention.
        "median_duration": {name: statistics.median(values) for name, values in alone_durations.items()},
        "median_duration_concurrent": {name: statistics.median(v) for name, v in durations.items()},
        "zero_copy": through_lambda(zero_copy),
        "copy": through_lambda(copied),
    }


def main(jobs: int, time_scale: float, sequential: int, copy_jobs: int) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    from devstack.stack import LocalStack, LocalStackConfig, new_webhook_secret, synthesize

    template = synthesize(Path(tempfile.mkdtemp(prefix="videohook-bench-cdk-")))
    stack = LocalStack(
        LocalStackConfig(
            port=0,
            api_keys=[API_KEY],
            time_scale=time_scale,
            webhook_secret=new_webhook_secret(),
            template=template,
        )
    ).start()
    try:
        figures = run_on(stack, jobs=jobs, sequential=sequential, copy_jobs=copy_jobs, api_key=API_KEY)
    finally:
        stack.stop()
    figures["time_scale"] = time_scale
    figures["memory_mb"] = _memory_sizes(template)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
