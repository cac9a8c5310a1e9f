"""Clients and secrets of one Lambda process, created lazily and reused across invocations."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from videohook import telemetry
from videohook.config import Settings, get_settings
from videohook.models import ProviderName

if TYPE_CHECKING:
    import httpx

    from videohook.job_history import JobHistory
    from videohook.job_store import JobStore
    from videohook.providers.base import ProviderAdapter
    from videohook.webhook_delivery import DeliveryLog

SECRET_MAX_AGE_SECONDS = 300


class ProviderNotConfigured(Exception):
    def __init__(self, provider: ProviderName) -> None:
        super().__init__(
            f"no API key is configured for provider '{provider.value}': the deployment's ProviderKeys "
            f'secret has none; put one in as {{"{provider.value}": "<key>"}} (docs/deploy.md, step 6)'
        )
        self.provider = provider


def _boto_client(service: str, **options: Any) -> cached_property[Any]:
    """A Runtime attribute holding the service's client, created at its first use."""
    return cached_property(lambda runtime: runtime._client(service, **options))


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def _config(**options: Any) -> Any:
        from botocore.config import Config  # at the first client, not at import (cold start)

        # Standard retries: throttling and 5xx are retried with jittered exponential backoff,
        # 8 retries after the first attempt. (Adaptive mode would also rate-limit the client
        # for a while after one throttle: a short-lived Lambda only pays that in latency.)
        # boto3 honours AWS_ENDPOINT_URL, which the local stack sets to moto's server, so the
        # same code talks to both worlds.
        return Config(
            retries={"mode": "standard", "max_attempts": 8}, s3={"addressing_style": "path"}, **options
        )

    def _client(self, service: str, **options: Any) -> Any:
        import boto3  # at the first client, not at import (cold start)

        return boto3.client(service, config=self._config(**options))

    def _table(self, name: str) -> Any:
        """A DynamoDB Table resource with the same retry policy as every client."""
        import boto3  # at the first table, not at import (cold start)

        return boto3.resource("dynamodb", config=self._config()).Table(name)

    # Presigned URLs must be SigV4: S3 refuses SigV2 (botocore's presign default) on new buckets.
    s3 = _boto_client("s3", signature_version="s3v4")
    sfn = _boto_client("stepfunctions")
    sns = _boto_client("sns")
    sqs = _boto_client("sqs")
    events = _boto_client("events")

    @cached_property
    def deliveries(self) -> DeliveryLog:
        from videohook.webhook_delivery import DeliveryLog  # deliveries only (cold start)

        return DeliveryLog(self._table(self.settings.deliveries_table))

    @cached_property
    def store(self) -> JobStore:
        from videohook.job_store import JobStore  # at first use (cold start)

        return JobStore(self._table(self.settings.jobs_table))

    @cached_property
    def idempotency_store(self) -> Any:
        """Powertools' DynamoDB persistence layer on the IdempotencyTable (submits only)."""
        # Submits only (cold start).
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(
            table_name=self.settings.idempotency_table, boto3_client=self._client("dynamodb")
        )

    @cached_property
    def http(self) -> httpx.Client:
        import httpx  # provider and webhook calls only (cold start)

        telemetry.trace_http_clients()  # before the client: the patch replaces httpx.Client
        return httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False)

    @cached_property
    def _secrets(self) -> Any:
        """Powertools' Secrets Manager provider (it caches values for max_age), on our retry policy."""
        from aws_lambda_powertools.utilities.parameters import SecretsProvider  # at first secret (cold start)

        return SecretsProvider(boto3_client=self._client("secretsmanager"))

    def _secret(self, arn: str | None, *, json: bool) -> Any:
        if not arn:
            return {} if json else ""
        return self._secrets.get(arn, transform="json" if json else None, max_age=SECRET_MAX_AGE_SECONDS)

    def provider_key(self, provider: ProviderName) -> str:
        keys = self._secret(self.settings.provider_keys_secret_arn, json=True) or {}
        key = keys.get(provider.value) or ""
        if not key:
            raise ProviderNotConfigured(provider)
        return key

    def webhook_secret(self) -> str:
        return self._secret(self.settings.webhook_secret_arn, json=False)

    def adapter(self, provider: ProviderName) -> ProviderAdapter:
        from videohook.providers import build_adapter  # every adapter: provider calls only (cold start)

        return build_adapter(
            provider, settings=self.settings, api_key=self.provider_key(provider), client=self.http
        )

    def warm(self) -> None:
        """Create every AWS client and table of the process now, as their first use would
        (before a SnapStart snapshot: videohook.snap_start). Makes no call."""
        clients = ("s3", "sfn", "sns", "sqs", "events", "_secrets")
        tables = ("store", "deliveries", "history", "idempotency_store")
        for name in clients + tables:
            getattr(self, name)

    def forget_connections(self) -> None:
        """Close the HTTP client and empty the secrets' cache, if any (after a SnapStart restore:
        no two instances restored from one snapshot share a connection or a cached secret)."""
        if "http" in vars(self):
            self.http.close()
            del self.http
        if "_secrets" in vars(self):
            self._secrets.clear_cache()

    @cached_property
    def history(self) -> JobHistory:
        """Recent completion times per kind of job (items `history#<kind>` of the jobs table)."""
        from videohook.job_history import JobHistory  # the poll step only (cold start)

        return JobHistory(self._table(self.settings.jobs_table))

    def video_key(self, tenant_id: str, job_id: str) -> str:
        """Where a job's video is stored in the video bucket."""
        return f"{self.settings.video_key_prefix}{tenant_id}/{job_id}.mp4"

    def incoming_video_key(self, tenant_id: str, job_id: str) -> str:
        """Where a provider PUTs a job's finished video (zero-copy), until FinalizeVideo moves it."""
        return f"{self.settings.incoming_key_prefix}{tenant_id}/{job_id}.mp4"

    def presigned_video_upload_url(self, key: str, *, expires_in: int) -> str:
        """A presigned PUT of exactly `key` in the video bucket, for a provider that uploads
        the finished video itself (`output.upload_url`)."""
        return self.s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.settings.video_bucket, "Key": key},
            ExpiresIn=max(60, min(int(expires_in), 604800)),
        )

    def presigned_download_url(self, bucket: str, key: str) -> str:
        return self.s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=self.settings.download_url_ttl_seconds,
        )


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime; rebuilt when the settings object changes (tests clear it)."""
    global _runtime
    settings = get_settings()
    if _runtime is None or _runtime.settings is not settings:
        _runtime = Runtime(settings)
    return _runtime
