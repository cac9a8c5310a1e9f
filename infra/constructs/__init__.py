"""Constructs of the videohook stack, plus the helpers they share.

- `LambdaFactory` builds every Lambda function the same way: one code asset
  (`functions/`), one dependencies layer, Python 3.12 on ARM_64, active X-Ray
  tracing, a dedicated log group with retention, and a dedicated role that can
  write only to that log group (so no `AWSLambdaBasicExecutionRole` managed
  policy, whose `logs:CreateLogGroup` on `*` cdk-nag would flag). With
  `snap_start` (the configuration's option), each function also gets SnapStart
  on published versions, a version and an alias, `live`: whatever invokes a
  function invokes `factory.invoked(function)`, the alias then, else the function.
- `acknowledge` / `ref` record a cdk-nag v3 acknowledgment
  (`Validations.of(scope).acknowledge`) for one rule or one finding
  (`AwsSolutions-IAM5[Resource::<JobsTable.Arn>/index/*]`), with a reason.
- `table` builds every DynamoDB table the same way: on demand, point-in-time
  recovery, AWS-managed encryption, a TTL attribute, string keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Annotations, CfnResource, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

RUNTIME = lambda_.Runtime.PYTHON_3_12
# The environment of every function that depends on nothing in the stack. videohook uses no
# pydantic plugins: without the switch, the first model a cold start builds makes pydantic
# read the entry points of every distribution in the layer to look for some.
STATIC_ENVIRONMENT = {"POWERTOOLS_SERVICE_NAME": "videohook", "PYDANTIC_DISABLE_PLUGINS": "1"}
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
ALIAS_NAME = "live"  # the alias every invoker names when SnapStart is on


# Context key: "false" builds the stack without its acknowledgments, so that cdk-nag reports
# every finding (infra/nag_summary.py counts them that way for `make synth`).
ACKNOWLEDGMENTS_CONTEXT = "nag_acknowledgments"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag rule (or one `Rule[finding]`) on `scope` and its children."""
    if str(scope.node.try_get_context(ACKNOWLEDGMENTS_CONTEXT)).strip().lower() == "false":
        return
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def ref(construct: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag names `Fn::GetAtt` of a construct's resource in a finding: `<LogicalId.Arn>`."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    logical_id = Stack.of(resource).resolve(resource.logical_id)
    return f"<{logical_id}.{attribute}>"


def set_logical_id(construct: IConstruct, logical_id: str) -> None:
    """Give a construct's resource a stable, readable logical id (the dev stack and tests use them)."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    resource.override_logical_id(logical_id)


def table(
    scope: Construct,
    logical_id: str,
    *,
    partition_key: str,
    sort_key: str | None = None,
    ttl_attribute: str,
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
) -> dynamodb.Table:
    """An on-demand table with string keys, point-in-time recovery and AWS-managed encryption."""
    new_table = dynamodb.Table(
        scope,
        logical_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=ttl_attribute,
        removal_policy=removal_policy,
    )
    set_logical_id(new_table, logical_id)
    return new_table


@dataclass
class LambdaFactory:
    """Builds the stack's Lambda functions with the shared code, layer and environment."""

    code: lambda_.Code
    layer: lambda_.ILayerVersion
    environment: Mapping[str, str]
    log_retention: logs.RetentionDays = LOG_RETENTION
    snap_start: bool = False
    functions: list[lambda_.Function] = field(default_factory=list)
    aliases: dict[str, lambda_.Alias] = field(default_factory=dict)  # by the function's node path

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            retention=self.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"videohook {handler}",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self.code,
            handler=handler,
            layers=[self.layer],
            memory_size=memory_size,
            timeout=timeout or Duration.seconds(30),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            environment={**self.environment, **(environment or {})},
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if self.snap_start else None,
        )
        set_logical_id(function, construct_id)
        if self.snap_start:
            # SnapStart restores published versions only: the alias follows the current one.
            alias = lambda_.Alias(
                scope, f"{construct_id}Live", alias_name=ALIAS_NAME, version=function.current_version
            )
            set_logical_id(alias, f"{construct_id}Live")
            self.aliases[function.node.path] = alias
            Annotations.of(function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "the function's current version is published, and its alias invoked",
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords "
            "support no resource-level permissions, so they are granted on '*' (added by Tracing.ACTIVE).",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.12 on purpose: the dependencies layer (make layer) is built for "
            "cp312/aarch64 wheels and the project supports Python <3.14; "
            "bump RUNTIME and the layer together.",
        )
        self.functions.append(function)
        return function

    def invoked(self, function: lambda_.Function) -> lambda_.IFunction:
        """What invokers of `function` (API Gateway, Step Functions, schedules) name: its
        alias with SnapStart, else the function itself."""
        return self.aliases.get(function.node.path, function)
