"""videohook.request_rules: the limits of a request's fields."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from tests.fakes import FakeRuntime, video_request
from videohook import submit
from videohook.request_rules import (
    IMAGE_SIGNATURES,
    MAX_IMAGE_BYTES,
    MAX_METADATA_BYTES,
    image_format,
    storable_number,
)

# ---- metadata numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "storable"),
    [
        (0, True),
        (42, True),
        (10**37, True),
        (123456789012345678901234567890123456789, False),  # 39 significant digits
        (10**125, True),
        (10**126, False),
        (0.5, True),
        (1e-130, True),
        (1e-300, False),
        (1e300, False),
        (float("inf"), False),
        (float("nan"), False),
    ],
)
def test_metadata_numbers_must_fit_dynamodb(number: float, storable: bool) -> None:
    assert storable_number(number) is storable


def test_metadata_limit_boundary(runtime: FakeRuntime) -> None:
    overhead = len(json.dumps({"blob": ""}))
    at_limit = {"blob": "x" * (MAX_METADATA_BYTES - overhead)}
    assert len(json.dumps(at_limit)) == MAX_METADATA_BYTES
    submit.submit_job(runtime, video_request(metadata=at_limit), tenant_id="key_t")
    over = {"blob": "x" * (MAX_METADATA_BYTES - overhead + 1)}
    with pytest.raises(ValidationError) as caught:
        video_request(metadata=over)
    assert caught.value.errors()[0]["type"] == "metadata_too_large"


def test_data_uri_at_the_size_limit_is_accepted(runtime: FakeRuntime) -> None:
    png = IMAGE_SIGNATURES["PNG"] + bytes(MAX_IMAGE_BYTES - len(IMAGE_SIGNATURES["PNG"]))
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    submit.submit_job(runtime, video_request(image={"url": uri}), tenant_id="key_t")
    assert len(runtime.calls("adapter.submit")) == 1


# ---- the bytes of a data URI -------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "PNG"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "JPEG"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "WEBP"),
        (b"GIF89a\x01\0\x01\0", None),
        (b"RIFF\x24\0\0\0WAVEfmt ", None),  # RIFF, but audio
        (b"%PDF-1.7", None),
        (b"\x89PN", None),  # cut short
    ],
)
def test_image_format_reads_the_first_bytes(head: bytes, expected: str | None) -> None:
    assert image_format(head) == expected


@pytest.mark.parametrize(
    "data", [b"hello, world", b"GIF89a\x01\0\x01\0\0\0\0", b"\0" * 64], ids=["text", "gif", "zeros"]
)
def test_a_data_uri_whose_bytes_are_no_image_is_refused_at_image_url(data: bytes) -> None:
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    with pytest.raises(ValidationError) as caught:
        video_request(image={"url": uri})
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"]) == ("invalid_image", ("image", "url"))
    assert error["msg"] == "the data URI's bytes are not a PNG, JPEG or WEBP image"
