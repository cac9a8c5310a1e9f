"""`VideohookStack`: storage + notifications + delivery + workflow + api + observability.

Its settings are `infra.config.VideohookConfig`: a JSON file per environment named by
CDK context `config` (default `config/default.json`), validated at synth; see
infra/config.py and docs/deploy.md. Other context keys:

| key | default | meaning |
|---|---|---|
| `config` | `config/default.json` | the environment's configuration file |
| `layer_path` | `<repo>/build/lambda-layer` | dependencies layer dir, must contain `python/` (`make layer`) |
| `nag` | `true` | infra/app.py: run the cdk-nag AwsSolutions checks at synth |
| `nag_acknowledgments` | `true` | `false`: no cdk-nag acknowledgments, every finding is reported |
| `provider`, ... | from the file | older single-value keys, override the file (infra/config.py) |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import layer_lock
from infra.config import DEFAULT_LAYER_PATH, VideohookConfig
from infra.constructs import ARCHITECTURE, RUNTIME, STATIC_ENVIRONMENT, LambdaFactory, set_logical_id
from infra.constructs.api import Api
from infra.constructs.delivery import Delivery
from infra.constructs.foundation import Foundation
from infra.constructs.notifications import Notifications
from infra.constructs.observability import Observability
from infra.constructs.storage import Storage
from infra.constructs.workflow import Workflow

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
DEFAULT_STACK_NAME = "Videohook"
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.ruff_cache"]


class LayerNotBuiltError(FileNotFoundError):
    """The dependencies layer directory is missing: run `make layer` first."""


class LayerStaleError(LayerNotBuiltError):
    """The dependencies layer was built from another uv.lock (infra/layer_lock.py): run `make layer`."""


def check_layer_dir(layer_path: Path) -> Path:
    """The layer directory must exist and hold `python/` (what `pip install --target <dir>/python` makes).

    A layer `make layer` built records the uv.lock it came from: it must be the current
    one. A directory named with `-c layer_path=...` that records none is taken as it is."""
    if not (layer_path / "python").is_dir():
        raise LayerNotBuiltError(
            f"Lambda dependencies layer not found: {layer_path / 'python'} does not exist. "
            "Run `make layer` first (it installs the runtime dependencies with "
            "`--target build/lambda-layer/python`), or point the app at a built layer with "
            "`-c layer_path=<dir containing python/>`."
        )
    made_by_make = layer_path.resolve() == DEFAULT_LAYER_PATH.resolve()
    if made_by_make or (layer_path / layer_lock.RECORD_NAME).is_file():
        reason = layer_lock.staleness(layer_path)
        if reason:
            raise LayerStaleError(
                f"Lambda dependencies layer is stale: {reason}. Run `make layer` (it rebuilds the "
                "layer whenever uv.lock changes) before synthesizing or deploying."
            )
    return layer_path


class VideohookStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: VideohookConfig | None = None, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = config or VideohookConfig.from_context(self.node)
        self.config = config
        layer_dir = check_layer_dir(config.layer_path)

        for key, value in config.tags.items():
            Tags.of(self).add(key, value)

        self.storage = Storage(self, "Storage", video_retention_days=config.video_retention_days)
        self.notifications = Notifications(self, "Notifications")

        self.layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            description="videohook runtime dependencies (make layer)",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        set_logical_id(self.layer, "DependenciesLayer")

        # Secrets never go into the environment: only their ARNs (Ref of a secret = its ARN).
        self.factory = LambdaFactory(
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=ASSET_EXCLUDES),
            layer=self.layer,
            environment={
                "VIDEOHOOK_JOBS_TABLE": self.storage.jobs_table.table_name,
                "VIDEOHOOK_VIDEO_BUCKET": self.storage.video_bucket.bucket_name,
                "VIDEOHOOK_TOPIC_ARN": self.notifications.topic.topic_arn,
                "VIDEOHOOK_WEBHOOK_SECRET_ARN": self.notifications.webhook_secret.secret_arn,
                "VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN": self.notifications.provider_keys_secret.secret_arn,
                **STATIC_ENVIRONMENT,
                **config.lambda_environment(),
            },
            snap_start=config.snap_start,
        )

        foundation = Foundation(factory=self.factory, storage=self.storage, notifications=self.notifications)
        self.delivery = Delivery(self, "Delivery", foundation)
        self.workflow = Workflow(self, "Workflow", foundation, delivery=self.delivery)
        self.api = Api(
            self, "Api", foundation, state_machine=self.workflow.state_machine, limits=config.api_limits
        )
        # Submit emits video.queued; the deliveries routes read the log and start redeliveries.
        self.delivery.grant_emit(self.api.function)
        self.delivery.grant_read_log(self.api.function)

        # After every function exists: each one gets its error and throttle alarms.
        self.observability = Observability(
            self,
            "Observability",
            functions=self.factory.functions,
            state_machines={"Workflow": self.workflow.state_machine, "Delivery": self.delivery.state_machine},
            dead_letter_queue=self.delivery.dead_letter_queue,
            rest_api=self.api.rest_api,
            alarms=config.alarms,
        )

        CfnOutput(self, "ApiUrl", value=self.api.rest_api.url, description="Base URL: POST {ApiUrl}v1/videos")
        CfnOutput(
            self,
            "ApiKeyId",
            value=self.api.api_key.key_id,
            description="aws apigateway get-api-key --include-value --api-key <ApiKeyId>",
        )
        CfnOutput(self, "StateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        CfnOutput(self, "VideoBucketName", value=self.storage.video_bucket.bucket_name)
        CfnOutput(self, "EventsTopicArn", value=self.notifications.topic.topic_arn)
        CfnOutput(self, "ProviderKeysSecretArn", value=self.notifications.provider_keys_secret.secret_arn)
        CfnOutput(self, "WebhookSecretArn", value=self.notifications.webhook_secret.secret_arn)
        CfnOutput(self, "OpsTopicArn", value=self.observability.topic.topic_arn, description="alarm actions")
        CfnOutput(self, "DashboardName", value=self.observability.dashboard.dashboard_name)
