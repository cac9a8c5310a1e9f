"""cfn-lint on the synthesized template, and the security properties of the whole template.

The template comes from the session fixture `synthesized` (tests/infra/conftest.py).
cfn-lint runs with its error and warning rules (informational ones, such as "prefer
Fn::Sub over Fn::Join", only restate how CDK writes templates) plus the experimental
ones, for several regions since the stack is environment-agnostic. Every finding fails
the test unless an entry of `IGNORED_FINDINGS` matches it, and every entry there must
still match something.

The security tests are generic (every bucket, table, policy ...) so that resources added
later are held to the same rules; test_stack.py checks the named resources in detail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.rules import Match

LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

Template = dict[str, Any]


# ---- helpers ------------------------------------------------------------------------


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A CloudFormation expression as text: literal parts joined, tokens as ${LogicalId[.Attr]}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"${{{'.'.join(value['Fn::GetAtt'])}}}"
    return json.dumps(value, sort_keys=True)


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


# ---- cfn-lint -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ignored:
    """A cfn-lint finding accepted on purpose: which rule, which occurrences, and why."""

    rule_id: str
    matches: Callable[[Match, Template], bool]
    justification: str


def _redundant_role_dependency(match: Match, template: Template) -> bool:
    """W3005 on `DependsOn: <role>` of a resource whose `Role` / `RoleArn` already is `GetAtt <role>.Arn`."""
    path = list(match.path)
    if len(path) != 4 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resource = template["Resources"][path[1]]
    target = as_list(resource["DependsOn"])[path[3]]
    if template["Resources"].get(target, {}).get("Type") != "AWS::IAM::Role":
        return False
    properties = resource.get("Properties", {})
    role_ref = {"Fn::GetAtt": [target, "Arn"]}
    return properties.get("Role") == role_ref or properties.get("RoleArn") == role_ref


IGNORED_FINDINGS = [
    Ignored(
        "W3005",
        _redundant_role_dependency,
        # lambda.Function and sfn.StateMachine add an explicit DependsOn on their execution role
        # (next to the role's default policy, which is the dependency that matters: the function
        # must not run before its permissions exist). The role entry duplicates the implicit
        # dependency of the GetAtt; it is harmless, and removing it would mean escape hatches on
        # CDK internals in every construct. Only the role entry is ignored, only where the same
        # resource GetAtts that role's ARN.
        "CDK's explicit DependsOn on the execution role duplicates the GetAtt of its ARN: harmless",
    ),
]


def _describe(match: Match) -> str:
    return f"{match.rule.id} {'/'.join(str(part) for part in match.path)}: {match.message}"


@pytest.fixture(scope="module")
def lint_findings(synthesized: SimpleNamespace) -> list[Match]:
    config = ManualArgs(regions=LINT_REGIONS, include_experimental=True)
    return lint(json.dumps(synthesized.json, indent=1), config=config)


def test_cfn_lint_finds_nothing_beyond_the_justified_ignores(
    lint_findings: list[Match], synthesized: SimpleNamespace
) -> None:
    used: set[int] = set()
    unexpected = []
    for match in lint_findings:
        hits = [
            index
            for index, ignored in enumerate(IGNORED_FINDINGS)
            if ignored.rule_id == match.rule.id and ignored.matches(match, synthesized.json)
        ]
        used.update(hits)
        if not hits:
            unexpected.append(_describe(match))
    assert not unexpected, "cfn-lint findings:\n" + "\n".join(unexpected)
    stale = [ignored.rule_id for index, ignored in enumerate(IGNORED_FINDINGS) if index not in used]
    assert not stale, f"ignore entries that match nothing any more (delete them): {stale}"


def test_ignore_entries_are_narrow_and_justified() -> None:
    for ignored in IGNORED_FINDINGS:
        assert re.fullmatch(r"[EWI]\d{4}", ignored.rule_id), ignored.rule_id
        assert len(ignored.justification) >= 40, ignored


def test_cfn_lint_is_wired_up(synthesized: SimpleNamespace) -> None:
    """The same configuration reports a real error in (a copy of) one of our resources."""
    bucket = json.loads(json.dumps(synthesized.json["Resources"]["VideoBucket"]))
    bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["Status"] = "Maybe"
    bucket["Properties"].pop("LoggingConfiguration", None)  # it refers to the other bucket
    broken = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"VideoBucket": bucket}}
    findings = lint(json.dumps(broken), config=ManualArgs(regions=LINT_REGIONS, include_experimental=True))
    assert [(match.rule.id, match.path[:2]) for match in findings] == [
        ("E3030", ["Resources", "VideoBucket"])
    ]


# ---- S3 -----------------------------------------------------------------------------


def _tls_only(template: Template, bucket: str) -> bool:
    for policy in resources(template, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] != {"Ref": bucket}:
            continue
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            covered = {render(resource) for resource in as_list(statement["Resource"])}
            if (
                statement["Effect"] == "Deny"
                and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
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
    template = synthesized.json
    leaks = [text[:60] for text in strings(template) if SECRET_LOOKING.search(text)]
    assert not leaks, leaks
    for logical_id, secret in resources(template, "AWS::SecretsManager::Secret").items():
        assert "SecretString" not in secret["Properties"], f"{logical_id}: a literal secret value"
        assert "GenerateSecretString" in secret["Properties"], logical_id
    for name, parameter in template.get("Parameters", {}).items():
        if re.search(r"key|secret|token|password", name, flags=re.IGNORECASE):
            assert parameter.get("NoEcho") is True, name


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


def test_every_log_group_has_retention(synthesized: SimpleNamespace) -> None:
    log_groups = resources(synthesized.json, "AWS::Logs::LogGroup")
    assert log_groups
    for logical_id, log_group in log_groups.items():
        assert 1 <= log_group["Properties"].get("RetentionInDays", 0) <= 3653, logical_id
