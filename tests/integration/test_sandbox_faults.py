"""The sandbox's fault modes per job (sandbox/faults.py) over real loopback HTTP: status codes,
headers, bodies, timing, bytes.

One test (or a parametrized group) per knob of the table in ``sandbox/faults.py``; the
outcomes ``failed``/``expired``/``moderated`` are covered in test_sandbox_contracts.py, the
knobs' global values, parsing and documentation in test_sandbox_fault_knobs.py. Timing
bounds are generous: they tell a held answer from an immediate one, nothing finer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, mp4_sha256
from sandbox.answers import MALFORMED_JSON
from tests.fakes import FakeClock
from tests.integration.sandbox_client import (
    CREATE_PATHS,
    assert_html_502,
    assert_json_error,
    client_for,
    create,
    job_id_of,
    poll,
    submit,
    video_url,
)

# --------------------------------------------------------------------------- submit faults


@pytest.mark.parametrize("contract", ["xai", "cometapi", "aimlapi"])
def test_submit_429_with_retry_after_until_the_same_body_is_accepted(
    instant: SandboxServer, instant_client: httpx.Client, contract: str
) -> None:
    prompt = "a fox sandbox:submit_429=2 sandbox:retry_after=0.25"
    first, second = submit(instant_client, contract, prompt), submit(instant_client, contract, prompt)
    for refused in (first, second):
        assert_json_error(refused, 429, "rate_limit_exceeded")
        assert refused.headers["retry-after"] == "0.25"
    assert (
        instant.jobs == [] and instant.stats["accepted"] == 0
    )  # the directive counted before any job existed

    job_id = job_id_of(contract, submit(instant_client, contract, prompt))  # attempt 3 of the same body
    (job,) = instant.jobs
    assert job["id"] == job_id and job["attempt"] == 3 and job["duplicate"] is False
    stats = instant.stats
    assert (stats["accepted"], stats["refused"], stats["fault_submit_429"]) == (1, 2, 2)
    assert stats["duplicate_accepted"] == 0

    other = submit(instant_client, contract, prompt + " (another job)")  # attempts count per identical body
    assert other.status_code == 429


def test_retry_after_default_is_whole_seconds_and_none_omits_it(instant_client: httpx.Client) -> None:
    default = submit(instant_client, "xai", "x sandbox:submit_429=1")
    assert default.status_code == 429 and default.headers["retry-after"] == "1"
    bare = submit(instant_client, "xai", "x sandbox:submit_429=1 sandbox:retry_after=none")
    assert bare.status_code == 429 and "retry-after" not in bare.headers


@pytest.mark.parametrize(
    ("directives", "status", "code"),
    [
        ("", 503, "service_unavailable"),
        ("sandbox:status_5xx=500", 500, "internal_error"),
        ("sandbox:status_5xx=504", 504, "gateway_timeout"),
        ("sandbox:status_5xx=599", 599, "server_error"),
    ],
)
def test_submit_5xx(
    instant: SandboxServer, instant_client: httpx.Client, directives: str, status: int, code: str
) -> None:
    prompt = f"x sandbox:submit_5xx=2 {directives}"
    for _ in range(2):
        assert_json_error(submit(instant_client, "cometapi", prompt), status, code)
    create(instant_client, "cometapi", prompt)
    assert (instant.stats["accepted"], instant.stats["refused"], instant.stats["fault_submit_5xx"]) == (
        1,
        2,
        2,
    )


def test_submit_html_error_page(instant: SandboxServer, instant_client: httpx.Client) -> None:
    assert_html_502(submit(instant_client, "xai", "x sandbox:submit_html=1"))
    create(instant_client, "xai", "x sandbox:submit_html=1")
    assert instant.stats["fault_submit_html"] == 1 and instant.stats["accepted"] == 1


def test_submit_refusals_come_in_order_429_5xx_html(
    instant: SandboxServer, instant_client: httpx.Client
) -> None:
    prompt = "x sandbox:submit_429=1 sandbox:submit_5xx=2 sandbox:submit_html=1"
    statuses = [submit(instant_client, "aimlapi", prompt).status_code for _ in range(6)]
    assert statuses == [429, 503, 503, 502, 200, 200]
    stats = instant.stats
    assert (stats["refused"], stats["accepted"], stats["duplicate_accepted"]) == (4, 2, 1)


def test_submit_delay_outlasts_a_client_timeout_after_the_job_was_accepted(
    instant: SandboxServer, instant_client: httpx.Client
) -> None:
    prompt = "x sandbox:submit_delay=1.5"
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        instant_client.post(CREATE_PATHS["xai"], json={"prompt": prompt}, timeout=0.3)
    assert time.monotonic() - started < 1.4
    # The provider accepted (and would bill) the job although the client never saw its id.
    assert instant.stats["accepted"] == 1 and instant.stats["fault_submit_delay"] == 1

    started = time.monotonic()
    retry = instant_client.post(CREATE_PATHS["xai"], json={"prompt": prompt})  # attempt 2: answered at once
    assert retry.status_code == 200 and time.monotonic() - started < 1.0
    assert instant.stats["accepted"] == 2 and instant.stats["duplicate_accepted"] == 1
    assert [job["duplicate"] for job in instant.jobs] == [False, True]


def test_submit_delay_holds_a_patient_client_and_composes_with_refusals(
    instant: SandboxServer, instant_client: httpx.Client
) -> None:
    started = time.monotonic()
    create(instant_client, "cometapi", "x sandbox:submit_delay=0.5")
    assert 0.45 <= time.monotonic() - started < 3

    prompt = "y sandbox:submit_5xx=1 sandbox:submit_delay=0.5 sandbox:submit_delay_count=1"
    started = time.monotonic()
    late_refusal = submit(instant_client, "cometapi", prompt)
    assert late_refusal.status_code == 503 and 0.45 <= time.monotonic() - started < 3
    started = time.monotonic()
    create(instant_client, "cometapi", prompt)  # attempt 2: past submit_delay_count, not held
    assert time.monotonic() - started < 0.4
    assert instant.stats["accepted"] == 2 and instant.stats["refused"] == 1


# --------------------------------------------------------------------------- poll faults


def test_poll_404_for_the_first_seconds_scaled_by_the_time_factor() -> None:
    clock = FakeClock()
    with (
        SandboxServer(clock=clock, time_factor=0.5) as server,
        client_for(server) as client,
    ):
        job_id = create(client, "xai", "x sandbox:poll_404_seconds=10 sandbox:seconds=100")
        clock.advance(4.9)  # 10 s x 0.5 = a 5 s window
        assert_json_error(poll(client, "xai", job_id), 404, "not_found")
        clock.advance(0.2)
        assert poll(client, "xai", job_id).status_code == 200
        other = create(client, "cometapi", "y sandbox:poll_404_seconds=10 sandbox:seconds=100")
        assert_json_error(poll(client, "cometapi", other), 404, "not_found")
        assert server.stats["fault_poll_404"] == 2 and server.job(job_id)["polls"] == 2


def test_poll_5xx_once_then_healthy(instant_client: httpx.Client) -> None:
    job_id = create(instant_client, "xai", "x sandbox:poll_5xx=3")
    statuses = [poll(instant_client, "xai", job_id).status_code for _ in range(5)]
    assert statuses == [503, 503, 503, 200, 200]


@pytest.mark.parametrize("contract", ["xai", "cometapi", "aimlapi"])
def test_poll_5xx_bursts(instant: SandboxServer, instant_client: httpx.Client, contract: str) -> None:
    job_id = create(
        instant_client, contract, "x sandbox:poll_5xx=2 sandbox:poll_5xx_every=5 sandbox:status_5xx=502"
    )
    answers = [poll(instant_client, contract, job_id) for _ in range(12)]
    failed = [index + 1 for index, answer in enumerate(answers) if answer.status_code == 502]
    assert failed == [1, 2, 6, 7, 11, 12]
    assert_json_error(answers[0], 502, "bad_gateway")
    assert all(answer.status_code == 200 for answer in answers if answer.status_code != 502)
    assert instant.stats["fault_poll_5xx"] == 6 and instant.stats["polls"] == 12


def test_poll_html_error_pages(instant: SandboxServer, instant_client: httpx.Client) -> None:
    job_id = create(instant_client, "cometapi", "x sandbox:poll_html=2")
    assert_html_502(poll(instant_client, "cometapi", job_id))
    assert_html_502(poll(instant_client, "cometapi", job_id))
    assert poll(instant_client, "cometapi", job_id).json()["data"]["status"] == "SUCCESS"
    assert instant.stats["fault_poll_html"] == 2


@pytest.mark.parametrize("contract", ["xai", "cometapi", "aimlapi"])
def test_poll_malformed_json(instant: SandboxServer, instant_client: httpx.Client, contract: str) -> None:
    job_id = create(instant_client, contract, "x sandbox:poll_malformed=2")
    for _ in range(2):
        bad = poll(instant_client, contract, job_id)
        assert bad.status_code == 200 and bad.headers["content-type"] == "application/json"
        assert bad.content == MALFORMED_JSON
        with pytest.raises(json.JSONDecodeError):
            bad.json()
    assert isinstance(poll(instant_client, contract, job_id).json(), dict)
    assert instant.stats["fault_poll_malformed"] == 2


def test_poll_faults_are_checked_in_order(instant_client: httpx.Client) -> None:
    job_id = create(
        instant_client, "xai", "x sandbox:poll_5xx=1 sandbox:poll_html=2 sandbox:poll_malformed=3"
    )
    answers = [poll(instant_client, "xai", job_id) for _ in range(4)]
    assert [(a.status_code, a.headers["content-type"]) for a in answers] == [
        (503, "application/json"),  # 5xx wins poll 1
        (502, "text/html"),  # then HTML for poll 2
        (200, "application/json"),  # then malformed for poll 3
        (200, "application/json"),
    ]
    assert answers[2].content == MALFORMED_JSON
    assert answers[3].json()["status"] == "done"


def test_poll_delay(instant: SandboxServer, instant_client: httpx.Client) -> None:
    job_id = create(instant_client, "xai", "x sandbox:poll_delay=0.6 sandbox:poll_delay_count=2")
    with pytest.raises(httpx.ReadTimeout):
        instant_client.get(f"/v1/videos/{job_id}", timeout=0.2)
    started = time.monotonic()
    assert poll(instant_client, "xai", job_id).status_code == 200
    assert 0.5 <= time.monotonic() - started < 3
    started = time.monotonic()
    assert poll(instant_client, "xai", job_id).status_code == 200
    assert time.monotonic() - started < 0.5
    assert instant.stats["fault_poll_delay"] == 2 and instant.job(job_id)["polls"] == 3


def test_pending_202_per_job_and_only_on_xai(instant: SandboxServer, instant_client: httpx.Client) -> None:
    instant.default_seconds = 100  # real seconds x 0.01: pending for a second
    empty = create(instant_client, "xai", "x sandbox:pending_202=1")
    plain = create(instant_client, "xai", "y")
    pending = poll(instant_client, "xai", empty)
    assert pending.status_code == 202 and pending.content == b""
    assert pending.headers["content-length"] == "0" and "content-type" not in pending.headers
    assert poll(instant_client, "xai", plain).status_code == 200
    comet = create(instant_client, "cometapi", "z sandbox:pending_202=1")
    assert poll(instant_client, "cometapi", comet).status_code == 200
    assert instant.stats["fault_pending_202"] == 1


# --------------------------------------------------------------------------- download faults


def test_video_404_for_the_first_requests(instant: SandboxServer, instant_client: httpx.Client) -> None:
    job_id = create(instant_client, "xai", "x sandbox:video_404=2 sandbox:bytes=70000")
    url = video_url(instant_client, job_id)  # done, with a URL that does not serve yet
    assert_json_error(instant_client.get(url), 404, "not_found")
    assert instant_client.head(url).status_code == 404
    video = instant_client.get(url)
    assert video.status_code == 200 and hashlib.sha256(video.content).hexdigest() == mp4_sha256(job_id, 70000)
    assert instant.stats["fault_video_404"] == 2 and instant.stats["downloads"] == 1
    assert instant.job(job_id)["video_requests"] == 3


def test_stall_after_then_the_rest(instant: SandboxServer, instant_client: httpx.Client) -> None:
    size, stall_at = 100_000, 40_000
    job_id = create(
        instant_client,
        "xai",
        f"x sandbox:bytes={size} sandbox:stall_after={stall_at} sandbox:stall_seconds=0.6",
    )
    url = video_url(instant_client, job_id)

    received, arrivals = 0, []
    started = time.monotonic()
    with instant_client.stream("GET", url, timeout=10) as response:
        assert response.headers["content-length"] == str(size)
        digest = hashlib.sha256()
        for chunk in response.iter_raw():
            digest.update(chunk)
            received += len(chunk)
            arrivals.append((received, time.monotonic() - started))
    assert received == size and digest.hexdigest() == mp4_sha256(job_id, size)
    before = max(t for count, t in arrivals if count <= stall_at)
    after = min(t for count, t in arrivals if count > stall_at)
    assert after - before >= 0.5  # the gap comes after exactly stall_after bytes

    # A client whose read timeout is shorter than the stall gets stall_after bytes, then times out.
    received = 0
    with instant_client.stream("GET", url, timeout=httpx.Timeout(10, read=0.2)) as response:
        with pytest.raises(httpx.ReadTimeout):
            for chunk in response.iter_raw():
                received += len(chunk)
    assert received == stall_at
    assert instant.stats["fault_stall"] == 2


def test_slow_download_is_throttled(instant: SandboxServer, instant_client: httpx.Client) -> None:
    size = 120_000
    job_id = create(instant_client, "xai", f"x sandbox:bytes={size} sandbox:slow_download_bps=200k")
    url = video_url(instant_client, job_id)
    started = time.monotonic()
    video = instant_client.get(url, timeout=10)
    elapsed = time.monotonic() - started
    assert len(video.content) == size and hashlib.sha256(video.content).hexdigest() == mp4_sha256(
        job_id, size
    )
    assert 0.45 <= elapsed < 4, elapsed  # 120000 / 204800 = 0.59 s
    unthrottled = create(instant_client, "xai", f"y sandbox:bytes={size}")
    assert len(instant_client.get(video_url(instant_client, unthrottled), timeout=10).content) == size
    assert instant.stats["fault_slow_download"] == 1 and instant.stats["downloads"] == 2


def test_download_faults_combine_on_a_range(instant: SandboxServer, instant_client: httpx.Client) -> None:
    job_id = create(
        instant_client, "xai", "x sandbox:stall_after=1000 sandbox:stall_seconds=0.2 sandbox:truncate=5000"
    )
    url = video_url(instant_client, job_id)
    received = 0
    with instant_client.stream("GET", url, headers={"Range": "bytes=100000-199999"}, timeout=10) as response:
        assert response.status_code == 206 and response.headers["content-length"] == "100000"
        with pytest.raises(httpx.RemoteProtocolError):  # truncated after 5000 bytes of this body
            for chunk in response.iter_raw():
                received += len(chunk)
    assert received == 5000
    assert instant.stats["fault_stall"] == 1 and instant.stats["fault_truncate"] == 1


def _read_until_cut(url: str) -> tuple[int, int]:
    received = 0
    with httpx.stream("GET", url, timeout=10) as response:
        announced = int(response.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += len(chunk)
    return announced, received


def test_truncated_downloads(fast: SandboxServer, fast_client: httpx.Client) -> None:
    job_id = create(fast_client, "xai", "x sandbox:truncate=100000 sandbox:seconds=0")
    url = poll(fast_client, "xai", job_id).json()["video"]["url"]
    assert _read_until_cut(url) == (262144, 100000)

    fast.truncate_at = 5000  # server-wide fault
    other = create(fast_client, "xai", "y sandbox:seconds=0")
    assert _read_until_cut(f"{fast.url}/files/{other}.mp4") == (262144, 5000)
    fast.truncate_at = None
    whole = httpx.get(f"{fast.url}/files/{other}.mp4")  # the server is fine afterwards
    assert len(whole.content) == 262144


# --------------------------------------------------------------------------- waits end on stop()


@pytest.mark.parametrize(
    "prompt",
    [
        "x sandbox:submit_delay=60",
        "x sandbox:stall_after=10 sandbox:stall_seconds=60",
        "x sandbox:slow_download_bps=1",
    ],
)
def test_stop_ends_every_fault_wait_at_once(prompt: str) -> None:
    server = SandboxServer(default_seconds=0).start()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with client_for(server, timeout=30) as c:
                if "submit_delay" in prompt:
                    c.post(CREATE_PATHS["xai"], json={"prompt": prompt})
                else:
                    job_id = create(c, "xai", prompt)
                    c.get(f"/files/{job_id}.mp4")
            outcome["error"] = None
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        v for k, v in server.stats.items() if k.startswith("fault_")
    ):
        time.sleep(0.02)
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 3
    assert not worker.is_alive()
    assert isinstance(outcome["error"], httpx.RemoteProtocolError | httpx.ReadError), outcome
