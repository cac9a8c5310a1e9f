"""Large first frames: a presigned S3 PUT per upload, and the presigned GET a job's provider gets."""

from __future__ import annotations

from datetime import timedelta

from botocore.exceptions import ClientError

from videohook.errors import InvalidInput
from videohook.job_ids import new_upload_id
from videohook.models import MAX_UPLOAD_BYTES, CreateUploadRequest, UploadView, utc_now
from videohook.runtime import Runtime

UPLOAD_ID_FIELD = "image.upload_id"


def upload_key(runtime: Runtime, tenant_id: str, upload_id: str) -> str:
    return f"{runtime.settings.upload_key_prefix}{tenant_id}/{upload_id}"


def create_upload(runtime: Runtime, request: CreateUploadRequest, *, tenant_id: str) -> UploadView:
    """POST /v1/uploads: a presigned S3 PUT for one image, later named by its upload_id."""
    now = utc_now()
    upload_id = new_upload_id(now)
    ttl = runtime.settings.upload_url_ttl_seconds
    url = runtime.s3.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": runtime.settings.video_bucket,
            "Key": upload_key(runtime, tenant_id, upload_id),
            "ContentType": request.content_type,
        },
        ExpiresIn=ttl,
    )
    return UploadView(
        upload_id=upload_id,
        upload_url=url,
        headers={"Content-Type": request.content_type},
        expires_at=now + timedelta(seconds=ttl),
    )


def uploaded_image_url(runtime: Runtime, tenant_id: str, upload_id: str) -> str:
    """A presigned GET URL of the tenant's upload, after checking it is there and small enough."""
    bucket, key = runtime.settings.video_bucket, upload_key(runtime, tenant_id, upload_id)
    try:
        head = runtime.s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403"):
            raise InvalidInput(
                "upload_not_found",
                f"no upload '{upload_id}': PUT the image to its upload_url first "
                "(uploads expire after a day)",
                field=UPLOAD_ID_FIELD,
            ) from error
        raise
    size = int(head.get("ContentLength", 0))
    if size > MAX_UPLOAD_BYTES:
        raise InvalidInput(
            "image_too_large", f"the upload exceeds {MAX_UPLOAD_BYTES} bytes", field=UPLOAD_ID_FIELD
        )
    if size == 0:
        raise InvalidInput("invalid_image", "the upload is empty", field=UPLOAD_ID_FIELD)
    return runtime.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key},
        ExpiresIn=runtime.settings.download_url_ttl_seconds,
    )
