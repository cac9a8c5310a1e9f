"""The sandbox's videos (sandbox/video_files.py): rendered once, on the first download, then sent with
sendfile; byte ranges; any size in bounded memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import httpx
import pytest

from sandbox import SandboxServer, iter_mp4, mp4, mp4_sha256, video_files
from tests.integration.sandbox_client import create, poll


@pytest.fixture
def renders(monkeypatch) -> list[tuple[str, int]]:
    """Every (job id, size) whose bytes the sandbox computes."""
    calls: list[tuple[str, int]] = []
    real = mp4.iter_mp4

    def counting(job_id, size, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - iter_mp4's
        calls.append((job_id, size))
        return real(job_id, size, *args, **kwargs)

    monkeypatch.setattr(video_files.mp4, "iter_mp4", counting)
    return calls


def _finished_job(client: httpx.Client, size: int) -> str:
    answer = client.post(
        "/v1/videos/generations", json={"prompt": f"x sandbox:bytes={size} sandbox:seconds=0", "duration": 1}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["request_id"]


def test_a_video_is_rendered_once_and_every_download_is_the_same_bytes(renders) -> None:
    size = 3 * 1024 * 1024 + 7
    with (
        SandboxServer(time_factor=0) as sandbox,
        httpx.Client(base_url=sandbox.url, headers={"Authorization": "Bearer test"}, timeout=30) as client,
    ):
        job_id = _finished_job(client, size)
        url = f"/files/{job_id}.mp4"
        assert client.head(url).headers["content-length"] == str(size)
        assert renders == []  # a HEAD renders nothing
        bodies = [client.get(url).content for _ in range(2)]
        tail = client.get(url, headers={"Range": "bytes=-100"})
        directory = Path(sandbox.videos._directory.name)
        assert directory.is_dir()
    assert renders == [(job_id, size)]
    expected = mp4.mp4_sha256(job_id, size)
    assert [hashlib.sha256(body).hexdigest() for body in bodies] == [expected, expected]
    assert tail.status_code == 206 and tail.content == bodies[0][-100:]
    assert not directory.exists()  # stop() removes the rendered files


def test_the_least_recently_used_videos_are_evicted_beyond_the_budget() -> None:
    files = video_files.VideoFiles(budget=2 * 1000, chunk_size=4096)
    try:
        first = files.open("a", 1000)
        files.open("b", 1000).close()
        files.open("a", 1000).close()  # "a" is now more recent than "b"
        files.open("c", 1000).close()
        directory = Path(files._directory.name)
        assert sorted(path.name for path in directory.iterdir()) == ["a-1000.mp4", "c-1000.mp4"]
        files.open("d", 1000).close()
        assert sorted(path.name for path in directory.iterdir()) == ["c-1000.mp4", "d-1000.mp4"]
        # An evicted file still open is still read in full.
        assert hashlib.sha256(first.read()).hexdigest() == mp4.mp4_sha256("a", 1000)
        first.close()
    finally:
        files.close()


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
