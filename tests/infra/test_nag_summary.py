"""infra/nag_summary.py: `make synth`'s count of cdk-nag findings, checked and acknowledged.

A one-bucket stack keeps it fast: the whole stack's line is checked where `make synth`
runs (tests/infra/test_stack.py, test_app_synthesizes_to_cdk_out_without_aws)."""

from __future__ import annotations

# tests/infra/conftest.py has imported `infra` first (it silences jsii's Node.js banner).
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from infra.constructs import ACKNOWLEDGMENTS_CONTEXT, acknowledge
from infra.nag_summary import NagSummary, open_findings

REASON = "a test bucket: its findings are what the summary counts, acknowledged on purpose here"


def bucket_app(**context: str) -> App:
    app = App(context=context)
    bucket = s3.Bucket(Stack(app, "Test"), "Bucket")
    acknowledge(bucket, "AwsSolutions-S1", REASON)  # no server access logs
    return app


def test_acknowledged_findings_are_counted_and_open_ones_named() -> None:
    app, unacknowledged = bucket_app(), bucket_app(**{ACKNOWLEDGMENTS_CONTEXT: "false"})
    summary = NagSummary.of(app, unacknowledged)
    assert summary.checked == open_findings(unacknowledged) >= 2  # S1 and more (TLS only, ...)
    assert summary.acknowledged == 1
    assert summary.open == summary.checked - 1
    assert summary.line() == (
        f"cdk-nag: {summary.checked} findings checked, 1 acknowledged, {summary.open} open "
        "(listed in the assembly's validation-report.json)"
    )


def test_the_line_when_everything_is_acknowledged() -> None:
    assert NagSummary(checked=41, open=0).line() == "cdk-nag: 41 findings checked, 41 acknowledged"
