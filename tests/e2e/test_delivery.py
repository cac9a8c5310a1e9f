"""Webhook delivery through the local stack: retry schedule, 410, dead letters, redelivery, fan-out."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from standardwebhooks import Webhook

from tests.conftest import DELIVERY_WORKFLOW, wait_until_executions_end
from videohook import job_events
from videohook.runtime import get_runtime
from videohook.webhook_delivery import JITTER, SCHEDULE_SECONDS

pytestmark = pytest.mark.e2e
# About 13.6 s for the whole three-day schedule.
FAST_CLOCK = 0.00005


class ScriptedReceiver:
    """A loopback webhook endpoint answering from a script of statuses (the last one repeats).

    A status of None never answers (the connection stays open until the sender gives up).
    """

    def __init__(self, statuses: list[int | None]) -> None:
        self.statuses = statuses
        self.requests: list[dict] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                index = len(receiver.requests)
                receiver.requests.append(
                    {
                        "at": time.monotonic(),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                if status is None:
                    receiver.release.wait(30)
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fast_clock(local_stack, monkeypatch):
    """The stack's clock at FAST_CLOCK, with a job deadline long enough for real HTTP overheads."""
    before = local_stack.config.time_scale
    monkeypatch.setenv("VIDEOHOOK_JOB_DEADLINE_SECONDS", str(int(30 / FAST_CLOCK)))
    local_stack.set_time_scale(FAST_CLOCK)
    yield
    monkeypatch.undo()
    local_stack.set_time_scale(before)


@pytest.fixture
def scripted():
    receivers: list[ScriptedReceiver] = []

    def make(statuses: list[int | None]) -> ScriptedReceiver:
        receivers.append(ScriptedReceiver(statuses))
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.stop()


def _submit(api, webhook_url: str, prompt: str = "A lighthouse at dusk") -> str:
    """A job whose webhook gets its terminal event only (video.queued and video.running filtered out)."""
    body = {
        "prompt": prompt,
        "duration": 1,
        "webhook_url": webhook_url,
        "webhook_events": ["video.succeeded"],
    }
    answer = api.post("/v1/videos", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _tenant(local_stack) -> str:
    from devstack.api_gateway import tenant_id_for

    return tenant_id_for(local_stack.config.api_keys[0])


def _attempts(local_stack, job_id: str):
    return job_events.delivery_log(get_runtime(), job_id, tenant_id=_tenant(local_stack))


def test_the_delivery_log_is_served_per_job_and_tenant(local_stack, api, scripted):
    receiver = scripted([500, 204])
    job_id = _submit(api, receiver.url, prompt="A logbook")
    receiver.wait_for(2, timeout=30)
    deadline = time.monotonic() + 10
    while len(api.get(f"/v1/videos/{job_id}/deliveries").json()["data"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = api.get(f"/v1/videos/{job_id}/deliveries").json()["data"]
    assert [(a["attempt"], a["status_code"], a["delivered"]) for a in log] == [
        (1, 500, False),
        (2, 204, True),
    ]
    assert all(a["event_type"] == "video.succeeded" and a["latency_ms"] >= 0 for a in log)
    assert api.get("/v1/videos/vid_01nosuchjob0000000000000000/deliveries").status_code == 404


def _wait_for_attempts(local_stack, job_id: str, count: int, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attempts = _attempts(local_stack, job_id)
        if len(attempts) >= count:
            return attempts
        time.sleep(0.1)
    return _attempts(local_stack, job_id)


def test_a_receiver_failing_three_times_gets_exactly_one_delivery(local_stack, api, fast_clock, scripted):
    receiver = scripted([500, 503, 502, 204])
    job_id = _submit(api, receiver.url)
    requests = receiver.wait_for(4, timeout=30)
    time.sleep(0.5)  # nothing more may arrive
    assert len(receiver.requests) == 4
    assert len({r["headers"]["webhook-id"] for r in requests}) == 1
    event = Webhook(local_stack.webhook_secret).verify(requests[-1]["body"], requests[-1]["headers"])
    assert event["type"] == "video.succeeded" and event["data"]["id"] == job_id
    attempts = _wait_for_attempts(local_stack, job_id, 4, timeout=5)
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 502, False),
        (4, 204, True),
    ]
    assert all(a.latency_ms >= 0 and a.attempted_at for a in attempts)


def test_a_never_answering_receiver_ends_in_the_dead_letter_queue_on_schedule(
    local_stack, api, fast_clock, scripted
):
    receiver = scripted([None])
    job_id = _submit(api, receiver.url, prompt="A foghorn")
    attempts = _wait_for_attempts(local_stack, job_id, len(SCHEDULE_SECONDS), timeout=60)
    assert len(attempts) == len(SCHEDULE_SECONDS)
    assert all(not a.delivered and "timeout" in (a.error or "") for a in attempts)

    # The waits between attempts follow the schedule under the time factor: from the end of
    # an attempt (its start + its latency: the sender's timeout) to the start of the next,
    # which is the workflow's Wait plus the engine's own steps (long waits only: the short
    # ones are all engine).
    for index, (previous, following) in enumerate(zip(attempts, attempts[1:], strict=False)):
        ended = datetime.fromisoformat(previous.attempted_at).timestamp() + previous.latency_ms / 1000
        gap = datetime.fromisoformat(following.attempted_at).timestamp() - ended
        expected = SCHEDULE_SECONDS[index + 1] * FAST_CLOCK
        if expected >= 0.3:
            assert expected * (1 - JITTER) - 0.1 <= gap <= expected * (1 + JITTER) + 1.0, (
                index,
                gap,
                expected,
            )

    sqs = boto3.client("sqs")
    queue = local_stack.environment["VIDEOHOOK_WEBHOOK_DLQ_URL"]
    deadline = time.monotonic() + 10
    letters = []
    while not letters and time.monotonic() < deadline:
        letters = [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        ]
    letter = next(letter for letter in letters if letter["job_id"] == job_id)
    assert letter["event"]["type"] == "video.succeeded"
    assert [a["attempt"] for a in letter["attempts"]] == list(range(1, len(SCHEDULE_SECONDS) + 1))


def test_410_stops_retrying_and_disables_the_url_for_the_tenant(local_stack, api, fast_clock, scripted):
    receiver = scripted([410])
    job_id = _submit(api, receiver.url, prompt="A closed door")
    receiver.wait_for(1, timeout=30)
    time.sleep(1.0)  # long enough for several retries at this clock, were there any
    assert len(receiver.requests) == 1
    assert [(a.status_code, a.delivered) for a in _attempts(local_stack, job_id)] == [(410, False)]
    assert get_runtime().deliveries.is_disabled(_tenant(local_stack), receiver.url)

    second = _submit(api, receiver.url, prompt="Another closed door")
    deadline = time.monotonic() + 20
    while api.get(f"/v1/videos/{second}").json()["status"] != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(receiver.requests) == 1  # the disabled URL gets nothing more
    assert _attempts(local_stack, second) == []


def test_redelivery_sends_the_terminal_event_again_with_the_same_webhook_id(local_stack, api, scripted):
    receiver = scripted([204])
    job_id = _submit(api, receiver.url, prompt="A bell rings twice")
    first = receiver.wait_for(1, timeout=30)[0]
    answer = api.post(f"/v1/videos/{job_id}/redeliver")
    assert answer.status_code == 202, answer.text
    result = answer.json()
    assert result["event_id"] == first["headers"]["webhook-id"] and result["type"] == "video.succeeded"
    second = receiver.wait_for(2, timeout=30)[1]
    assert second["headers"]["webhook-id"] == first["headers"]["webhook-id"]
    assert (
        Webhook(local_stack.webhook_secret).verify(second["body"], second["headers"])["data"]["id"] == job_id
    )


def test_sns_filter_policies_on_type_and_eventbridge_detail_types(local_stack, api, scripted):
    sqs, sns, events = boto3.client("sqs"), boto3.client("sns"), boto3.client("events")
    stamp = time.monotonic_ns()

    def queue(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=f"{name}-{stamp}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    failed_url, failed_arn = queue("only-failed")
    sns.subscribe(
        TopicArn=local_stack.environment["VIDEOHOOK_TOPIC_ARN"],
        Protocol="sqs",
        Endpoint=failed_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"type": ["video.failed"]})},
    )
    bus_url, bus_arn = queue("eventbridge")
    events.put_rule(Name=f"videohook-{stamp}", EventPattern=json.dumps({"source": ["videohook"]}))
    events.put_targets(Rule=f"videohook-{stamp}", Targets=[{"Id": "queue", "Arn": bus_arn}])

    ok = _submit(api, scripted([204]).url, prompt="A sunny field")
    bad = _submit(api, scripted([204]).url, prompt="A stormy field sandbox:outcome=failed")

    def drain(url: str, want: int) -> list[dict]:
        found: list[dict] = []
        deadline = time.monotonic() + 30
        while len(found) < want and time.monotonic() < deadline:
            found += [
                json.loads(m["Body"])
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []
                )
            ]
        return found

    only_failed = drain(failed_url, 1)
    time.sleep(1.0)
    only_failed += drain(failed_url, 0)
    assert [(m["type"], m["data"]["id"]) for m in only_failed] == [("video.failed", bad)]

    bridged = drain(bus_url, 2)
    by_job = {e["detail"]["data"]["id"]: e for e in bridged}
    assert by_job[ok]["detail-type"] == "video.succeeded" and by_job[ok]["source"] == "videohook"
    assert by_job[bad]["detail-type"] == "video.failed"
    assert by_job[bad]["detail"]["data"]["error"]["code"]


def test_every_event_is_sent_unless_filtered_and_terminal_events_always(local_stack, api, scripted):
    # 200 s of generation = 4 s at the tests' time scale: long enough for the polls to see the
    # jobs running (a job first seen finished has no video.running), even on a busy machine.
    everything = scripted([204])
    answer = api.post(
        "/v1/videos",
        json={"prompt": "A kite sandbox:seconds=200", "duration": 1, "webhook_url": everything.url},
    )
    assert answer.status_code == 202, answer.text
    filtered = scripted([204])
    answer = api.post(
        "/v1/videos",
        json={
            "prompt": "A kite sandbox:seconds=200",
            "duration": 1,
            "webhook_url": filtered.url,
            "webhook_events": ["video.running"],
        },
    )
    assert answer.status_code == 202, answer.text

    def sent(receiver: ScriptedReceiver) -> set[tuple[str, str]]:
        """(type, webhook-id) of every POST: deliveries run side by side, so in no set order,
        and a POST answered too late for the sender comes again with its webhook-id."""
        return {(json.loads(r["body"])["type"], r["headers"]["webhook-id"]) for r in receiver.requests}

    # Both terminal events arrived, then every delivery has ended: nothing more can come.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
        ("video.succeeded" in {kind for kind, _ in sent(receiver)}) for receiver in (everything, filtered)
    ):
        time.sleep(0.1)
    wait_until_executions_end(local_stack, DELIVERY_WORKFLOW, deadline)

    assert {kind for kind, _ in sent(everything)} == {"video.queued", "video.running", "video.succeeded"}
    assert {kind for kind, _ in sent(filtered)} == {"video.running", "video.succeeded"}
    # Each event has its own webhook-id, the same on any redelivery.
    assert len({webhook_id for _, webhook_id in sent(everything)}) == len(sent(everything)) == 3
