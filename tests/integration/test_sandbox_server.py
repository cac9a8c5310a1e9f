"""The sandbox server (sandbox/server.py, sandbox/__main__.py): uploads to output.upload_url,
introspection, and the command line."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from sandbox import SandboxServer, mp4_sha256
from tests.integration.sandbox_client import AUTH, create, flat_done, poll, poll_until, sandbox_process


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
    final, _ = poll_until(fast_client, "xai", job_id, flat_done)
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
    final, _ = poll_until(fast_client, "cometapi", failing, flat_done)
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
    with sandbox_process("--time-factor", "0.01") as url:
        created = httpx.post(f"{url}/v1/videos/generations", json={"prompt": "x"}, headers=AUTH)
        assert created.status_code == 200
        assert httpx.get(f"{url}/sandbox/stats").json()["submissions"] == 1
