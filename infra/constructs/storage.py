"""Storage: the jobs table, the idempotency table and the video bucket (with its access-log bucket)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs import acknowledge, set_logical_id, table

VIDEO_KEY_PREFIX = "videos/"  # Settings.video_key_prefix
UPLOAD_KEY_PREFIX = "uploads/"  # Settings.upload_key_prefix: images PUT through POST /v1/uploads
# Settings.incoming_key_prefix: where a provider PUTs a finished video (zero-copy); FinalizeVideo
# moves it under videos/ once verified, so a failed job never leaves a video under videos/.
INCOMING_KEY_PREFIX = "incoming/"
INCOMING_RETENTION_DAYS = 1
UPLOAD_RETENTION_DAYS = 1


def _private_bucket(
    scope: Construct, logical_id: str, lifecycle_rules: list[s3.LifecycleRule], **options: Any
) -> s3.Bucket:
    """A retained, unversioned bucket: no public access, SSE-S3, TLS only, ACLs disabled."""
    bucket = s3.Bucket(
        scope,
        logical_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=False,
        lifecycle_rules=lifecycle_rules,
        removal_policy=RemovalPolicy.RETAIN,
        **options,
    )
    set_logical_id(bucket, logical_id)
    return bucket


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, video_retention_days: int) -> None:
        super().__init__(scope, construct_id)

        # One item per job (`id`), listed per tenant by creation time; `expires_at`
        # (epoch seconds) lets DynamoDB drop old jobs.
        self.jobs_table = table(
            self,
            "JobsTable",
            partition_key="id",
            ttl_attribute="expires_at",
        )
        self.jobs_table.add_global_secondary_index(
            index_name="by_tenant",
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Sparse: only jobs whose submit has not finished carry `submission`; the reconciler
        # queries it for submits that died half-way (videohook.job_store.SUBMISSION_INDEX).
        self.jobs_table.add_global_secondary_index(
            index_name="by_submission",
            partition_key=dynamodb.Attribute(name="submission", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )

        # Powertools idempotency records (key `id`, TTL `expiration`): short-lived, recreatable.
        self.idempotency_table = table(
            self,
            "IdempotencyTable",
            partition_key="id",
            ttl_attribute="expiration",
            removal_policy=RemovalPolicy.DESTROY,
        )

        # Server access logs of the video bucket (cdk-nag S1). S3 log delivery
        # only supports SSE-S3 on the target bucket.
        self.access_logs_bucket = _private_bucket(
            self,
            "AccessLogsBucket",
            [s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This is the server-access-log target of the video bucket; logging it into itself "
            "would loop and a third bucket adds no audit value.",
        )

        self.video_bucket = _private_bucket(
            self,
            "VideoBucket",
            [
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-videos",
                    prefix=VIDEO_KEY_PREFIX,
                    expiration=Duration.days(video_retention_days),
                ),
                # A provider's upload of a video is moved under videos/ at once; what stays
                # here belongs to a job that failed (e.g. a submit that timed out).
                s3.LifecycleRule(
                    id="expire-incoming-videos",
                    prefix=INCOMING_KEY_PREFIX,
                    expiration=Duration.days(INCOMING_RETENTION_DAYS),
                ),
                # An upload is only needed until the provider has read it.
                s3.LifecycleRule(
                    id="expire-uploads",
                    prefix=UPLOAD_KEY_PREFIX,
                    expiration=Duration.days(UPLOAD_RETENTION_DAYS),
                ),
            ],
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="video-bucket/",
        )
