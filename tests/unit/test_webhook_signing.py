"""videohook.webhook_signing: signatures checked with the standardwebhooks library itself."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from videohook.webhook_signing import sign_event

RAW_SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
WHSEC = f"whsec_{RAW_SECRET}"
BODY = b'{"type":"video.succeeded","timestamp":"2025-01-01T00:00:00Z","data":{"id":"vid_1"}}'


@pytest.mark.parametrize("signing_secret", [WHSEC, RAW_SECRET, f"  {WHSEC}\n"])
@pytest.mark.parametrize("verifying_secret", [WHSEC, RAW_SECRET])
def test_signature_verifies_with_standardwebhooks(signing_secret, verifying_secret):
    headers = sign_event(secret=signing_secret, event_id="evt_1", body=BODY, timestamp=datetime.now(UTC))
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(verifying_secret).verify(BODY, headers)["data"] == {"id": "vid_1"}


def test_tampered_body_fails_verification():
    headers = sign_event(secret=WHSEC, event_id="evt_1", body=BODY, timestamp=datetime.now(UTC))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(WHSEC).verify(BODY.replace(b"vid_1", b"vid_2"), headers)


def test_other_event_id_fails_verification():
    headers = sign_event(secret=WHSEC, event_id="evt_1", body=BODY, timestamp=datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(BODY, {**headers, "webhook-id": "evt_2"})


def test_stale_timestamp_fails_verification():
    stale = datetime.now(UTC) - timedelta(minutes=10)
    headers = sign_event(secret=WHSEC, event_id="evt_1", body=BODY, timestamp=stale)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(WHSEC).verify(BODY, headers)


def test_timestamp_in_another_zone_keeps_its_instant():
    instant = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
    paris = instant.astimezone(timezone(timedelta(hours=2)))
    a = sign_event(secret=WHSEC, event_id="e", body=BODY, timestamp=instant)
    b = sign_event(secret=WHSEC, event_id="e", body=BODY, timestamp=paris)
    assert a == b
    assert a["webhook-timestamp"] == str(int(instant.timestamp()))


def test_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_event(secret=WHSEC, event_id="e", body=BODY, timestamp=datetime(2025, 1, 1))


@pytest.mark.parametrize("bad", ["", "whsec_", "not base64 at all!", "whsec_%%%%"])
def test_invalid_secret_is_refused_without_echoing_it(bad):
    with pytest.raises(ValueError) as info:
        sign_event(secret=bad, event_id="e", body=BODY, timestamp=datetime.now(UTC))
    if bad.strip():
        assert bad not in str(info.value)


def test_rotated_secrets_sign_with_both_keys_and_either_verifies():
    old = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    new = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    body = b'{"type": "video.succeeded"}'
    headers = sign_event(secret=f"{new} {old}", event_id="evt_rot", body=body, timestamp=datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"type": "video.succeeded"}
    assert Webhook(new).verify(body, headers) == {"type": "video.succeeded"}
    stranger = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with pytest.raises(Exception, match="signature"):
        Webhook(stranger).verify(body, headers)
