"""FinalizeVideo killed mid-copy (its Lambda's timeout, out of memory), through the local stack.

Issue 5's acceptance: the step is retried and the multipart upload is aborted or completed,
never left half-done and never recorded as success.
"""

from __future__ import annotations

import hashlib
import threading
import uuid

import boto3
import pytest

from devstack import lambda_bridge
from devstack.lambda_bridge import LambdaKilled
from sandbox.mp4 import mp4_sha256
from tests.e2e.fault_modes import terminal_webhooks
from videohook.runtime import get_runtime

pytestmark = pytest.mark.e2e
TIMEOUT = 60
SIZE = 20 * 1024 * 1024  # three parts of the copier's 8 MiB
FINALIZE = "handlers.finalize_video.handler"


class KillFirstCopy:
    """A botocore hook on the runtime's S3 client: the first multipart copy dies at its 2nd part.

    As in a killed Lambda, `LambdaKilled` (a BaseException) runs no `except Exception`
    cleanup, and from the kill until the next FinalizeVideo invocation (a fresh runtime)
    nothing more reaches S3 for that key: the killed attempt does not abort its own upload.
    """

    def __init__(self) -> None:
        self.killed_bucket: str | None = None
        self.killed_key: str | None = None
        self.killed_upload: str | None = None
        self.aborted: list[str] = []  # upload ids of the aborts that reached S3
        self._dead = False
        self._lock = threading.Lock()

    def new_runtime(self) -> None:
        with self._lock:
            self._dead = False

    def __call__(self, params: dict, model, **_) -> None:  # noqa: ANN001 - botocore's OperationModel
        with self._lock:
            if self.killed_key is None and model.name == "UploadPart" and params["PartNumber"] == 2:
                self.killed_bucket, self.killed_key = params["Bucket"], params["Key"]
                self.killed_upload, self._dead = params["UploadId"], True
            elif params.get("Key") != self.killed_key:
                return
            if self._dead:
                raise LambdaKilled("FinalizeVideo's runtime was killed mid-copy")
            if model.name == "AbortMultipartUpload":
                self.aborted.append(params["UploadId"])


@pytest.fixture
def copy_contract(stack_settings):
    """The sandbox speaks AI/ML API's contract (no upload URL): FinalizeVideo copies the video."""
    stack_settings(VIDEOHOOK_SANDBOX_CONTRACT="aimlapi")


@pytest.fixture
def kill_first_copy(copy_contract, monkeypatch):
    from handlers import finalize_video

    kill = KillFirstCopy()
    handler = finalize_video.handler

    def killable(event, context):  # noqa: ANN001, ANN202 - the Lambda handler's signature
        kill.new_runtime()
        get_runtime().s3.meta.events.register("before-parameter-build.s3", kill, unique_id="kill-first-copy")
        return handler(event, context)

    monkeypatch.setattr(finalize_video, "handler", killable)
    yield kill
    get_runtime().s3.meta.events.unregister("before-parameter-build.s3", unique_id="kill-first-copy")
    if kill.killed_key:  # whatever the outcome, the session's bucket has no open upload after this test
        s3 = boto3.client("s3")
        for upload in s3.list_multipart_uploads(Bucket=kill.killed_bucket, Prefix=kill.killed_key).get(
            "Uploads", []
        ):
            s3.abort_multipart_upload(
                Bucket=kill.killed_bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )


def test_a_finalize_killed_mid_copy_is_retried_and_leaves_no_upload(
    local_stack, api, receiver, kill_first_copy
):
    accepted = local_stack.sandbox.stats["accepted"]
    finalized = lambda_bridge.invocations.get(FINALIZE, 0)
    prompt = f"A glacier calving {uuid.uuid4().hex} sandbox:bytes={SIZE}"
    answer = api.post("/v1/videos", json={"prompt": prompt, "duration": 1, "webhook_url": receiver.url})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]

    assert terminal_webhooks(local_stack, receiver, {job_id}, TIMEOUT).get(job_id) == ["video.succeeded"]
    final = api.get(f"/v1/videos/{job_id}").json()
    assert final["status"] == "succeeded", final
    bucket, key = final["video"]["s3_uri"].removeprefix("s3://").split("/", 1)

    # The first attempt died at its 2nd part with its upload open; the second aborted it, then copied.
    assert kill_first_copy.killed_key == key
    assert kill_first_copy.aborted == [kill_first_copy.killed_upload]
    assert lambda_bridge.invocations[FINALIZE] - finalized == 2
    s3 = boto3.client("s3")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    expected = mp4_sha256(final["provider_request_id"], SIZE)
    assert (len(stored), hashlib.sha256(stored).hexdigest()) == (SIZE, expected)
    assert final["video"]["sha256"] == expected

    assert local_stack.sandbox.stats["accepted"] - accepted == 1
    assert [job["id"] for job in local_stack.sandbox.jobs if prompt in job["body"]["prompt"]] == [
        final["provider_request_id"]
    ]
