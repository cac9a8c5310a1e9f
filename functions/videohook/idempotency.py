"""Idempotent submits: Powertools' idempotency utility on the IdempotencyTable.

The record's key is the tenant and its `Idempotency-Key` (hashed); the request body is
hashed into the record too (payload validation), so the same key with another body is
refused. The stored response is just the job id: a replay answers with the job as it is
now. A duplicate that arrives while the first request is still running waits for it.

Two mechanisms, because each covers what the other cannot:

- this record (Powertools) refuses the same key with another body (`KeyReused`) and
  tells a duplicate that its twin is still running (`StillInProgress`), which the claim
  alone cannot tell from a twin that died;
- `JobStore.claim` (called by `videohook.submit` inside the idempotent unit) pins the key to
  one job id. When a Lambda dies half-way, its in-progress record expires with the Lambda's
  time and a retry runs the unit again: the claim makes that run find and resume the same
  job instead of starting a second paid provider job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

if TYPE_CHECKING:
    from videohook.runtime import Runtime

# Stable across deployments and function names (Powertools would use the function's name).
KEY_PREFIX = "videohook.create_video"
# Room left for answering after waiting, out of the Lambda's remaining time.
_ANSWER_MARGIN_SECONDS = 3.0
_FIRST_DELAY_SECONDS = 0.05
_MAX_DELAY_SECONDS = 0.5


class KeyReused(Exception):
    """The key was first used with a different request body."""


class StillInProgress(Exception):
    """The first request with this key did not finish within the wait."""


def _config(runtime: Runtime, lambda_context: Any) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[tenant_id, key]",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=runtime.settings.idempotency_ttl_seconds,
        hash_function="sha256",
        lambda_context=lambda_context,
    )


def _run(*, submission: dict[str, Any], start: Callable[[], str]) -> dict[str, str]:
    """The idempotent unit: `submission` is hashed (key and payload), `start` submits the job."""
    return {"job_id": start()}


def once(
    runtime: Runtime,
    *,
    tenant_id: str,
    key: str,
    request: dict[str, Any],
    start: Callable[[], str],
    max_wait_seconds: float,
    lambda_context: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run `start` (which returns the new job's id) at most once per tenant and key; return the job id."""
    run = idempotent_function(
        _run,
        data_keyword_argument="submission",
        persistence_store=runtime.idempotency_store,
        config=_config(runtime, lambda_context),
        key_prefix=KEY_PREFIX,
    )
    submission = {"tenant_id": tenant_id, "key": key, "request": request}
    if lambda_context is not None:
        remaining = lambda_context.get_remaining_time_in_millis() / 1000 - _ANSWER_MARGIN_SECONDS
        max_wait_seconds = max(0.0, min(max_wait_seconds, remaining))
    deadline = time.monotonic() + max_wait_seconds
    delay = _FIRST_DELAY_SECONDS
    while True:
        try:
            return run(submission=submission, start=start)["job_id"]
        except IdempotencyValidationError as error:
            raise KeyReused(key) from error
        except IdempotencyAlreadyInProgressError as error:
            if time.monotonic() + delay > deadline:
                raise StillInProgress(key) from error
        sleep(delay)
        delay = min(delay * 2, _MAX_DELAY_SECONDS)
