"""videohook.telemetry: job ids on log lines (per invocation, per thread), EMF documents, helpers."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Any, Literal

import pytest

from bench.procs import REPO
from devstack.lambda_bridge import LambdaContext
from tests.fakes import make_job, run_python
from videohook import telemetry
from videohook.models import Job, JobError, JobStatus, ProviderName, utc_now
from videohook.providers.base import ProviderAuthError, ProviderMalformed, ProviderRejected
from videohook.workflow_payloads import VideoTransfer


@pytest.fixture
def lines() -> list[dict[str, Any]]:
    """Log lines of the `videohook` logger, exactly as the Powertools handler formats them."""
    logger = logging.getLogger(telemetry.SERVICE)
    formatter_of = logger.powertools_handler  # type: ignore[attr-defined]
    captured: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(json.loads(formatter_of.format(record)))

    capture = Capture()
    logger.addHandler(capture)
    yield captured
    logger.removeHandler(capture)


def emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def context(name: str = "PollProviderFunction") -> LambdaContext:
    return LambdaContext(function_name=name)


def job(status: JobStatus = JobStatus.SUCCEEDED, **changes: Any) -> Job:
    now = utc_now()
    return make_job(
        **{
            "tenant_id": "tenant",
            "status": status,
            "created_at": now - timedelta(seconds=90),
            "updated_at": now,
            "completed_at": now,
            "poll_count": 7,
            **changes,
        }
    )


@telemetry.instrument
def step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    telemetry.logger.info("inside", extra={"step": "one"})
    if event.get("fail"):
        raise RuntimeError("boom")
    return {"job_id": event.get("job_id")}


# ---- logs -------------------------------------------------------------------------


def test_every_line_of_an_invocation_carries_the_job_id_and_none_survives_it(lines) -> None:
    assert step({"job_id": "vid_a"}, context()) == {"job_id": "vid_a"}
    telemetry.logger.info("between invocations")
    step({"job_id": "vid_b"}, context())
    inside_a, between, inside_b = lines
    assert (inside_a["job_id"], inside_a["correlation_id"], inside_a["step"]) == ("vid_a", "vid_a", "one")
    assert "job_id" not in between and "correlation_id" not in between
    assert (inside_b["job_id"], inside_b["correlation_id"]) == ("vid_b", "vid_b")
    assert inside_a["function_name"] == "PollProviderFunction" and inside_a["function_request_id"]


def test_keys_appended_by_service_code_do_not_leak_into_the_next_invocation(lines) -> None:
    @telemetry.instrument
    def leaky(event: dict[str, Any], context: Any) -> None:
        telemetry.logger.append_keys(tenant="t1")  # shared keys, as older service code does

    leaky({"job_id": "vid_a"}, context())
    step({"job_id": "vid_b"}, context())
    assert "tenant" not in lines[-1]


def test_concurrent_invocations_keep_their_own_job_id_and_request_id(lines) -> None:
    barrier = threading.Barrier(8)

    @telemetry.instrument
    def interleaved(event: dict[str, Any], context: Any) -> None:
        barrier.wait(timeout=10)  # all eight bound before any logs
        for _ in range(20):
            telemetry.logger.info(
                "tick", extra={"expected": event["job_id"], "request": context.aws_request_id}
            )

    threads = [
        threading.Thread(target=interleaved, args=({"job_id": f"vid_{n}"}, context())) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ticks = [line for line in lines if line["message"] == "tick"]
    assert len(ticks) == 160
    assert all(line["job_id"] == line["expected"] == line["correlation_id"] for line in ticks)
    assert all(line["function_request_id"] == line["request"] for line in ticks)
    assert len({line["request"] for line in ticks}) == 8


def test_an_error_is_logged_with_the_job_id_and_raised(lines) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        step({"job_id": "vid_a", "fail": True}, context())
    failure = lines[-1]
    assert failure["level"] == "ERROR" and failure["message"] == "invocation failed"
    assert failure["job_id"] == "vid_a" and failure["error_type"] == "RuntimeError"
    assert "boom" in failure["exception"]


def test_api_gateway_events_are_correlated_by_request_id_until_the_job_is_known(lines) -> None:
    @telemetry.instrument
    def api(event: dict[str, Any], context: Any) -> None:
        telemetry.logger.info("request")
        telemetry.bind_job("vid_new")
        telemetry.logger.info("submitted")

    api({"requestContext": {"requestId": "req-1"}, "path": "/v1/videos"}, context("ApiFunction"))
    request, submitted = lines
    assert request["correlation_id"] == "req-1" and "job_id" not in request
    assert submitted["correlation_id"] == submitted["job_id"] == "vid_new"


def test_instrumented_handlers_are_marked() -> None:
    assert telemetry.is_instrumented(step)
    assert not telemetry.is_instrumented(lambda event, context: None)


# ---- metrics ----------------------------------------------------------------------


def test_job_finished_succeeded(capsys) -> None:
    telemetry.job_finished(job(JobStatus.SUCCEEDED))
    outcome, times = emf(capsys.readouterr().out)
    assert outcome["JobsSucceeded"] == [1.0] and outcome["provider"] == "xai"
    assert outcome["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"], ["service", "provider"]]
    assert outcome["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "videohook"
    assert times["PollsPerJob"] == [7.0]
    assert times["QueueToDoneSeconds"][0] == pytest.approx(90, abs=1)
    assert outcome["job_id"] == times["job_id"] == "vid_01test"


@pytest.mark.parametrize(
    ("status", "code", "dimension"),
    [
        (JobStatus.FAILED, "moderation_blocked", "moderation_blocked"),
        (JobStatus.EXPIRED, "deadline_exceeded", "deadline_exceeded"),
        (JobStatus.FAILED, "Content Policy / Violation!", "content_policy_violation"),
        (JobStatus.FAILED, "x" * 100, "x" * 64),
        (JobStatus.FAILED, None, "unknown"),
    ],
)
def test_job_finished_failed_by_error_code(capsys, status, code, dimension) -> None:
    error = JobError(code=code, message="m") if code else None
    telemetry.job_finished(job(status, error=error))
    outcome, times = emf(capsys.readouterr().out)
    assert outcome["JobsFailed"] == [1.0]
    assert outcome["error_code"] == dimension
    assert ["service", "error_code"] in outcome["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert "QueueToDoneSeconds" not in times and times["PollsPerJob"] == [7.0]


def test_job_finished_ignores_jobs_still_running(capsys) -> None:
    telemetry.job_finished(job(JobStatus.RUNNING))
    assert emf(capsys.readouterr().out) == []


def test_record_outcome_counts_only_the_step_that_ended_the_job(capsys) -> None:
    finished = job(JobStatus.SUCCEEDED)
    before = finished.completed_at - timedelta(seconds=1)
    after = finished.completed_at + timedelta(seconds=1)
    running = finished.model_copy(update={"status": JobStatus.RUNNING, "completed_at": None})
    assert telemetry.record_outcome(finished, since=before) is True
    assert telemetry.record_outcome(finished, since=after) is False
    assert telemetry.record_outcome(running, since=before) is False
    assert [d.get("JobsSucceeded") for d in emf(capsys.readouterr().out)] == [[1.0], None]


def test_provider_request_counts_requests_and_unhealthy_answers(capsys) -> None:
    with telemetry.provider_request(ProviderName.XAI, "poll", job_id="vid_a"):
        pass
    for error in (
        ProviderMalformed("not json"),
        ProviderAuthError("bad key"),
        ProviderRejected("bad prompt"),
    ):
        with pytest.raises(type(error)), telemetry.provider_request(ProviderName.XAI, "submit"):
            raise error
    with pytest.raises(KeyError), telemetry.provider_request(ProviderName.XAI, "poll"):
        raise KeyError("not the provider's answer")
    documents = emf(capsys.readouterr().out)
    assert [(d["ProviderRequests"], d["ProviderErrors"]) for d in documents] == [
        ([1.0], [0.0]),
        ([1.0], [1.0]),
        ([1.0], [1.0]),
        ([1.0], [0.0]),
    ]
    assert documents[0]["job_id"] == "vid_a" and documents[0]["operation"] == "poll"
    assert documents[1]["error_code"] == "provider_malformed_response"
    assert ["service", "provider", "operation"] in documents[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def transfer(kind: Literal["copy", "provider_upload"], *, bytes_copied: int, seconds: float) -> VideoTransfer:
    return VideoTransfer(kind=kind, bytes=1000, bytes_copied=bytes_copied, seconds=seconds)


def test_webhook_attempt_video_detected_video_copied_job_submitted(capsys) -> None:
    telemetry.webhook_attempt("vid_a", delivered=False, status_code=503)
    telemetry.video_detected("vid_a", lag_seconds=4.5)
    telemetry.video_copied("vid_a", transfer("copy", bytes_copied=1000, seconds=0.5))
    telemetry.job_submitted(job(JobStatus.QUEUED))
    attempt, detected, copied, submitted = emf(capsys.readouterr().out)
    assert (attempt["WebhookAttempts"], attempt["WebhookFailures"], attempt["status_code"]) == (
        [1.0],
        [1.0],
        503,
    )
    assert detected["DetectionLagSeconds"] == [4.5]
    assert (copied["CopyBytes"], copied["CopySeconds"], copied["CopyThroughput"]) == (
        [1000.0],
        [0.5],
        [2000.0],
    )
    assert copied["transfer"] == "copy"
    assert submitted["JobsSubmitted"] == [1.0] and submitted["provider"] == "xai"
    telemetry.video_copied("vid_a", transfer("provider_upload", bytes_copied=0, seconds=0.2))
    (uploaded,) = emf(capsys.readouterr().out)
    assert (uploaded["CopyBytes"], uploaded["transfer"]) == ([0.0], "provider_upload")
    assert "CopyThroughput" not in uploaded


def test_every_metric_has_a_cloudwatch_unit() -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    units = {unit.value for unit in MetricUnit}
    assert set(telemetry.METRICS.values()) <= units


def test_an_invocation_without_metrics_of_its_own_prints_no_warning(recwarn, capsys) -> None:
    step({"job_id": "vid_a"}, context())
    assert not [w for w in recwarn if "No application metrics" in str(w.message)]


# ---- the tracer, in a fresh interpreter (its patches are process-wide) ---------------------

# A step handler instrumented like every handler, invoked once, in a process that Lambda runs
# with active tracing (LAMBDA_TASK_ROOT set); each case adds what it prints.
INSTRUMENTED_STEP = """
import json, sys
from videohook import telemetry

imported_with_module = "aws_xray_sdk" in sys.modules

@telemetry.instrument
def step(event, context):
    return {"job_id": event["job_id"]}

class Context:
    function_name, aws_request_id = "Step", "request-1"
    memory_limit_in_mb, invoked_function_arn = 128, ""

answer = step({"job_id": "vid_1"}, Context())
"""
TRACED = {"LAMBDA_TASK_ROOT": str(REPO / "functions"), "POWERTOOLS_METRICS_NAMESPACE": "test"}


def _traced_environment(trace_disabled: bool) -> dict[str, str]:
    return {**TRACED, **({"POWERTOOLS_TRACE_DISABLED": "1"} if trace_disabled else {})}


@pytest.mark.parametrize("trace_disabled", [True, False])
def test_the_tracer_is_created_at_the_first_invocation_and_honours_trace_disabled(trace_disabled) -> None:
    seen = run_python(
        INSTRUMENTED_STEP
        + """
print(json.dumps({
    "imported_with_module": imported_with_module,
    "answer": answer,
    "xray_after_invocation": "aws_xray_sdk.core" in sys.modules,
    "disabled": bool(telemetry.tracer().disabled),
    "one_tracer": telemetry.tracer() is telemetry.tracer(),
}))
""",
        **_traced_environment(trace_disabled),
    )
    assert seen["imported_with_module"] is False
    assert seen["answer"] == {"job_id": "vid_1"}
    assert seen["xray_after_invocation"] is True
    assert seen["disabled"] is trace_disabled
    assert seen["one_tracer"] is True


@pytest.mark.parametrize("trace_disabled", [False, True])
def test_a_step_patches_botocore_and_the_http_client_is_traced_where_it_is_made(trace_disabled) -> None:
    """botocore is patched when the tracer is created; httpx only in a process that creates the
    runtime's HTTP client (provider and webhook calls), never in the others."""
    seen = run_python(
        INSTRUMENTED_STEP
        + """
after_step = {
    "botocore_patched": "aws_xray_sdk.ext.botocore.patch" in sys.modules,
    "httpx_loaded": "httpx" in sys.modules,
}
from videohook.runtime import get_runtime
print(json.dumps({**after_step, "http_client": type(get_runtime().http).__module__}))
""",
        **_traced_environment(trace_disabled),
    )
    assert seen["botocore_patched"] is not trace_disabled
    assert seen["httpx_loaded"] is False  # the tracer no longer imports it into every handler
    assert seen["http_client"] == ("httpx" if trace_disabled else "aws_xray_sdk.ext.httpx.patch")
