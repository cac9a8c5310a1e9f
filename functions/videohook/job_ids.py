"""Ids of jobs and uploads: a prefix and a lower-case ULID (sortable by creation time, unguessable)."""

from __future__ import annotations

import secrets
from datetime import datetime

from videohook.models import utc_now

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now: datetime | None = None) -> str:
    """A ULID in lower case: sortable by creation time, unguessable."""
    millis = int((now or utc_now()).timestamp() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars)).lower()


def new_job_id(now: datetime | None = None) -> str:
    """`vid_` + a ULID."""
    return "vid_" + ulid(now)


def new_upload_id(now: datetime | None = None) -> str:
    """`upl_` + a ULID."""
    return "upl_" + ulid(now)
