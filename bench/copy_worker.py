"""One measured transfer in a fresh process; prints {"seconds", "bytes", "rss_growth", "cpu"} as JSON.

    python -m bench.copy_worker copy <source url> <s3 endpoint> <bucket> <key>
    python -m bench.copy_worker upload_fileobj <source url> <s3 endpoint> <bucket> <key>
    python -m bench.copy_worker upload_file <local path> <s3 endpoint> <bucket> <key>

`copy` is what FinalizeVideo does (videohook.s3_copier.copy_url_to_s3 with its
defaults); `upload_fileobj` is the simplest correct alternative: the same download
(videohook.video_source) behind a file object that hashes (SHA-256) and counts as it is
read, handed to boto3's managed `upload_fileobj` with a tuned TransferConfig
(`SIMPLE_TRANSFER`); `upload_file` is the baseline: boto3's managed upload of a local
file with its default TransferConfig. All use the same client configuration, and all are
timed and measured from after the imports and client creation: the peak-RSS mark is reset
just before the transfer, so the growth is what the transfer itself needed; "cpu" is the
process's CPU seconds (all threads) over the transfer.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

MiB = 1024 * 1024
# The simple alternative's TransferConfig: FinalizeVideo's part size and upload threads
# (8 MiB, 6), the whole video in one PutObject below one part, and at most 4 parts held
# in memory (s3transfer's default is 10; with 7, its peak RSS grew to 110 MB at 1 GiB).
SIMPLE_TRANSFER = {"multipart_threshold": 8 * MiB, "multipart_chunksize": 8 * MiB, "max_concurrency": 6}
SIMPLE_PARTS_IN_MEMORY = 4


class HashingStream(io.RawIOBase):
    """A video_source.BodyReader as a readable file: `read(n)` answers n bytes unless the
    body ends first (s3transfer takes a short read of a stream for its last part)."""

    def __init__(self, reader: Any, head: bytes = b"") -> None:
        super().__init__()
        self._reader = reader
        self._head = head  # bytes read ahead (the MP4 check), answered first

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(8 * MiB), b""))
        head, self._head = self._head[:size], self._head[size:]
        buffer = bytearray(size - len(head))
        count = self._reader.readinto(buffer) if buffer else 0
        return head + buffer[:count] if head else bytes(memoryview(buffer)[:count])


def upload_fileobj(source_url: str, s3: Any, bucket: str, key: str) -> int:
    """The simple alternative: stream, hash and count through boto3's upload_fileobj; the size."""
    from boto3.s3.transfer import TransferConfig

    from videohook.copy_errors import VideoDownloadIncomplete, VideoNotMp4
    from videohook.video_source import SNIFF_BYTES, BodyReader, looks_like_mp4, open_url, response_reader

    config = TransferConfig(**SIMPLE_TRANSFER)
    config.max_in_memory_upload_chunks = SIMPLE_PARTS_IN_MEMORY  # an s3transfer TransferConfig field
    with open_url(source_url, connect_timeout=10.0, read_timeout=60.0) as response:
        expected = response.length

        def check_length(received: int) -> None:
            if expected is not None and received != expected:
                raise VideoDownloadIncomplete(f"received {received} of {expected} bytes")

        reader = BodyReader(response_reader(response, 60.0), on_eof=check_length)
        head = bytearray(SNIFF_BYTES)
        head = head[: reader.readinto(head)]
        if not looks_like_mp4(bytes(head)):
            raise VideoNotMp4("not an MP4")
        s3.upload_fileobj(
            HashingStream(reader, bytes(head)),
            bucket,
            key,
            ExtraArgs={"ContentType": "video/mp4"},
            Config=config,
        )
    if not reader.at_eof:
        raise RuntimeError("upload finished before the download did")
    return reader.bytes_read


def main(mode: str, source: str, endpoint: str, bucket: str, key: str) -> None:
    import boto3
    from botocore.config import Config

    from bench.procs import peak_rss, reset_peak_rss
    from videohook.s3_copier import copy_url_to_s3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "adaptive", "max_attempts": 8}, s3={"addressing_style": "path"}),
    )
    s3.head_bucket(Bucket=bucket)  # the connection pool and the service model are warm for every mode
    before = reset_peak_rss()
    cpu_before = time.process_time()
    started = time.perf_counter()
    if mode == "copy":
        size = copy_url_to_s3(source_url=source, bucket=bucket, key=key, s3_client=s3).bytes
    elif mode == "upload_fileobj":
        size = upload_fileobj(source, s3, bucket, key)
    elif mode == "upload_file":
        import os

        size = os.path.getsize(source)
        s3.upload_file(source, bucket, key)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_before
    growth = peak_rss() - before
    print(json.dumps({"seconds": seconds, "bytes": size, "rss_growth": growth, "cpu": round(cpu_seconds, 3)}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
