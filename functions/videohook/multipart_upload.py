"""A multipart upload fed from a stream, in a fixed pool of part buffers.

One thread fills part buffers from a `BodyReader`; up to `max_concurrency` threads upload
the filled buffers as the parts of a multipart upload; a buffer goes back to the pool when
its part is uploaded. The pool's buffers are allocated once: memory is the same for the
first part as for the thousandth, whatever the video's size.

A full part is handed to botocore as the buffer itself, which it checksums, signs and
sends in single calls that release the GIL; only a short last part goes as a file-like
view (`PartBody`), read in copies. A failure aborts the upload after its in-flight parts
finished; a process killed mid-upload aborts nothing, so the next attempt aborts the
uploads of the same key still open before starting its own.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from videohook.copy_errors import VideoUploadFailed
from videohook.video_source import BodyReader

logger = logging.getLogger(__name__)

# S3 rejects every part but the last when it is smaller than 5 MiB.
MIN_PART_SIZE = 5 * 1024 * 1024
# What boto3's managed transfer sends when the client computes checksums "when supported"
# (botocore's default): CRC32 per part, listed again in CompleteMultipartUpload.
_CHECKSUM = "CRC32"


class PartBody(io.RawIOBase):
    """The first `length` bytes of a part buffer as a seekable, read-only file (no copy).

    botocore reads it more than once (checksum, payload signature, sending) and seeks
    back to 0 to retry a request.
    """

    def __init__(self, buffer: bytearray | bytes, length: int) -> None:
        super().__init__()
        self._view = memoryview(buffer)[:length]
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        data = self._view[self._position : end].tobytes()
        self._position = max(self._position, end)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class BufferPool:
    """`count` part buffers, all allocated (and their pages touched) up front, then reused:
    the memory is the same at the first part as at the thousandth. `take` blocks while
    every buffer is out."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(bytearray(size))

    def take(self) -> bytearray:
        return self._free.get()

    def give(self, buffer: bytearray) -> None:
        self._free.put(buffer)


def buffer_count(expected: int | None, part_size: int, max_concurrency: int) -> int:
    """One buffer per upload thread plus the one being filled; with a known length, no more
    than one per part plus the one that finds the end (one in all for a single PutObject)."""
    if expected is None:
        return max_concurrency + 1
    if expected < part_size:
        return 1
    return min(max_concurrency + 1, -(-expected // part_size) + 1)


def checksums(s3_client: Any) -> dict[str, str]:
    """ChecksumAlgorithm for the upload calls, as boto3's managed transfer would send it."""
    mode = getattr(getattr(s3_client, "meta", None), "config", None)
    if getattr(mode, "request_checksum_calculation", "when_supported") == "when_supported":
        return {"ChecksumAlgorithm": _CHECKSUM}
    return {}


def abort_stale_uploads(s3_client: Any, bucket: str, key: str) -> int:
    """Abort the multipart uploads of `key` left open by an earlier attempt; return how many.

    A Lambda killed by its timeout or by running out of memory runs no `except` or `finally`:
    its upload stays open, and its parts are billed until the bucket's lifecycle rule
    (AbortIncompleteMultipartUpload, the backstop) removes them. The next attempt clears them
    before starting its own. An attempt still running elsewhere (a duplicate) loses its
    upload: its next part or its completion fails (NoSuchUpload), and it is retried.
    """
    aborted = 0
    for page in s3_client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=key):
        for upload in page.get("Uploads", []):
            if upload["Key"] != key:  # a longer key with this one as its prefix
                continue
            try:
                s3_client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
            aborted += 1
    if aborted:
        logger.warning(
            "aborted multipart uploads an earlier attempt left open", extra={"key": key, "uploads": aborted}
        )
    return aborted


def upload_parts(
    reader: BodyReader,
    *,
    first: bytearray,
    first_length: int,
    pool: BufferPool,
    s3_client: Any,
    bucket: str,
    key: str,
    content_type: str,
    max_concurrency: int,
) -> None:
    """A multipart upload of `first` and the rest of `reader`; aborted on any failure."""
    abort_stale_uploads(s3_client, bucket, key)
    checksum = checksums(s3_client)
    upload_id = s3_client.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType=content_type, **checksum
    )["UploadId"]
    failed = threading.Event()

    def upload(number: int, buffer: bytearray, length: int) -> dict[str, Any]:
        try:
            if failed.is_set():
                raise VideoUploadFailed("upload abandoned: another part failed")
            body = buffer if length == len(buffer) else PartBody(buffer, length)
            answer = s3_client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **checksum
            )
            part = {"PartNumber": number, "ETag": answer["ETag"]}
            for name in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256"):
                if answer.get(name):
                    part[name] = answer[name]
            return part
        except BaseException:
            failed.set()
            raise
        finally:
            pool.give(buffer)

    futures: list[Future[dict[str, Any]]] = []
    try:
        with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="s3-part") as executor:
            try:
                number, buffer, length = 1, first, first_length
                while length:
                    futures.append(executor.submit(upload, number, buffer, length))
                    number += 1
                    buffer = pool.take()  # waits for an uploaded part's buffer: the memory bound
                    if failed.is_set():
                        pool.give(buffer)
                        break
                    length = reader.readinto(buffer)
                else:
                    pool.give(buffer)
            except BaseException:
                failed.set()
                raise
        parts = [future.result() for future in futures]  # raises the first part's error
        if not reader.at_eof:  # never store a partial video
            raise VideoUploadFailed("upload finished before the download did")
        s3_client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        # Every part has finished (the executor waited for them): nothing is left behind.
        try:
            s3_client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception:  # noqa: BLE001 - report the original error, not the cleanup's
            logger.warning("could not abort the multipart upload", exc_info=True, extra={"key": key})
        raise
