"""The typed client and the CLI against an in-memory API (`httpx.MockTransport`): no sockets, no sleeping."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from videohook_client import (
    INLINE_IMAGE_LIMIT,
    Job,
    JobStatus,
    VideohookApiError,
    VideohookClient,
    VideohookClientError,
    VideohookConfigError,
    VideohookConnectionError,
    VideohookInputError,
    VideohookServerError,
    VideohookTimeout,
    VideoIntegrityError,
    VideoNotReadyError,
    cli,
    sniff_image_type,
)

from tests.fakes import FakeClock

REPO = Path(__file__).resolve().parents[2]
BASE = "https://api.example.test/prod"
KEY = "vh_secret_key_never_printed"
PNG = (REPO / "events" / "first-frame.png").read_bytes()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
VIDEO = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: several download chunks
VIDEO_SHA = hashlib.sha256(VIDEO).hexdigest()
DOWNLOAD_URL = "https://bucket.s3.example.test/videos/vid_1.mp4?X-Amz-Signature=abc"


def job_json(
    job_id: str = "vid_1", status: str = "queued", progress: int = 0, **extra: Any
) -> dict[str, Any]:
    body = {
        "id": job_id,
        "status": status,
        "provider": "sandbox",
        "provider_request_id": "req_1",
        "progress": progress,
        "prompt": "A candle",
        "model": "grok-imagine-video",
        "duration": 2,
        "resolution": "480p",
        "aspect_ratio": None,
        "image": None,
        "reference_images": None,
        "user": None,
        "webhook_url": None,
        "metadata": None,
        "video": None,
        "error": None,
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-02T03:04:05Z",
        "completed_at": None,
    }
    body.update(extra)
    return body


def succeeded_json(job_id: str = "vid_1", **video: Any) -> dict[str, Any]:
    return job_json(
        job_id,
        "succeeded",
        100,
        video={
            "download_url": DOWNLOAD_URL,
            "s3_uri": f"s3://bucket/videos/{job_id}.mp4",
            "bytes": len(VIDEO),
            "sha256": VIDEO_SHA,
            "content_type": "video/mp4",
            **video,
        },
        completed_at="2025-01-02T03:05:00Z",
    )


def error_json(status: int, code: str, message: str, field: str | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "field": field}})


class FakeApi:
    """Records every request; `routes[(method, path)]` answers (a Response, or a list consumed in order)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Any] = {}

    def on(
        self, method: str, path: str, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]
    ):
        self.routes[(method, path)] = list(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.raw_path.decode().split("?")[0])
        answers = self.routes.get(key)
        if not answers:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no such route"}})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(api: FakeApi, clock: FakeClock) -> VideohookClient:
    client = VideohookClient(BASE, KEY, http=httpx.Client(transport=httpx.MockTransport(api)))
    client._sleep = clock.sleep
    client._clock = clock
    return client


# ---- configuration -------------------------------------------------------------


def test_reads_url_and_key_from_the_environment(monkeypatch, api):
    monkeypatch.setenv("VIDEOHOOK_URL", BASE + "/")
    monkeypatch.setenv("VIDEOHOOK_API_KEY", f" {KEY}\n")
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json()))
    client = VideohookClient(http=httpx.Client(transport=httpx.MockTransport(api)))
    assert client.base_url == BASE
    assert client.get_video("vid_1").id == "vid_1"
    assert api.requests[0].headers["x-api-key"] == KEY
    assert KEY not in repr(client)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIDEOHOOK_API_KEY": KEY}, "VIDEOHOOK_URL is not set"),
        ({"VIDEOHOOK_URL": BASE}, "VIDEOHOOK_API_KEY is not set"),
        ({"VIDEOHOOK_URL": "api.example.test", "VIDEOHOOK_API_KEY": KEY}, "must be an http(s) URL"),
    ],
)
def test_missing_configuration_is_a_clear_error(monkeypatch, env, message):
    monkeypatch.delenv("VIDEOHOOK_URL", raising=False)
    monkeypatch.delenv("VIDEOHOOK_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(VideohookConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        VideohookClient()
    assert KEY not in str(caught.value)


# ---- create --------------------------------------------------------------------


def test_create_video_sends_only_given_fields_and_returns_a_typed_job(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json(metadata={"order": 42})))
    job = client.create_video(
        "A candle",
        duration=2,
        resolution="480p",
        aspect_ratio="16:9",
        model="grok-imagine-video",
        provider="sandbox",
        user="u1",
        webhook_url="https://hooks.example.test/v",
        metadata={"order": 42},
        reference_images=None,
        idempotency_key="key-1",
    )
    request = api.requests[0]
    assert json.loads(request.content) == {
        "prompt": "A candle",
        "duration": 2,
        "resolution": "480p",
        "aspect_ratio": "16:9",
        "model": "grok-imagine-video",
        "provider": "sandbox",
        "user": "u1",
        "webhook_url": "https://hooks.example.test/v",
        "metadata": {"order": 42},
    }
    assert request.headers["x-api-key"] == KEY
    assert request.headers["idempotency-key"] == "key-1"
    assert request.headers["content-type"] == "application/json"
    assert isinstance(job, Job) and job.status is JobStatus.QUEUED and not job.is_terminal
    assert job.created_at == datetime.fromisoformat("2025-01-02T03:04:05+00:00")
    assert job.metadata == {"order": 42}
    assert job.raw == job_json(metadata={"order": 42})


def test_create_video_without_idempotency_key_sends_no_header(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("A candle")
    assert "idempotency-key" not in api.requests[0].headers
    assert json.loads(api.requests[0].content) == {"prompt": "A candle"}


def test_unknown_fields_in_answers_are_tolerated(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(tenant_hint="x", cost=3)))
    job = client.get_video("vid_1")
    assert job.id == "vid_1" and job.raw["cost"] == 3


# ---- images --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (b"GIF89a....", None), (b"", None)],
)
def test_image_type_comes_from_magic_bytes(head, media_type):
    assert sniff_image_type(head[:16]) == media_type


def _created_image(api: FakeApi) -> dict[str, str]:
    return json.loads(api.sent("POST", "/prod/v1/videos")[0].content)["image"]


@pytest.mark.parametrize(
    "url", ["https://img.example.test/a.png", "data:image/png;base64,iVBORw0KGgo=", "http://x.test/a.png"]
)
def test_image_urls_are_passed_through_as_urls(api, client, url):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image=url)
    assert _created_image(api) == {"url": url}


@pytest.mark.parametrize(("content", "media_type"), [(PNG, "png"), (JPEG, "jpeg"), (WEBP, "webp")])
def test_small_image_files_are_inlined_as_data_uris(api, client, tmp_path, content, media_type):
    path = tmp_path / "frame.bin"  # the extension does not matter, the bytes do
    path.write_bytes(content)
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image=str(path))
    expected = f"data:image/{media_type};base64,{base64.b64encode(content).decode()}"
    assert _created_image(api) == {"url": expected}
    assert not api.sent("POST", "/prod/v1/uploads")


def test_an_image_object_is_sent_as_is(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image={"upload_id": "upl_1"})
    assert _created_image(api) == {"upload_id": "upl_1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"GIF89a" + b"\x00" * 20, "not a PNG, JPEG or WEBP image"), (None, "no such file")],
)
def test_unusable_image_files_are_refused_before_any_request(api, client, tmp_path, content, message):
    path = tmp_path / "frame.gif"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideohookInputError, match=message):
        client.create_video("p", image=str(path))
    assert api.requests == []


def test_large_images_go_through_uploads_and_a_presigned_put_without_the_api_key(api, client, tmp_path):
    content = PNG + b"\x00" * (INLINE_IMAGE_LIMIT - len(PNG))
    path = tmp_path / "big.png"
    path.write_bytes(content)
    put_url = "https://bucket.s3.example.test/uploads/upl_1?X-Amz-Signature=s"
    api.on(
        "POST",
        "/prod/v1/uploads",
        httpx.Response(
            201,
            json={
                "upload_id": "upl_1",
                "upload_url": put_url,
                "method": "PUT",
                "headers": {"Content-Type": "image/png"},
                "expires_at": "2025-01-02T04:00:00Z",
            },
        ),
    )
    api.on("PUT", "/uploads/upl_1", httpx.Response(200))
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))

    client.create_video("p", image=path)

    assert json.loads(api.sent("POST", "/prod/v1/uploads")[0].content) == {
        "content_type": "image/png",
        "bytes": len(content),
    }
    (put,) = api.sent("PUT", "/uploads/upl_1")
    assert str(put.url) == put_url
    assert put.read() == content
    assert put.headers["content-type"] == "image/png"
    assert put.headers["content-length"] == str(len(content))
    assert "x-api-key" not in put.headers
    assert _created_image(api) == {"upload_id": "upl_1"}


def test_a_refused_upload_put_is_a_client_error(api, client, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    api.on(
        "POST",
        "/prod/v1/uploads",
        httpx.Response(
            201, json={"upload_id": "upl_1", "upload_url": "https://s3.example.test/u", "method": "PUT"}
        ),
    )
    api.on("PUT", "/u", httpx.Response(403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>"))
    with pytest.raises(VideohookClientError) as caught:
        client.upload_image(path)
    assert caught.value.code == "upload_failed" and "SignatureDoesNotMatch" in caught.value.message


# ---- read, list, cancel ----------------------------------------------------------


def test_get_video_escapes_the_id(api, client):
    api.on("GET", "/prod/v1/videos/..%2Fuploads", httpx.Response(200, json=job_json()))
    client.get_video("../uploads")
    assert api.requests[0].url.raw_path == b"/prod/v1/videos/..%2Fuploads"


def test_list_videos_sends_the_filters_and_returns_a_page(api, client):
    api.on(
        "GET",
        "/prod/v1/videos",
        httpx.Response(200, json={"data": [job_json("vid_2"), job_json("vid_1")], "next_cursor": "c2"}),
    )
    page = client.list_videos(status="running", limit=2, cursor="c1")
    assert dict(api.requests[0].url.params) == {"status": "running", "limit": "2", "cursor": "c1"}
    assert [job.id for job in page.data] == ["vid_2", "vid_1"] and page.next_cursor == "c2"
    client.list_videos()
    assert dict(api.requests[1].url.params) == {}


def test_iter_videos_follows_cursors_until_the_last_page(api, client):
    pages = {
        None: {"data": [job_json("vid_5"), job_json("vid_4")], "next_cursor": "c1"},
        "c1": {"data": [job_json("vid_3"), job_json("vid_2")], "next_cursor": "c2"},
        "c2": {"data": [job_json("vid_1")], "next_cursor": None},
    }
    api.on("GET", "/prod/v1/videos", lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    assert [job.id for job in client.iter_videos(status=JobStatus.SUCCEEDED, page_size=2)] == [
        "vid_5",
        "vid_4",
        "vid_3",
        "vid_2",
        "vid_1",
    ]
    assert [r.url.params.get("cursor") for r in api.requests] == [None, "c1", "c2"]
    assert all(r.url.params["status"] == "succeeded" and r.url.params["limit"] == "2" for r in api.requests)


def test_iter_videos_stops_on_a_cursor_loop(api, client):
    api.on("GET", "/prod/v1/videos", httpx.Response(200, json={"data": [job_json()], "next_cursor": "same"}))
    with pytest.raises(VideohookServerError, match="twice"):
        list(client.iter_videos())


def test_cancel_video_returns_the_canceled_job(api, client):
    api.on("POST", "/prod/v1/videos/vid_1/cancel", httpx.Response(200, json=job_json(status="canceled")))
    job = client.cancel_video("vid_1")
    assert job.status is JobStatus.CANCELED and job.is_terminal and not job.succeeded


def test_cancelling_a_finished_job_is_a_409_client_error(api, client):
    api.on(
        "POST", "/prod/v1/videos/vid_1/cancel", error_json(409, "job_finished", "the job already succeeded")
    )
    with pytest.raises(VideohookClientError) as caught:
        client.cancel_video(Job.from_json(job_json()))
    assert (caught.value.status, caught.value.code) == (409, "job_finished")
    assert len(api.requests) == 1  # not retried


# ---- error mapping -------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "kind", "status", "code", "field"),
    [
        (
            error_json(400, "invalid_field", "duration: too big", "duration"),
            VideohookClientError,
            400,
            "invalid_field",
            "duration",
        ),  # fmt: skip
        (httpx.Response(403, json={"message": "Forbidden"}), VideohookClientError, 403, "forbidden", None),
        (error_json(404, "not_found", "no such job"), VideohookClientError, 404, "not_found", None),
        (
            httpx.Response(413, json={"message": "Request Too Long"}),
            VideohookClientError,
            413,
            "request_too_large",
            None,
        ),  # fmt: skip
        (
            error_json(502, "provider_auth_failed", "nope"),
            VideohookServerError,
            502,
            "provider_auth_failed",
            None,
        ),
        (httpx.Response(500, text="<html>boom</html>"), VideohookServerError, 500, "server_error", None),
    ],
)
def test_error_answers_map_to_typed_errors(api, client, response, kind, status, code, field):
    api.on("POST", "/prod/v1/videos", response)
    with pytest.raises(kind) as caught:
        client.create_video("p")
    error = caught.value
    assert isinstance(error, VideohookApiError)
    assert (error.status, error.code, error.field) == (status, code, field)
    assert error.message
    assert len(api.requests) == 1  # a create without an idempotency key is never retried


def test_gets_are_retried_on_503_honouring_retry_after(api, client, clock):
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(503, headers={"retry-after": "3"}, json={"error": {"code": "x", "message": "y"}}),
        httpx.Response(200, json=job_json()),
    )
    assert client.get_video("vid_1").id == "vid_1"
    assert clock.sleeps == [3.0]


def test_an_idempotent_create_is_retried_after_a_connection_error(api, client, clock):
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection reset", request=request)

    api.on("POST", "/prod/v1/videos", drop, httpx.Response(202, json=job_json()))
    assert client.create_video("p", idempotency_key="k").id == "vid_1"
    assert len(api.requests) == 2 and clock.sleeps == [0.5]


def test_connection_errors_say_where_but_never_the_key(api, client):
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("GET", "/prod/v1/videos/vid_1", drop)
    with pytest.raises(VideohookConnectionError) as caught:
        client.get_video("vid_1")
    assert "https://api.example.test" in str(caught.value) and KEY not in str(caught.value)
    assert len(api.requests) == 3  # one try and two retries


def test_a_success_that_is_not_json_is_a_server_error(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(VideohookServerError, match="did not answer JSON"):
        client.get_video("vid_1")


# ---- wait ----------------------------------------------------------------------


def test_wait_polls_with_backoff_until_terminal(api, client, clock):
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=job_json(status="queued")),
        httpx.Response(200, json=job_json(status="running", progress=10)),
        httpx.Response(200, json=job_json(status="running", progress=50)),
        httpx.Response(200, json=job_json(status="running", progress=90)),
        httpx.Response(200, json=succeeded_json()),
    )
    seen: list[tuple[str, int]] = []
    job = client.wait("vid_1", poll_interval=1.0, max_poll_interval=2.0, on_progress=lambda j: seen.append(
        (j.status.value, j.progress)
    ))  # fmt: skip
    assert job.succeeded and job.video is not None and job.video.sha256 == VIDEO_SHA
    assert seen == [("queued", 0), ("running", 10), ("running", 50), ("running", 90), ("succeeded", 100)]
    assert clock.sleeps == [1.0, 1.5, 2.0, 2.0]


def test_wait_returns_failed_jobs_too(api, client):
    failed = job_json(status="failed", error={"code": "generation_failed", "message": "no"})
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=failed))
    job = client.wait("vid_1")
    assert job.status is JobStatus.FAILED and job.error is not None and job.error.code == "generation_failed"


def test_wait_times_out_with_the_last_state(api, client, clock):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(status="running", progress=40)))
    with pytest.raises(VideohookTimeout, match="within 10 s") as caught:
        client.wait("vid_1", timeout=10, poll_interval=2, max_poll_interval=4)
    assert caught.value.job is not None and caught.value.job.progress == 40
    assert sum(clock.sleeps) == pytest.approx(10)  # never sleeps past the deadline
    assert len(api.requests) == len(clock.sleeps) + 1  # and polls once more at the deadline


def test_wait_rides_out_a_few_transient_failures(api, client, clock):
    client._retries = 0
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        error_json(503, "provider_unavailable", "try again"),
        error_json(502, "bad_gateway", "x"),
        httpx.Response(200, json=succeeded_json()),
    )
    assert client.wait("vid_1", poll_interval=1).succeeded


def test_wait_gives_up_after_consecutive_failures_and_on_client_errors(api, client):
    client._retries = 0
    api.on("GET", "/prod/v1/videos/vid_1", error_json(503, "provider_unavailable", "try again"))
    with pytest.raises(VideohookServerError):
        client.wait("vid_1", poll_interval=1)
    assert len(api.requests) == 5
    api.on("GET", "/prod/v1/videos/vid_2", error_json(404, "not_found", "no such job"))
    with pytest.raises(VideohookClientError):
        client.wait("vid_2")


# ---- download ------------------------------------------------------------------


def _serve_video(api: FakeApi, content: bytes = VIDEO, status: int = 200) -> None:
    def stream(request: httpx.Request) -> httpx.Response:
        chunks = (content[i : i + 65536] for i in range(0, len(content), 65536))
        return httpx.Response(status, content=chunks)

    api.on("GET", "/videos/vid_1.mp4", stream)


def test_download_streams_verifies_and_renames(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    _serve_video(api)
    seen: list[tuple[int, int | None]] = []
    path = client.download("vid_1", tmp_path / "out.mp4", on_progress=lambda r, t: seen.append((r, t)))
    assert path == tmp_path / "out.mp4" and path.read_bytes() == VIDEO
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left behind
    (get,) = api.sent("GET", "/videos/vid_1.mp4")
    assert "x-api-key" not in get.headers  # the presigned URL never sees the API key
    assert seen[-1] == (len(VIDEO), len(VIDEO)) and len(seen) > 1


def test_download_follows_redirects(api, client, tmp_path):
    moved = Job.from_json(succeeded_json(download_url="https://cdn.example.test/moved"))
    api.on("GET", "/moved", httpx.Response(302, headers={"location": DOWNLOAD_URL}))
    _serve_video(api)
    assert client.download(moved, tmp_path / "a.mp4").read_bytes() == VIDEO


def test_download_into_a_directory_names_the_file_after_the_job(api, client, tmp_path):
    _serve_video(api)
    path = client.download(Job.from_json(succeeded_json()), tmp_path)
    assert path == tmp_path / "vid_1.mp4" and path.read_bytes() == VIDEO


@pytest.mark.parametrize(
    ("served", "video", "match"),
    [
        (VIDEO[:-1] + b"X", {}, "SHA-256"),
        (VIDEO[:-10], {}, f"received {len(VIDEO) - 10} bytes"),
        (VIDEO + b"extra", {}, "longer than"),
        (VIDEO, {"bytes": len(VIDEO) + 1}, "received"),
    ],
)
def test_download_integrity_failures_write_nothing(api, client, tmp_path, served, video, match):
    _serve_video(api, served)
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"previous")
    with pytest.raises(VideoIntegrityError, match=match):
        client.download(Job.from_json(succeeded_json(**video)), dest)
    assert dest.read_bytes() == b"previous"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_download_can_skip_the_hash_but_never_the_size(api, client, tmp_path):
    _serve_video(api, VIDEO[:-1] + b"X")
    job = Job.from_json(succeeded_json())
    assert client.download(job, tmp_path / "a.mp4", verify_sha256=False).read_bytes() == VIDEO[:-1] + b"X"


def test_download_refetches_an_expired_presigned_url_once(api, client, tmp_path):
    stale = Job.from_json(succeeded_json(download_url="https://bucket.s3.example.test/expired"))
    api.on("GET", "/expired", httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>"))
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    _serve_video(api)
    assert client.download(stale, tmp_path / "a.mp4").read_bytes() == VIDEO


@pytest.mark.parametrize(
    ("job", "match"),
    [
        (job_json(status="running", progress=30), "still running"),
        (job_json(status="failed", error={"code": "moderation_blocked", "message": "no"}), "ended failed"),
    ],
)
def test_download_of_a_job_without_video_is_refused(api, client, tmp_path, job, match):
    with pytest.raises(VideoNotReadyError, match=match):
        client.download(Job.from_json(job), tmp_path / "a.mp4")
    assert not (tmp_path / "a.mp4").exists()


# ---- the CLI -------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(
    client: VideohookClient | None, *argv: str, stderr: io.StringIO | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = cli.main(list(argv), client=client, stdout=out, stderr=err)
    assert KEY not in out.getvalue() + err.getvalue()
    return code, out.getvalue(), err.getvalue()


def test_cli_submit_prints_one_line_or_the_json(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    code, out, err = run(client, "submit", "A candle", "--duration", "2", "--metadata", '{"order": 42}')
    assert (code, err) == (0, "")
    assert out.split() == ["vid_1", "queued", "0%", "2025-01-02T03:04:05Z"]
    body = json.loads(api.requests[0].content)
    assert body == {"prompt": "A candle", "duration": 2, "metadata": {"order": 42}}
    assert api.requests[0].headers["idempotency-key"].startswith("cli-")

    code, out, _ = run(client, "submit", "A candle", "--json", "--idempotency-key", "mine")
    assert code == 0 and json.loads(out) == job_json()
    assert api.requests[1].headers["idempotency-key"] == "mine"


def test_cli_submit_wait_out_downloads_the_video(api, client, tmp_path):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=job_json(status="running", progress=50)),
        httpx.Response(200, json=succeeded_json()),
    )
    _serve_video(api)
    out_file = tmp_path / "v.mp4"
    code, out, err = run(client, "submit", "A candle", "--out", str(out_file), "--poll-interval", "0.01")
    assert code == 0, err
    assert out.split()[:3] == ["vid_1", "succeeded", "100%"]
    assert out_file.read_bytes() == VIDEO
    assert "submitted vid_1" in err and "vid_1: running 50%" in err and f"sha256 {VIDEO_SHA}" in err
    assert "\r" not in err  # stderr is not a terminal: plain lines, no bar


def test_cli_progress_bar_on_a_terminal(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    api.on(
        "GET",
        "/prod/v1/videos/vid_1",
        httpx.Response(200, json=job_json(status="running", progress=50)),
        httpx.Response(200, json=succeeded_json()),
    )
    code, _, err = run(client, "submit", "p", "--wait", stderr=Tty())
    assert code == 0
    assert "\r[###############---------------]  50%  running" in err
    assert "\r[##############################] 100%  succeeded" in err
    assert err.endswith("\n")


@pytest.mark.parametrize(
    ("final", "message"),
    [
        (
            job_json(status="failed", error={"code": "generation_failed", "message": "boom"}),
            "error: job vid_1 ended failed: generation_failed: boom",
        ),  # fmt: skip
        (job_json(status="expired", error={"code": "provider_expired", "message": "late"}), "ended expired"),
        (job_json(status="canceled"), "error: job vid_1 ended canceled"),
    ],
)
def test_cli_exit_1_when_the_job_does_not_succeed(api, client, tmp_path, final, message):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=final))
    code, out, err = run(client, "submit", "p", "--wait", "--out", str(tmp_path / "v.mp4"))
    assert code == 1 and message in err
    assert out.split()[1] == final["status"]
    assert not (tmp_path / "v.mp4").exists()


def test_cli_exit_2_on_usage_errors_before_any_request(api, client, tmp_path):
    code, out, err = run(client, "submit")
    assert (code, out) == (2, "") and "error: the following arguments are required: PROMPT" in err
    assert run(client, "submit", "p", "--metadata", "[1]")[0] == 2
    assert run(client, "submit", "p", "--duration", "two")[0] == 2
    assert run(client, "submit", "p", "--timeout", "-1")[0] == 2
    assert run(client, "list", "--status", "done")[0] == 2
    assert run(client, "download", "vid_1")[0] == 2
    assert run(client, "frobnicate")[0] == 2
    code, _, err = run(client, "submit", "p", "--out", str(tmp_path / "missing" / "v.mp4"))
    assert code == 2 and "does not exist" in err
    code, _, err = run(client, "submit", "p", "--image", str(tmp_path / "nope.png"))
    assert code == 2 and "no such file" in err
    assert api.requests == []


def test_cli_exit_2_without_configuration(monkeypatch):
    monkeypatch.delenv("VIDEOHOOK_URL", raising=False)
    monkeypatch.setenv("VIDEOHOOK_API_KEY", KEY)
    code, out, err = run(None, "status", "vid_1")
    assert (code, out) == (2, "") and err.startswith("error: VIDEOHOOK_URL is not set")


def test_cli_help_documents_the_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in ("0    success", "3    the API refused", "5    timed out", "6    the download failed"):
        assert line in text


def test_cli_exit_3_prints_the_api_error(api, client):
    api.on("POST", "/prod/v1/videos", error_json(400, "invalid_field", "duration: too big", "duration"))
    code, out, err = run(client, "submit", "p", "--duration", "99")
    assert (code, out) == (3, "")
    assert err == "error: invalid_field: duration: too big (field: duration)\n"
    api.on("GET", "/prod/v1/videos/vid_x", error_json(404, "not_found", "no such job"))
    assert run(client, "status", "vid_x")[1:] == ("", "error: not_found: no such job\n")


def test_cli_exit_3_on_a_bad_key_with_a_hint(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(403, json={"message": "Forbidden"}))
    code, _, err = run(client, "status", "vid_1")
    assert code == 3 and err.startswith("error: forbidden: Forbidden\nhint: check VIDEOHOOK_API_KEY")


def test_cli_exit_4_on_server_and_network_errors(api, client):
    client._retries = 0
    api.on("GET", "/prod/v1/videos/vid_1", error_json(500, "internal", "boom"))
    assert run(client, "status", "vid_1") == (4, "", "error: internal: boom (HTTP 500)\n")

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("GET", "/prod/v1/videos/vid_1", drop)
    code, _, err = run(client, "status", "vid_1")
    assert code == 4 and err.startswith("error: cannot reach https://api.example.test")


def test_cli_exit_5_when_waiting_times_out(api, client, clock):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(status="running", progress=5)))
    code, out, err = run(client, "submit", "p", "--wait", "--timeout", "30")
    assert (code, out) == (5, "")
    assert "error: timed out: job vid_1 did not finish within 30 s (last seen: running, 5%)" in err
    assert "videohook status vid_1" in err


def test_cli_exit_6_when_the_download_is_corrupt(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    _serve_video(api, VIDEO[:-1] + b"X")
    code, _, err = run(client, "download", "vid_1", "--out", str(tmp_path / "v.mp4"))
    assert code == 6 and "integrity check failed" in err and "SHA-256" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_download_and_its_exit_1_without_a_video(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    _serve_video(api)
    code, out, err = run(client, "download", "vid_1", "--out", str(tmp_path / "v.mp4"))
    assert (code, out) == (0, "") and err.startswith(f"wrote {tmp_path / 'v.mp4'}")
    assert (tmp_path / "v.mp4").read_bytes() == VIDEO
    api.on("GET", "/prod/v1/videos/vid_2", httpx.Response(200, json=job_json("vid_2", "running", 20)))
    code, _, err = run(client, "download", "vid_2", "--out", str(tmp_path / "w.mp4"))
    assert code == 1 and "still running (20%)" in err


def test_cli_status_list_and_cancel(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    code, out, _ = run(client, "status", "vid_1")
    assert code == 0 and out.split() == ["vid_1", "succeeded", "100%", "2025-01-02T03:04:05Z"]
    assert json.loads(run(client, "status", "vid_1", "--json")[1]) == succeeded_json()

    pages = {
        None: {"data": [job_json("vid_3"), job_json("vid_2")], "next_cursor": "c1"},
        "c1": {"data": [job_json("vid_1")], "next_cursor": None},
    }
    api.on("GET", "/prod/v1/videos", lambda r: httpx.Response(200, json=pages[r.url.params.get("cursor")]))
    code, out, err = run(client, "list", "--limit", "2", "--status", "queued")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["vid_3", "vid_2"]
    assert err == "more: videohook list --status queued --limit 2 --cursor c1\n"
    assert json.loads(run(client, "list", "--json")[1]) == pages[None]
    code, out, _ = run(client, "list", "--all")
    assert [line.split()[0] for line in out.splitlines()] == ["vid_3", "vid_2", "vid_1"]
    code, out, _ = run(client, "list", "--all", "--json")
    assert [job["id"] for job in json.loads(out)["data"]] == ["vid_3", "vid_2", "vid_1"]

    api.on("POST", "/prod/v1/videos/vid_1/cancel", httpx.Response(200, json=job_json(status="canceled")))
    assert run(client, "cancel", "vid_1")[:2] == (0, "vid_1  canceled     0%  2025-01-02T03:04:05Z\n")
    api.on("POST", "/prod/v1/videos/vid_1/cancel", error_json(409, "job_finished", "the job already ended"))
    assert run(client, "cancel", "vid_1") == (3, "", "error: job_finished: the job already ended\n")
