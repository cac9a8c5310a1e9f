"""The CometAPI contract (docs/providers.md §1): ``POST /grok/v1/videos/generations``,
``GET /grok/v1/videos/{id}``.

A relay of xAI's API: the create body and the flat poll body are xAI's (``sandbox/xai.py``);
polls answer in an envelope around it, flat, or alternately (``comet_envelope``).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import xai
from sandbox.answers import CannedResponse, json_answer
from sandbox.contract import Contract, PollOptions, failure_error
from sandbox.jobs import QUEUED_FRACTION, Job

COMET_ENVELOPES = ("flat", "wrapped", "alternate")


def wrapped_body(job: Job, now: float) -> dict[str, Any]:
    """The CometAPI envelope around the flat body."""
    phase, progress = job.phase(now)
    flat = xai.flat_body(job, now) or {"request_id": job.id}
    gen = job.generation_seconds
    submit_time = int(job.submitted_wall)
    start_time = int(job.submitted_wall + gen * QUEUED_FRACTION) if phase in ("processing", "terminal") else 0
    finish_time = int(job.submitted_wall + gen) if phase == "terminal" else 0
    fail_reason = ""
    if phase in ("pending", "queued"):
        status = "NOT_START"
    elif phase == "processing":
        status = "IN_PROGRESS"
    elif job.outcome == "succeeded":
        status, fail_reason = "SUCCESS", job.video_url  # the quirk of docs/providers.md §1
    elif job.outcome == "moderated":
        status = "SUCCESS"
    elif job.outcome == "failed":
        status, fail_reason = "FAILURE", failure_error()["message"]
    else:
        status, fail_reason = "FAILURE", "video expired"
    return {
        "code": "success",
        "message": "",
        "data": {
            "task_id": job.id,
            "action": "VIDEO_GENERATION",
            "status": status,
            "fail_reason": fail_reason,
            "submit_time": submit_time,
            "start_time": start_time,
            "finish_time": finish_time,
            "progress": f"{progress}%",
            "data": flat,
        },
    }


def poll_answer(job: Job, now: float, poll_number: int, options: PollOptions) -> CannedResponse:
    envelope = options.comet_envelope
    if envelope == "wrapped" or (envelope == "alternate" and poll_number % 2 == 1):
        return json_answer(200, wrapped_body(job, now))
    return xai.flat_answer(job, xai.flat_body(job, now))


CONTRACT = Contract(
    name="cometapi",
    create_path="/grok/v1/videos/generations",
    poll_path=re.compile(r"/grok/v1/videos/([^/]+)"),
    validate=xai.validate_create,
    poll_id=xai.poll_id,
    created=xai.created,
    poll_answer=poll_answer,
)
