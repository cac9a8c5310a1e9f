"""State `AttemptDelivery` of the delivery state machine: one signed POST, logged."""

from __future__ import annotations

from typing import Any

from videohook import telemetry, webhook_delivery
from videohook.runtime import get_runtime
from videohook.webhook_delivery import DeliveryRequest


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DeliveryRequest.model_validate(event)
    return webhook_delivery.attempt_delivery(get_runtime(), request).model_dump(mode="json")
