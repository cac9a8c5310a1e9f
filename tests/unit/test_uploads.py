"""videohook.uploads: presigned upload URLs, and uploaded images given to the provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers.rest_api.errors import status_of
from tests.fakes import FakeS3
from videohook import uploads
from videohook.config import Settings
from videohook.errors import InvalidInput
from videohook.models import CreateUploadRequest


def upload_runtime(s3: FakeS3) -> Any:
    return SimpleNamespace(settings=Settings(video_bucket="videos-bucket"), s3=s3)


def test_an_upload_is_a_presigned_put_under_the_tenants_prefix() -> None:
    s3 = FakeS3()
    upload = uploads.create_upload(
        upload_runtime(s3), CreateUploadRequest(content_type="image/webp", bytes=5000), tenant_id="key_a"
    )
    ((operation, params, ttl),) = s3.presigned
    assert operation == "put_object"
    assert params == {
        "Bucket": "videos-bucket",
        "Key": f"uploads/key_a/{upload.upload_id}",
        "ContentType": "image/webp",
    }
    assert upload.headers == {"Content-Type": "image/webp"} and upload.method == "PUT"
    assert ttl == Settings().upload_url_ttl_seconds
    assert timedelta(0) < upload.expires_at - datetime.now(UTC) <= timedelta(seconds=ttl)


def test_an_uploaded_image_is_given_to_the_provider_as_a_presigned_get() -> None:
    s3 = FakeS3({"ContentLength": 1234})
    url = uploads.uploaded_image_url(upload_runtime(s3), "key_a", "upl_" + "1" * 26)
    assert url == f"https://s3.example/uploads/key_a/upl_{'1' * 26}?signed"
    assert s3.presigned[0][0] == "get_object"


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (ClientError({"Error": {"Code": "404"}}, "HeadObject"), "upload_not_found"),
        ({"ContentLength": 20 * 1024 * 1024 + 1}, "image_too_large"),
        ({"ContentLength": 0}, "invalid_image"),
    ],
)
def test_an_upload_that_is_missing_or_too_large_is_refused(head: Any, code: str) -> None:
    s3 = FakeS3(head)
    with pytest.raises(InvalidInput) as raised:
        uploads.uploaded_image_url(upload_runtime(s3), "key_a", "upl_" + "1" * 26)
    assert (status_of(raised.value), raised.value.code, raised.value.field) == (400, code, "image.upload_id")
    assert s3.presigned == []
