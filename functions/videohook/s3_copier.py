"""Copy a finished video from a provider's temporary URL into S3.

The body is streamed: it is never held whole in memory nor written to disk. One
thread reads the HTTP body into part-sized buffers; up to `max_concurrency` threads
upload the filled buffers as the parts of a multipart upload; a buffer goes back to
the pool when its part is uploaded. The pool holds `max_concurrency + 1` buffers,
allocated once: memory is (max_concurrency + 1) * part_size whatever the video's
size, and the same for a 64 MiB video as for a 1 GiB one (boto3's managed transfer
(s3transfer) on a non-seekable stream held a variable number of parts, joined and
sliced copies of them, and let glibc's heaps grow with the number of parts).

Every byte is copied once in this process: from the socket into its part buffer
(http.client's `readinto`). A full part is handed to botocore as the buffer itself,
which it checksums, signs and sends in single calls that release the GIL; only a
short last part goes as a file-like view, read in copies. The SHA-256 and byte count
are computed once per filled buffer. A video smaller than one part is a single PutObject.

Any failure (non-2xx, truncated or stalled body, not an MP4, S3 errors) raises a
`VideoCopyError` subclass with a stable `code`; a multipart upload that had been
started is aborted (after its in-flight parts finished) before the error reaches the
caller, so no object and no orphaned parts are left behind. A process killed mid-copy
(a Lambda's timeout, out of memory) aborts nothing: the next attempt aborts the uploads
of the same key still open before starting its own.

The SHA-256 is returned, not stored as object metadata: metadata must be sent
when the upload starts and the hash is known only at the end. The caller
records it in the job record.

`verify_uploaded_video` is the zero-copy path: the provider PUT the video to a
presigned URL; it is checked where it is, and nothing is copied.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http.client
import io
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 6
# S3 rejects every part but the last when it is smaller than 5 MiB.
MIN_PART_SIZE = 5 * MiB
# Bytes of the first part checked before anything is sent to S3: the MP4 signature.
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
        # 429 and 5xx may succeed later, so may a 404 of a video the provider just finished
        # (its CDN may not have it yet; FinalizeVideo's retries bound the wait); other 4xx
        # (an expired or refused URL) will not.
        self.retryable = status_code in (404, 429) or status_code >= 500


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
    """Fills part buffers from a source's `readinto` (the HTTP response's: socket -> buffer).

    `readinto(buffer)` fills the whole buffer unless the stream ends first: every part
    but the last is exactly part-sized (a socket returns whatever arrived, often 64 KiB or
    less, and S3 rejects parts under 5 MiB). The bytes land in the buffer straight from
    the source, with no intermediate object; each filled buffer is hashed and counted in
    one call. At the end of the stream (the source's `readinto` returns 0)
    `on_eof(total_bytes)` is called, once, and may raise (the length check).
    """

    def __init__(
        self, source: Callable[[memoryview], int], *, on_eof: Callable[[int], None] | None = None
    ) -> None:
        self._source = source
        self._on_eof = on_eof
        self._eof = False
        self._hash = hashlib.sha256()
        self.bytes_read = 0  # bytes pulled from the source so far

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def at_eof(self) -> bool:
        return self._eof

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill `buffer` from the stream; fewer bytes only at its end. Returns the count."""
        target = memoryview(buffer)
        filled = 0
        while filled < len(target) and not self._eof:
            count = self._source(target[filled:])
            if count:
                filled += count
            else:
                self._eof = True
        self._hash.update(target[:filled])
        self.bytes_read += filled
        if self._eof and self._on_eof is not None:
            on_eof, self._on_eof = self._on_eof, None
            on_eof(self.bytes_read)
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


_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 10


def _connection(url: str, connect_timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """An unconnected connection to `url`'s origin, and the request target (path and query)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VideoCopyError("the video URL is not an http(s) URL")
    if parts.scheme == "https":
        import httpx  # its TLS context: certifi's CA bundle, as for every other request

        context = httpx.create_ssl_context()
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=connect_timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=connect_timeout)
    return connection, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@contextlib.contextmanager
def _get(url: str, *, connect_timeout: float, read_timeout: float) -> Iterator[http.client.HTTPResponse]:
    """GET `url`, following redirects; the response, its body not read yet.

    The standard library's client rather than httpx: its `readinto` puts the body straight
    from the socket into the part buffers, where httpx (httpcore, h11) hands it over in 64
    KiB `bytes` objects, copied twice on the way (measured: about 1.5 s more CPU per GiB,
    taken from the upload threads). `read_timeout` is set on the socket once connected:
    the longest silence tolerated in any read.
    """
    for _ in range(_MAX_REDIRECTS + 1):
        connection, target = _connection(url, connect_timeout)
        try:
            connection.connect()
            connection.sock.settimeout(read_timeout)
            # identity: the bytes are stored as served and checked against Content-Length.
            connection.request(
                "GET", target, headers={"Accept-Encoding": "identity", "User-Agent": "videohook"}
            )
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status not in _REDIRECTS or not location:
                yield response
                return
            url = urljoin(url, location)
        finally:
            connection.close()
    raise VideoDownloadFailed(f"more than {_MAX_REDIRECTS} redirects", status_code=response.status)


def _source(response: http.client.HTTPResponse, read_timeout: float) -> Callable[[memoryview], int]:
    """The response's `readinto`, with transport errors turned into VideoDownloadIncomplete."""

    def readinto(target: memoryview) -> int:
        try:
            return response.readinto(target)
        except TimeoutError as exc:
            raise VideoDownloadIncomplete(f"download stalled: no data for {read_timeout:g}s") from exc
        except (OSError, http.client.HTTPException) as exc:
            # ConnectionResetError, IncompleteRead (a chunked body cut short), ...
            raise VideoDownloadIncomplete(f"download interrupted: {type(exc).__name__}") from exc

    return readinto


def _checksums(s3_client: Any) -> dict[str, str]:
    """ChecksumAlgorithm for the upload calls, as boto3's managed transfer would send it."""
    mode = getattr(getattr(s3_client, "meta", None), "config", None)
    if getattr(mode, "request_checksum_calculation", "when_supported") == "when_supported":
        return {"ChecksumAlgorithm": _CHECKSUM}
    return {}


def _abort_stale_uploads(s3_client: Any, bucket: str, key: str) -> int:
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
    _abort_stale_uploads(s3_client, bucket, key)
    checksum = _checksums(s3_client)
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


def copy_url_to_s3(
    *,
    source_url: str,
    bucket: str,
    key: str,
    s3_client: Any,
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

    try:
        with _get(source_url, connect_timeout=connect_timeout, read_timeout=read_timeout) as response:
            if not 200 <= response.status < 300:
                raise VideoDownloadFailed(
                    f"source answered HTTP {response.status}", status_code=response.status
                )
            expected = response.length  # Content-Length; None when chunked or absent

            def check_length(received: int) -> None:
                if expected is not None and received != expected:
                    raise VideoDownloadIncomplete(
                        f"download incomplete: received {received} of {expected} bytes"
                    )

            reader = BodyReader(_source(response, read_timeout), on_eof=check_length)
            pool = _BufferPool(_buffer_count(expected, part_size, max_concurrency), part_size)
            first = pool.take()
            length = reader.readinto(first)
            # Sniffed before anything is created in S3: a wrong body costs no S3 request.
            if not looks_like_mp4(bytes(first[: min(length, _SNIFF_BYTES)])):
                raise VideoNotMp4("the downloaded file is not an MP4 (no 'ftyp' box at offset 4)")
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
            except (ClientError, BotoCoreError, OSError) as exc:
                raise VideoUploadFailed(f"upload to S3 failed: {type(exc).__name__}: {exc}") from exc
    except VideoCopyError:
        raise
    except TimeoutError as exc:
        raise VideoDownloadIncomplete(f"download timed out before the body: {type(exc).__name__}") from exc
    except (OSError, http.client.HTTPException) as exc:
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


def _inspect_upload(s3_client: Any, bucket: str, key: str) -> tuple[int, str | None, dict[str, Any]] | None:
    """HEAD and the first 12 bytes of an uploaded video: (size, ETag, HEAD answer), or None if
    it is missing, empty or not an MP4 (the caller then copies from the provider's URL)."""
    try:
        head = s3_client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as error:
        if _missing(error):
            return None
        raise
    size = int(head.get("ContentLength") or 0)
    if size <= 0:
        logger.warning("the provider's upload is empty: copying instead", extra={"key": key})
        return None
    etag = head.get("ETag")
    ranged = {"IfMatch": etag} if etag else {}
    first = s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{_SNIFF_BYTES - 1}", **ranged)
    if not looks_like_mp4(first["Body"].read()):
        logger.warning("the provider's upload is not an MP4: copying instead", extra={"key": key})
        return None
    return size, etag, head


def _copy_with_sha256(
    s3_client: Any, bucket: str, source_key: str, key: str, etag: str | None, content_type: str
) -> str | None:
    """CopyObject source -> key (server side) with S3 computing the SHA-256, conditional on the
    ETag that was inspected; the hex digest, or None if S3 gave none."""
    copy_args = {"CopySourceIfMatch": etag} if etag else {}
    answer = s3_client.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": source_key},
        ChecksumAlgorithm="SHA256",
        MetadataDirective="REPLACE",
        ContentType=content_type,
        **copy_args,
    )
    return _sha256_from_s3(answer.get("CopyObjectResult", {}).get("ChecksumSHA256"))


def _hash_object(s3_client: Any, bucket: str, key: str) -> tuple[str, int]:
    """Stream the object once through here (an S3-compatible store without checksums)."""
    digest, read = hashlib.sha256(), 0
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(chunk)
        read += len(chunk)
    return digest.hexdigest(), read


def verify_uploaded_video(
    *, bucket: str, key: str, s3_client: Any, content_type: str = "video/mp4"
) -> CopyResult | None:
    """Check a video already at s3://bucket/key (an earlier attempt's); None if it is missing
    or unusable.

    Nothing is downloaded through this process but the first 12 bytes:

    1. HEAD: the object exists and is not empty;
    2. a ranged GET of bytes 0-11: an MP4 `ftyp` box;
    3. the SHA-256 is S3's: the object's own full-object checksum, or a CopyObject of the
       object onto itself with ChecksumAlgorithm=SHA256 (server side, conditional on the
       ETag seen in step 1, so the hash is of the verified object). Only if S3 gives no
       checksum (an S3-compatible store that lacks the feature) is the object streamed
       once through here to hash it.

    Errors other than a missing object raise VideoUploadFailed (retryable).
    """
    try:
        inspected = _inspect_upload(s3_client, bucket, key)
        if inspected is None:
            return None
        size, etag, head = inspected
        read = _SNIFF_BYTES
        sha256 = None
        if head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            sha256 = _sha256_from_s3(head.get("ChecksumSHA256"))
        if sha256 is None and size <= MAX_COPY_OBJECT_BYTES:
            sha256 = _copy_with_sha256(s3_client, bucket, key, key, etag, content_type)
        if sha256 is None:
            sha256, hashed = _hash_object(s3_client, bucket, key)
            read += hashed
    except ClientError as error:
        raise VideoUploadFailed(f"could not verify the stored video: {error}") from error
    logger.info("verified the stored video", extra={"bucket": bucket, "key": key, "bytes": size})
    return _provider_upload(bucket, key, size, sha256, content_type, read)


def move_uploaded_video(
    *, bucket: str, source_key: str, key: str, s3_client: Any, content_type: str = "video/mp4"
) -> CopyResult | None:
    """Verify the video a provider PUT to `source_key` (zero-copy) and move it to `key`, server
    side: a CopyObject with S3 computing the SHA-256 (of exactly the inspected object), then
    the source is deleted. None if it is missing or unusable (copy from the provider's URL
    instead). Until it is moved, a provider's upload is never under the job's video key: a
    job that fails leaves nothing there (the incoming/ prefix expires on its own).

    Errors other than a missing source raise VideoUploadFailed (retryable).
    """
    try:
        inspected = _inspect_upload(s3_client, bucket, source_key)
        if inspected is None or inspected[0] > MAX_COPY_OBJECT_BYTES:
            return None  # larger than one CopyObject: copy it from the provider instead
        size, etag, _ = inspected
        read = _SNIFF_BYTES
        sha256 = _copy_with_sha256(s3_client, bucket, source_key, key, etag, content_type)
        if sha256 is None:
            sha256, hashed = _hash_object(s3_client, bucket, key)
            read += hashed
        s3_client.delete_object(Bucket=bucket, Key=source_key)
    except ClientError as error:
        if _missing(error):
            return None  # moved away meanwhile; the caller finds the video key or copies
        raise VideoUploadFailed(f"could not move the provider's upload: {error}") from error
    logger.info("moved the provider's upload", extra={"bucket": bucket, "key": key, "bytes": size})
    return _provider_upload(bucket, key, size, sha256, content_type, read)


def _provider_upload(
    bucket: str, key: str, size: int, sha256: str, content_type: str, read: int
) -> CopyResult:
    """A video that got to S3 without crossing this process (`read`: bytes read to verify it)."""
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
