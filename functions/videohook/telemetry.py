"""What an operator sees of videohook: JSON logs, X-Ray traces and CloudWatch metrics (EMF).

Everything goes through AWS Lambda Powertools:

- `logger`: JSON lines on stdout. Inside a handler wrapped by `instrument`, every line
  carries `job_id` and `correlation_id` (both the job id: it is also the name of the
  workflow's execution, so one id finds the job's logs, traces, metrics and execution).
  The keys are bound per invocation and per thread, so they neither survive into the
  next invocation of a warm container nor leak between the local stack's threads.
- `tracer()`: X-Ray segments, annotated with `job_id`. Off outside Lambda and wherever
  POWERTOOLS_TRACE_DISABLED is set (the local stack sets it). Created on first use, not
  at import: a Powertools Tracer imports the X-Ray SDK and builds a botocore session,
  0.3-0.5 s that every handler's cold import would pay.
- Metrics: namespace `videohook`, dimension `service`. Each helper below writes one EMF
  document on stdout right away (with `job_id` as a searchable property, never as a
  dimension); CloudWatch turns the log line into metrics. Documents are per event, not
  per invocation, so a helper works the same in any handler, instrumented or not.

Handlers: decorate with `@telemetry.instrument` (outermost). Service code: one line each,

    telemetry.job_submitted(job)                      # POST /v1/videos accepted a job
    telemetry.job_finished(job)                       # a job became terminal
    telemetry.record_outcome(job, since=step_started)  # the same, if this step ended the job
    with telemetry.provider_request(provider, "poll"):  # around one provider call
        ...
    telemetry.webhook_attempt(job_id, delivered=..., status_code=...)
    telemetry.webhook_dead_lettered(job_id, event_id)

The metric names are the `METRICS` table; infra/constructs/observability.py builds the
dashboard and alarms on exactly these names (a test keeps the two in step).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from videohook.models import Job, JobStatus
from videohook.workflow_payloads import VideoTransfer

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "videohook"
NAMESPACE = "videohook"


class _InvocationMetrics(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, minus the warning when an invocation added no metric of its own."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self.metric_set or raise_on_empty_metrics:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)


logger = Logger(service=SERVICE)
# What Powertools adds per invocation (the ColdStart metric) and flushes at its end. The
# helpers below write their own documents instead, so that concurrent invocations (the
# local stack runs handlers in threads) never share a metric set.
metrics = Metrics(
    namespace=NAMESPACE, service=SERVICE, provider=_InvocationMetrics(namespace=NAMESPACE, service=SERVICE)
)

# ---- metric names: the contract with the dashboard and the alarms ----------------------

JOBS_SUBMITTED = "JobsSubmitted"
JOBS_SUCCEEDED = "JobsSucceeded"
JOBS_FAILED = "JobsFailed"  # failed or expired; also per provider and per error_code
JOBS_CANCELED = "JobsCanceled"
QUEUE_TO_DONE = "QueueToDoneSeconds"  # submitted -> video stored, succeeded jobs only
POLLS_PER_JOB = "PollsPerJob"  # provider polls of a job, at its end
DETECTION_LAG = "DetectionLagSeconds"  # upper bound: the wait before the poll that saw the video ready
COPY_BYTES = "CopyBytes"  # bytes through the function (0 when the provider uploaded the video)
COPY_SECONDS = "CopySeconds"  # storing the video: the copy, or the check of the provider's upload
COPY_THROUGHPUT = "CopyThroughput"
PROVIDER_REQUESTS = "ProviderRequests"
PROVIDER_ERRORS = "ProviderErrors"  # transient (429/5xx/timeouts/malformed) and auth errors
WEBHOOK_ATTEMPTS = "WebhookAttempts"
WEBHOOK_FAILURES = "WebhookFailures"
WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"  # an event gave up on its receiver (the DLQ has it)

METRICS: Mapping[str, str] = {
    JOBS_SUBMITTED: MetricUnit.Count.value,
    JOBS_SUCCEEDED: MetricUnit.Count.value,
    JOBS_FAILED: MetricUnit.Count.value,
    JOBS_CANCELED: MetricUnit.Count.value,
    QUEUE_TO_DONE: MetricUnit.Seconds.value,
    POLLS_PER_JOB: MetricUnit.Count.value,
    DETECTION_LAG: MetricUnit.Seconds.value,
    COPY_BYTES: MetricUnit.Bytes.value,
    COPY_SECONDS: MetricUnit.Seconds.value,
    COPY_THROUGHPUT: MetricUnit.BytesPerSecond.value,
    PROVIDER_REQUESTS: MetricUnit.Count.value,
    PROVIDER_ERRORS: MetricUnit.Count.value,
    WEBHOOK_ATTEMPTS: MetricUnit.Count.value,
    WEBHOOK_FAILURES: MetricUnit.Count.value,
    WEBHOOK_DEAD_LETTERED: MetricUnit.Count.value,
}

# Error codes become a dimension: keep them to a small, safe alphabet (providers choose some of them).
_UNSAFE = re.compile(r"[^a-z0-9_.-]+")
MAX_ERROR_CODE_LENGTH = 64

Handler = TypeVar("Handler", bound=Callable[..., Any])
INSTRUMENTED = "__videohook_instrumented__"
INVOCATION_KEYS = ("job_id", "correlation_id", "function_name", "function_request_id")


# ---- handlers ------------------------------------------------------------------------

_tracer_lock = threading.Lock()


# What X-Ray's SDK patches when the tracer is created: the AWS calls (boto3 is botocore). Not
# every library it supports (Powertools' default): that would import httpx into every
# handler, which only the processes calling a provider or a webhook use (`trace_http_clients`).
PATCHED_MODULES = ("botocore",)


@functools.cache
def _create_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer  # at the first use, not at import (cold start)

    return Tracer(service=SERVICE, patch_modules=PATCHED_MODULES)


def tracer() -> Tracer:
    """The X-Ray tracer, created (and botocore patched) by the first call in the process."""
    with _tracer_lock:  # the local stack runs handlers in threads: create and patch once
        return _create_tracer()


def trace_http_clients() -> None:
    """Trace the requests of every httpx client created from here on (provider and webhook
    calls): X-Ray's httpx patch, applied by the process that creates one, before it does."""
    tracer().patch(modules=("httpx",))


def instrument(handler: Handler) -> Handler:
    """Wrap a Lambda handler: logger context, X-Ray and metrics flushing, the job id bound.

    Equivalent to stacking, outermost first,

        @logger.inject_lambda_context(clear_state=True)   # no keys survive the last invocation
        @tracer().capture_lambda_handler                  # applied at the first invocation
        @metrics.log_metrics(capture_cold_start_metric=True)

    around a wrapper that binds the raw event's `job_id` (state machine tasks all carry
    one) or, for API Gateway events, uses the request id as correlation id until `bind_job`.
    """

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        # The invocation's own keys, per thread: Powertools keeps the Lambda context in keys
        # shared by every thread, and concurrent invocations in one process (the local
        # stack; Lambda's multi-concurrency) would otherwise log each other's request ids.
        logger.thread_safe_append_keys(
            function_name=getattr(context, "function_name", None),
            function_request_id=getattr(context, "aws_request_id", None),
        )
        job_id = event.get("job_id") if isinstance(event, dict) else None
        if isinstance(job_id, str) and job_id:
            bind_job(job_id)
        elif isinstance(event, dict) and (event.get("requestContext") or {}).get("requestId"):
            logger.thread_safe_append_keys(correlation_id=event["requestContext"]["requestId"])
        try:
            return handler(event, context)
        except Exception as error:
            logger.exception("invocation failed", extra={"error_type": type(error).__name__})
            raise
        finally:
            logger.thread_safe_remove_keys(INVOCATION_KEYS)

    metered = metrics.log_metrics(invoke, capture_cold_start_metric=True)

    @functools.cache
    def traced_handler() -> Callable[..., Any]:
        return tracer().capture_lambda_handler(metered)

    @functools.wraps(handler)
    def traced(event: Any, context: Any) -> Any:
        # Wrapped at the first invocation, not at import: that is when the tracer is created.
        return traced_handler()(event, context)

    wrapped = logger.inject_lambda_context(traced, clear_state=True)
    setattr(wrapped, INSTRUMENTED, True)
    return wrapped  # type: ignore[no-any-return]


def is_instrumented(handler: Callable[..., Any]) -> bool:
    return bool(getattr(handler, INSTRUMENTED, False))


def bind_job(job_id: str) -> None:
    """From here to the end of the invocation, every log line carries `job_id` (as correlation id too)."""
    logger.thread_safe_append_keys(job_id=job_id, correlation_id=job_id)
    tracer().put_annotation(key="job_id", value=job_id)


# ---- metrics ---------------------------------------------------------------------------


def _emit(
    values: Mapping[str, float],
    *,
    job_id: str | None = None,
    dimension_sets: tuple[Mapping[str, str], ...] = (),
    **properties: Any,
) -> None:
    """One EMF document: `values` under [service] plus each of `dimension_sets` (service added).

    `job_id` and `properties` are plain properties of the log line: searchable in Logs
    Insights, no metric dimensions (no cost per distinct value)."""
    document = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for name, value in values.items():
        document.add_metric(name=name, unit=METRICS[name], value=value)
    for dimensions in dimension_sets:
        document.add_dimensions(service=SERVICE, **dimensions)
    if job_id:
        document.add_metadata(key="job_id", value=job_id)
    for key, value in properties.items():
        if value is not None:
            document.add_metadata(key=key, value=value)
    try:
        document.flush_metrics()
    except Exception:  # noqa: BLE001 - telemetry must never fail the step that it measures
        logger.warning("metrics not emitted", extra={"metrics": sorted(values)}, exc_info=True)


def error_code_dimension(code: str | None) -> str:
    cleaned = _UNSAFE.sub("_", (code or "unknown").strip().lower()).strip("_")
    return (cleaned or "unknown")[:MAX_ERROR_CODE_LENGTH]


def job_submitted(job: Job) -> None:
    """A job was accepted: call once, after its execution started (submission.submit_job)."""
    _emit({JOBS_SUBMITTED: 1}, job_id=job.id, dimension_sets=({"provider": job.provider.value},))


def job_finished(job: Job) -> None:
    """A job became terminal: its outcome (failures by error code), polls and queue-to-done time."""
    by_provider = {"provider": job.provider.value}
    if job.status is JobStatus.SUCCEEDED:
        _emit({JOBS_SUCCEEDED: 1}, job_id=job.id, dimension_sets=(by_provider,))
    elif job.status in (JobStatus.FAILED, JobStatus.EXPIRED):
        code = error_code_dimension(job.error.code if job.error else None)
        _emit({JOBS_FAILED: 1}, job_id=job.id, dimension_sets=(by_provider, {"error_code": code}))
    elif job.status is JobStatus.CANCELED:
        _emit({JOBS_CANCELED: 1}, job_id=job.id, dimension_sets=(by_provider,))
    else:
        return
    durations: dict[str, float] = {POLLS_PER_JOB: job.poll_count}
    if job.status is JobStatus.SUCCEEDED and job.completed_at is not None:
        durations[QUEUE_TO_DONE] = max(0.0, (job.completed_at - job.created_at).total_seconds())
    _emit(durations, job_id=job.id, dimension_sets=(by_provider,))


def record_outcome(job: Job, *, since: datetime) -> bool:
    """After a workflow step, with the job as the step left it: if this step made the job
    terminal, emit `job_finished` and return True.

    A job that was already terminal before `since` (a retried or late step) is not counted again.
    """
    if not job.status.is_terminal or job.completed_at is None or job.completed_at < since:
        return False
    job_finished(job)
    return True


def video_detected(job_id: str, *, lag_seconds: float) -> None:
    """The poll found the provider's video ready, at most `lag_seconds` after it was."""
    _emit({DETECTION_LAG: max(0.0, lag_seconds)}, job_id=job_id)


def video_copied(job_id: str, transfer: VideoTransfer) -> None:
    """The video is in S3: the time it took, the bytes that went through the function, the throughput.

    `transfer.kind` is "copy" (streamed from the provider's URL) or "provider_upload" (the
    provider PUT it to a presigned URL; the function only verified it, no byte went
    through it and there is no throughput to speak of)."""
    seconds = max(transfer.seconds, 1e-3)
    size = transfer.bytes_copied
    values = {COPY_SECONDS: seconds, COPY_BYTES: size}
    if size > 0:
        values[COPY_THROUGHPUT] = size / seconds
    _emit(values, job_id=job_id, transfer=transfer.kind)


@contextmanager
def provider_request(provider: Any, operation: str, *, job_id: str | None = None) -> Iterator[None]:
    """Count one provider call, and its failure when the provider is unhealthy.

    Transient errors (429, 5xx, timeouts, malformed bodies) and auth errors count as
    errors; a rejected request is the caller's fault and counts only as a request. Errors
    that are not the provider's answer (e.g. no key configured) count as nothing.
    """
    # Here, not at module level: the providers package loads every adapter (cold start).
    from videohook.providers.base import ProviderAuthError, ProviderError, ProviderTransient

    name = str(getattr(provider, "value", provider))
    by_provider = ({"provider": name, "operation": operation},)
    try:
        yield
    except ProviderError as error:
        failed = isinstance(error, ProviderTransient | ProviderAuthError)
        values = {PROVIDER_REQUESTS: 1, PROVIDER_ERRORS: 1 if failed else 0}
        _emit(values, job_id=job_id, dimension_sets=by_provider, error_code=error.code)
        raise
    _emit({PROVIDER_REQUESTS: 1, PROVIDER_ERRORS: 0}, job_id=job_id, dimension_sets=by_provider)


def webhook_attempt(job_id: str, *, delivered: bool, status_code: int | None = None) -> None:
    """One webhook POST: an attempt, and a failure unless the receiver answered 2xx."""
    values = {WEBHOOK_ATTEMPTS: 1, WEBHOOK_FAILURES: 0 if delivered else 1}
    _emit(values, job_id=job_id, status_code=status_code)


def webhook_dead_lettered(job_id: str, event_id: str | None = None) -> None:
    """The retry schedule is exhausted: the event went to the dead-letter queue."""
    _emit({WEBHOOK_DEAD_LETTERED: 1}, job_id=job_id, event_id=event_id)
