"""The deployment's configuration: one typed model, one JSON file per environment.

    make synth                                      # config/default.json
    make synth CONFIG=config/staging.example.json   # another environment
    npx cdk deploy -c config=config/staging.json    # the same, through the CDK CLI

The file named by CDK context `config` (default `config/default.json`) is merged over
the defaults below and validated; an unknown key, a wrong type or an out-of-range value
stops the synth with one line per problem naming the key (`ConfigError`, which
infra/app.py prints without a traceback, exit code 1).

For backward compatibility the older single-value context keys still override the
file: `provider`, `video_retention_days`, `stage_rate_limit`, `stage_burst_limit`,
`api_rate_limit`, `api_burst_limit`, `api_quota_per_day`, `stack_name`; `layer_path`
(where `make layer` put the dependencies) is a build setting, not part of the file.

Values reach the Lambdas as environment variables (`lambda_environment`), the ones
`videohook.config.Settings` reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

if TYPE_CHECKING:
    from infra.constructs.api import ApiLimits

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "config" / "default.json"
DEFAULT_LAYER_PATH = REPO_ROOT / "build" / "lambda-layer"
PROVIDERS = ("cometapi", "xai", "aimlapi", "sandbox")
# Every job's workflow execution times out after 24 h (infra/constructs/workflow.py): a job
# deadline must leave the last poll, the copy and the event some room before that.
MAX_JOB_DEADLINE_SECONDS = 23 * 3600
# SigV4 presigned URLs live at most 7 days.
MAX_DOWNLOAD_URL_TTL_SECONDS = 7 * 24 * 3600

# Older context keys -> their place in the file.
LEGACY_CONTEXT_KEYS: Mapping[str, tuple[str, ...]] = {
    "stack_name": ("stack_name",),
    "provider": ("provider",),
    "video_retention_days": ("video_retention_days",),
    "stage_rate_limit": ("api", "stage_rate_limit"),
    "stage_burst_limit": ("api", "stage_burst_limit"),
    "api_rate_limit": ("api", "key_rate_limit"),
    "api_burst_limit": ("api", "key_burst_limit"),
    "api_quota_per_day": ("api", "key_quota_per_day"),
}


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("not an e-mail address")
    return value


def _stack_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", value):
        raise ValueError("a CloudFormation stack name: a letter, then letters, digits and hyphens")
    return value


StackName = Annotated[str, AfterValidator(_stack_name)]
Email = Annotated[str, AfterValidator(_email)]
TagText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ConfigError(ValueError):
    """The configuration is invalid; the message names every bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiConfig(_Section):
    """API Gateway throttling: stage-wide, and per API key (the usage plan: each key is a tenant)."""

    stage_rate_limit: float = Field(default=50, gt=0, le=10_000, description="requests/s, all keys together")
    stage_burst_limit: int = Field(default=100, ge=1, le=5_000)
    key_rate_limit: float = Field(default=10, gt=0, le=10_000, description="requests/s per API key")
    key_burst_limit: int = Field(default=20, ge=1, le=5_000)
    key_quota_per_day: int = Field(default=10_000, ge=1, description="requests per API key per day")


class AlarmsConfig(_Section):
    """Thresholds of the CloudWatch alarms (docs/runbook.md) and who hears about them."""

    email: list[Email] = Field(
        default_factory=list, description="addresses subscribed to the ops topic (each confirms once)"
    )
    failed_job_rate_percent: float = Field(default=10, gt=0, le=100)
    failed_job_rate_min_jobs: int = Field(
        default=5,
        ge=1,
        description="finished jobs in 5 minutes below which the failed-job rate is not judged",
    )
    provider_error_rate_percent: float = Field(default=25, gt=0, le=100)
    provider_error_rate_min_requests: int = Field(default=10, ge=1)
    lambda_errors: int = Field(default=3, ge=1, description="errors of one function in 5 minutes")


class VideohookConfig(_Section):
    """One deployment (environment) of videohook."""

    stack_name: StackName = "Videohook"
    provider: Literal["cometapi", "xai", "aimlapi", "sandbox"] = Field(
        default="xai", description="provider of jobs that name none"
    )
    default_model: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] = Field(
        default="grok-imagine-video", description="model of jobs that name none"
    )
    job_deadline_seconds: int = Field(
        default=3600, ge=60, le=MAX_JOB_DEADLINE_SECONDS, description="a job not done by then expires"
    )
    video_retention_days: int = Field(
        default=30, ge=1, le=3650, description="S3 lifecycle: stored videos are deleted after this"
    )
    job_record_retention_days: int = Field(
        default=90, ge=1, le=3650, description="DynamoDB TTL: job records are deleted after this"
    )
    download_url_ttl_seconds: int = Field(
        default=3600, ge=60, le=MAX_DOWNLOAD_URL_TTL_SECONDS, description="lifetime of presigned video URLs"
    )
    allowed_webhook_schemes: list[Literal["https", "http"]] = Field(
        default_factory=lambda: ["https"], min_length=1, description="URL schemes accepted for webhook_url"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    snap_start: bool = Field(
        default=False,
        description="Lambda SnapStart on published versions of every function; invokers use an alias",
    )
    api: ApiConfig = Field(default_factory=ApiConfig)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    tags: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], TagText] = Field(
        default_factory=dict, description="tags on every resource of the stack"
    )
    # Build setting (context `layer_path`), never read from the file.
    layer_path: Path = Field(default=DEFAULT_LAYER_PATH, exclude=True)

    @model_validator(mode="after")
    def _records_outlive_videos(self) -> VideohookConfig:
        if self.job_record_retention_days < self.video_retention_days:
            raise ValueError(
                f"job_record_retention_days ({self.job_record_retention_days}) is shorter than "
                f"video_retention_days ({self.video_retention_days}): GET /v1/videos/{{id}} would "
                "forget jobs whose video still exists"
            )
        if len(set(self.allowed_webhook_schemes)) != len(self.allowed_webhook_schemes):
            raise ValueError("allowed_webhook_schemes lists a scheme twice")
        return self

    # ---- what the stack reads -------------------------------------------------------

    @property
    def api_limits(self) -> ApiLimits:
        from infra.constructs.api import ApiLimits  # aws_cdk: only when a stack is built

        return ApiLimits(**self.api.model_dump())

    def lambda_environment(self) -> dict[str, str]:
        """The configuration as every Lambda sees it (names read by videohook.config.Settings)."""
        return {
            "VIDEOHOOK_PROVIDER": self.provider,
            "VIDEOHOOK_DEFAULT_MODEL": self.default_model,
            "VIDEOHOOK_JOB_DEADLINE_SECONDS": str(self.job_deadline_seconds),
            "VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": str(self.download_url_ttl_seconds),
            "VIDEOHOOK_JOB_RECORD_RETENTION_DAYS": str(self.job_record_retention_days),
            "VIDEOHOOK_ALLOWED_WEBHOOK_SCHEMES": ",".join(self.allowed_webhook_schemes),
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }

    def operator_warnings(self) -> list[str]:
        """What an operator should know before deploying this configuration (`make synth` prints it)."""
        warnings = []
        if not self.alarms.email:
            warnings.append(
                "alarms.email is empty: every alarm notifies the ops topic, which then has no "
                "subscriber, so nobody is told when one fires. List addresses in alarms.email, or "
                "subscribe to the stack's OpsTopicArn after deploying (docs/deploy.md)."
            )
        return warnings

    # ---- loading --------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        layer_path: Path | None = None,
    ) -> VideohookConfig:
        """The file at `path` (or config/default.json, if present) over the defaults, then `overrides`.

        `overrides` are legacy context keys (`LEGACY_CONTEXT_KEYS`)."""
        source = str(path) if path is not None else _display(DEFAULT_CONFIG_FILE)
        data: dict[str, Any] = {}
        file = path if path is not None else DEFAULT_CONFIG_FILE
        if path is not None or file.is_file():
            data = _read_json(file, source)
        if "layer_path" in data:
            raise ConfigError(
                f"invalid configuration in {source}:\n  layer_path: a build setting, not part of the "
                "file: pass -c layer_path=<dir> (make synth uses build/lambda-layer)"
            )
        context_fields: dict[str, str] = {}
        for key, value in (overrides or {}).items():
            if value is None or value == "":
                continue
            location = LEGACY_CONTEXT_KEYS[key]
            target = data
            for part in location[:-1]:
                section = target.get(part)
                target[part] = dict(section) if isinstance(section, dict) else {}
                target = target[part]
            target[location[-1]] = value
            context_fields[".".join(location)] = key
        try:
            config = cls.model_validate(data)
        except ValidationError as error:
            raise ConfigError(_describe(error, source, context_fields)) from None
        if layer_path is not None:
            config = config.model_copy(update={"layer_path": layer_path})
        return config

    @classmethod
    def from_context(cls, node: Any) -> VideohookConfig:
        """The configuration a CDK app's context selects: `config` (file), legacy keys, `layer_path`."""
        name = node.try_get_context("config")
        path = _resolve(Path(str(name))) if name else None
        overrides = {key: node.try_get_context(key) for key in LEGACY_CONTEXT_KEYS}
        layer = node.try_get_context("layer_path")
        layer_path = _resolve(Path(str(layer))) if layer else DEFAULT_LAYER_PATH
        return cls.load(path, overrides=overrides, layer_path=layer_path)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _resolve(path: Path) -> Path:
    """Relative paths are relative to the working directory (the CDK CLI runs the app from the repo)."""
    return path if path.is_absolute() else (Path.cwd() / path).resolve()


def _read_json(path: Path, source: str) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {source} not found") from None
    except OSError as error:
        raise ConfigError(f"config file {source} is not readable: {error.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"config file {source} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {source} must hold a JSON object, not {type(data).__name__}")
    return data


def _describe(error: ValidationError, source: str, context_fields: Mapping[str, str]) -> str:
    lines = [f"invalid configuration in {source}:"]
    for problem in error.errors(include_url=False):
        location = [str(part) for part in problem["loc"]]
        key = ".".join(location) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        elif location and problem["type"] != "missing":
            message = f"{message} (got {json.dumps(problem['input'], default=str)})"
        origin = context_fields.get(key)
        where = f"{key} (from -c {origin})" if origin else key
        lines.append(f"  {where}: {message}" if location else f"  {message}")
    return "\n".join(lines)
