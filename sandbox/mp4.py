"""Deterministic, streamable MP4 files of any size.

A sandbox video is a structurally valid ISO-BMFF file::

    ftyp (major brand "isom")  | 32 bytes
    moov > mvhd                | 116 bytes
    mdat (payload)             | everything else (8-byte header, or 16 bytes with a 64-bit size)

It is exactly ``size`` bytes long. The mdat payload is a counter-mode hash stream
(SHAKE-256 of a seed derived from ``(job_id, size)`` and a block counter), so any
byte range can be produced on its own, in constant memory, for multi-GB files, and
the same ``(job_id, size)`` always yields the same bytes whatever ``chunk_size``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator

BLOCK_SIZE = 64 * 1024
DEFAULT_CHUNK_SIZE = 256 * 1024
_MAX_SMALL_BOX = 0xFFFFFFFF


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ftyp() -> bytes:
    return _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isom" + b"iso2" + b"avc1" + b"mp41")


def _mvhd() -> bytes:
    unity_matrix = (0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    payload = (
        struct.pack(">I", 0)  # version 0, flags 0
        + struct.pack(">IIII", 0, 0, 1000, 0)  # creation, modification, timescale, duration
        + struct.pack(">I", 0x00010000)  # rate 1.0
        + struct.pack(">H", 0x0100)  # volume 1.0
        + b"\x00" * 10  # reserved
        + struct.pack(">9I", *unity_matrix)
        + b"\x00" * 24  # pre_defined
        + struct.pack(">I", 1)  # next_track_ID
    )
    return _box(b"mvhd", payload)


_PREFIX = _ftyp() + _box(b"moov", _mvhd())
MIN_SIZE = len(_PREFIX) + 8
"""The smallest valid sandbox MP4 (empty mdat)."""


def header(size: int) -> bytes:
    """The bytes before the mdat payload: ftyp, moov and the mdat box header."""
    if size < MIN_SIZE:
        raise ValueError(f"an MP4 of {size} bytes is too small: the minimum is {MIN_SIZE}")
    mdat_size = size - len(_PREFIX)
    if mdat_size <= _MAX_SMALL_BOX:
        mdat_header = struct.pack(">I", mdat_size) + b"mdat"
    else:  # 64-bit "largesize": size field 1, then the real size after the type
        mdat_header = struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", mdat_size)
    return _PREFIX + mdat_header


def _seed(job_id: str, size: int) -> bytes:
    return hashlib.sha256(f"videohook-sandbox-mp4\x00{job_id}\x00{size}".encode()).digest()


def _block(seed: bytes, index: int) -> bytes:
    return hashlib.shake_256(seed + index.to_bytes(8, "big")).digest(BLOCK_SIZE)


def iter_mp4(
    job_id: str,
    size: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[bytes]:
    """Yield bytes ``[start, stop)`` of the MP4 for ``(job_id, size)`` in chunks of at most ``chunk_size``.

    Memory stays bounded by ``chunk_size`` plus one 64 KiB block whatever ``size`` is.
    """
    if chunk_size <= 0:
        raise ValueError("chunk_size must be positive")
    head = header(size)
    stop = size if stop is None else stop
    if not 0 <= start <= stop <= size:
        raise ValueError(f"invalid range [{start}, {stop}) for a file of {size} bytes")
    seed = _seed(job_id, size)
    head_len = len(head)
    cached_index = -1
    cached_block = b""
    pos = start
    while pos < stop:
        end = min(stop, pos + chunk_size)
        parts: list[bytes] = []
        cur = pos
        if cur < head_len:
            take = min(end, head_len)
            parts.append(head[cur:take])
            cur = take
        while cur < end:
            offset = cur - head_len
            index, within = divmod(offset, BLOCK_SIZE)
            if index != cached_index:
                cached_block = _block(seed, index)
                cached_index = index
            take = min(end - cur, BLOCK_SIZE - within)
            parts.append(cached_block[within : within + take])
            cur += take
        yield parts[0] if len(parts) == 1 else b"".join(parts)
        pos = end


def mp4_sha256(job_id: str, size: int) -> str:
    """Hex SHA-256 of the whole MP4 for ``(job_id, size)``, computed in constant memory."""
    digest = hashlib.sha256()
    for chunk in iter_mp4(job_id, size, DEFAULT_CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()
