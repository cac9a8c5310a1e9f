"""Zero-copy: the provider PUT the video to a presigned S3 URL; check it where it is.

Nothing of the video goes through this process but its first 12 bytes (the MP4 header):
S3 computes the SHA-256 (the object's own checksum, or a server-side CopyObject with
ChecksumAlgorithm=SHA256), and a provider's upload is moved from its incoming key to the
video key with that same CopyObject.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from typing import Any

from botocore.exceptions import ClientError

from videohook.copy_errors import VideoUploadFailed
from videohook.s3_copier import CopyResult
from videohook.video_source import SNIFF_BYTES, looks_like_mp4

logger = logging.getLogger(__name__)

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
    first = s3_client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}", **ranged)
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
        read = SNIFF_BYTES
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
        read = SNIFF_BYTES
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
