"""`VideohookStack`: storage + notifications + workflow + api, and the settings read from CDK context.

Context keys (all optional; `-c key=value` on the command line arrives as a string):

| key | default | meaning |
|---|---|---|
| `stack_name` | `Videohook` | the stack's name (read by infra/app.py) |
| `layer_path` | `<repo>/build/lambda-layer` | dependencies layer dir, must contain `python/` (`make layer`) |
| `provider` | `xai` | VIDEOHOOK_PROVIDER of every Lambda |
| `video_retention_days` | `30` | objects under `videos/` expire after this many days |
| `stage_rate_limit` / `stage_burst_limit` | `50` / `100` | stage-wide API throttling |
| `api_rate_limit` / `api_burst_limit` | `10` / `20` | per API key (usage plan) throttling |
| `api_quota_per_day` | `10000` | per API key daily request quota |
| `nag` | `true` | infra/app.py: run the cdk-nag AwsSolutions checks at synth |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, Node

from infra.constructs import ARCHITECTURE, RUNTIME, LambdaFactory, set_logical_id
from infra.constructs.api import Api, ApiLimits
from infra.constructs.notifications import Notifications
from infra.constructs.storage import Storage
from infra.constructs.workflow import Workflow

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
DEFAULT_LAYER_PATH = REPO_ROOT / "build" / "lambda-layer"
DEFAULT_STACK_NAME = "Videohook"
PROVIDERS = ("cometapi", "xai", "aimlapi", "sandbox")
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/.pytest_cache", "**/.ruff_cache"]


class LayerNotBuiltError(FileNotFoundError):
    """The dependencies layer directory is missing: run `make layer` first."""


def _int(node: Node, key: str, default: int, minimum: int = 1) -> int:
    raw: Any = node.try_get_context(key)
    value = default if raw is None or raw == "" else int(raw)
    if value < minimum:
        raise ValueError(f"context {key}={value}: must be >= {minimum}")
    return value


def _float(node: Node, key: str, default: float) -> float:
    raw: Any = node.try_get_context(key)
    value = default if raw is None or raw == "" else float(raw)
    if value <= 0:
        raise ValueError(f"context {key}={value}: must be > 0")
    return value


@dataclass(frozen=True)
class VideohookConfig:
    layer_path: Path = DEFAULT_LAYER_PATH
    provider: str = "xai"
    video_retention_days: int = 30
    api_limits: ApiLimits = field(default_factory=ApiLimits)

    @classmethod
    def from_context(cls, node: Node) -> VideohookConfig:
        layer_path = Path(node.try_get_context("layer_path") or DEFAULT_LAYER_PATH)
        if not layer_path.is_absolute():
            layer_path = (Path.cwd() / layer_path).resolve()
        provider = str(node.try_get_context("provider") or "xai")
        if provider not in PROVIDERS:
            raise ValueError(f"context provider={provider!r}: must be one of {', '.join(PROVIDERS)}")
        defaults = ApiLimits()
        return cls(
            layer_path=layer_path,
            provider=provider,
            video_retention_days=_int(node, "video_retention_days", 30),
            api_limits=ApiLimits(
                stage_rate_limit=_float(node, "stage_rate_limit", defaults.stage_rate_limit),
                stage_burst_limit=_int(node, "stage_burst_limit", defaults.stage_burst_limit),
                key_rate_limit=_float(node, "api_rate_limit", defaults.key_rate_limit),
                key_burst_limit=_int(node, "api_burst_limit", defaults.key_burst_limit),
                key_quota_per_day=_int(node, "api_quota_per_day", defaults.key_quota_per_day),
            ),
        )


def check_layer_dir(layer_path: Path) -> Path:
    """The layer directory must exist and hold `python/` (what `pip install --target <dir>/python` makes)."""
    if not (layer_path / "python").is_dir():
        raise LayerNotBuiltError(
            f"Lambda dependencies layer not found: {layer_path / 'python'} does not exist. "
            "Run `make layer` first (it installs the runtime dependencies with "
            "`--target build/lambda-layer/python`), or point the app at a built layer with "
            "`-c layer_path=<dir containing python/>`."
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
                "VIDEOHOOK_PROVIDER": config.provider,
                "POWERTOOLS_SERVICE_NAME": "videohook",
            },
        )

        self.workflow = Workflow(
            self, "Workflow", factory=self.factory, storage=self.storage, notifications=self.notifications
        )
        self.api = Api(
            self,
            "Api",
            factory=self.factory,
            storage=self.storage,
            notifications=self.notifications,
            state_machine=self.workflow.state_machine,
            limits=config.api_limits,
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
