"""Runtime configuration: one typed object, read from the environment.

In the cloud the CDK stack sets these variables on every Lambda; locally the
dev stack sets the same ones, resolved from the same synthesized template.
Secrets never live here: only the ARNs of the Secrets Manager secrets.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field

from videohook.models import ProviderName

PUBLIC_BASE_URLS = {
    ProviderName.COMETAPI: "https://api.cometapi.com",
    ProviderName.XAI: "https://api.x.ai",
    ProviderName.AIMLAPI: "https://api.aimlapi.com",
    ProviderName.SANDBOX: "http://127.0.0.1:8788",
}


PROVIDER_TIMEOUT_SECONDS = 30.0
PROVIDER_CONNECT_TIMEOUT_SECONDS = 10.0
MIN_PROVIDER_TIMEOUT_SECONDS = 2.0
# Longer than any submit can run in the local stack, whose Lambdas have no timeout.
MIN_SUBMISSION_GRACE_SECONDS = 10.0
# Room for a submit and a first poll, each waiting up to a few provider timeouts: a job never
# expires before its provider could have answered, however small the time scale.
MIN_JOB_DEADLINE_SECONDS = 10.0


class Settings(BaseModel):
    provider: ProviderName = ProviderName.SANDBOX
    base_urls: dict[ProviderName, str] = Field(default_factory=lambda: dict(PUBLIC_BASE_URLS))
    # Which real wire contract the sandbox provider is spoken to with.
    sandbox_contract: ProviderName = ProviderName.XAI
    provider_keys_secret_arn: str | None = None
    webhook_secret_arn: str | None = None

    jobs_table: str = "videohook-jobs"
    idempotency_table: str = "videohook-idempotency"
    video_bucket: str = "videohook-videos"
    topic_arn: str = ""
    state_machine_arn: str = ""
    # Webhook delivery: its own state machine, attempt log, dead-letter queue; events also go to EventBridge.
    delivery_state_machine_arn: str = ""
    deliveries_table: str = "videohook-deliveries"
    webhook_dlq_url: str = ""
    event_bus: str = "default"

    # Multiplies every duration of the workflow in the local stack (1 in the cloud).
    time_scale: float = Field(default=1.0, gt=0)
    allow_loopback_webhooks: bool = False
    allowed_webhook_schemes: tuple[str, ...] = ("https",)
    job_deadline_seconds: int = Field(default=3600, ge=60)
    download_url_ttl_seconds: int = Field(default=3600, ge=60, le=604800)
    default_model: str = "grok-imagine-video"
    video_key_prefix: str = "videos/"
    upload_key_prefix: str = "uploads/"
    incoming_key_prefix: str = "incoming/"
    upload_url_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    # How long an Idempotency-Key is remembered (Powertools idempotency record TTL).
    idempotency_ttl_seconds: int = Field(default=86400, ge=60)
    # A submit still unfinished after this long died with its Lambda (the API function's
    # timeout is 29 s): the reconciler resumes or fails it.
    submission_grace_seconds: int = Field(default=300, ge=60)

    @property
    def provider_timeout_seconds(self) -> float:
        """How long to wait for a provider's answer: scaled like every duration of the workflow,
        but never so short that a busy machine's ordinary answer counts as no answer."""
        return max(MIN_PROVIDER_TIMEOUT_SECONDS, PROVIDER_TIMEOUT_SECONDS * self.time_scale)

    @property
    def provider_connect_timeout_seconds(self) -> float:
        return max(MIN_PROVIDER_TIMEOUT_SECONDS, PROVIDER_CONNECT_TIMEOUT_SECONDS * self.time_scale)

    @property
    def job_deadline(self) -> float:
        """`job_deadline_seconds` on this stack's clock, at least MIN_JOB_DEADLINE_SECONDS."""
        return max(MIN_JOB_DEADLINE_SECONDS, self.job_deadline_seconds * self.time_scale)

    @property
    def submission_grace(self) -> float:
        """`submission_grace_seconds` on this stack's clock, at least MIN_SUBMISSION_GRACE_SECONDS."""
        return max(MIN_SUBMISSION_GRACE_SECONDS, self.submission_grace_seconds * self.time_scale)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base_urls = dict(PUBLIC_BASE_URLS)
        for provider in ProviderName:
            override = env.get(f"{provider.value.upper()}_BASE_URL")
            if override:
                base_urls[provider] = override.rstrip("/")
        values: dict[str, object] = {"base_urls": base_urls}
        mapping = {
            "VIDEOHOOK_PROVIDER": "provider",
            "VIDEOHOOK_SANDBOX_CONTRACT": "sandbox_contract",
            "VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN": "provider_keys_secret_arn",
            "VIDEOHOOK_WEBHOOK_SECRET_ARN": "webhook_secret_arn",
            "VIDEOHOOK_JOBS_TABLE": "jobs_table",
            "VIDEOHOOK_IDEMPOTENCY_TABLE": "idempotency_table",
            "VIDEOHOOK_VIDEO_BUCKET": "video_bucket",
            "VIDEOHOOK_TOPIC_ARN": "topic_arn",
            "VIDEOHOOK_STATE_MACHINE_ARN": "state_machine_arn",
            "VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN": "delivery_state_machine_arn",
            "VIDEOHOOK_DELIVERIES_TABLE": "deliveries_table",
            "VIDEOHOOK_WEBHOOK_DLQ_URL": "webhook_dlq_url",
            "VIDEOHOOK_EVENT_BUS": "event_bus",
            "VIDEOHOOK_TIME_SCALE": "time_scale",
            "VIDEOHOOK_JOB_DEADLINE_SECONDS": "job_deadline_seconds",
            "VIDEOHOOK_DOWNLOAD_URL_TTL_SECONDS": "download_url_ttl_seconds",
            "VIDEOHOOK_DEFAULT_MODEL": "default_model",
            "VIDEOHOOK_UPLOAD_URL_TTL_SECONDS": "upload_url_ttl_seconds",
            "VIDEOHOOK_IDEMPOTENCY_TTL_SECONDS": "idempotency_ttl_seconds",
            "VIDEOHOOK_SUBMISSION_GRACE_SECONDS": "submission_grace_seconds",
        }
        for var, field in mapping.items():
            if env.get(var):
                values[field] = env[var]
        values["allow_loopback_webhooks"] = env.get("VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS", "") == "1"
        if env.get("VIDEOHOOK_ALLOWED_WEBHOOK_SCHEMES"):
            schemes = env["VIDEOHOOK_ALLOWED_WEBHOOK_SCHEMES"].split(",")
            values["allowed_webhook_schemes"] = tuple(s.strip() for s in schemes if s.strip())
        return cls.model_validate(values)

    def base_url(self, provider: ProviderName) -> str:
        return self.base_urls[provider]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process (cached like any Lambda-global); tests call `cache_clear`."""
    return Settings.from_env()
