"""The sandbox's MP4 files (sandbox/mp4.py): structure, size, digest, any size in bounded memory."""

from __future__ import annotations

import hashlib
import struct

import httpx
import pytest

from sandbox import MIN_SIZE, SandboxServer, iter_mp4, mp4_sha256
from tests.integration.sandbox_client import create, poll


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
