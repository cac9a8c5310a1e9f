"""State `AttemptDelivery` of the delivery state machine: one signed POST, logged."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser

from videohook import deliveries, telemetry
from videohook.deliveries import DeliveryRequest
from videohook.runtime import get_runtime


@telemetry.instrument
@event_parser(model=DeliveryRequest)
def handler(event: DeliveryRequest, context: Any) -> dict[str, Any]:
    return deliveries.attempt_delivery(get_runtime(), event).model_dump(mode="json")
