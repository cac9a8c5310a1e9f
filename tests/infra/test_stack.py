"""The CDK stack: resources, wiring, the state machine definition, cdk-nag, and `infra/app.py` synth.

The stack is the session's (`synthesized`, tests/infra/conftest.py: against an empty
temporary layer directory); one more synth runs `infra/app.py` as a subprocess, the way
`make synth` does, with no AWS credentials. The security properties of every resource
(TLS only, encryption, log retention, no secret values ...) are test_template_security.py's.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# Before aws_cdk starts its Node.js runtime: infra/__init__ silences jsii's Node.js version banner.
importlib.import_module("infra")

from aws_cdk import App, Validations
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from infra import layer_lock
from infra.constructs.state_machines import LAMBDA_SERVICE_ERRORS
from infra.constructs.workflow import RETRYABLE_COPY_ERRORS
from infra.stack import LayerNotBuiltError, LayerStaleError, VideohookConfig, VideohookStack, check_layer_dir
from tests.conftest import JOBS_TABLE_ATTRIBUTES, JOBS_TABLE_INDEXES
from tests.infra.cfn import as_list, render, resources

REPO_ROOT = Path(__file__).resolve().parents[2]

COMMON_ENV = {
    "VIDEOHOOK_JOBS_TABLE",
    "VIDEOHOOK_VIDEO_BUCKET",
    "VIDEOHOOK_TOPIC_ARN",
    "VIDEOHOOK_WEBHOOK_SECRET_ARN",
    "VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN",
    "VIDEOHOOK_PROVIDER",
    "POWERTOOLS_SERVICE_NAME",
    "PYDANTIC_DISABLE_PLUGINS",
    # From the environment's configuration file (infra/config.py).
    *VideohookConfig().lambda_environment(),
}
API_ONLY_ENV = {"VIDEOHOOK_STATE_MACHINE_ARN", "VIDEOHOOK_IDEMPOTENCY_TABLE"}
# Functions that emit job events start deliveries and put to EventBridge.
EMIT_ENV = {"VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN", "VIDEOHOOK_EVENT_BUS"}
EXTRA_ENV = {
    "handlers.api.handler": API_ONLY_ENV | EMIT_ENV | {"VIDEOHOOK_DELIVERIES_TABLE"},
    "handlers.poll_provider.handler": EMIT_ENV,
    "handlers.publish_event.handler": EMIT_ENV,
    "handlers.reconcile_submissions.handler": EMIT_ENV | {"VIDEOHOOK_STATE_MACHINE_ARN"},
    "handlers.deliver_webhook.handler": {"VIDEOHOOK_DELIVERIES_TABLE", "VIDEOHOOK_WEBHOOK_DLQ_URL"},
}
HANDLERS = {
    "handlers.api.handler": "ApiFunction",
    "handlers.poll_provider.handler": "PollProviderFunction",
    "handlers.finalize_video.handler": "FinalizeVideoFunction",
    "handlers.fail_job.handler": "FailJobFunction",
    "handlers.publish_event.handler": "PublishEventFunction",
    "handlers.deliver_webhook.handler": "DeliverWebhookFunction",
    "handlers.reconcile_submissions.handler": "ReconcileSubmissionsFunction",
}


# ---- fixtures and helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lambda-layer")
    (path / "python").mkdir()
    return path


@pytest.fixture(scope="module")
def app_process(layer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """`make synth`: infra/app.py run from the repo root, no CDK CLI, no AWS credentials.

    Started in the background first (see `synth`), so both synths run at the same time."""
    workdir = tmp_path_factory.mktemp("app-synth")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDK_", "AWS_", "JSII_"))}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "1"  # what the Makefile exports: not a major
    env["CDK_OUTDIR"] = str(workdir / "cdk.out")
    env["CDK_CONTEXT_JSON"] = json.dumps({"layer_path": str(layer_dir)})  # how the CDK CLI passes -c
    stdout, stderr = workdir / "stdout", workdir / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "infra/app.py", "-c", "stack_name=VideohookSynthTest", "-c", "provider=sandbox"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    yield SimpleNamespace(process=process, outdir=workdir / "cdk.out", stdout=stdout, stderr=stderr)
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def synth(app_process: SimpleNamespace, synthesized: SimpleNamespace) -> SimpleNamespace:
    """The session's stack (tests/infra/conftest.py), with `make synth` already running beside it."""
    return synthesized


@pytest.fixture(scope="module")
def definition(synth: SimpleNamespace) -> dict[str, Any]:
    machine = synth.json["Resources"]["StateMachine"]
    return json.loads(render(machine["Properties"]["DefinitionString"]))


@pytest.fixture(scope="module")
def delivery_definition(synth: SimpleNamespace) -> dict[str, Any]:
    machine = synth.json["Resources"]["DeliveryStateMachine"]
    return json.loads(render(machine["Properties"]["DefinitionString"]))


def functions_by_handler(synth: SimpleNamespace) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        props["Properties"]["Handler"]: (logical_id, props["Properties"])
        for logical_id, props in resources(synth.json, "AWS::Lambda::Function").items()
    }


# ---- storage ----------------------------------------------------------------------


def test_jobs_table(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", 3)
    jobs = synth.json["Resources"]["JobsTable"]
    assert jobs["DeletionPolicy"] == "Retain"
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "GlobalSecondaryIndexes": JOBS_TABLE_INDEXES,
            "AttributeDefinitions": Match.array_with(JOBS_TABLE_ATTRIBUTES),
        },
    )


def test_idempotency_table(synth: SimpleNamespace) -> None:
    props = synth.json["Resources"]["IdempotencyTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_video_bucket(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::S3::Bucket", 2)
    props = synth.json["Resources"]["VideoBucket"]["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "VersioningConfiguration" not in props
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert rules["expire-videos"]["Prefix"] == "videos/"
    assert rules["expire-videos"]["ExpirationInDays"] == 30
    assert rules["expire-uploads"]["Prefix"] == "uploads/"
    assert rules["expire-uploads"]["ExpirationInDays"] == 1
    assert rules["expire-incoming-videos"]["Prefix"] == "incoming/"  # failed jobs' provider uploads
    assert rules["expire-incoming-videos"]["ExpirationInDays"] == 1
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


# ---- notifications ----------------------------------------------------------------


def test_topic(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::SNS::Topic", 2)  # job events, and the ops topic of the alarms
    assert synth.json["Resources"]["EventsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    # Its TLS-only policy: test_template_security.py, for every topic.


def test_secrets(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::SecretsManager::Secret", 2)
    webhook = synth.json["Resources"]["WebhookSecret"]["Properties"]["GenerateSecretString"]
    assert webhook["PasswordLength"] == 32
    assert webhook["PasswordLength"] % 4 == 0  # valid base64
    assert webhook["ExcludePunctuation"] is True
    keys = synth.json["Resources"]["ProviderKeysSecret"]["Properties"]["GenerateSecretString"]
    assert json.loads(keys["SecretStringTemplate"]) == {"cometapi": "", "xai": "", "aimlapi": ""}
    assert keys["GenerateStringKey"] not in {"cometapi", "xai", "aimlapi"}


# ---- functions --------------------------------------------------------------------


def test_seven_functions_with_the_documented_handlers(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::Lambda::Function", 7)
    found = functions_by_handler(synth)
    assert {handler: logical_id for handler, (logical_id, _) in found.items()} == HANDLERS
    synth.template.resource_count_is("AWS::Lambda::LayerVersion", 1)
    for _, props in found.values():
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": "DependenciesLayer"}]
        assert "Ref" in props["LoggingConfig"]["LogGroup"]
        assert "FunctionName" not in props


def test_function_sizes(synth: SimpleNamespace) -> None:
    sizes = {
        handler: (props["MemorySize"], props["Timeout"])
        for handler, (_, props) in functions_by_handler(synth).items()
    }
    assert sizes == {
        "handlers.api.handler": (512, 29),
        "handlers.poll_provider.handler": (256, 30),
        "handlers.finalize_video.handler": (1024, 900),
        "handlers.fail_job.handler": (256, 30),
        "handlers.publish_event.handler": (256, 30),
        "handlers.deliver_webhook.handler": (256, 30),
        "handlers.reconcile_submissions.handler": (256, 30),
    }


def test_reconciler_runs_on_a_schedule_with_least_privilege(synth: SimpleNamespace) -> None:
    rule = synth.json["Resources"]["ReconcileSubmissionsSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReconcileSubmissionsFunction", "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    actions = _actions(_policy_statements(synth, "ReconcileSubmissionsFunction"))
    assert "states:StartExecution" in actions
    # It never calls the provider (the resumed workflow does): no provider key secret.
    assert not any(action.startswith("secretsmanager:") for action in actions)
    assert not any(action.startswith("s3:") for action in actions)


def test_function_environment(synth: SimpleNamespace) -> None:
    for handler, (_, props) in functions_by_handler(synth).items():
        variables = props["Environment"]["Variables"]
        expected = COMMON_ENV | EXTRA_ENV.get(handler, set())
        assert set(variables) == expected, handler
        assert variables["VIDEOHOOK_PROVIDER"] == "xai"
        assert variables["POWERTOOLS_SERVICE_NAME"] == "videohook"
        assert variables["PYDANTIC_DISABLE_PLUGINS"] == "1"
        assert variables["VIDEOHOOK_JOBS_TABLE"] == {"Ref": "JobsTable"}
        assert variables["VIDEOHOOK_VIDEO_BUCKET"] == {"Ref": "VideoBucket"}
        assert variables["VIDEOHOOK_TOPIC_ARN"] == {"Ref": "EventsTopic"}
    (_, api) = functions_by_handler(synth)["handlers.api.handler"]
    assert api["Environment"]["Variables"]["VIDEOHOOK_STATE_MACHINE_ARN"] == {"Ref": "StateMachine"}
    assert api["Environment"]["Variables"]["VIDEOHOOK_IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    for handler in (
        "handlers.api.handler",
        "handlers.poll_provider.handler",
        "handlers.publish_event.handler",
    ):
        variables = functions_by_handler(synth)[handler][1]["Environment"]["Variables"]
        assert variables["VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN"] == {"Ref": "DeliveryStateMachine"}
        assert variables["VIDEOHOOK_EVENT_BUS"] == "default"


def _policy_statements(synth: SimpleNamespace, function_logical_id: str) -> list[dict[str, Any]]:
    role = synth.json["Resources"][function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in resources(synth.json, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


def test_least_privilege_grants(synth: SimpleNamespace) -> None:
    actions = {
        logical_id: _actions(_policy_statements(synth, logical_id)) for logical_id in HANDLERS.values()
    }
    emitters = {"ApiFunction", "PollProviderFunction", "PublishEventFunction", "ReconcileSubmissionsFunction"}
    assert {fn for fn in actions if "states:StartExecution" in actions[fn]} == emitters
    assert {fn for fn in actions if "sns:Publish" in actions[fn]} == emitters
    assert {fn for fn in actions if "events:PutEvents" in actions[fn]} == emitters
    assert {fn for fn in actions if "sqs:SendMessage" in actions[fn]} == {"DeliverWebhookFunction"}
    assert {fn for fn in actions if "s3:PutObject" in actions[fn]} == {"FinalizeVideoFunction", "ApiFunction"}
    api_puts = [
        render(resource)
        for statement in _policy_statements(synth, "ApiFunction")
        if "s3:PutObject" in _actions([statement])
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
    ]
    # Presigned PUTs only: image uploads, and the provider's upload of the video (zero-copy).
    assert sorted(api_puts) == ["${VideoBucket.Arn}/incoming/*", "${VideoBucket.Arn}/uploads/*"]
    # Only FinalizeVideo deletes, and only the providers' uploads it moves out of incoming/.
    deleters = {fn for fn in actions if "s3:DeleteObject*" in actions[fn]}
    assert deleters == {"FinalizeVideoFunction"}
    finalize_deletes = [
        render(statement["Resource"])
        for statement in _policy_statements(synth, "FinalizeVideoFunction")
        if "s3:DeleteObject*" in _actions([statement])
    ]
    assert finalize_deletes == ["${VideoBucket.Arn}/incoming/*"]
    assert "states:StopExecution" in actions["ApiFunction"]  # cancel
    assert not any("states:StopExecution" in actions[fn] for fn in actions if fn != "ApiFunction")
    assert {fn for fn in actions if "dynamodb:PutItem" in actions[fn]} == {
        "ApiFunction",
        "PollProviderFunction",
        "FinalizeVideoFunction",
        "FailJobFunction",
        "PublishEventFunction",
        "ReconcileSubmissionsFunction",
        "DeliverWebhookFunction",  # its delivery log, not the jobs table (below)
    }
    assert "dynamodb:GetItem" in actions["DeliverWebhookFunction"]
    deliver_writes = [
        statement["Resource"]
        for statement in _policy_statements(synth, "DeliverWebhookFunction")
        if "dynamodb:PutItem" in _actions([statement])
    ]
    assert "JobsTable" not in json.dumps(deliver_writes) and "DeliveriesTable" in json.dumps(deliver_writes)
    assert not any(action.startswith("kms:") for fn_actions in actions.values() for action in fn_actions)
    assert not any(
        action.endswith(":*") or action == "*" for fn_actions in actions.values() for action in fn_actions
    )

    def secrets_readable(logical_id: str) -> set[str]:
        return {
            statement["Resource"]["Ref"]
            for statement in _policy_statements(synth, logical_id)
            if "secretsmanager:GetSecretValue" in _actions([statement])
        }

    assert secrets_readable("ApiFunction") == {"ProviderKeysSecret"}
    assert secrets_readable("PollProviderFunction") == {"ProviderKeysSecret"}
    assert secrets_readable("FinalizeVideoFunction") == {"ProviderKeysSecret"}
    assert secrets_readable("DeliverWebhookFunction") == {"WebhookSecret"}
    assert secrets_readable("FailJobFunction") == secrets_readable("PublishEventFunction") == set()


# ---- state machine ----------------------------------------------------------------


def test_state_machine_resource(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    for logical_id in ("StateMachine", "DeliveryStateMachine"):
        props = synth.json["Resources"][logical_id]["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
        assert "StateMachineName" not in props
        assert "QueryLanguage" not in props  # JSONPath (the default), no JSONata


def test_state_machine_states_and_flow(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "WaitForProvider"
    assert set(states) == {
        "WaitForProvider",
        "PollProvider",
        "IsJobDone",
        "FinalizeVideo",
        "RecordFailure",
        "PublishEvent",
        "Done",
    }
    assert "QueryLanguage" not in definition
    wait = {key: value for key, value in states["WaitForProvider"].items() if key != "Comment"}
    assert wait == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "PollProvider"}
    assert states["PollProvider"]["Next"] == "IsJobDone"
    assert states["IsJobDone"]["Type"] == "Choice"
    assert states["IsJobDone"]["Choices"] == [
        {
            "Or": [
                {"Variable": "$.status", "StringEquals": "queued"},
                {"Variable": "$.status", "StringEquals": "running"},
            ],
            "Next": "WaitForProvider",
        },
        {"Variable": "$.status", "StringEquals": "succeeded", "Next": "FinalizeVideo"},
    ]
    assert states["IsJobDone"]["Default"] == "PublishEvent"
    assert states["FinalizeVideo"]["Next"] == "PublishEvent"
    assert states["RecordFailure"]["Next"] == "PublishEvent"
    assert states["PublishEvent"]["Next"] == "Done"
    assert states["Done"] == {"Type": "Succeed"}


def test_tasks_invoke_the_right_functions(definition: dict[str, Any]) -> None:
    expected = {
        "PollProvider": "PollProviderFunction",
        "FinalizeVideo": "FinalizeVideoFunction",
        "RecordFailure": "FailJobFunction",
        "PublishEvent": "PublishEventFunction",
    }
    for state_name, function in expected.items():
        state = definition["States"][state_name]
        assert state["Type"] == "Task"
        assert state["Resource"] == "arn:${AWS::Partition}:states:::lambda:invoke"
        assert state["Parameters"]["FunctionName"] == f"${{{function}.Arn}}"
        assert state["OutputPath"] == "$.Payload"
    assert definition["States"]["PollProvider"]["Parameters"]["Payload.$"] == "$"
    assert definition["States"]["RecordFailure"]["Parameters"]["Payload"] == {
        "job_id.$": "$.job_id",
        "error.$": "$.failure",
    }


def test_catches(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for name in ("PollProvider", "FinalizeVideo"):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}
        ]
    for name in ("RecordFailure", "PublishEvent"):
        assert "Catch" not in states[name]


def test_retries(definition: dict[str, Any]) -> None:
    service_retrier = {
        "ErrorEquals": LAMBDA_SERVICE_ERRORS,
        "IntervalSeconds": 1,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }
    assert "Lambda.TooManyRequestsException" in LAMBDA_SERVICE_ERRORS
    for name in ("PollProvider", "RecordFailure", "PublishEvent"):
        # Only ours: CDK's default retrier (retry_on_service_exceptions) is off.
        assert definition["States"][name]["Retry"] == [service_retrier], name
    assert definition["States"]["FinalizeVideo"]["Retry"] == [
        service_retrier,
        {
            "ErrorEquals": ["VideoDownloadIncomplete", "VideoDownloadFailed", "VideoUploadFailed"],
            "IntervalSeconds": 10,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        },
        # A runtime killed mid-copy: its next attempt aborts the upload left open.
        {
            "ErrorEquals": ["Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"],
            "IntervalSeconds": 10,
            "MaxAttempts": 2,
            "BackoffRate": 2,
            "JitterStrategy": "FULL",
        },
    ]


def test_delivery_state_machine_waits_between_attempts(delivery_definition: dict[str, Any]) -> None:
    """The retry schedule runs in the engine: a Wait state between attempts, no sleeping Lambda."""
    states = delivery_definition["States"]
    assert delivery_definition["StartAt"] == "AttemptDelivery"
    assert set(states) == {"AttemptDelivery", "DeliveryOutcome", "WaitBeforeRetry", "Delivered"}
    attempt = states["AttemptDelivery"]
    assert attempt["Parameters"]["FunctionName"] == "${DeliverWebhookFunction.Arn}"
    assert attempt["Next"] == "DeliveryOutcome"
    assert attempt["Retry"][0]["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert attempt["Retry"][1]["ErrorEquals"] == ["States.TaskFailed"]
    assert states["DeliveryOutcome"]["Choices"] == [
        {"Variable": "$.outcome", "StringEquals": "retry", "Next": "WaitBeforeRetry"}
    ]
    assert states["DeliveryOutcome"]["Default"] == "Delivered"
    wait = {key: value for key, value in states["WaitBeforeRetry"].items() if key != "Comment"}
    assert wait == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "AttemptDelivery"}


def test_webhook_dead_letter_queue_and_delivery_log(synth: SimpleNamespace) -> None:
    queue = synth.json["Resources"]["WebhookDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    table = synth.json["Resources"]["DeliveriesTable"]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_retried_copy_errors_are_the_copiers_retryable_errors() -> None:
    """The state machine retries by error name; the names must be the copier's retryable classes."""
    from videohook import copy_errors

    retryable = {
        name
        for name, value in vars(copy_errors).items()
        if isinstance(value, type) and issubclass(value, copy_errors.VideoCopyError) and value.retryable
    }
    assert set(RETRYABLE_COPY_ERRORS) == retryable


# ---- api --------------------------------------------------------------------------


def _method_paths(synth: SimpleNamespace) -> dict[str, dict[str, Any]]:
    api_resources = resources(synth.json, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = api_resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    return {
        f"{props['Properties']['HttpMethod']} {path(props['Properties']['ResourceId']['Ref'])}": props[
            "Properties"
        ]
        for props in resources(synth.json, "AWS::ApiGateway::Method").values()
    }


def test_api_methods(synth: SimpleNamespace) -> None:
    methods = _method_paths(synth)
    assert set(methods) == {
        "POST /v1/videos",
        "GET /v1/videos",
        "GET /v1/videos/{id}",
        "POST /v1/videos/{id}/cancel",
        "GET /v1/videos/{id}/deliveries",
        "POST /v1/videos/{id}/redeliver",
        "POST /v1/uploads",
        "GET /v1/openapi.json",
    }
    for route, method in methods.items():
        assert method["ApiKeyRequired"] is (route != "GET /v1/openapi.json"), route
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert "${ApiFunction.Arn}" in render(method["Integration"]["Uri"])
    assert methods["GET /v1/openapi.json"]["AuthorizationType"] == "NONE"
    post = methods["POST /v1/videos"]
    assert set(post["RequestValidatorId"]) == {"Ref"}
    assert "RequestModels" not in post  # the api Lambda validates bodies (same answers locally)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": False, "ValidateRequestParameters": True}
    )
    # CORS off: no OPTIONS preflight methods.
    assert not any(route.startswith("OPTIONS ") for route in methods)


def test_gateway_responses_have_the_error_shape(synth: SimpleNamespace) -> None:
    answers = {
        props["Properties"]["ResponseType"]: props["Properties"]
        for props in resources(synth.json, "AWS::ApiGateway::GatewayResponse").values()
    }
    expected = {
        "INVALID_API_KEY": ("403", "forbidden"),
        "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
        "THROTTLED": ("429", "throttled"),
        "QUOTA_EXCEEDED": ("429", "quota_exceeded"),
        "REQUEST_TOO_LARGE": ("413", "request_too_large"),
        "INTEGRATION_FAILURE": ("502", "integration_failure"),
    }
    assert set(answers) == set(expected)
    for kind, (status, code) in expected.items():
        assert answers[kind]["StatusCode"] == status, kind
        body = json.loads(answers[kind]["ResponseTemplates"]["application/json"])
        assert body["error"]["code"] == code and body["error"]["message"], kind


def test_api_stage_logging_and_throttling(synth: SimpleNamespace) -> None:
    (stage,) = resources(synth.json, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert "DestinationArn" in props["AccessLogSetting"]
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["ThrottlingRateLimit"] == 50
    assert settings["ThrottlingBurstLimit"] == 100
    assert settings["DataTraceEnabled"] is False


def test_api_key_and_usage_plan(synth: SimpleNamespace) -> None:
    synth.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    synth.template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)
    synth.template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 10, "BurstLimit": 20},
            "Quota": {"Limit": 10000, "Period": "DAY"},
            "ApiStages": [Match.object_like({"ApiId": {"Ref": "RestApi"}})],
        },
    )
    assert "Value" not in synth.json["Resources"]["ApiKey"]["Properties"]  # generated by API Gateway


def test_outputs(synth: SimpleNamespace) -> None:
    outputs = synth.json["Outputs"]
    assert render(outputs["ApiUrl"]["Value"]).startswith("https://${RestApi}.execute-api.")
    assert {"ApiUrl", "ApiKeyId", "StateMachineArn", "VideoBucketName", "EventsTopicArn"} <= set(outputs)


# ---- cdk-nag ----------------------------------------------------------------------


def test_cdk_nag_aws_solutions_has_no_unacknowledged_findings(synth: SimpleNamespace) -> None:
    """cdk-nag v3 is a policy-validation plugin: validate the synthesized tree directly.

    Its report includes warnings and errors alike; acknowledgments are
    `Validations.of(construct).acknowledge(...)` in the constructs."""
    report = AwsSolutionsChecks(verbose=True).validate_scope(synth.app)
    findings = [
        f"{violation.severity} {violation.rule_name} at "
        f"{[resource.construct_path for resource in violation.violating_resources]}: {violation.description}"
        for violation in report.violations
    ]
    assert not findings, "\n".join(findings)
    assert report.success


def _acknowledgments(synth: SimpleNamespace) -> list[tuple[str, str, str]]:
    found = []
    for construct in synth.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for key, reason in dict(entry.data).items():
                    # aws-cdk-lib stores "Annotation::<rule id>" (older versions "annotation::").
                    found.append(
                        (construct.node.path, re.sub(r"^annotation::", "", key, flags=re.IGNORECASE), reason)
                    )
    return found


def test_acknowledgments_are_narrow_and_justified(synth: SimpleNamespace) -> None:
    acknowledgments = _acknowledgments(synth)
    assert acknowledgments
    for path, rule_id, reason in acknowledgments:
        assert path.count("/") >= 2, f"{rule_id} acknowledged on the whole stack/app ({path})"
        assert rule_id.startswith("AwsSolutions-"), rule_id
        if "IAM5" in rule_id or "IAM4" in rule_id:
            assert "[" in rule_id, f"{rule_id} at {path} must name the finding"
            assert "[Action::*]" not in rule_id, rule_id
        assert len(reason) >= 60, f"{rule_id} at {path}: reason too short: {reason!r}"


# ---- configuration and app --------------------------------------------------------


def test_missing_layer_dir_says_run_make_layer(tmp_path: Path) -> None:
    app = App(context={"layer_path": str(tmp_path / "not-built")})
    with pytest.raises(LayerNotBuiltError, match="make layer"):
        VideohookStack(app, "Videohook")


def test_a_layer_built_from_another_uv_lock_is_refused(tmp_path: Path, monkeypatch) -> None:
    layer = tmp_path / "lambda-layer"
    (layer / "python").mkdir(parents=True)
    (layer / layer_lock.RECORD_NAME).write_text("0" * 64 + "\n")  # what `make layer` wrote, long ago
    with pytest.raises(LayerStaleError, match="make layer"):
        check_layer_dir(layer)
    layer_lock.record(layer)
    assert check_layer_dir(layer) == layer
    # `make layer`'s own directory must say which uv.lock it holds; one given with -c layer_path need not.
    (layer / layer_lock.RECORD_NAME).unlink()
    assert check_layer_dir(layer) == layer
    monkeypatch.setattr("infra.stack.DEFAULT_LAYER_PATH", layer)
    with pytest.raises(LayerStaleError, match="does not record which uv.lock"):
        check_layer_dir(layer)


def test_the_region_wide_api_gateway_account_outlives_the_stack(synth: SimpleNamespace) -> None:
    # docs/deploy.md ("Before you deploy") warns about this resource: one per account and region.
    (account,) = resources(synth.json, "AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    for resource in (account, synth.json["Resources"][role]):
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_context_is_parsed_and_validated() -> None:
    config = VideohookConfig.from_context(
        App(context={"video_retention_days": "7", "provider": "sandbox", "api_quota_per_day": "5"}).node
    )
    assert (config.video_retention_days, config.provider, config.api_limits.key_quota_per_day) == (
        7,
        "sandbox",
        5,
    )
    assert VideohookConfig.from_context(App().node).provider == "xai"
    with pytest.raises(ValueError, match="provider"):
        VideohookConfig.from_context(App(context={"provider": "nope"}).node)
    with pytest.raises(ValueError, match="video_retention_days"):
        VideohookConfig.from_context(App(context={"video_retention_days": "0"}).node)


def test_app_synthesizes_to_cdk_out_without_aws(app_process: SimpleNamespace) -> None:
    """`make synth` works: CDK_OUTDIR, context from CDK_CONTEXT_JSON and -c, env-agnostic stack."""
    returncode = app_process.process.wait(timeout=240)
    stderr = app_process.stderr.read_text()
    assert returncode == 0, stderr[-4000:]
    assert "end-of-life" not in stderr  # the jsii Node.js banner is silenced
    # What an operator must know: nobody hears the alarms (config/default.json), and cdk-nag's count.
    assert "infra/app.py: warning: alarms.email is empty" in stderr
    stdout = app_process.stdout.read_text()
    summary = re.search(r"^cdk-nag: (\d+) findings checked, (\d+) acknowledged$", stdout, re.MULTILINE)
    assert summary and summary[1] == summary[2] and int(summary[1]) > 0, stdout
    outdir = app_process.outdir
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["VideohookSynthTest"]["type"] == "aws:cloudformation:stack"
    assert (
        manifest["artifacts"]["VideohookSynthTest"]["environment"] == "aws://unknown-account/unknown-region"
    )
    template = json.loads((outdir / "VideohookSynthTest.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == len(HANDLERS)
    providers = {f["Properties"]["Environment"]["Variables"]["VIDEOHOOK_PROVIDER"] for f in functions}
    assert providers == {"sandbox"}
    assert "StateMachine" in template["Resources"]


def test_no_cdk_error_or_warning_annotations(synth: SimpleNamespace) -> None:
    annotations = Annotations.from_stack(synth.stack)
    problems = [
        *annotations.find_error("*", Match.any_value()),
        *annotations.find_warning("*", Match.any_value()),
    ]
    assert not problems, "\n".join(f"{p.id}: {p.entry.data}" for p in problems)


# ---- SnapStart (the configuration's `snap_start`) -----------------------------------


@pytest.fixture(scope="module")
def snap_start_synth(layer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The stack with `snap_start` on (everything else the defaults)."""
    from aws_cdk.assertions import Template

    from infra.app import create_app

    app = create_app({"layer_path": str(layer_dir)}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = VideohookStack(app, "Videohook", config=VideohookConfig(snap_start=True, layer_path=layer_dir))
    return SimpleNamespace(app=app, stack=stack, json=Template.from_stack(stack).to_json())


# The functions the state machines' tasks invoke (the api and the reconciler have other invokers).
STEP_FUNCTIONS = set(HANDLERS.values()) - {"ApiFunction", "ReconcileSubmissionsFunction"}


def _invoke_grants(template: dict[str, Any]) -> list[str]:
    """Every resource of every lambda:InvokeFunction statement of the template, rendered."""
    return [
        render(resource)
        for policy in resources(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    ]


def _invoked(template: dict[str, Any]) -> dict[str, set[str]]:
    """What each invoker names: the state machines' tasks, API Gateway's integrations and
    permissions, the schedule's target (rendered: ${LogicalId} or ${LogicalId.Arn})."""
    machines = [
        json.loads(render(machine["Properties"]["DefinitionString"]))
        for machine in resources(template, "AWS::StepFunctions::StateMachine").values()
    ]
    return {
        "tasks": {
            state["Parameters"]["FunctionName"]
            for machine in machines
            for state in machine["States"].values()
            if state["Type"] == "Task"
        },
        "integrations": {
            render(method["Properties"]["Integration"]["Uri"])
            for method in resources(template, "AWS::ApiGateway::Method").values()
            if method["Properties"]["Integration"]["Type"] == "AWS_PROXY"
        },
        "permissions": {
            render(permission["Properties"]["FunctionName"])
            for permission in resources(template, "AWS::Lambda::Permission").values()
        },
        "schedule": {
            render(target["Arn"])
            for rule in resources(template, "AWS::Events::Rule").values()
            for target in rule["Properties"]["Targets"]
        },
    }


def test_without_snap_start_the_functions_themselves_are_invoked(synth: SimpleNamespace) -> None:
    assert not resources(synth.json, "AWS::Lambda::Version")
    assert not resources(synth.json, "AWS::Lambda::Alias")
    functions = resources(synth.json, "AWS::Lambda::Function")
    assert all("SnapStart" not in function["Properties"] for function in functions.values())
    invoked = _invoked(synth.json)
    assert invoked["tasks"] == {f"${{{name}.Arn}}" for name in STEP_FUNCTIONS}
    assert invoked["permissions"] == {"${ApiFunction.Arn}", "${ReconcileSubmissionsFunction.Arn}"}
    assert invoked["schedule"] == {"${ReconcileSubmissionsFunction.Arn}"}


def test_snap_start_on_published_versions_of_every_function_behind_an_alias(
    snap_start_synth: SimpleNamespace,
) -> None:
    template = snap_start_synth.json
    functions = resources(template, "AWS::Lambda::Function")
    assert set(functions) == set(HANDLERS.values())
    for function in functions.values():
        assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    versions = resources(template, "AWS::Lambda::Version")
    version_of = {logical_id: v["Properties"]["FunctionName"]["Ref"] for logical_id, v in versions.items()}
    aliases = resources(template, "AWS::Lambda::Alias")
    assert set(aliases) == {f"{name}Live" for name in functions}
    for logical_id, alias in aliases.items():
        function = logical_id.removesuffix("Live")
        properties = alias["Properties"]
        assert properties["Name"] == "live"
        assert properties["FunctionName"] == {"Ref": function}
        version, attribute = properties["FunctionVersion"]["Fn::GetAtt"]
        assert (version_of[version], attribute) == (function, "Version")


def test_with_snap_start_every_invoker_names_the_alias_and_may_invoke_only_it(
    snap_start_synth: SimpleNamespace,
) -> None:
    invoked = _invoked(snap_start_synth.json)
    assert invoked["tasks"] == {f"${{{name}Live}}" for name in STEP_FUNCTIONS}
    (uri,) = invoked["integrations"]
    assert uri.endswith(":lambda:path/2015-03-31/functions/${ApiFunctionLive}/invocations")
    assert invoked["permissions"] == {"${ApiFunctionLive}", "${ReconcileSubmissionsFunctionLive}"}
    assert invoked["schedule"] == {"${ReconcileSubmissionsFunctionLive}"}
    granted = _invoke_grants(snap_start_synth.json)
    assert sorted(granted) == sorted(f"${{{name}Live}}" for name in STEP_FUNCTIONS)


def test_with_snap_start_cdk_nag_and_cdk_have_nothing_to_report(snap_start_synth: SimpleNamespace) -> None:
    report = AwsSolutionsChecks(verbose=True).validate_scope(snap_start_synth.app)
    assert not report.violations, [violation.rule_name for violation in report.violations]
    annotations = Annotations.from_stack(snap_start_synth.stack)
    problems = [
        *annotations.find_error("*", Match.any_value()),
        *annotations.find_warning("*", Match.any_value()),
    ]
    assert not problems, "\n".join(f"{p.id}: {p.entry.data}" for p in problems)
