"""CometAPI's relay of xAI's video API (docs/providers.md §1).

Same create body and flat job object as xAI (this adapter is XaiAdapter on
other paths); polls may also come back in CometAPI's task envelope:

    {"code": "success", "message": "", "data": {"task_id", "status": "SUCCESS",
     "fail_reason", "progress": "100%", "data": {<flat xAI job object>}}}
"""

from __future__ import annotations

from typing import Any

from videohook.models import JobStatus
from videohook.providers.base import ProviderJobState, job_error, parse_progress
from videohook.providers.xai import XaiAdapter, parse_job

# CometAPI's task states (shared by its other async video relays).
_WRAPPER_QUEUED = frozenset({"NOT_START", "SUBMITTED", "QUEUED", "PENDING"})
_WRAPPER_RUNNING = frozenset({"IN_PROGRESS", "PROCESSING", "RUNNING"})
_WRAPPER_FAILED = frozenset({"FAILURE", "FAILED"})
# "success" is documented; numeric codes are tolerated because a success read as a
# failure would end a job that is in fact fine.
_OK_CODES = frozenset({"success", "0", "200"})


def _is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def parse_envelope(body: dict[str, Any]) -> ProviderJobState | None:
    """The wrapped shape; None when it is not one we know."""
    task = body.get("data") if isinstance(body.get("data"), dict) else {}
    wrapper = str(task.get("status") or "").upper()
    progress = parse_progress(task.get("progress"))
    nested = task.get("data")
    # The nested object is the provider's own state; without a status it is only an id echo.
    state = parse_job(nested) if isinstance(nested, dict) and "status" in nested else None

    # A terminal provider state wins over the wrapper: a finished video is finished even if
    # the wrapper disagrees, and a nested failure carries the better error.
    if state is not None and state.status.is_terminal:
        return state
    code = body.get("code")
    if (code is not None and str(code).lower() not in _OK_CODES) or wrapper in _WRAPPER_FAILED:
        # fail_reason is read only here: on success it may hold the video URL (documented quirk).
        reason = body.get("message") or task.get("fail_reason")
        error = job_error(
            reason, default_message=f"the relay reported a failure (code {code}, status {wrapper})"
        )
        return ProviderJobState(status=JobStatus.FAILED, error=error, raw_status=wrapper or str(code))
    if state is not None:
        return state if state.progress is not None else state.model_copy(update={"progress": progress})
    if wrapper in _WRAPPER_RUNNING:
        return ProviderJobState(status=JobStatus.RUNNING, progress=progress, raw_status=wrapper)
    if wrapper in _WRAPPER_QUEUED:
        return ProviderJobState(status=JobStatus.QUEUED, progress=progress, raw_status=wrapper)
    if wrapper == "SUCCESS" and _is_url(task.get("fail_reason")):
        # Success without the nested object: the URL is only in fail_reason.
        return ProviderJobState(
            status=JobStatus.SUCCEEDED, progress=100, video_url=task["fail_reason"], raw_status=wrapper
        )
    return None


class CometApiAdapter(XaiAdapter):
    name = "cometapi"
    create_path = "/grok/v1/videos/generations"
    job_path = "/grok/v1/videos/{request_id}"

    def _parse(self, body: dict[str, Any]) -> ProviderJobState | None:
        # The flat xAI object never has top-level "code" or "data"; the envelope always does.
        if "code" in body or "data" in body:
            return parse_envelope(body)
        return parse_job(body)
