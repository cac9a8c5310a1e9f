"""Downloading a job's video (downloads.py): streamed, size and SHA-256 checked, written only when
it is whole."""

from __future__ import annotations

import httpx
import pytest
from videohook_client import Job, VideoIntegrityError, VideoNotReadyError

from tests.fakes import VIDEO_BYTES, VIDEO_DOWNLOAD_URL, job_json, succeeded_json


def test_download_streams_verifies_and_renames(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    api.serves_video()
    seen: list[tuple[int, int | None]] = []
    path = client.download("vid_1", tmp_path / "out.mp4", on_progress=lambda r, t: seen.append((r, t)))
    assert path == tmp_path / "out.mp4" and path.read_bytes() == VIDEO_BYTES
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left behind
    (get,) = api.sent("GET", "/videos/vid_1.mp4")
    assert "x-api-key" not in get.headers  # the presigned URL never sees the API key
    assert seen[-1] == (len(VIDEO_BYTES), len(VIDEO_BYTES)) and len(seen) > 1


def test_download_follows_redirects(api, client, tmp_path):
    moved = Job.from_json(succeeded_json(download_url="https://cdn.example.test/moved"))
    api.on("GET", "/moved", httpx.Response(302, headers={"location": VIDEO_DOWNLOAD_URL}))
    api.serves_video()
    assert client.download(moved, tmp_path / "a.mp4").read_bytes() == VIDEO_BYTES


def test_download_into_a_directory_names_the_file_after_the_job(api, client, tmp_path):
    api.serves_video()
    path = client.download(Job.from_json(succeeded_json()), tmp_path)
    assert path == tmp_path / "vid_1.mp4" and path.read_bytes() == VIDEO_BYTES


@pytest.mark.parametrize(
    ("served", "video", "match"),
    [
        (VIDEO_BYTES[:-1] + b"X", {}, "SHA-256"),
        (VIDEO_BYTES[:-10], {}, f"received {len(VIDEO_BYTES) - 10} bytes"),
        (VIDEO_BYTES + b"extra", {}, "longer than"),
        (VIDEO_BYTES, {"bytes": len(VIDEO_BYTES) + 1}, "received"),
    ],
)
def test_download_integrity_failures_write_nothing(api, client, tmp_path, served, video, match):
    api.serves_video(served)
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"previous")
    with pytest.raises(VideoIntegrityError, match=match):
        client.download(Job.from_json(succeeded_json(**video)), dest)
    assert dest.read_bytes() == b"previous"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_download_can_skip_the_hash_but_never_the_size(api, client, tmp_path):
    corrupt = VIDEO_BYTES[:-1] + b"X"
    api.serves_video(corrupt)
    job = Job.from_json(succeeded_json())
    assert client.download(job, tmp_path / "a.mp4", verify_sha256=False).read_bytes() == corrupt


def test_download_refetches_an_expired_presigned_url_once(api, client, tmp_path):
    stale = Job.from_json(succeeded_json(download_url="https://bucket.s3.example.test/expired"))
    api.on("GET", "/expired", httpx.Response(403, text="<Error><Code>AccessDenied</Code></Error>"))
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    api.serves_video()
    assert client.download(stale, tmp_path / "a.mp4").read_bytes() == VIDEO_BYTES


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
