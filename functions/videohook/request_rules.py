"""The request rules that need no runtime state, and the limits they enforce; the models
(videohook.models) apply them as validators.

Each rule raises a PydanticCustomError whose type is the API's error code and whose message
is the API's message (the handler adds no field prefix to these).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from pydantic_core import PydanticCustomError

MAX_URL_CHARS = 2048
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 4
# API Gateway passes at most 10 MB and Lambda accepts at most 6 MB of event: a data URI's
# base64 text (4/3 of the image) must fit in that with the rest of the request.
MAX_IMAGE_BYTES = 4 * 1024 * 1024
DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")
# The PydanticCustomError type of an image over MAX_IMAGE_BYTES: the API answers it 413, not 400.
IMAGE_TOO_LARGE = "image_too_large"
# The first bytes of each image format a data URI may hold (client/videohook_client/images.py
# sniffs local files the same way): a prefix, or for WEBP the RIFF container's two marks.
IMAGE_SIGNATURES = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}
WEBP_MARKS = ((0, b"RIFF"), (8, b"WEBP"))
IMAGE_FORMATS = (*IMAGE_SIGNATURES, "WEBP")


def image_format(data: bytes) -> str | None:
    """PNG, JPEG or WEBP from an image's first bytes; None for anything else."""
    for name, signature in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return name
    if all(data[at : at + len(mark)] == mark for at, mark in WEBP_MARKS):
        return "WEBP"
    return None


def image_url(url: str) -> str:
    """An https URL, or a PNG/JPEG/WebP data URI of 1 to MAX_IMAGE_BYTES decoded bytes."""
    if url.startswith("data:"):
        match = DATA_URI.match(url)
        if not match:
            raise PydanticCustomError(
                "invalid_image", "data URIs must be data:image/(png|jpeg|webp);base64,..."
            )
        try:
            decoded = base64.b64decode(match.group("data"), validate=False)
        except binascii.Error as error:
            raise PydanticCustomError("invalid_image", "the data URI is not valid base64") from error
        if not decoded:
            raise PydanticCustomError("invalid_image", "the data URI holds no image")
        if len(decoded) > MAX_IMAGE_BYTES:
            raise PydanticCustomError(IMAGE_TOO_LARGE, f"the image exceeds {MAX_IMAGE_BYTES} bytes")
        if image_format(decoded) is None:
            formats = f"{', '.join(IMAGE_FORMATS[:-1])} or {IMAGE_FORMATS[-1]}"
            raise PydanticCustomError("invalid_image", f"the data URI's bytes are not a {formats} image")
        return url
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise PydanticCustomError("invalid_image", "image URLs must be https URLs or data URIs")
    if len(url) > MAX_URL_CHARS:
        raise PydanticCustomError("invalid_image", f"image URLs are limited to {MAX_URL_CHARS} characters")
    return url


def reference_image_url(url: str) -> str:
    if not url.startswith("https://"):
        raise PydanticCustomError("invalid_image", "reference images must be https URLs")
    return url


def _numbers(value: Any) -> list[int | float]:
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers(item)]
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return []


def storable_number(number: int | float) -> bool:
    """What a DynamoDB number can hold: 38 significant digits, magnitude 1e-130 to 1e126."""
    if isinstance(number, int):
        return len(str(abs(number)).rstrip("0") or "0") <= 38 and abs(number) < 10**126
    return math.isfinite(number) and (number == 0 or 1e-130 <= abs(number) < 1e126)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


def metadata_rule(metadata: dict[str, Any]) -> dict[str, Any]:
    """What a job record can store and return: bounded size and depth, DynamoDB numbers."""
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise PydanticCustomError(
            "metadata_too_large", f"metadata exceeds {MAX_METADATA_BYTES} bytes of JSON"
        )
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise PydanticCustomError(
            "metadata_too_deep", f"metadata nests deeper than {MAX_METADATA_DEPTH} levels"
        )
    if not all(storable_number(number) for number in _numbers(metadata)):
        raise PydanticCustomError(
            "invalid_metadata", "metadata numbers must have at most 38 digits and lie within 1e-130 and 1e125"
        )
    return metadata
