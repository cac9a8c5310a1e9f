"""Notifications: the job-events SNS topic, the webhook signing secret and the provider keys secret."""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs import acknowledge, set_logical_id

PROVIDER_KEY_NAMES = ("cometapi", "xai", "aimlapi")
SNS_MANAGED_KEY_ALIAS = "alias/aws/sns"


def _operator_rotated_secret(
    scope: Construct,
    logical_id: str,
    description: str,
    generator: secretsmanager.SecretStringGenerator,
    *,
    rotation: str,
) -> secretsmanager.Secret:
    """A retained secret that the operator rotates; `rotation` says why no Lambda does (cdk-nag SMG4)."""
    secret = secretsmanager.Secret(
        scope,
        logical_id,
        description=description,
        generate_secret_string=generator,
        removal_policy=RemovalPolicy.RETAIN,
    )
    set_logical_id(secret, logical_id)
    acknowledge(secret, "AwsSolutions-SMG4", rotation)
    return secret


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        # Every job event (the webhook body) is also published here, encrypted at
        # rest with the AWS managed key of SNS. Its key policy already lets any
        # principal of this account use it through SNS, so publishers need only
        # sns:Publish. Set on the L1 property on purpose: passing an imported alias
        # as `master_key` makes grant_publish add kms:Decrypt/GenerateDataKey* on
        # key/* to the publisher's role, which that key does not need.
        self.topic = sns.Topic(self, "EventsTopic", display_name="videohook job events", enforce_ssl=True)
        cfn_topic = self.topic.node.default_child
        assert isinstance(cfn_topic, sns.CfnTopic)
        cfn_topic.kms_master_key_id = SNS_MANAGED_KEY_ALIAS
        set_logical_id(self.topic, "EventsTopic")

        # The Standard Webhooks signing secret. `standardwebhooks` base64-decodes
        # the secret (after dropping an optional `whsec_` prefix) to get the HMAC
        # key. 32 characters from [A-Za-z0-9] are all in the base64 alphabet and 32
        # is a multiple of 4, so the generated value always decodes (to 24 random
        # bytes, ~190 bits); punctuation such as `+`/`/` would also be base64, but
        # `"`, `%` or `\` would not, hence exclude_punctuation. Rotating it means
        # telling every receiver the new value, so it is rotated by the operator.
        self.webhook_secret = _operator_rotated_secret(
            self,
            "WebhookSecret",
            "videohook: Standard Webhooks signing secret (base64, optionally prefixed whsec_)",
            secretsmanager.SecretStringGenerator(
                password_length=32, exclude_punctuation=True, include_space=False
            ),
            rotation="The webhook signing secret is shared with every webhook receiver; rotating it "
            "is a coordinated operator action (receivers must accept old and new), not a Lambda rotation.",
        )

        # Third-party API keys, set by the operator after the first deploy:
        #   aws secretsmanager put-secret-value --secret-id <arn> \
        #     --secret-string '{"cometapi":"...","xai":"...","aimlapi":"..."}'
        # The template only creates the JSON skeleton (the generated `_placeholder`
        # key is there because Secrets Manager needs one key to generate; it is ignored).
        self.provider_keys_secret = _operator_rotated_secret(
            self,
            "ProviderKeysSecret",
            'videohook: provider API keys {"cometapi": key, "xai": key, "aimlapi": key}',
            secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({name: "" for name in PROVIDER_KEY_NAMES}),
                generate_string_key="_placeholder",
                password_length=16,
                exclude_punctuation=True,
            ),
            rotation="Holds API keys issued by third-party providers (CometAPI, xAI, AI/ML API); they can "
            "only be rotated in those providers' consoles, so the operator updates the secret value.",
        )
