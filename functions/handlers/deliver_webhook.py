"""State `AttemptDelivery` of the delivery state machine: one signed POST, logged."""

from __future__ import annotations

from typing import Any

from videohook import deliveries, telemetry
from videohook.deliveries import DeliveryRequest
from videohook.runtime import get_runtime


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = DeliveryRequest.model_validate(event)
    return deliveries.attempt_delivery(get_runtime(), request).model_dump(mode="json")
