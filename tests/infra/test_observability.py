"""infra/constructs/observability.py: the ops topic, the alarms and their actions, the dashboard.

The construct is checked in a small stack of its own (fast, and cdk-nag sees only it),
then its wiring in the real stack (`synthesized`, tests/infra/conftest.py): every
function, both state machines and the webhook dead-letter queue.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.config import AlarmsConfig
from infra.constructs import observability
from infra.constructs.observability import Observability
from tests.infra.cfn import render, resources
from videohook import telemetry

REPO = Path(__file__).resolve().parents[2]
ALARMS = AlarmsConfig(
    email=["ops@example.com", "oncall@example.com"],
    failed_job_rate_percent=15,
    failed_job_rate_min_jobs=4,
    provider_error_rate_percent=30,
    provider_error_rate_min_requests=20,
    lambda_errors=2,
)


def alarms_by_name(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }


def expressions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {query["Id"]: query for query in alarm["Metrics"]}


@pytest.fixture(scope="module")
def small() -> SimpleNamespace:
    app = App()
    stack = Stack(app, "Ops")
    code = lambda_.Code.from_inline("def handler(event, context):\n    return event\n")
    functions = [
        lambda_.Function(stack, name, runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=code)
        for name in ("PollProviderFunction", "FinalizeVideoFunction")
    ]
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Nothing"))
    )
    queue = sqs.Queue(stack, "DeadLetters")
    api = apigw.RestApi(stack, "Api")
    api.root.add_method("GET", apigw.MockIntegration())
    construct = Observability(
        stack,
        "Observability",
        functions=functions,
        state_machines={"Workflow": machine},
        dead_letter_queue=queue,
        rest_api=api,
        alarms=ALARMS,
    )
    without_queue = Stack(app, "NoQueue")
    Observability(
        without_queue,
        "Observability",
        functions=[],
        state_machines={},
    )
    return SimpleNamespace(
        app=app,
        construct=construct,
        json=Template.from_stack(stack).to_json(),
        without_queue=Template.from_stack(without_queue).to_json(),
    )


# ---- the ops topic ------------------------------------------------------------------


def test_ops_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(small: SimpleNamespace) -> None:
    topic = small.json["Resources"]["OpsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["OpsTopicKey", "Arn"]}
    key = small.json["Resources"]["OpsTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [sorted(s["Action"]) for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]


def test_ops_topic_policy_admits_only_this_accounts_alarms(small: SimpleNamespace) -> None:
    """Its TLS-only statements: test_template_security.py, for every topic of the stack."""
    (policy,) = resources(small.json, "AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": "OpsTopic"}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert render(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    )
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_alarm_emails_are_subscribed(small: SimpleNamespace) -> None:
    subscriptions = resources(small.json, "AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("email", "ops@example.com"),
    ]
    assert not resources(small.without_queue, "AWS::SNS::Subscription")


# ---- alarms -------------------------------------------------------------------------


def test_every_alarm_notifies_the_ops_topic_when_it_fires_and_recovers(small: SimpleNamespace) -> None:
    alarms = alarms_by_name(small.json)
    assert set(alarms) == {
        "Ops-FailedJobRate",
        "Ops-ProviderErrorRate",
        "Ops-WorkflowExecutionsFailed",
        "Ops-WebhookDeadLetters",
        "Ops-PollProviderFunction-Errors",
        "Ops-PollProviderFunction-Throttles",
        "Ops-FinalizeVideoFunction-Errors",
        "Ops-FinalizeVideoFunction-Throttles",
    }
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OpsTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "OpsTopic"}], name
        assert re.search(r"Runbook: docs/runbook\.md#[a-z-]+$", alarm["AlarmDescription"]), name


def test_failed_job_rate_is_metric_math_on_the_emf_metrics(small: SimpleNamespace) -> None:
    alarm = alarms_by_name(small.json)["Ops-FailedJobRate"]
    queries = expressions(alarm)
    (rate,) = [q for q in queries.values() if "Expression" in q]
    assert rate["Expression"] == (
        "IF(FILL(succeeded, 0) + FILL(failed, 0) >= 4, "
        "100 * FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0)), 0)"
    )
    assert rate["ReturnData"] is True
    for name, metric in (("succeeded", "JobsSucceeded"), ("failed", "JobsFailed")):
        stat = queries[name]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "videohook",
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": "videohook"}],
        }
        assert (stat["Stat"], stat["Period"], queries[name]["ReturnData"]) == ("Sum", 300, False)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (15, "GreaterThanThreshold")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3, 2)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_provider_error_rate(small: SimpleNamespace) -> None:
    alarm = alarms_by_name(small.json)["Ops-ProviderErrorRate"]
    queries = expressions(alarm)
    (rate,) = [q for q in queries.values() if "Expression" in q]
    assert rate["Expression"] == "IF(FILL(requests, 0) >= 20, 100 * FILL(errors, 0) / FILL(requests, 0), 0)"
    assert queries["requests"]["MetricStat"]["Metric"]["MetricName"] == "ProviderRequests"
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "ProviderErrors"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (30, 3, 3)


def only_id(template: dict[str, Any], type_: str) -> str:
    (logical_id,) = resources(template, type_)
    return logical_id


def test_executions_failed_or_timed_out(small: SimpleNamespace) -> None:
    alarm = alarms_by_name(small.json)["Ops-WorkflowExecutionsFailed"]
    queries = expressions(alarm)
    (total,) = [q for q in queries.values() if "Expression" in q]
    assert total["Expression"] == "FILL(failed, 0) + FILL(timedOut, 0)"
    machine = only_id(small.json, "AWS::StepFunctions::StateMachine")
    for name, metric in (("failed", "ExecutionsFailed"), ("timedOut", "ExecutionsTimedOut")):
        stat = queries[name]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "AWS/States",
            "MetricName": metric,
            "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": machine}}],
        }
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_dead_letter_queue_not_empty_only_when_there_is_a_queue(small: SimpleNamespace) -> None:
    alarm = alarms_by_name(small.json)["Ops-WebhookDeadLetters"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
    )
    queue = only_id(small.json, "AWS::SQS::Queue")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "ignore"  # SQS stops reporting idle queues
    assert "NoQueue-WebhookDeadLetters" not in alarms_by_name(small.without_queue)


def test_lambda_errors_and_throttles_per_function(small: SimpleNamespace) -> None:
    alarms = alarms_by_name(small.json)
    functions = {k for k in resources(small.json, "AWS::Lambda::Function") if k.startswith("PollProvider")}
    errors = alarms["Ops-PollProviderFunction-Errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": functions.pop()}}]
    assert (errors["Threshold"], errors["Period"], errors["EvaluationPeriods"]) == (2, 300, 1)
    assert errors["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    throttles = alarms["Ops-FinalizeVideoFunction-Throttles"]
    assert (throttles["MetricName"], throttles["Threshold"]) == ("Throttles", 1)


def test_the_construct_is_cdk_nag_clean(small: SimpleNamespace) -> None:
    report = AwsSolutionsChecks(verbose=True).validate_scope(small.app)
    findings = [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
        if "/Observability/" in resource.construct_path
    ]
    assert not findings, "\n".join(findings)


# ---- the dashboard ------------------------------------------------------------------


def dashboard_widgets(template: dict[str, Any]) -> list[dict[str, Any]]:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    return json.loads(render(dashboard["Properties"]["DashboardBody"]))["widgets"]


def test_dashboard_shows_every_emitted_metric_alarm_and_service(small: SimpleNamespace) -> None:
    (dashboard,) = resources(small.json, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "Ops-operations"
    widgets = dashboard_widgets(small.json)
    text = json.dumps(widgets)
    for name in telemetry.METRICS:
        assert f'"{name}"' in text, name
    titles = [w["properties"].get("title") for w in widgets]
    for title in (
        "Alarms",
        "Jobs",
        "Failed-job rate (%)",
        "Failed jobs by error code",
        "Queue-to-done time (s)",
        "Polls per job",
        "Copy throughput (bytes/s)",
        "Provider error rate (%)",
        "Webhook attempts",
        "Webhook dead-letter queue",
        "API requests",
        "Workflow executions",
        "Lambda errors",
        "Lambda throttles",
    ):
        assert title in titles, title
    (status,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(alarms_by_name(small.json))
    searches = [m for w in widgets for m in w["properties"].get("metrics", []) if "expression" in str(m)]
    assert any(
        "SEARCH('{videohook,service,error_code} MetricName=\\\"JobsFailed\\\"'" in json.dumps(m)
        for m in searches
    )


def test_metric_names_match_telemetry() -> None:
    """The one check of the metric names: the dashboard and alarms (infra/constructs/observability.py)
    and the runbook's metric table (docs/runbook.md) name exactly the metrics videohook.telemetry
    emits (`telemetry.METRICS`), in its namespace and service dimension."""
    names = {value for key, value in vars(observability).items() if key.isupper() and isinstance(value, str)}
    names -= {observability.NAMESPACE, observability.SERVICE, observability.RUNBOOK}
    assert names == set(telemetry.METRICS)
    assert (observability.NAMESPACE, observability.SERVICE) == (telemetry.NAMESPACE, telemetry.SERVICE)
    runbook = (REPO / observability.RUNBOOK).read_text()
    table = runbook.split("| metric | meaning |")[1].split("\n\n")[0]
    assert set(re.findall(r"`([A-Z]\w+)`", table)) == set(telemetry.METRICS)


# ---- wiring in the real stack -------------------------------------------------------


def test_every_function_of_the_stack_has_error_and_throttle_alarms(synthesized: SimpleNamespace) -> None:
    template = synthesized.json
    alarms = alarms_by_name(template)
    functions = resources(template, "AWS::Lambda::Function")
    assert len(functions) >= 6
    for logical_id in functions:
        for kind, metric in (("Errors", "Errors"), ("Throttles", "Throttles")):
            alarm = alarms[f"Videohook-{logical_id}-{kind}"]
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]


def test_the_stack_alarms_on_both_state_machines_and_the_dead_letter_queue(
    synthesized: SimpleNamespace,
) -> None:
    template = synthesized.json
    alarms = alarms_by_name(template)
    for name, machine in (("Workflow", "StateMachine"), ("Delivery", "DeliveryStateMachine")):
        queries = expressions(alarms[f"Videohook-{name}ExecutionsFailed"])
        assert queries["failed"]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "StateMachineArn", "Value": {"Ref": machine}}
        ]
    dead_letters = alarms["Videohook-WebhookDeadLetters"]
    assert dead_letters["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "QueueName"]}}
    ]
    assert {"Videohook-FailedJobRate", "Videohook-ProviderErrorRate"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "OpsTopic"}], name
    assert template["Outputs"]["OpsTopicArn"]["Value"] == {"Ref": "OpsTopic"}
    assert resources(template, "AWS::CloudWatch::Dashboard")
