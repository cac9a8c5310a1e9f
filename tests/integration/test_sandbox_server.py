"""The sandbox provider over real loopback HTTP: the three wire contracts, faults, videos, uploads."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox import MIN_SIZE, SandboxServer, iter_mp4, mp4_sha256

REPO_ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer test-key"}
CREATE_PATHS = {
    "xai": "/v1/videos/generations",
    "cometapi": "/grok/v1/videos/generations",
    "aimlapi": "/v2/video/generations",
}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    """A sandbox on a hand-moved clock: `sandbox:seconds=100` makes 1 clock second = 1 % of the job."""
    with SandboxServer(clock=clock) as srv:
        yield srv


@pytest.fixture
def fast() -> Iterator[SandboxServer]:
    """A sandbox on the real clock with a small time factor."""
    with SandboxServer(time_factor=0.01) as srv:
        yield srv


def _client(srv: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers=AUTH, timeout=10)


@pytest.fixture
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with _client(server) as c:
        yield c


@pytest.fixture
def fast_client(fast: SandboxServer) -> Iterator[httpx.Client]:
    with _client(fast) as c:
        yield c


def create(client: httpx.Client, contract: str, prompt: str, **fields: Any) -> str:
    body: dict[str, Any] = {"prompt": prompt, **fields}
    if contract == "aimlapi":
        body.setdefault("model", "x-ai/grok-imagine-video")
    response = client.post(CREATE_PATHS[contract], json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    if contract == "aimlapi":
        assert payload["status"] == "queued"
        return payload["id"]
    assert set(payload) == {"request_id"}
    return payload["request_id"]


def poll(client: httpx.Client, contract: str, job_id: str) -> httpx.Response:
    if contract == "aimlapi":
        return client.get("/v2/video/generations", params={"generation_id": job_id})
    prefix = "/grok/v1/videos/" if contract == "cometapi" else "/v1/videos/"
    return client.get(prefix + job_id)


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


def _flat_done(r: httpx.Response) -> bool:
    return r.status_code == 200 and r.json().get("status") in ("done", "failed", "expired")


def _wrapped_done(r: httpx.Response) -> bool:
    return r.json()["data"]["status"] in ("SUCCESS", "FAILURE")


def _aiml_done(r: httpx.Response) -> bool:
    return r.json()["status"] in ("completed", "error")


def read_boxes(head: bytes, total: int) -> list[tuple[bytes, int, int]]:
    """Top-level (type, offset, size) of an MP4 given its first bytes and its total size."""
    boxes = []
    pos = 0
    while pos < total:
        size, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", head[pos + 8 : pos + 16])[0]
        assert size >= 8, f"bad box size {size} at {pos}"
        boxes.append((kind, pos, size))
        pos += size
    assert pos == total, "boxes do not end exactly at the end of the file"
    return boxes


# --------------------------------------------------------------------------- the three contracts


def test_xai_poll_walks_echo_queued_processing_done(
    server: SandboxServer, client: httpx.Client, clock: FakeClock
) -> None:
    job_id = create(client, "xai", "a red fox sandbox:seconds=100", duration=5, resolution="480p")

    clock.advance(5)
    echo = poll(client, "xai", job_id)
    assert echo.status_code == 200 and echo.json() == {"request_id": job_id}  # no status yet: keep polling
    clock.advance(10)
    assert poll(client, "xai", job_id).json() == {"status": "queued"}
    clock.advance(35)
    assert poll(client, "xai", job_id).json() == {"status": "processing", "progress": 50}
    clock.advance(20)
    assert poll(client, "xai", job_id).json() == {"status": "processing", "progress": 70}
    clock.advance(30)
    done = poll(client, "xai", job_id)
    assert done.status_code == 200
    assert done.json() == {
        "status": "done",
        "progress": 100,
        "video": {"url": f"{server.url}/files/{job_id}.mp4", "duration": 5, "respect_moderation": True},
        "model": "grok-imagine-video",
    }
    assert server.job(job_id)["state"] == "succeeded"


def test_generation_time_grows_with_duration_and_resolution(
    server: SandboxServer, client: httpx.Client
) -> None:
    short = create(client, "xai", "short", duration=5, resolution="480p")
    long_hd = create(client, "xai", "long", duration=10, resolution="1080p", model="grok-imagine-video-1.5")
    default = create(client, "cometapi", "defaults")  # 8 s, 720p
    assert server.job(short)["generation_seconds"] == pytest.approx(18.0)
    assert server.job(long_hd)["generation_seconds"] == pytest.approx(70.0)
    assert server.job(default)["generation_seconds"] == pytest.approx(36.0)
    server.time_factor = 0.5
    halved = create(client, "xai", "halved", duration=5, resolution="480p")
    assert server.job(halved)["generation_seconds"] == pytest.approx(9.0)


@pytest.mark.parametrize("contract", ["xai", "cometapi", "aimlapi"])
def test_each_contract_runs_to_done_in_real_time_and_serves_the_video(
    fast: SandboxServer, fast_client: httpx.Client, contract: str
) -> None:
    if contract == "cometapi":
        fast.comet_envelope = "flat"
    job_id = create(fast_client, contract, "a lighthouse at dusk", duration=2, resolution="480p")  # 0.12 s
    done = {"xai": _flat_done, "cometapi": _flat_done, "aimlapi": _aiml_done}[contract]
    final, seen = poll_until(fast_client, contract, job_id, done)
    body = final.json()
    url = body["video"]["url"]
    assert url == f"{fast.url}/files/{job_id}.mp4"
    if contract == "aimlapi":
        assert body["status"] == "completed" and body["id"] == job_id and body["error"] is None
        assert {r.json()["status"] for r in seen[:-1]} <= {"queued", "generating"}
    else:
        assert body["status"] == "done" and body["video"]["respect_moderation"] is True
    video = httpx.get(url)  # temporary URLs need no auth
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(video.content).hexdigest() == mp4_sha256(job_id, 262144)
    assert fast.stats["submissions"] == 1


def test_cometapi_wrapped_envelope(server: SandboxServer, client: httpx.Client, clock: FakeClock) -> None:
    assert server.comet_envelope == "wrapped"
    job_id = create(client, "cometapi", "waves sandbox:seconds=100", model="grok-imagine-video-1.5")

    clock.advance(1)
    first = poll(client, "cometapi", job_id).json()
    assert first["code"] == "success" and first["message"] == ""
    assert first["data"]["task_id"] == job_id and first["data"]["action"] == "VIDEO_GENERATION"
    assert first["data"]["status"] == "NOT_START" and first["data"]["progress"] == "0%"
    assert first["data"]["data"] == {"request_id": job_id}
    assert first["data"]["start_time"] == 0 and first["data"]["finish_time"] == 0
    assert isinstance(first["data"]["submit_time"], int)

    clock.advance(59)
    running = poll(client, "cometapi", job_id).json()["data"]
    assert running["status"] == "IN_PROGRESS" and running["progress"] == "60%"
    assert running["data"] == {"status": "processing", "progress": 60}
    assert running["start_time"] >= running["submit_time"] > 0

    clock.advance(40)
    done = poll(client, "cometapi", job_id).json()["data"]
    url = f"{server.url}/files/{job_id}.mp4"
    assert done["status"] == "SUCCESS" and done["progress"] == "100%"
    assert done["fail_reason"] == url  # the documented quirk: not a failure
    assert done["data"]["status"] == "done" and done["data"]["video"]["url"] == url
    assert done["data"]["model"] == "grok-imagine-video-1.5"
    assert done["finish_time"] >= done["start_time"]


def test_cometapi_flat_and_alternate(server: SandboxServer, client: httpx.Client, clock: FakeClock) -> None:
    server.comet_envelope = "flat"
    job_id = create(client, "cometapi", "rain sandbox:seconds=100")
    clock.advance(1)
    assert poll(client, "cometapi", job_id).json() == {"request_id": job_id}
    clock.advance(99)
    flat = poll(client, "cometapi", job_id).json()
    assert flat["status"] == "done" and flat["video"]["url"].endswith(f"/files/{job_id}.mp4")

    server.comet_envelope = "alternate"
    other = create(client, "cometapi", "snow sandbox:seconds=100")
    clock.advance(50)
    shapes = ["code" in poll(client, "cometapi", other).json() for _ in range(4)]
    assert shapes == [True, False, True, False]


def test_xai_pending_as_202_with_empty_body(
    server: SandboxServer, client: httpx.Client, clock: FakeClock
) -> None:
    server.xai_pending_as_202 = True
    job_id = create(client, "xai", "clouds sandbox:seconds=100")
    for step in (1, 14, 50):
        clock.advance(step)
        pending = poll(client, "xai", job_id)
        assert pending.status_code == 202 and pending.content == b""
    clock.advance(35)
    done = poll(client, "xai", job_id)
    assert done.status_code == 200 and done.json()["status"] == "done"
    # the option is xAI-only: CometAPI keeps answering JSON
    comet = create(client, "cometapi", "x sandbox:seconds=100")
    assert poll(client, "cometapi", comet).status_code == 200


# --------------------------------------------------------------------------- outcomes


@pytest.mark.parametrize("outcome", ["failed", "expired", "moderated"])
def test_outcome_directives_on_every_contract(
    server: SandboxServer, client: httpx.Client, clock: FakeClock, outcome: str
) -> None:
    prompt = f"a storm sandbox:outcome={outcome} sandbox:seconds=10"
    ids = {contract: create(client, contract, prompt) for contract in ("xai", "cometapi", "aimlapi")}
    clock.advance(10)

    xai = poll(client, "xai", ids["xai"]).json()
    comet = poll(client, "cometapi", ids["cometapi"]).json()["data"]
    aiml = poll(client, "aimlapi", ids["aimlapi"]).json()
    if outcome == "failed":
        assert xai["status"] == "failed" and xai["error"]["code"] and xai["error"]["message"]
        assert comet["status"] == "FAILURE" and comet["fail_reason"] and comet["data"]["status"] == "failed"
        assert aiml["status"] == "error" and aiml["error"]["message"] and aiml["video"] is None
    elif outcome == "expired":
        assert xai == {"status": "expired"}
        assert comet["status"] == "FAILURE" and comet["data"] == {"status": "expired"}
        assert aiml["status"] == "error" and aiml["error"]["code"] == "expired"
    else:
        assert xai["status"] == "done" and xai["video"]["respect_moderation"] is False
        assert "url" not in xai["video"]
        assert comet["data"]["status"] == "done" and comet["data"]["video"]["respect_moderation"] is False
        assert aiml["status"] == "completed" and aiml["video"]["url"] is None
    for job_id in ids.values():  # no video to fetch
        assert httpx.get(f"{server.url}/files/{job_id}.mp4").status_code == 404
        assert server.job(job_id)["state"] == outcome


def test_server_wide_default_outcome(server: SandboxServer, client: httpx.Client, clock: FakeClock) -> None:
    server.default_outcome = "failed"
    failing = create(client, "xai", "x sandbox:seconds=1")
    overridden = create(client, "xai", "x sandbox:seconds=1 sandbox:outcome=succeeded")
    clock.advance(1)
    assert poll(client, "xai", failing).json()["status"] == "failed"
    assert poll(client, "xai", overridden).json()["status"] == "done"


def test_video_is_not_served_before_the_job_is_done(server: SandboxServer, client: httpx.Client) -> None:
    job_id = create(client, "xai", "slow sandbox:seconds=100")
    assert httpx.get(f"{server.url}/files/{job_id}.mp4").status_code == 404
    assert httpx.get(f"{server.url}/files/no-such-job.mp4").status_code == 404


# --------------------------------------------------------------------------- validation and auth


@pytest.mark.parametrize(
    ("contract", "body", "status", "code"),
    [
        ("xai", {}, 400, "missing_field"),
        ("xai", {"prompt": ""}, 400, "missing_field"),
        ("cometapi", {"prompt": "x", "duration": 0}, 422, "invalid_value"),
        ("cometapi", {"prompt": "x", "duration": 16}, 422, "invalid_value"),
        ("xai", {"prompt": "x", "duration": "5"}, 422, "invalid_value"),
        ("xai", {"prompt": "x", "resolution": "4k"}, 422, "invalid_value"),
        (
            "xai",
            {"prompt": "x", "model": "grok-imagine-video", "resolution": "1080p"},
            422,
            "unsupported_resolution",
        ),
        ("cometapi", {"prompt": "x", "aspect_ratio": "21:9"}, 422, "invalid_value"),
        ("xai", {"prompt": "x", "reference_images": ["https://e.x/a.png"]}, 400, "unsupported_field"),
        ("cometapi", {"prompt": "x", "reference_images": ["https://e.x/a.png"]}, 400, "unsupported_field"),
        ("xai", {"prompt": "x", "image": {"url": "ftp://e.x/a.png"}}, 422, "invalid_value"),
        ("xai", {"prompt": "x", "output": {"upload_url": "not a url"}}, 422, "invalid_value"),
        ("xai", {"prompt": "x", "size": "1280x720", "resolution": "720p"}, 400, "invalid_request"),
        ("xai", {"prompt": "x sandbox:outcome=maybe"}, 400, "invalid_directive"),
        ("xai", {"prompt": "x sandbox:colour=blue"}, 400, "invalid_directive"),
        ("xai", {"prompt": "x sandbox:bytes=10"}, 400, "invalid_directive"),
        ("aimlapi", {"prompt": "x"}, 400, "missing_field"),  # model is required there
        ("aimlapi", {"model": "x-ai/grok-imagine-video"}, 400, "missing_field"),
        (
            "aimlapi",
            {"model": "x-ai/grok-imagine-video", "prompt": "x", "duration": 20},
            422,
            "invalid_value",
        ),
        (
            "aimlapi",
            {
                "model": "x-ai/grok-imagine-video",
                "prompt": "x",
                "image_url": "https://e.x/a.png",
                "reference_images": ["https://e.x/b.png"],
            },
            400,
            "invalid_request",
        ),
        (
            "aimlapi",
            {
                "model": "x-ai/grok-imagine-video",
                "prompt": "x",
                "reference_images": [f"https://e.x/{i}" for i in range(8)],
            },
            422,
            "invalid_value",
        ),
    ],
)
def test_create_validation(
    fast: SandboxServer,
    fast_client: httpx.Client,
    contract: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = fast_client.post(CREATE_PATHS[contract], json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert fast.stats["submissions"] == 0 and fast.jobs == []


def test_valid_variants_are_accepted(fast_client: httpx.Client) -> None:
    data_uri = "data:image/png;base64,iVBORw0KGgo="
    create(fast_client, "xai", "x", model="grok-imagine-video-1.5", resolution="1080p", aspect_ratio="9:16")
    create(fast_client, "cometapi", "x", image={"url": data_uri}, duration=1, user="u-1")
    create(fast_client, "xai", "x", size="848x480")
    create(fast_client, "aimlapi", "x", reference_images=["https://e.x/a.png"] * 7, aspect_ratio="1:1")
    create(fast_client, "aimlapi", "", image_url="https://e.x/a.png")  # image-to-video needs no prompt


def test_invalid_json_is_a_400(fast_client: httpx.Client) -> None:
    response = fast_client.post(
        CREATE_PATHS["xai"], content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    response = fast_client.post(CREATE_PATHS["xai"], json=["a list"])
    assert response.status_code == 400


def test_auth(fast: SandboxServer) -> None:
    body = {"prompt": "x"}
    with httpx.Client(base_url=fast.url, timeout=10) as anonymous:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            response = anonymous.post(CREATE_PATHS["xai"], json=body, headers=headers)
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        assert (
            anonymous.post(
                CREATE_PATHS["xai"], json=body, headers={"Authorization": "Bearer any"}
            ).status_code
            == 200
        )

        fast.api_key = "right-key"
        for contract, path in CREATE_PATHS.items():
            wrong = anonymous.post(path, json=body, headers={"Authorization": "Bearer wrong-key"})
            assert wrong.status_code == 401, contract
            assert "wrong-key" not in wrong.text
        right = anonymous.post(CREATE_PATHS["xai"], json=body, headers={"Authorization": "Bearer right-key"})
        assert right.status_code == 200
        job_id = right.json()["request_id"]
        assert anonymous.get(f"/v1/videos/{job_id}").status_code == 401  # polls need the key too
        assert (
            anonymous.get(f"/v1/videos/{job_id}", headers={"Authorization": "Bearer right-key"}).status_code
            == 200
        )


def test_unknown_ids_and_wrong_contract_are_404(fast_client: httpx.Client) -> None:
    job_id = create(fast_client, "xai", "x")
    assert poll(fast_client, "xai", "nope").status_code == 404
    assert poll(fast_client, "cometapi", job_id).status_code == 404  # an xAI job is not a CometAPI job
    assert poll(fast_client, "aimlapi", job_id).status_code == 404
    missing = fast_client.get("/v2/video/generations")
    assert missing.status_code == 400
    assert fast_client.get("/nowhere").status_code == 404
    assert fast_client.delete(CREATE_PATHS["xai"]).status_code == 405


# --------------------------------------------------------------------------- videos


def test_mp4_structure_size_and_digest(fast: SandboxServer, fast_client: httpx.Client) -> None:
    size = 1_000_003
    job_id = create(fast_client, "xai", f"x sandbox:bytes={size} sandbox:seconds=0")
    url = poll(fast_client, "xai", job_id).json()["video"]["url"]
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-length"] == str(size) and len(response.content) == size
    data = response.content
    boxes = read_boxes(data, size)
    assert [kind for kind, _, _ in boxes] == [b"ftyp", b"moov", b"mdat"]
    assert data[8:12] == b"isom"  # major brand
    _, moov_at, moov_size = boxes[1]
    assert data[moov_at + 12 : moov_at + 16] == b"mvhd"
    assert moov_size < 1024
    assert hashlib.sha256(data).hexdigest() == mp4_sha256(job_id, size)
    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(size) and head.content == b""


def test_range_requests(fast: SandboxServer, fast_client: httpx.Client) -> None:
    job_id = create(fast_client, "xai", "x sandbox:seconds=0")
    url = f"{fast.url}/files/{job_id}.mp4"
    full = b"".join(iter_mp4(job_id, 262144))
    part = httpx.get(url, headers={"Range": "bytes=100000-199999"})
    assert part.status_code == 206 and part.content == full[100000:200000]
    assert part.headers["content-range"] == "bytes 100000-199999/262144"
    tail = httpx.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == full[-10:]
    assert httpx.get(url, headers={"Range": "bytes=999999-"}).status_code == 416


def test_iter_mp4_is_deterministic_and_chunk_independent() -> None:
    size = 300_001
    a = b"".join(iter_mp4("job-a", size, 1000))
    assert a == b"".join(iter_mp4("job-a", size, 65536)) == b"".join(iter_mp4("job-a", size, 10**6))
    assert len(a) == size and hashlib.sha256(a).hexdigest() == mp4_sha256("job-a", size)
    assert a[1000:] != b"".join(iter_mp4("job-b", size))[1000:]
    assert b"".join(iter_mp4("job-a", size, 777, start=5000, stop=123456)) == a[5000:123456]
    assert all(len(c) <= 777 for c in iter_mp4("job-a", size, 777))
    smallest = b"".join(iter_mp4("job-a", MIN_SIZE))
    assert [kind for kind, _, _ in read_boxes(smallest, MIN_SIZE)] == [b"ftyp", b"moov", b"mdat"]
    with pytest.raises(ValueError):
        next(iter_mp4("job-a", MIN_SIZE - 1))


def test_multi_gigabyte_mp4_uses_a_64_bit_mdat() -> None:
    size = 5 * 1024**3 + 17
    head = next(iter_mp4("huge", size, 4096))  # lazy: nothing beyond the first chunk is produced
    boxes = read_boxes(head, size)
    assert [kind for kind, _, _ in boxes] == [b"ftyp", b"moov", b"mdat"]
    assert struct.unpack(">I", head[boxes[2][1] : boxes[2][1] + 4])[0] == 1  # largesize follows


def test_large_video_streams_in_bounded_memory(fast: SandboxServer, fast_client: httpx.Client) -> None:
    size = 64 * 1024 * 1024
    job_id = create(fast_client, "xai", "big sandbox:bytes=64MiB sandbox:seconds=0")
    url = poll(fast_client, "xai", job_id).json()["video"]["url"]
    digest = hashlib.sha256()
    received = 0
    tracemalloc.start()
    try:
        with httpx.stream("GET", url, timeout=30) as response:
            assert response.headers["content-length"] == str(size)
            for chunk in response.iter_raw():
                digest.update(chunk)
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()  # server thread and client, same process
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert digest.hexdigest() == mp4_sha256(job_id, size)


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


# --------------------------------------------------------------------------- upload_url


class _Receiver:
    """A loopback PUT target that hashes what it receives (answers 500 on paths containing 'fail')."""

    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                remaining = int(self.headers["Content-Length"])
                digest = hashlib.sha256()
                total = 0
                while remaining:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    digest.update(chunk)
                    total += len(chunk)
                    remaining -= len(chunk)
                receiver.puts.append(
                    {
                        "path": self.path,
                        "content_length": int(self.headers["Content-Length"]),
                        "content_type": self.headers.get("Content-Type"),
                        "received": total,
                        "sha256": digest.hexdigest(),
                    }
                )
                self.send_response(500 if "fail" in self.path else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    rec = _Receiver()
    yield rec
    rec.close()


def test_upload_url_receives_the_video_before_done(
    fast: SandboxServer, fast_client: httpx.Client, receiver: _Receiver
) -> None:
    size = 3 * 1024 * 1024 + 5
    target = f"{receiver.url}/bucket/video.mp4?X-Amz-Signature=abc"
    job_id = create(
        fast_client, "xai", f"x sandbox:bytes={size} sandbox:seconds=5", output={"upload_url": target}
    )
    final, _ = poll_until(fast_client, "xai", job_id, _flat_done)
    assert final.json()["status"] == "done"
    assert receiver.puts == [  # done is only reported once the upload has landed
        {
            "path": "/bucket/video.mp4?X-Amz-Signature=abc",
            "content_length": size,
            "content_type": "video/mp4",
            "received": size,
            "sha256": mp4_sha256(job_id, size),
        }
    ]
    job = fast.job(job_id)
    assert job["uploaded"] is True and job["upload"]["status_code"] == 200
    assert job["body"]["output"] == {"upload_url": target}
    assert fast.stats["uploads"] == 1

    failing = create(
        fast_client, "cometapi", "y sandbox:seconds=0", output={"upload_url": f"{receiver.url}/fail"}
    )
    fast.comet_envelope = "flat"
    final, _ = poll_until(fast_client, "cometapi", failing, _flat_done)
    assert final.json()["status"] == "done"  # the video is still served at its URL
    job = fast.job(failing)
    assert (
        job["uploaded"] is False
        and job["upload"]["status"] == "failed"
        and job["upload"]["status_code"] == 500
    )


# --------------------------------------------------------------------------- introspection and CLI


def test_jobs_and_stats(server: SandboxServer, client: httpx.Client) -> None:
    data_uri = "data:image/png;base64," + "A" * 5000
    body = {"prompt": "same prompt", "image": {"url": data_uri}, "duration": 3}
    first = create(client, "cometapi", **body)
    second = create(client, "cometapi", **body)
    third = create(client, "aimlapi", "other", image_url=data_uri)
    poll(client, "cometapi", first)

    jobs = client.get("/sandbox/jobs").json()
    assert [j["id"] for j in jobs] == [first, second, third]
    assert [j["contract"] for j in jobs] == ["cometapi", "cometapi", "aimlapi"]
    assert [j["submit_count"] for j in jobs] == [2, 2, 1]  # identical bodies counted together
    assert jobs[0]["polls"] == 1
    assert jobs[0]["body"]["prompt"] == "same prompt" and jobs[0]["body"]["duration"] == 3
    assert "AAAA" not in json.dumps(jobs)  # image data is not recorded
    assert jobs[2]["body"]["image_url"].startswith("<data URI redacted")
    assert jobs == server.jobs

    stats = client.get("/sandbox/stats").json()
    assert stats["submissions"] == 3 and stats["polls"] == 1
    assert client.post("/sandbox/reset").status_code == 200
    assert server.jobs == [] and server.stats["submissions"] == 0


def test_cli_runs_in_the_foreground() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--time-factor", "0.01", "--quiet"],
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
        url = match.group(1)
        created = httpx.post(f"{url}/v1/videos/generations", json={"prompt": "x"}, headers=AUTH)
        assert created.status_code == 200
        assert httpx.get(f"{url}/sandbox/stats").json()["submissions"] == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        watchdog.cancel()
