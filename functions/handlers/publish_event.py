"""State `PublishEvent`: publish the job's event (SNS, EventBridge) and start its webhook delivery."""

from __future__ import annotations

from typing import Any

from videohook import job_events, telemetry
from videohook.runtime import get_runtime
from videohook.workflow_payloads import FinalizeResult


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    finalized = FinalizeResult.model_validate(event)
    return job_events.publish_event(get_runtime(), finalized.job_id)
