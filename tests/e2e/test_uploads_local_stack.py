"""Large first frames: POST /v1/uploads, PUT to S3, then a job whose provider gets a presigned GET URL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest

from devstack.api_gateway import tenant_id_for
from devstack.stack import REPO
from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e
PNG = (REPO / "events" / "first-frame.png").read_bytes()


def _upload(api, data: bytes, content_type: str = "image/png") -> dict:
    answer = api.post("/v1/uploads", json={"content_type": content_type, "bytes": len(data)})
    assert answer.status_code == 201, answer.text
    upload = answer.json()
    put = httpx.put(upload["upload_url"], content=data, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    return upload


def provider_calls(local_stack: Any) -> dict[str, int]:
    """The sandbox's counters of create requests (polls of other tests' jobs go on meanwhile)."""
    stats = local_stack.sandbox.stats
    return {name: stats[name] for name in ("submissions", "accepted", "refused")}


def test_an_uploaded_image_reaches_the_provider_as_a_url_serving_its_bytes(local_stack, api) -> None:
    answer = api.post("/v1/uploads", json={"content_type": "image/png", "bytes": len(PNG)})
    assert answer.status_code == 201, answer.text
    upload = answer.json()
    assert upload["upload_id"].startswith("upl_") and len(upload["upload_id"]) == 30
    assert upload["method"] == "PUT" and upload["headers"] == {"Content-Type": "image/png"}
    expires = datetime.fromisoformat(upload["expires_at"].replace("Z", "+00:00"))
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 3600
    assert upload["upload_url"].startswith("http://127.0.0.1:")
    assert "X-Amz-Signature=" in upload["upload_url"]  # SigV4: what S3 requires of new buckets

    put = httpx.put(upload["upload_url"], content=PNG, headers=upload["headers"], timeout=30)
    assert put.status_code == 200, put.text
    key = f"uploads/{tenant_id_for(API_KEY)}/{upload['upload_id']}"
    stored = boto3.client("s3").get_object(Bucket=local_stack.environment["VIDEOHOOK_VIDEO_BUCKET"], Key=key)
    assert stored["Body"].read() == PNG

    prompt = f"The clouds drift {uuid.uuid4()}"
    answer = api.post(
        "/v1/videos", json={"prompt": prompt, "duration": 1, "image": {"upload_id": upload["upload_id"]}}
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    # The job keeps the upload's id; the presigned URL (a credential) is only given to the provider.
    assert job["image"] == {"url": None, "upload_id": upload["upload_id"]}

    (submitted,) = [j for j in local_stack.sandbox.jobs if j["body"].get("prompt") == prompt]
    image_url = submitted["body"]["image"]["url"]
    assert image_url.startswith(("http://", "https://")) and upload["upload_id"] in image_url
    served = httpx.get(image_url, timeout=30)
    assert served.status_code == 200
    assert served.content == PNG
    assert api.get(f"/v1/videos/{job['id']}").json()["image"]["upload_id"] == upload["upload_id"]


def test_an_upload_is_only_usable_by_its_tenant(local_stack, api, api_b) -> None:
    upload = _upload(api, PNG)
    calls = provider_calls(local_stack)
    answer = api_b.post(
        "/v1/videos", json={"prompt": "Not mine", "image": {"upload_id": upload["upload_id"]}}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "upload_not_found"
    assert answer.json()["error"]["field"] == "image.upload_id"
    assert provider_calls(local_stack) == calls


def test_an_upload_id_that_was_never_put_is_refused(local_stack, api) -> None:
    answer = api.post("/v1/uploads", json={"content_type": "image/webp", "bytes": 1234})
    upload_id = answer.json()["upload_id"]  # created, but nothing PUT
    answer = api.post("/v1/videos", json={"prompt": "Nothing there", "image": {"upload_id": upload_id}})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "upload_not_found"
