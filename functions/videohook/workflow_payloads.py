"""The payloads that travel through the state machine: each task's input and output
(the API's and the job record's models: `videohook.models`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from videohook.models import JobStatus, Model


class WorkflowInput(Model):
    """Execution input written by submit, and what every task passes on."""

    job_id: str
    wait_seconds: int = Field(ge=0)


class PollResult(Model):
    """Output of the poll step: the Choice state branches on `status`."""

    job_id: str
    status: JobStatus
    wait_seconds: int = Field(ge=0)


class VideoTransfer(Model):
    """How FinalizeVideo got the video into S3 (its metrics carry the same figures)."""

    # "copy": streamed from the provider's URL through the function; "provider_upload": the
    # provider PUT it to a presigned URL and the function only verified it.
    kind: Literal["copy", "provider_upload"]
    bytes: int  # the stored video's size
    bytes_copied: int  # video bytes through the function (0 for a provider upload)
    bytes_read_to_verify: int = 0  # bytes read back from S3 to check a provider upload
    seconds: float  # storing the video: the copy, or the check and move of the upload


class FinalizeResult(Model):
    job_id: str
    status: JobStatus
    # Set by the FinalizeVideo attempt that stored the video; absent otherwise.
    transfer: VideoTransfer | None = None


class ReconcileReport(Model):
    """What one run of the submission reconciler did."""

    examined: int = 0
    resumed: list[str] = Field(default_factory=list, description="jobs whose workflow it started")
    failed: list[str] = Field(default_factory=list, description="jobs it failed (provider outcome unknown)")


class TaskFailure(Model):
    """What a Catch hands to the fail step: Step Functions' error and cause."""

    job_id: str
    error: dict[str, Any] = Field(default_factory=dict)
