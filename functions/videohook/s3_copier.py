"""Copy a finished video from a provider's temporary URL into S3.

The body is streamed: it is never held whole in memory nor written to disk.
boto3's managed transfer (s3transfer) reads it part by part from a file-like
wrapper around the HTTP response and uploads the parts concurrently with a
multipart upload. The SHA-256 and byte count are computed as the bytes pass.

Any failure (non-2xx, truncated or stalled body, not an MP4) raises a
`VideoCopyError` subclass with a stable `code`; if a multipart upload had been
started it is aborted by s3transfer before the error reaches the caller, so no
object and no orphaned parts are left behind.

The SHA-256 is returned, not stored as object metadata: metadata must be sent
when the upload starts and the hash is known only at the end. The caller
records it in the job record.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from boto3.s3.transfer import TransferConfig
from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
# S3 rejects every part but the last when it is smaller than 5 MiB.
MIN_PART_SIZE = 5 * MiB
# Bytes peeked before the upload starts, to check the MP4 signature.
_SNIFF_BYTES = 12


class CopyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    bytes: int
    sha256: str
    content_type: str


# ---- errors ------------------------------------------------------------------


class VideoCopyError(Exception):
    """Base of every copy failure. `code` is stable; `message` never holds the source URL
    (provider URLs are usually pre-signed: their query string is a credential)."""

    code = "video_copy_failed"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VideoDownloadFailed(VideoCopyError):
    """The source answered with a non-2xx status."""

    code = "download_failed"
    retryable = True  # for some statuses: decided per instance below

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        # 429 and 5xx may succeed later; 4xx (expired or unknown URL) will not.
        self.retryable = status_code == 429 or status_code >= 500


class VideoDownloadIncomplete(VideoCopyError):
    """The body ended before Content-Length, stalled past the read timeout, or the
    connection failed mid-way."""

    code = "download_incomplete"
    retryable = True


class VideoNotMp4(VideoCopyError):
    """The body does not start with an MP4 `ftyp` box."""

    code = "not_mp4"


class VideoUploadFailed(VideoCopyError):
    """S3 refused or failed the upload."""

    code = "upload_failed"
    retryable = True


# ---- the reader s3transfer pulls from ------------------------------------------


class FullReadStream:
    """A non-seekable, read-only file-like object over an iterator of byte chunks.

    `read(n)` returns exactly `n` bytes unless the stream ends first. s3transfer
    makes ONE `read(part_size)` call per part of a non-seekable stream, and a raw
    HTTP stream returns whatever arrived (often 16-64 KiB), which would make every
    part tiny and S3 would reject the upload (EntityTooSmall). So this class keeps
    pulling chunks until the request is filled.

    It also hashes and counts every byte as it is pulled, and at the end of the
    stream calls `on_eof(total_bytes)` which may raise (length check).
    """

    def __init__(
        self,
        chunks: Iterator[bytes],
        *,
        on_eof: Callable[[int], None] | None = None,
    ) -> None:
        self._chunks = chunks
        self._on_eof = on_eof
        self._leftover = b""
        self._eof = False
        self._hash = hashlib.sha256()
        self.bytes_read = 0  # bytes pulled from the source so far

    # file-like protocol as s3transfer probes it
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def at_eof(self) -> bool:
        return self._eof

    def _pull(self) -> bytes | None:
        """Next non-empty chunk, or None at the end of the stream."""
        while not self._eof:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._eof = True
                if self._on_eof is not None:
                    self._on_eof(self.bytes_read)
                return None
            if chunk:
                self._hash.update(chunk)
                self.bytes_read += len(chunk)
                return chunk
        return None

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes from the front of the stream without consuming them."""
        while len(self._leftover) < size and not self._eof:
            chunk = self._pull()
            if chunk is None:
                break
            self._leftover += chunk
        return self._leftover[:size]

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._leftover]
            self._leftover = b""
            while (chunk := self._pull()) is not None:
                parts.append(chunk)
            return b"".join(parts)
        if size == 0:
            return b""
        parts: list[bytes] = []
        have = 0
        if self._leftover:
            parts.append(self._leftover)
            have = len(self._leftover)
            self._leftover = b""
        while have < size:
            chunk = self._pull()
            if chunk is None:
                break
            parts.append(chunk)
            have += len(chunk)
        if have > size:
            # Split the last chunk so that the join below copies exactly `size` bytes
            # once (no slice of a part-sized buffer).
            last = parts[-1]
            cut = len(last) - (have - size)
            parts[-1] = last[:cut]
            self._leftover = last[cut:]
        return b"".join(parts)


# ---- the copy ------------------------------------------------------------------------


def looks_like_mp4(head: bytes) -> bool:
    """ISO base media files start with a box header: 4-byte size, then the type `ftyp`."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


def _body_chunks(response: httpx.Response, read_timeout: float) -> Iterator[bytes]:
    """The decoded body, with httpx transport errors turned into VideoDownloadIncomplete."""
    try:
        yield from response.iter_bytes()
    except httpx.TimeoutException as exc:
        raise VideoDownloadIncomplete(
            f"download stalled: no data for {read_timeout:g}s ({type(exc).__name__})"
        ) from exc
    except httpx.HTTPError as exc:
        # RemoteProtocolError ("peer closed connection without sending complete message
        # body"), ReadError, DecodingError, ...: the body is not complete.
        raise VideoDownloadIncomplete(f"download interrupted: {type(exc).__name__}: {exc}") from exc


def _expected_length(response: httpx.Response) -> int | None:
    # With a content-encoding, Content-Length counts encoded bytes, not what we store.
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return None
    raw = response.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def make_transfer_config(*, part_size: int, max_concurrency: int) -> TransferConfig:
    config = TransferConfig(
        multipart_threshold=part_size,
        multipart_chunksize=part_size,
        max_concurrency=max_concurrency,
        # Only the classic s3transfer manager has the behaviour (one read per part,
        # abort on failure, bounded in-memory chunks) this module relies on.
        preferred_transfer_client="classic",
    )
    # Memory bound. For a non-seekable source s3transfer reads each part into memory
    # and queues it for the upload threads; how many such parts may exist at once is
    # `max_in_memory_upload_chunks`, which defaults to 10 and is not a TransferConfig
    # argument in boto3 (it is an attribute of the s3transfer base config read when the
    # manager is created). Left at 10, up to ~10 parts are buffered plus the one being
    # read, so 8 MiB parts would need ~90 MiB whatever max_concurrency says. Capping it
    # at max_concurrency keeps at most (max_concurrency + 1) parts in memory: one per
    # upload thread plus the one being read. (`max_io_queue` bounds the *download*
    # write queue only; uploads never use it, so it is set small merely to be explicit.)
    config.max_in_memory_upload_chunks = max_concurrency
    config.max_io_queue = max_concurrency
    return config


def copy_url_to_s3(
    *,
    source_url: str,
    bucket: str,
    key: str,
    s3_client: Any,
    http_client: httpx.Client,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = 4,
    content_type: str = "video/mp4",
    read_timeout: float = 60.0,
    connect_timeout: float = 10.0,
) -> CopyResult:
    """Stream `source_url` into s3://bucket/key; return its size and SHA-256.

    Memory stays around (max_concurrency + 2) * part_size whatever the video's size:
    one part per upload thread, the part being read, and the transient join of the
    chunks that form it (measured with tracemalloc: 100 MiB through 8 MiB parts peaks
    at ~26/34/42 MiB for max_concurrency 1/2/4).
    `read_timeout` is the longest silence tolerated between two reads of the body:
    a stalled download fails instead of hanging until the Lambda times out.
    Redirects are followed (provider URLs may point at a CDN).

    Raises VideoDownloadFailed, VideoDownloadIncomplete, VideoNotMp4 or VideoUploadFailed.
    """
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")

    timeout = httpx.Timeout(connect_timeout, read=read_timeout)
    # identity: we store the bytes exactly as served and can check them against Content-Length.
    headers = {"accept-encoding": "identity"}
    try:
        with http_client.stream(
            "GET", source_url, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            if not response.is_success:
                raise VideoDownloadFailed(
                    f"source answered HTTP {response.status_code}", status_code=response.status_code
                )
            expected = _expected_length(response)

            def check_length(received: int) -> None:
                if expected is not None and received != expected:
                    raise VideoDownloadIncomplete(
                        f"download incomplete: received {received} of {expected} bytes"
                    )

            reader = FullReadStream(_body_chunks(response, read_timeout), on_eof=check_length)
            # Sniff before anything is created in S3: a wrong body costs no S3 request.
            if not looks_like_mp4(reader.peek(_SNIFF_BYTES)):
                raise VideoNotMp4("the downloaded file is not an MP4 (no 'ftyp' box at offset 4)")

            config = make_transfer_config(part_size=part_size, max_concurrency=max_concurrency)
            try:
                # On any exception (including ours, raised from reader.read inside
                # s3transfer's submission thread) s3transfer waits for the in-flight
                # parts and runs AbortMultipartUpload before re-raising here.
                s3_client.upload_fileobj(
                    reader,
                    bucket,
                    key,
                    ExtraArgs={"ContentType": content_type},
                    Config=config,
                )
            except VideoCopyError:
                raise
            except httpx.HTTPError as exc:  # defensive: _body_chunks translates these
                raise VideoDownloadIncomplete(f"download interrupted: {type(exc).__name__}") from exc
            except Exception as exc:
                raise VideoUploadFailed(f"upload to S3 failed: {type(exc).__name__}: {exc}") from exc
            if not reader.at_eof:  # s3transfer stops only at EOF; never store a partial video
                raise VideoUploadFailed("upload finished before the download did")
    except VideoCopyError:
        raise
    except httpx.TimeoutException as exc:
        raise VideoDownloadIncomplete(f"download timed out before the body: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise VideoDownloadIncomplete(f"download failed: {type(exc).__name__}: {exc}") from exc

    logger.info(
        "copied video to s3",
        extra={"bucket": bucket, "key": key, "bytes": reader.bytes_read, "sha256": reader.sha256},
    )
    return CopyResult(
        bucket=bucket, key=key, bytes=reader.bytes_read, sha256=reader.sha256, content_type=content_type
    )
