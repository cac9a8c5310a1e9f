"""The security properties of the whole synthesized template, one test per property.

The tests are generic (every bucket, table, topic, queue, policy, log group ...) so that
resources added later are held to the same rules; test_stack.py checks the named
resources in detail. The template comes from the session fixture `synthesized`
(tests/infra/conftest.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from infra.config import VideohookConfig
from tests.infra.cfn import Template, as_list, render, resources

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}

# ---- helpers ------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    """Every string literal in a JSON value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def identity_policy_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every identity-based policy: IAM policies and roles' inline ones."""
    for type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical_id, resource in resources(template, type_).items():
            for statement in as_list(resource["Properties"]["PolicyDocument"]["Statement"]):
                yield logical_id, statement
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                yield logical_id, statement


RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::Lambda::LayerVersionPermission": None,
}


# ---- S3 -----------------------------------------------------------------------------


def _tls_only(template: Template, bucket: str) -> bool:
    for policy in resources(template, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] != {"Ref": bucket}:
            continue
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            covered = {render(resource) for resource in as_list(statement["Resource"])}
            if (
                statement["Effect"] == "Deny"
                and statement.get("Condition") == TLS_ONLY
                and as_list(statement["Action"]) == ["s3:*"]
                and statement["Principal"] in ("*", {"AWS": "*"})
                and covered >= {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}
            ):
                return True
    return False


def test_every_bucket_is_private_encrypted_tls_only_and_expires(synthesized: SimpleNamespace) -> None:
    template = synthesized.json
    buckets = resources(template, "AWS::S3::Bucket")
    assert buckets
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in (
            "AES256",
            "aws:kms",
            "aws:kms:dsse",
        )
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], logical_id
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any(rule["Status"] == "Enabled" and "ExpirationInDays" in rule for rule in rules), logical_id
        assert _tls_only(template, logical_id), f"{logical_id} has no TLS-only bucket policy"
        assert "AccessControl" not in props and "WebsiteConfiguration" not in props, logical_id


def test_buckets_written_by_the_stack_abort_incomplete_multipart_uploads(
    synthesized: SimpleNamespace,
) -> None:
    template = synthesized.json
    written = {
        logical_id
        for _, statement in identity_policy_statements(template)
        if statement["Effect"] == "Allow" and "s3:PutObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
        for logical_id in resources(template, "AWS::S3::Bucket")
        if render(resource).startswith(f"${{{logical_id}.Arn}}/")
    }
    assert written  # the video bucket, at least
    for logical_id in written:
        rules = template["Resources"][logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any(
            rule["Status"] == "Enabled" and "AbortIncompleteMultipartUpload" in rule and "Prefix" not in rule
            for rule in rules
        ), f"{logical_id}: abandoned multipart uploads would be stored (and billed) forever"


# ---- DynamoDB, SNS, SQS, KMS ----------------------------------------------------------


def test_every_table_has_point_in_time_recovery_and_encryption(synthesized: SimpleNamespace) -> None:
    tables = resources(synthesized.json, "AWS::DynamoDB::Table")
    assert tables
    for logical_id, table in tables.items():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
        assert props["SSESpecification"]["SSEEnabled"] is True, logical_id


def test_every_topic_queue_and_key_is_encrypted(synthesized: SimpleNamespace) -> None:
    template = synthesized.json
    for logical_id, topic in resources(template, "AWS::SNS::Topic").items():
        assert topic["Properties"].get("KmsMasterKeyId"), logical_id
    for logical_id, queue in resources(template, "AWS::SQS::Queue").items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), logical_id
    for logical_id, key in resources(template, "AWS::KMS::Key").items():
        if key["Properties"].get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":
            assert key["Properties"].get("EnableKeyRotation") is True, logical_id


def test_every_topic_and_queue_refuses_requests_without_tls(synthesized: SimpleNamespace) -> None:
    """Each has a policy of its own (its one target) that denies everyone any request without TLS,
    and every Deny of that policy is about TLS."""
    template = synthesized.json
    for type_, policy_type, targets in (
        ("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "Topics"),
        ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "Queues"),
    ):
        found = resources(template, type_)
        assert found, type_
        for logical_id in found:
            statements = [
                statement
                for policy in resources(template, policy_type).values()
                if policy["Properties"][targets] == [{"Ref": logical_id}]
                for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"])
            ]
            deny = [statement for statement in statements if statement["Effect"] == "Deny"]
            assert deny, f"{logical_id} has no TLS-only policy"
            for statement in deny:
                assert statement.get("Condition") == TLS_ONLY, logical_id
                assert statement["Principal"] in ("*", {"AWS": "*"}), logical_id


# ---- IAM ------------------------------------------------------------------------------

# Actions that support no resource-level permissions: AWS only accepts them on Resource "*".
WILDCARD_RESOURCE_ACTIONS = {
    # X-Ray active tracing (Lambda Tracing.ACTIVE, Step Functions tracing_enabled).
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions for writing traces",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions for telemetry",
    "xray:GetSamplingRules": "X-Ray sampling rules are read account-wide",
    "xray:GetSamplingTargets": "X-Ray sampling targets are read account-wide",
    # Step Functions logging to CloudWatch Logs goes through vended log delivery, whose APIs
    # (and the log resource policy they maintain) support no resource scoping.
    "logs:CreateLogDelivery": "vended log delivery: no resource-level permissions",
    "logs:DeleteLogDelivery": "vended log delivery: no resource-level permissions",
    "logs:GetLogDelivery": "vended log delivery: no resource-level permissions",
    "logs:ListLogDeliveries": "vended log delivery: no resource-level permissions",
    "logs:UpdateLogDelivery": "vended log delivery: no resource-level permissions",
    "logs:PutResourcePolicy": "vended log delivery maintains the account's log resource policy",
    "logs:DescribeResourcePolicies": "vended log delivery reads the account's log resource policies",
    "logs:DescribeLogGroups": "DescribeLogGroups is an account-level list action",
}
# AWS managed policies attached to roles, each with the reason it is acceptable.
ALLOWED_MANAGED_POLICIES = {
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": (
        "the account-level API Gateway CloudWatch role (execution logging); AWS's policy made for it"
    ),
}


def test_no_wildcard_actions_and_wildcard_resources_only_where_aws_requires(
    synthesized: SimpleNamespace,
) -> None:
    problems = []
    allow_statements = 0
    for logical_id, statement in identity_policy_statements(synthesized.json):
        if statement["Effect"] != "Allow":
            continue
        allow_statements += 1
        if "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{logical_id}: NotAction/NotResource in an Allow")
            continue
        actions = as_list(statement["Action"])
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{logical_id}: wildcard action {action}")
        if "*" in as_list(statement["Resource"]):
            for action in actions:
                if action not in WILDCARD_RESOURCE_ACTIONS:
                    problems.append(f"{logical_id}: {action} on Resource '*'")
    assert allow_statements > 0
    assert not problems, "\n".join(problems)


def test_roles_trust_services_only_and_use_allowed_managed_policies(synthesized: SimpleNamespace) -> None:
    roles = resources(synthesized.json, "AWS::IAM::Role")
    assert roles
    for logical_id, role in roles.items():
        props = role["Properties"]
        for statement in as_list(props["AssumeRolePolicyDocument"]["Statement"]):
            assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole", logical_id
            assert set(statement["Principal"]) == {"Service"}, f"{logical_id} trusts {statement['Principal']}"
            for service in as_list(statement["Principal"]["Service"]):
                assert re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com", service), (logical_id, service)
        for arn in props.get("ManagedPolicyArns", []):
            name = render(arn).split(":policy/", 1)[-1]
            assert name in ALLOWED_MANAGED_POLICIES, f"{logical_id} attaches {render(arn)}"


def test_resource_policies_never_allow_everyone(synthesized: SimpleNamespace) -> None:
    template = synthesized.json
    for type_, key in RESOURCE_POLICIES.items():
        for logical_id, resource in resources(template, type_).items():
            props = resource["Properties"]
            if key is None:
                assert props.get("Principal") not in ("*", None), logical_id
                continue
            for statement in as_list(props[key]["Statement"]):
                if statement["Effect"] != "Allow":
                    continue  # Deny * (e.g. TLS-only) is what we want
                principal = statement["Principal"]
                everyone = principal == "*" or (
                    isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))
                )
                assert not everyone, f"{logical_id}: Allow to everyone"


def test_functions_are_invocable_only_by_named_sources(synthesized: SimpleNamespace) -> None:
    template = synthesized.json
    assert not resources(template, "AWS::Lambda::Url"), "no public function URLs"
    for logical_id, permission in resources(template, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        assert props["Action"] == "lambda:InvokeFunction", logical_id
        assert re.fullmatch(r"[a-z0-9.-]+\.amazonaws\.com", props["Principal"]), logical_id
        assert "SourceArn" in props, f"{logical_id}: any {props['Principal']} resource could invoke it"
        assert not render(props["SourceArn"]).startswith("*"), logical_id


# ---- secrets and logs -------------------------------------------------------------------

SECRET_LOOKING = re.compile(
    r"whsec_[A-Za-z0-9+/=]{8,}"  # a Standard Webhooks signing secret
    r"|\b(?:sk|xai)-[A-Za-z0-9_-]{16,}"  # provider API keys
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|\{\{resolve:(?:secretsmanager|ssm-secure):"  # a secret's value materialized into a property
)


def test_no_secret_value_anywhere_in_the_template(synthesized: SimpleNamespace) -> None:
    """Secrets are generated at deploy time; functions get their ARNs, never their values."""
    template = synthesized.json
    leaks = [text[:60] for text in strings(template) if SECRET_LOOKING.search(text)]
    assert not leaks, leaks
    secrets = resources(template, "AWS::SecretsManager::Secret")
    for logical_id, secret in secrets.items():
        assert "SecretString" not in secret["Properties"], f"{logical_id}: a literal secret value"
        assert "GenerateSecretString" in secret["Properties"], logical_id
    for name, parameter in template.get("Parameters", {}).items():
        if re.search(r"key|secret|token|password", name, flags=re.IGNORECASE):
            assert parameter.get("NoEcho") is True, name
    configured = set(VideohookConfig().lambda_environment().values())
    functions = resources(template, "AWS::Lambda::Function")
    assert functions
    for function, props in functions.items():
        variables = props["Properties"]["Environment"]["Variables"]
        # Only the ARNs (Ref of a secret is its ARN), never a dynamic reference to the value.
        assert variables["VIDEOHOOK_WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSecret"}
        assert variables["VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN"] == {"Ref": "ProviderKeysSecret"}
        text = json.dumps(variables)
        assert "resolve:secretsmanager" not in text and "SecretString" not in text, function
        for name, value in variables.items():
            if isinstance(value, str):
                assert value in {"xai", "videohook", "default", "1"} | configured, (function, name)
            else:
                assert set(value) <= {"Ref", "Fn::GetAtt"}, (function, name)
                target = value.get("Ref") or value["Fn::GetAtt"][0]
                assert target not in secrets or name.endswith("_SECRET_ARN"), (function, name)


# Fields of the API access log that would write a credential or a request's content.
FORBIDDEN_ACCESS_LOG_FIELDS = re.compile(
    r"\$context\.identity\.apiKey(?!Id)|\$context\.identity\.(caller|user|accessKey)\b"
    r"|\$context\.authorizer|\$input|\$method\.request|\$request\.(header|body)"
)


def test_api_access_logs_hold_no_credentials_or_bodies(synthesized: SimpleNamespace) -> None:
    stages = resources(synthesized.json, "AWS::ApiGateway::Stage")
    assert stages
    for logical_id, stage in stages.items():
        log_format = stage["Properties"]["AccessLogSetting"]["Format"]
        assert not FORBIDDEN_ACCESS_LOG_FIELDS.search(log_format), (logical_id, log_format)
        assert "$context.requestId" in log_format and "$context.status" in log_format


def test_every_log_group_keeps_logs_one_month(synthesized: SimpleNamespace) -> None:
    """Every log group (functions, state machines, API access logs) has the stack's retention,
    infra.constructs.LOG_RETENTION (one month), and every function logs to one of them."""
    template = synthesized.json
    log_groups = resources(template, "AWS::Logs::LogGroup")
    assert log_groups
    for logical_id, log_group in log_groups.items():
        assert log_group["Properties"].get("RetentionInDays") == 30, logical_id
    for logical_id, function in resources(template, "AWS::Lambda::Function").items():
        assert function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] in log_groups, logical_id
