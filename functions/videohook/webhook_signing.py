"""Standard Webhooks signatures for webhook events (the `standardwebhooks` library, as shipped).

Signing follows https://www.standardwebhooks.com: headers `webhook-id`,
`webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
`{id}.{timestamp}.{body}`). Receivers verify with `Webhook(secret).verify(body, headers)`.

Secret rotation: the secret may hold several space-separated secrets (new first);
every event is then signed with each, and `webhook-signature` carries all the
signatures space separated, so receivers verify with either key during the overlap.

Nothing here logs or returns the secret.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime

from standardwebhooks import Webhook

_SECRET_PREFIX = "whsec_"


def _secret_key(secret: str) -> bytes:
    """The HMAC key: the base64 secret, with or without `whsec_`, decoded strictly."""
    value = secret.strip()
    value = value.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        # Never echo the secret, not even a part of it.
        raise ValueError("the webhook secret is not valid base64") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign_event(*, secret: str, event_id: str, body: bytes, timestamp: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`.

    `secret` is `whsec_<base64>` or the bare base64 (as stored in Secrets Manager), or
    several of those separated by spaces while a rotation overlaps (one signature each).
    `timestamp` must be timezone-aware; it is signed as whole Unix seconds.
    """
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    # The library's sign() does `timestamp.replace(tzinfo=utc)`, which would shift a
    # non-UTC aware datetime: convert first so the instant is kept.
    timestamp = timestamp.astimezone(UTC)
    try:
        data = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the webhook body must be UTF-8") from None
    secrets = secret.split()
    if not secrets:
        raise ValueError("the webhook secret is empty")
    signature = " ".join(Webhook(_secret_key(key)).sign(event_id, timestamp, data) for key in secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(timestamp.timestamp())),
        "webhook-signature": signature,
    }
