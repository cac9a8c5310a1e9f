"""The sandbox's three wire contracts (sandbox/xai.py, cometapi.py, aimlapi.py) over real loopback
HTTP: poll walks and answer shapes, outcomes, create validation, auth, unknown ids."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, mp4_sha256
from tests.fakes import FakeClock
from tests.integration.sandbox_client import (
    CREATE_PATHS,
    aiml_done,
    create,
    flat_done,
    poll,
    poll_until,
)


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
    done = {"xai": flat_done, "cometapi": flat_done, "aimlapi": aiml_done}[contract]
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
