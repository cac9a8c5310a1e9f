"""A job's first frame: the image type and file checks (images.py), and how the client sends an
image: a URL as is, a small file inline, a large one through an upload."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from videohook_client import INLINE_IMAGE_LIMIT, VideohookClientError, VideohookInputError, sniff_image_type

from tests.fakes import FakeApi, job_json

PNG = (Path(__file__).resolve().parents[2] / "events" / "first-frame.png").read_bytes()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


@pytest.mark.parametrize(
    ("head", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (b"GIF89a....", None), (b"", None)],
)
def test_image_type_comes_from_magic_bytes(head, media_type):
    assert sniff_image_type(head[:16]) == media_type


def _created_image(api: FakeApi) -> dict[str, str]:
    return json.loads(api.sent("POST", "/prod/v1/videos")[0].content)["image"]


@pytest.mark.parametrize(
    "url", ["https://img.example.test/a.png", "data:image/png;base64,iVBORw0KGgo=", "http://x.test/a.png"]
)
def test_image_urls_are_passed_through_as_urls(api, client, url):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image=url)
    assert _created_image(api) == {"url": url}


@pytest.mark.parametrize(("content", "media_type"), [(PNG, "png"), (JPEG, "jpeg"), (WEBP, "webp")])
def test_small_image_files_are_inlined_as_data_uris(api, client, tmp_path, content, media_type):
    path = tmp_path / "frame.bin"  # the extension does not matter, the bytes do
    path.write_bytes(content)
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image=str(path))
    expected = f"data:image/{media_type};base64,{base64.b64encode(content).decode()}"
    assert _created_image(api) == {"url": expected}
    assert not api.sent("POST", "/prod/v1/uploads")


def test_an_image_object_is_sent_as_is(api, client):
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))
    client.create_video("p", image={"upload_id": "upl_1"})
    assert _created_image(api) == {"upload_id": "upl_1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"GIF89a" + b"\x00" * 20, "not a PNG, JPEG or WEBP image"), (None, "no such file")],
)
def test_unusable_image_files_are_refused_before_any_request(api, client, tmp_path, content, message):
    path = tmp_path / "frame.gif"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideohookInputError, match=message):
        client.create_video("p", image=str(path))
    assert api.requests == []


def test_large_images_go_through_uploads_and_a_presigned_put_without_the_api_key(api, client, tmp_path):
    content = PNG + b"\x00" * (INLINE_IMAGE_LIMIT - len(PNG))
    path = tmp_path / "big.png"
    path.write_bytes(content)
    put_url = "https://bucket.s3.example.test/uploads/upl_1?X-Amz-Signature=s"
    api.on(
        "POST",
        "/prod/v1/uploads",
        httpx.Response(
            201,
            json={
                "upload_id": "upl_1",
                "upload_url": put_url,
                "method": "PUT",
                "headers": {"Content-Type": "image/png"},
                "expires_at": "2025-01-02T04:00:00Z",
            },
        ),
    )
    api.on("PUT", "/uploads/upl_1", httpx.Response(200))
    api.on("POST", "/prod/v1/videos", httpx.Response(202, json=job_json()))

    client.create_video("p", image=path)

    assert json.loads(api.sent("POST", "/prod/v1/uploads")[0].content) == {
        "content_type": "image/png",
        "bytes": len(content),
    }
    (put,) = api.sent("PUT", "/uploads/upl_1")
    assert str(put.url) == put_url
    assert put.read() == content
    assert put.headers["content-type"] == "image/png"
    assert put.headers["content-length"] == str(len(content))
    assert "x-api-key" not in put.headers
    assert _created_image(api) == {"upload_id": "upl_1"}


def test_a_refused_upload_put_is_a_client_error(api, client, tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    api.on(
        "POST",
        "/prod/v1/uploads",
        httpx.Response(
            201, json={"upload_id": "upl_1", "upload_url": "https://s3.example.test/u", "method": "PUT"}
        ),
    )
    api.on("PUT", "/u", httpx.Response(403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>"))
    with pytest.raises(VideohookClientError) as caught:
        client.upload_image(path)
    assert caught.value.code == "upload_failed" and "SignatureDoesNotMatch" in caught.value.message
