"""Typed Python client and `videohook` CLI for the videohook API."""

from videohook_client.client import VideohookClient
from videohook_client.errors import (
    VideohookApiError,
    VideohookClientError,
    VideohookConfigError,
    VideohookConnectionError,
    VideohookError,
    VideohookInputError,
    VideohookServerError,
    VideohookTimeout,
    VideoIntegrityError,
    VideoNotReadyError,
)
from videohook_client.images import INLINE_IMAGE_LIMIT, inspect_image, sniff_image_type
from videohook_client.models import TERMINAL_STATUSES, Job, JobError, JobStatus, Page, Upload, Video

__all__ = [
    "INLINE_IMAGE_LIMIT",
    "TERMINAL_STATUSES",
    "Job",
    "JobError",
    "JobStatus",
    "Page",
    "Upload",
    "Video",
    "VideoIntegrityError",
    "VideoNotReadyError",
    "VideohookApiError",
    "VideohookClient",
    "VideohookClientError",
    "VideohookConfigError",
    "VideohookConnectionError",
    "VideohookError",
    "VideohookInputError",
    "VideohookServerError",
    "VideohookTimeout",
    "inspect_image",
    "sniff_image_type",
]
