"""Copy a finished video from a provider's temporary URL into S3.

The body is streamed: it is never held whole in memory nor written to disk. It is read
from the source (`video_source`) straight into part buffers, hashed and counted once per
filled buffer, and uploaded as the parts of a multipart upload (`multipart_upload`) from
a pool of `max_concurrency + 1` buffers allocated once: memory is the same for a 64 MiB
video as for a 1 GiB one. A video smaller than one part is a single PutObject.

`make bench` measures the simplest correct alternative beside it (boto3's
`upload_fileobj` of a stream that hashes and counts as it is read, tuned TransferConfig).
It missed the 64 MiB throughput target in some runs and met every target in others; why
the hand-written multipart upload still stays is in docs/benchmarks.md ("Copy, the
simplest alternative").

Any failure (non-2xx, truncated or stalled body, not an MP4, S3 errors) raises a
`VideoCopyError` subclass (`copy_errors`) with a stable `code`; a multipart upload that
had been started is aborted before the error reaches the caller, so no object and no
orphaned parts are left behind.

The SHA-256 is returned, not stored as object metadata: metadata must be sent
when the upload starts and the hash is known only at the end. The caller
records it in the job record.
"""

from __future__ import annotations

import http.client
import logging
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from videohook.copy_errors import (
    VideoCopyError,
    VideoDownloadFailed,
    VideoDownloadIncomplete,
    VideoNotMp4,
    VideoUploadFailed,
)
from videohook.multipart_upload import (
    MIN_PART_SIZE,
    BufferPool,
    PartBody,
    buffer_count,
    checksums,
    upload_parts,
)
from videohook.video_source import SNIFF_BYTES, BodyReader, looks_like_mp4, open_url, response_reader

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 8 * MiB
DEFAULT_CONCURRENCY = 6


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
        with open_url(source_url, connect_timeout=connect_timeout, read_timeout=read_timeout) as response:
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

            reader = BodyReader(response_reader(response, read_timeout), on_eof=check_length)
            pool = BufferPool(buffer_count(expected, part_size, max_concurrency), part_size)
            first = pool.take()
            length = reader.readinto(first)
            # Sniffed before anything is created in S3: a wrong body costs no S3 request.
            if not looks_like_mp4(bytes(first[: min(length, SNIFF_BYTES)])):
                raise VideoNotMp4("the downloaded file is not an MP4 (no 'ftyp' box at offset 4)")
            try:
                if length < part_size:  # the whole video fits in one part: one PutObject
                    with PartBody(first, length) as body:
                        s3_client.put_object(
                            Bucket=bucket,
                            Key=key,
                            Body=body,
                            ContentType=content_type,
                            **checksums(s3_client),
                        )
                else:
                    upload_parts(
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
