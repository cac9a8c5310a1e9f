"""Telemetry of a local end-to-end run: the EMF metrics, and the job id on every log line of a job.

One run (a job that succeeds and one the sandbox fails, side by side) is shared by the
tests of this module. What it captures:

- every EMF document printed on stdout (what CloudWatch turns into metrics);
- every log line of the `videohook` logger, formatted by Powertools' own formatter, with
  the Lambda invocation (handler, the event's job id) that was running in its thread:
  the local stack runs each Lambda invocation in its own thread, like the bridge's
  `_invoke_in_process`, so a line belongs to a job exactly when its thread was running
  a handler for that job.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from devstack import lambda_bridge
from videohook import telemetry

pytestmark = pytest.mark.e2e
TIMEOUT = 60
MY_HANDLERS = (
    "handlers.poll_provider.handler",
    "handlers.finalize_video.handler",
    "handlers.fail_job.handler",
)


@dataclass
class Run:
    succeeded: str
    failed: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    # (handler, the event's job id, instrumented?) of the invocation that logged, and the line.
    lines: list[tuple[tuple[str, str | None, bool] | None, dict[str, Any]]] = field(default_factory=list)

    def metrics(self, job_id: str) -> dict[str, list[float]]:
        """Metric name -> values of the EMF documents about `job_id`."""
        found: dict[str, list[float]] = {}
        for document in self.documents:
            if document.get("job_id") != job_id:
                continue
            for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                found.setdefault(definition["Name"], []).extend(document[definition["Name"]])
        return found

    def document_with(self, job_id: str, metric: str) -> dict[str, Any]:
        for document in self.documents:
            names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            if document.get("job_id") == job_id and metric in names:
                return document
        raise AssertionError(f"no EMF document with {metric} for {job_id}")


class _LineCapture(logging.Handler):
    """Formats each record like the Powertools handler does, in the emitting thread."""

    def __init__(self, formatter_of: logging.Handler, current: threading.local, into: list) -> None:
        super().__init__()
        self._powertools = formatter_of
        self._current = current
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self._powertools.format(record))
        self._into.append((getattr(self._current, "invocation", None), line))


@pytest.fixture
def traced_invocations(monkeypatch) -> Iterator[threading.local]:
    """The bridge's handlers, wrapped to record which invocation runs in the current thread."""
    current = threading.local()
    resolve = lambda_bridge.resolve_handler

    def resolve_traced(name: str) -> Callable[[Any, Any], Any]:
        function = resolve(name)

        def invoke(event: Any, context: Any) -> Any:
            job_id = event.get("job_id") if isinstance(event, dict) else None
            current.invocation = (name, job_id, telemetry.is_instrumented(function))
            try:
                return function(event, context)
            finally:
                current.invocation = None

        return invoke

    monkeypatch.setattr(lambda_bridge, "resolve_handler", resolve_traced)
    yield current


_RUN: list[Run] = []


@pytest.fixture
def run(local_stack, api, capsys, traced_invocations) -> Run:
    """Both jobs to their end, with everything they printed and logged (once per module)."""
    if _RUN:
        return _RUN[0]
    logger = logging.getLogger(telemetry.SERVICE)
    powertools_handler = logger.powertools_handler  # type: ignore[attr-defined]  # set by Powertools
    lines: list = []
    capture = _LineCapture(powertools_handler, traced_invocations, lines)
    logger.addHandler(capture)
    from devstack.receiver import WebhookReceiver

    receiver = WebhookReceiver()
    try:
        # The scheduled reconciler logs about no job: it must not run into this capture.
        with local_stack.scheduler.paused():
            ids = []
            for prompt in ("A lighthouse at dusk.", "A storm at sea sandbox:outcome=failed"):
                body = {"prompt": prompt, "duration": 1, "resolution": "480p", "webhook_url": receiver.url}
                answer = api.post("/v1/videos", json=body)
                assert answer.status_code == 202, answer.text
                ids.append(answer.json()["id"])
            result = Run(succeeded=ids[0], failed=ids[1], lines=lines)
            deadline = time.monotonic() + TIMEOUT
            # Terminal in the API first; the step's metrics follow within its invocation.
            while time.monotonic() < deadline:
                result.documents += _emf_documents(capsys.readouterr().out)
                done = {job_id: api.get(f"/v1/videos/{job_id}").json()["status"] for job_id in ids}
                if done == {ids[0]: "succeeded", ids[1]: "failed"} and (
                    "CopySeconds" in result.metrics(ids[0]) and "JobsFailed" in result.metrics(ids[1])
                ):
                    break
                time.sleep(0.2)
            else:
                raise AssertionError(f"jobs not done and measured within {TIMEOUT} s: {done}")
            time.sleep(0.5)  # let the last steps of both executions (publish, delivery) log too
            result.documents += _emf_documents(capsys.readouterr().out)
    finally:
        logger.removeHandler(capture)
        receiver.stop()
    _RUN.append(result)
    return result


def _emf_documents(stdout: str) -> list[dict[str, Any]]:
    documents = []
    for text in stdout.splitlines():
        if text.startswith("{") and '"_aws"' in text:
            documents.append(json.loads(text))
    return documents


# ---- metrics ------------------------------------------------------------------------


def test_documents_are_emf_in_the_videohook_namespace_with_a_service_dimension(run: Run) -> None:
    ours = [d for d in run.documents if d.get("job_id") in (run.succeeded, run.failed)]
    assert ours
    for document in ours:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "videohook"
        assert ["service"] in directive["Dimensions"]
        assert document["service"] == "videohook"
        assert isinstance(document["_aws"]["Timestamp"], int)
        for metric in directive["Metrics"]:
            assert metric["Unit"] == telemetry.METRICS[metric["Name"]]
            assert all(isinstance(value, float) for value in document[metric["Name"]])
        for dimensions in directive["Dimensions"]:
            assert "job_id" not in dimensions  # a property, never a dimension
            assert all(name in document for name in dimensions)


def test_a_succeeded_job_emits_its_outcome_times_polls_and_copy(run: Run) -> None:
    metrics = run.metrics(run.succeeded)
    assert metrics["JobsSucceeded"] == [1.0]
    assert "JobsFailed" not in metrics
    (polls,) = metrics["PollsPerJob"]
    assert polls >= 1
    (queue_to_done,) = metrics["QueueToDoneSeconds"]
    assert 0 < queue_to_done < TIMEOUT
    (lag,) = metrics["DetectionLagSeconds"]
    assert 0 < lag < TIMEOUT
    (size,) = metrics["CopyBytes"]
    (seconds,) = metrics["CopySeconds"]
    assert seconds > 0
    copy = run.document_with(run.succeeded, "CopySeconds")
    if copy["transfer"] == "copy":
        assert size > 0
        assert metrics["CopyThroughput"] == [pytest.approx(size / seconds)]
    else:  # the provider uploaded the video itself: nothing went through the function
        assert (copy["transfer"], size) == ("provider_upload", 0)
        assert "CopyThroughput" not in metrics
    outcome = run.document_with(run.succeeded, "JobsSucceeded")
    assert outcome["provider"] == "sandbox"
    assert ["service", "provider"] in outcome["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_a_failed_job_is_counted_by_error_code(run: Run) -> None:
    metrics = run.metrics(run.failed)
    assert metrics["JobsFailed"] == [1.0]
    assert "JobsSucceeded" not in metrics and "QueueToDoneSeconds" not in metrics
    assert "CopyBytes" not in metrics
    assert metrics["PollsPerJob"][0] >= 1
    document = run.document_with(run.failed, "JobsFailed")
    assert document["error_code"] == "generation_failed"  # the sandbox's failure code
    assert ["service", "error_code"] in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ["service", "provider"] in document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_each_outcome_is_counted_once(run: Run) -> None:
    outcomes = [
        (document["job_id"], name)
        for document in run.documents
        for name in ("JobsSucceeded", "JobsFailed")
        if name in document and document.get("job_id") in (run.succeeded, run.failed)
    ]
    assert sorted(outcomes) == sorted([(run.succeeded, "JobsSucceeded"), (run.failed, "JobsFailed")])


def test_the_dashboards_metric_names_are_the_ones_emitted(run: Run) -> None:
    # That the dashboard's names are telemetry's: tests/infra/test_observability.py.
    emitted = {m["Name"] for d in run.documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    for name in ("JobsSucceeded", "JobsFailed", "PollsPerJob", "QueueToDoneSeconds", "DetectionLagSeconds"):
        assert name in emitted


# Metrics emitted from code the telemetry helpers are wired into by one line each (see
# videohook/telemetry.py); checked as soon as that line exists.
WIRED = {
    "JobsSubmitted": ("videohook.submit", "telemetry.job_submitted("),
    "ProviderRequests": ("videohook.workflow_steps", "telemetry.provider_request("),
    "WebhookAttempts": ("videohook.webhook_delivery", "telemetry.webhook_attempt("),
}


@pytest.mark.parametrize("metric", sorted(WIRED))
def test_metrics_of_wired_service_code(run: Run, metric: str) -> None:
    import importlib

    module_name, call = WIRED[metric]
    module = importlib.import_module(module_name)
    if call not in inspect.getsource(module):
        pytest.skip(f"{module_name} does not call {call}...) yet")
    emitted = {m["Name"] for d in run.documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert metric in emitted


# ---- logs ---------------------------------------------------------------------------


def test_every_log_line_of_a_job_carries_its_id(run: Run) -> None:
    mine = [(invocation, line) for invocation, line in run.lines if invocation and invocation[2]]
    by_handler = {invocation[0] for invocation, _ in mine}
    assert {"handlers.poll_provider.handler", "handlers.finalize_video.handler"} <= by_handler
    for (handler, job_id, _), line in mine:
        assert job_id, (handler, line)
        assert line["job_id"] == job_id, (handler, line)
        assert line["correlation_id"] == job_id, (handler, line)
        assert line["service"] == "videohook" and line["level"] and line["message"]
        assert line["function_request_id"]  # the Lambda context is on every line, too
    # Both jobs were logged by the workflow's handlers, and neither job's lines carry the other's id.
    for job_id in (run.succeeded, run.failed):
        assert any(line["job_id"] == job_id for _, line in mine)


def test_my_handlers_are_instrumented() -> None:
    for name in MY_HANDLERS:
        assert telemetry.is_instrumented(lambda_bridge.resolve_handler(name)), name


def test_every_workflow_handler_is_instrumented(local_stack) -> None:
    import boto3

    deployed = {function["Handler"] for function in boto3.client("lambda").list_functions()["Functions"]}
    assert set(MY_HANDLERS) <= deployed
    missing = sorted(
        name
        for name in deployed - {"handlers.api.handler"}
        if not telemetry.is_instrumented(lambda_bridge.resolve_handler(name))
    )
    if missing:
        pytest.skip(f"not yet decorated with @telemetry.instrument: {', '.join(missing)}")
