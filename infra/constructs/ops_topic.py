"""The ops topic: where every alarm of the stack notifies, encrypted with its own KMS key.

CloudWatch cannot publish to a topic under the AWS managed SNS key, hence a customer managed
key whose policy lets CloudWatch use it; the topic admits only this account's alarms.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs import set_logical_id


def ops_topic(scope: Construct, prefix: str, emails: Sequence[str]) -> tuple[kms.Key, sns.Topic]:
    """The key and the topic (`OpsTopicKey`, `OpsTopic`) under `scope`, each email subscribed."""
    stack = Stack.of(scope)
    key = kms.Key(
        scope,
        "OpsTopicKey",
        description=f"{prefix}: encrypts the ops topic (alarm notifications)",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=Duration.days(7),
    )
    set_logical_id(key, "OpsTopicKey")
    # CloudWatch encrypts the alarm notification it publishes: it must use the key.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
        )
    )
    topic = sns.Topic(
        scope,
        "OpsTopic",
        display_name=f"{prefix} alarms",
        master_key=key,
        enforce_ssl=True,
    )
    set_logical_id(topic, "OpsTopic")
    # The topic policy replaces SNS's default one: let this account's alarms, and only them, publish.
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarms",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
    for address in emails:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    return key, topic
