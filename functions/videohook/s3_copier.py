"""Copy a finished video from a provider's temporary URL into S3.

The body is streamed: it is never held whole in memory nor written to disk. One
thread reads the HTTP body into part-sized buffers; up to `max_concurrency` threads
upload the filled buffers as the parts of a multipart upload; a buffer goes back to
the pool when its part is uploaded. The pool holds `max_concurrency + 1` buffers,
allocated once: memory is (max_concurrency + 1) * part_size whatever the video's
size, and the same for a 64 MiB video as for a 1 GiB one (boto3's managed transfer
(s3transfer) on a non-seekable stream held a variable number of parts, joined and
sliced copies of them, and let glibc's heaps grow with the number of parts). Every
byte is copied once, from the socket's chunk into its part buffer; the parts are sent
from views of the buffers. The SHA-256 and byte count are computed as the bytes pass.
A video smaller than one part is a single PutObject.

Any failure (non-2xx, truncated or stalled body, not an MP4, S3 errors) raises a
`VideoCopyError` subclass with a stable `code`; a multipart upload that had been
started is aborted (after its in-flight parts finished) before the error reaches the
caller, so no object and no orphaned parts are left behind.

The SHA-256 is returned, not stored as object metadata: metadata must be sent
when the upload starts and the hash is known only at the end. The caller
records it in the job record.

`verify_uploaded_video` is the zero-copy path: the provider PUT the video to a
presigned URL; it is checked where it is, and nothing is copied.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 6
# S3 rejects every part but the last when it is smaller than 5 MiB.
MIN_PART_SIZE = 5 * MiB
# Bytes peeked before the upload starts, to check the MP4 signature.
_SNIFF_BYTES = 12
# What boto3's managed transfer sends when the client computes checksums "when supported"
# (botocore's default): CRC32 per part, listed again in CompleteMultipartUpload.
_CHECKSUM = "CRC32"


class CopyResult(BaseModel):
    """The stored video, and how it got there."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    bytes: int
    sha256: str
    content_type: str
    # "copy": streamed from the provider's URL through this process; "provider_upload":
    # the provider PUT it to a presigned URL and this process only verified it.
    transfer: Literal["copy", "provider_upload"] = "copy"
    # Video bytes that went through this process: downloaded from the provider and
    # uploaded to S3 (each byte counted once). 0 when the provider uploaded.
    bytes_copied: int = 0
    # Bytes read back from S3 to verify a provider's upload (the MP4 header; the whole
    # object only if S3 could not compute the SHA-256 itself).
    bytes_read_to_verify: int = 0


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


# ---- the reader and the part buffers --------------------------------------------------------


class BodyReader:
    """Fills part buffers from an iterator of byte chunks (the HTTP body).

    `readinto(buffer)` fills the whole buffer unless the stream ends first: every part
    but the last is exactly part-sized (a raw HTTP stream returns whatever arrived, often
    16-64 KiB, and S3 rejects parts under 5 MiB). Every byte is hashed and counted as it
    is pulled; at the end of the stream `on_eof(total_bytes)` is called and may raise
    (the length check).
    """

    def __init__(self, chunks: Iterator[bytes], *, on_eof: Callable[[int], None] | None = None) -> None:
        self._chunks = chunks
        self._on_eof = on_eof
        self._leftover = memoryview(b"")
        self._eof = False
        self._hash = hashlib.sha256()
        self.bytes_read = 0  # bytes pulled from the source so far

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def at_eof(self) -> bool:
        return self._eof and not self._leftover

    def _pull(self) -> memoryview | None:
        """The next non-empty chunk, or None at the end of the stream."""
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
                return memoryview(chunk)
        return None

    def peek(self, size: int) -> bytes:
        """Up to `size` bytes from the front of the stream, without consuming them."""
        while len(self._leftover) < size and not self._eof:
            chunk = self._pull()
            if chunk is None:
                break
            self._leftover = memoryview(bytes(self._leftover) + bytes(chunk))
        return bytes(self._leftover[:size])

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill `buffer` from the stream; fewer bytes only at its end. Returns the count."""
        target = memoryview(buffer)
        filled = 0
        while filled < len(target):
            if not self._leftover:
                chunk = self._pull()
                if chunk is None:
                    break
                self._leftover = chunk
            take = min(len(self._leftover), len(target) - filled)
            target[filled : filled + take] = self._leftover[:take]
            self._leftover = self._leftover[take:]
            filled += take
        return filled


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


class _BufferPool:
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


def _buffer_count(expected: int | None, part_size: int, max_concurrency: int) -> int:
    """One buffer per upload thread plus the one being filled; with a known length, no more
    than one per part plus the one that finds the end (one in all for a single PutObject)."""
    if expected is None:
        return max_concurrency + 1
    if expected < part_size:
        return 1
    return min(max_concurrency + 1, -(-expected // part_size) + 1)


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


# glibc's mallopt parameter number for M_MMAP_THRESHOLD (malloc.h).
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 256 * 1024


@functools.cache
def pin_malloc_mmap_threshold() -> bool:
    """Keep glibc from holding on to freed megabyte-sized blocks.

    botocore reads each part 1 MiB at a time (checksum, payload signature): a transient
    1 MiB bytes object per read, per upload thread. glibc serves blocks above its mmap
    threshold (128 KiB) with mmap, but raises the threshold to the size of the first
    such block freed; from then on these blocks come from per-thread heaps, which are
    trimmed lazily, and the peak RSS creeps up with the number of parts (measured: +10
    MiB between a 64 MiB and a 256 MiB copy). A fixed threshold, which also turns the
    adjustment off, keeps the peak flat whatever the video's size. Process-wide, once; a
    no-op where malloc is not glibc's.
    """
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))


def _checksums(s3_client: Any) -> dict[str, str]:
    """ChecksumAlgorithm for the upload calls, as boto3's managed transfer would send it."""
    mode = getattr(getattr(s3_client, "meta", None), "config", None)
    if getattr(mode, "request_checksum_calculation", "when_supported") == "when_supported":
        return {"ChecksumAlgorithm": _CHECKSUM}
    return {}


def _upload_parts(
    reader: BodyReader,
    *,
    first: bytearray,
    first_length: int,
    pool: _BufferPool,
    s3_client: Any,
    bucket: str,
    key: str,
    content_type: str,
    max_concurrency: int,
) -> None:
    """A multipart upload of `first` and the rest of `reader`; aborted on any failure."""
    checksum = _checksums(s3_client)
    upload_id = s3_client.create_multipart_upload(
        Bucket=bucket, Key=key, ContentType=content_type, **checksum
    )["UploadId"]
    failed = threading.Event()

    def upload(number: int, buffer: bytearray, length: int) -> dict[str, Any]:
        try:
            if failed.is_set():
                raise VideoUploadFailed("upload abandoned: another part failed")
            with PartBody(buffer, length) as body:
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


def copy_url_to_s3(
    *,
    source_url: str,
    bucket: str,
    key: str,
    s3_client: Any,
    http_client: httpx.Client,
    part_size: int = DEFAULT_PART_SIZE,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    content_type: str = "video/mp4",
    read_timeout: float = 60.0,
    connect_timeout: float = 10.0,
) -> CopyResult:
    """Stream `source_url` into s3://bucket/key; return its size and SHA-256.

    Memory: (max_concurrency + 1) part buffers, whatever the video's size (8 MiB parts
    and 6 upload threads: 56 MiB). `read_timeout` is the longest silence tolerated
    between two reads of the body: a stalled download fails instead of hanging until the
    Lambda times out. Redirects are followed (provider URLs may point at a CDN).

    Raises VideoDownloadFailed, VideoDownloadIncomplete, VideoNotMp4 or VideoUploadFailed.
    """
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
    if max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")

    pin_malloc_mmap_threshold()
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

            reader = BodyReader(_body_chunks(response, read_timeout), on_eof=check_length)
            # Sniff before anything is created in S3: a wrong body costs no S3 request.
            if not looks_like_mp4(reader.peek(_SNIFF_BYTES)):
                raise VideoNotMp4("the downloaded file is not an MP4 (no 'ftyp' box at offset 4)")

            pool = _BufferPool(_buffer_count(expected, part_size, max_concurrency), part_size)
            first = pool.take()
            length = reader.readinto(first)
            try:
                if length < part_size:  # the whole video fits in one part: one PutObject
                    with PartBody(first, length) as body:
                        s3_client.put_object(
                            Bucket=bucket,
                            Key=key,
                            Body=body,
                            ContentType=content_type,
                            **_checksums(s3_client),
                        )
                else:
                    _upload_parts(
                        reader,
                        first=first,
                        first_length=length,
                        pool=pool,
                        s3_client=s3_client,
                        bucket=bucket,
                        key=key,
                        content_type=content_type,
                        max_concurrency=max_concurrency,
                    )
            except VideoCopyError:
                raise
            except httpx.HTTPError as exc:  # defensive: _body_chunks translates these
                raise VideoDownloadIncomplete(f"download interrupted: {type(exc).__name__}") from exc
            except (ClientError, BotoCoreError, OSError) as exc:
                raise VideoUploadFailed(f"upload to S3 failed: {type(exc).__name__}: {exc}") from exc
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
        bucket=bucket,
        key=key,
        bytes=reader.bytes_read,
        sha256=reader.sha256,
        content_type=content_type,
        transfer="copy",
        bytes_copied=reader.bytes_read,
    )


# ---- zero-copy: the provider uploaded the video itself ------------------------------------

# Larger objects cannot be copied in place with one CopyObject (a presigned PUT cannot
# create them either: a single PUT is limited to 5 GiB).
MAX_COPY_OBJECT_BYTES = 5 * 1024**3


def _sha256_from_s3(value: str | None) -> str | None:
    """S3's base64 SHA-256 of a whole object as hex; None for composite (per-part) ones."""
    if not value or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("404", "NoSuchKey", "NotFound") or status == 404


def verify_uploaded_video(
    *, bucket: str, key: str, s3_client: Any, content_type: str = "video/mp4"
) -> CopyResult | None:
    """Check a video the provider PUT to s3://bucket/key; None if it is missing or unusable.

    Nothing is downloaded through this process but the first 12 bytes:

    1. HEAD: the object exists and is not empty;
    2. a ranged GET of bytes 0-11: an MP4 `ftyp` box;
    3. the SHA-256 is computed by S3: a CopyObject of the object onto itself with
       ChecksumAlgorithm=SHA256 (server side, conditional on the ETag seen in step 1, so
       the hash is of the verified object). It also sets Content-Type, whatever the
       provider's PUT sent. Only if S3 gives no checksum (an S3-compatible store that
       lacks the feature) is the object streamed once through here to hash it.

    None means "copy it from the provider's URL instead" (the caller's fallback, which
    overwrites whatever is there). Errors other than a missing object raise
    VideoUploadFailed (retryable).
    """
    try:
        head = s3_client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        size = int(head.get("ContentLength") or 0)
        if size <= 0:
            logger.warning("the provider's upload is empty: copying instead", extra={"key": key})
            return None
        etag = head.get("ETag")
        ranged = {"IfMatch": etag} if etag else {}
        first = s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_SNIFF_BYTES - 1}", **ranged)
        header = first["Body"].read()
        read = len(header)
        if not looks_like_mp4(header):
            logger.warning("the provider's upload is not an MP4: copying instead", extra={"key": key})
            return None
        sha256 = None
        if head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            sha256 = _sha256_from_s3(head.get("ChecksumSHA256"))
        if sha256 is None and size <= MAX_COPY_OBJECT_BYTES:
            copy_args = {"CopySourceIfMatch": etag} if etag else {}
            answer = s3_client.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource={"Bucket": bucket, "Key": key},
                ChecksumAlgorithm="SHA256",
                MetadataDirective="REPLACE",
                ContentType=content_type,
                **copy_args,
            )
            sha256 = _sha256_from_s3(answer.get("CopyObjectResult", {}).get("ChecksumSHA256"))
        if sha256 is None:
            digest = hashlib.sha256()
            body = s3_client.get_object(Bucket=bucket, Key=key, **ranged)["Body"]
            for chunk in iter(lambda: body.read(1024 * 1024), b""):
                digest.update(chunk)
                read += len(chunk)
            sha256 = digest.hexdigest()
    except ClientError as error:
        if _missing(error):
            return None
        raise VideoUploadFailed(f"could not verify the provider's upload: {error}") from error
    logger.info("verified the provider's upload", extra={"bucket": bucket, "key": key, "bytes": size})
    return CopyResult(
        bucket=bucket,
        key=key,
        bytes=size,
        sha256=sha256,
        content_type=content_type,
        transfer="provider_upload",
        bytes_copied=0,
        bytes_read_to_verify=read,
    )
