"""Local images for a job's first frame: what type a file is, and whether a string is a URL."""

from __future__ import annotations

import os
import re
from pathlib import Path

from videohook_client.errors import VideohookInputError

# Local images below this size travel inline as a data: URI (base64 makes them 4/3 larger; API Gateway
# takes 10 MiB); larger ones go through `POST /v1/uploads` and a presigned PUT.
INLINE_IMAGE_LIMIT = 3 * 1024 * 1024


def sniff_image_type(head: bytes) -> str | None:
    """The media type of an image from its first bytes: PNG, JPEG or WEBP, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def inspect_image(path: str | os.PathLike[str]) -> tuple[Path, str, int]:
    """`(path, media type, size)` of a local image, or a `VideohookInputError` saying what is wrong."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(16)
            size = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        raise VideohookInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise VideohookInputError(f"{path}: is a directory, not an image file") from None
    except OSError as error:
        raise VideohookInputError(f"{path}: cannot read: {error.strerror or error}") from None
    media_type = sniff_image_type(head)
    if media_type is None:
        raise VideohookInputError(f"{path}: not a PNG, JPEG or WEBP image (checked its first bytes)")
    return path, media_type, size


def looks_like_url(value: str) -> bool:
    return value.startswith("data:") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) is not None
