"""VideohookClient (client.py): its configuration, and creating, reading, listing and cancelling jobs
against an in-memory API (`httpx.MockTransport`, tests/fakes.py's FakeApi)."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest
from videohook_client import (
    Job,
    JobStatus,
    VideohookClient,
    VideohookClientError,
    VideohookConfigError,
    VideohookServerError,
)

from tests.fakes import CLIENT_API_KEY, CLIENT_BASE_URL, error_json, job_json


def test_reads_url_and_key_from_the_environment(monkeypatch, api):
    monkeypatch.setenv("VIDEOHOOK_URL", CLIENT_BASE_URL + "/")
    monkeypatch.setenv("VIDEOHOOK_API_KEY", f" {CLIENT_API_KEY}\n")
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json()))
    client = VideohookClient(http=httpx.Client(transport=httpx.MockTransport(api)))
    assert client.base_url == CLIENT_BASE_URL
    assert client.get_video("vid_1").id == "vid_1"
    assert api.requests[0].headers["x-api-key"] == CLIENT_API_KEY
    assert CLIENT_API_KEY not in repr(client)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VIDEOHOOK_API_KEY": CLIENT_API_KEY}, "VIDEOHOOK_URL is not set"),
        ({"VIDEOHOOK_URL": CLIENT_BASE_URL}, "VIDEOHOOK_API_KEY is not set"),
        (
            {"VIDEOHOOK_URL": "api.example.test", "VIDEOHOOK_API_KEY": CLIENT_API_KEY},
            "must be an http(s) URL",
        ),
    ],
)
def test_missing_configuration_is_a_clear_error(monkeypatch, env, message):
    monkeypatch.delenv("VIDEOHOOK_URL", raising=False)
    monkeypatch.delenv("VIDEOHOOK_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(VideohookConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        VideohookClient()
    assert CLIENT_API_KEY not in str(caught.value)


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
    assert request.headers["x-api-key"] == CLIENT_API_KEY
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
