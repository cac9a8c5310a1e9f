"""The PUT of a finished video to the ``output.upload_url`` a create body named (zero-copy)."""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

from sandbox import mp4


def put_video(url: str, job_id: str, size: int, chunk_size: int, stopping: threading.Event) -> dict[str, Any]:
    """PUT the video of ``(job_id, size)`` to ``url``, streamed; the outcome as ``job.upload`` records it."""
    result: dict[str, Any] = {"url": url, "status": "failed", "status_code": None, "error": None}
    sent = 0
    try:
        target = urlsplit(url)
        conn_cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(target.hostname or "", target.port, timeout=60)
        try:
            path = (target.path or "/") + (f"?{target.query}" if target.query else "")
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            conn.putheader("Content-Type", "video/mp4")
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            for chunk in mp4.iter_mp4(job_id, size, chunk_size):
                if stopping.is_set():
                    raise ConnectionAbortedError("sandbox stopped during the upload")
                conn.send(chunk)
                sent += len(chunk)
            response = conn.getresponse()
            response.read(64 * 1024)
            result["status_code"] = response.status
            if 200 <= response.status < 300:
                result["status"] = "succeeded"
            else:
                result["error"] = f"upload answered HTTP {response.status}"
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["bytes_sent"] = sent
    return result
