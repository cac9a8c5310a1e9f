"""The job as callers see it (API answers, webhooks, SNS): its public fields and a fresh download URL."""

from __future__ import annotations

from videohook.models import Job, JobView
from videohook.runtime import Runtime


def public_job(runtime: Runtime, job: Job) -> JobView:
    download_url = None
    if job.video is not None:
        bucket, key = job.video.s3_uri.removeprefix("s3://").split("/", 1)
        download_url = runtime.presigned_download_url(bucket, key)
    return job.public_view(download_url)
