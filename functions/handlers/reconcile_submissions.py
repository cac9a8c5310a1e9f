"""Scheduled (EventBridge): resume or fail submits that died half-way (submit.reconcile_submissions)."""

from __future__ import annotations

from typing import Any

from videohook import submit, telemetry
from videohook.runtime import get_runtime


@telemetry.instrument
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`event` is EventBridge's scheduled event; nothing in it is needed."""
    report = submit.reconcile_submissions(get_runtime())
    telemetry.logger.info(
        "submissions reconciled",
        extra={"examined": report.examined, "resumed": len(report.resumed), "failed": len(report.failed)},
    )
    return report.model_dump(mode="json")
