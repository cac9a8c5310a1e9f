"""Rendered videos on disk: each rendered once, on its first download, then sent with sendfile."""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import BinaryIO

from sandbox import mp4

VIDEO_FILES_BYTES = 3 * 1024**3
"""Disk kept for rendered videos (least recently used evicted; the one being served never)."""


class VideoFiles:
    """Rendered videos on disk, least recently used evicted beyond ``budget`` bytes.

    A video's bytes are computed (SHAKE-256, ~300 MB/s) once, on its first download,
    then every download is a ``sendfile`` from the page cache: serving costs the sandbox
    next to no CPU, as a CDN's serving costs a provider's client none (a copy measured
    against the sandbox on shared cores is not slowed by the sandbox's hashing). Rendering
    is streamed in ``chunk_size`` pieces: memory stays bounded whatever the size. An
    evicted file still being sent stays readable (POSIX: unlinking keeps open files).
    """

    def __init__(self, budget: int, chunk_size: int) -> None:
        self._budget = budget
        self._chunk_size = chunk_size
        self._lock = threading.Lock()
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._files: OrderedDict[str, int] = OrderedDict()  # file name -> size, oldest first
        self._renders: dict[str, threading.Lock] = {}  # one render at a time per video

    def open(self, job_id: str, size: int) -> BinaryIO:
        """The whole video for ``(job_id, size)``, opened for reading; rendered if need be."""
        name = f"{job_id}-{size}.mp4"
        with self._lock:
            if self._directory is None:
                self._directory = tempfile.TemporaryDirectory(prefix="videohook-sandbox-")
            directory = Path(self._directory.name)
            render = self._renders.setdefault(name, threading.Lock())
        with render:
            with self._lock:
                if name in self._files:
                    self._files.move_to_end(name)
                    return (directory / name).open("rb")
            partial = directory / f"{name}.partial"
            with partial.open("wb") as out:
                for chunk in mp4.iter_mp4(job_id, size, self._chunk_size):
                    out.write(chunk)
            partial.rename(directory / name)
            with self._lock:
                self._files[name] = size
                self._renders.pop(name, None)
                while sum(self._files.values()) > self._budget and len(self._files) > 1:
                    evicted, _ = self._files.popitem(last=False)
                    (directory / evicted).unlink(missing_ok=True)
                return (directory / name).open("rb")

    def close(self) -> None:
        with self._lock:
            if self._directory is not None:
                self._directory.cleanup()
                self._directory = None
            self._files.clear()
