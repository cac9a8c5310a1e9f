"""videohook.request_rules: the limits of a request's fields."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tests.fakes import FakeRuntime, video_request
from videohook import submit
from videohook.request_rules import MAX_IMAGE_BYTES, MAX_METADATA_BYTES, storable_number

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
    uri = "data:image/png;base64," + "A" * (MAX_IMAGE_BYTES // 3 * 4)
    submit.submit_job(runtime, video_request(image={"url": uri}), tenant_id="key_t")
    assert len(runtime.calls("adapter.submit")) == 1
