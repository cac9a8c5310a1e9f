"""Api: the REST API (API key + usage plan), its access logs and the api Lambda behind it.

    POST /v1/videos               api key
    GET  /v1/videos               api key
    GET  /v1/videos/{id}          api key
    POST /v1/videos/{id}/cancel   api key
    POST /v1/uploads              api key
    GET  /v1/openapi.json         public (the API's own OpenAPI document)

Every method is a Lambda proxy integration to `handlers.api.handler`, which does
all body validation (the pydantic models are the one source of truth, and the
local stack answers exactly like the cloud). Each API
key is a tenant (the handler reads the key's id from the request context).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import LOG_RETENTION, acknowledge, ref, set_logical_id
from infra.constructs.foundation import Foundation
from infra.constructs.storage import INCOMING_KEY_PREFIX, UPLOAD_KEY_PREFIX, Storage


@dataclass(frozen=True)
class ApiLimits:
    """Stage-wide throttling and the per-key usage plan (context keys in infra.stack)."""

    stage_rate_limit: float = 50
    stage_burst_limit: int = 100
    key_rate_limit: float = 10
    key_burst_limit: int = 20
    key_quota_per_day: int = 10_000


def _error_template(code: str, message: str) -> dict[str, str]:
    """A gateway response body in the API's ErrorResponse shape (static: no unescaped $context)."""
    return {"application/json": json.dumps({"error": {"code": code, "message": message}})}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        foundation: Foundation,
        *,
        state_machine: sfn.StateMachine,
        limits: ApiLimits,
    ) -> None:
        super().__init__(scope, construct_id)
        storage = foundation.storage

        self.function = foundation.factory.function(
            self,
            "ApiFunction",
            handler="handlers.api.handler",
            description="videohook REST API: submit and read video jobs",
            memory_size=512,
            timeout=Duration.seconds(29),
            environment={
                "VIDEOHOOK_STATE_MACHINE_ARN": state_machine.state_machine_arn,
                "VIDEOHOOK_IDEMPOTENCY_TABLE": storage.idempotency_table.table_name,
            },
        )
        storage.jobs_table.grant_read_write_data(self.function)
        storage.idempotency_table.grant_read_write_data(self.function)
        storage.video_bucket.grant_read(self.function)  # presigned GET of finished videos and uploads
        # Presigned PUTs of POST /v1/uploads are signed by this role: put on the uploads prefix only.
        storage.video_bucket.grant_put(self.function, f"{UPLOAD_KEY_PREFIX}*")
        # Zero-copy: submit hands providers that can upload a presigned PUT of the job's incoming key.
        storage.video_bucket.grant_put(self.function, f"{INCOMING_KEY_PREFIX}*")
        foundation.notifications.provider_keys_secret.grant_read(self.function)
        state_machine.grant_start_execution(self.function)
        # Cancel stops the job's execution (the second, `<id>-canceled`, is a StartExecution).
        state_machine.grant_execution(self.function, "states:StopExecution")
        self._acknowledge_grants(storage, state_machine)

        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="videohook: webhook-style wrapper around async video generation APIs",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_method_options=apigw.MethodOptions(api_key_required=True),
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            # Execution logging (APIG6) needs the account-level API Gateway CloudWatch role.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies may carry prompts and webhook URLs
                throttling_rate_limit=limits.stage_rate_limit,
                throttling_burst_limit=limits.stage_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        set_logical_id(self.rest_api, "RestApi")
        # The stack outputs the URL once, as ApiUrl; drop RestApi's own duplicate Endpoint output.
        self.rest_api.node.try_remove_child("Endpoint")

        invoked = foundation.factory.invoked(self.function)
        integration = apigw.LambdaIntegration(invoked, proxy=True, allow_test_invoke=False)
        # Parameters only: bodies are validated by the api Lambda, field by field, so that
        # a bad body gets the same {"error": {code, message, field}} answer everywhere.
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=False, validate_request_parameters=True
        )

        v1 = self.rest_api.root.add_resource("v1")
        videos = v1.add_resource("videos")
        videos.add_method(
            "POST",
            integration,
            request_validator=validator,
        )
        videos.add_method("GET", integration)
        job = videos.add_resource("{id}")
        job.add_method("GET", integration)
        job.add_resource("cancel").add_method("POST", integration)
        job.add_resource("deliveries").add_method("GET", integration)
        job.add_resource("redeliver").add_method("POST", integration)
        v1.add_resource("uploads").add_method("POST", integration, request_validator=validator)
        v1.add_resource("openapi.json").add_method(
            "GET", integration, api_key_required=False, authorization_type=apigw.AuthorizationType.NONE
        )

        for response_id, response_type, status, code, message in (
            (
                "InvalidApiKey",
                apigw.ResponseType.INVALID_API_KEY,
                "403",
                "forbidden",
                "a valid x-api-key header is required",
            ),
            (
                "MissingRoute",
                apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
                "404",
                "not_found",
                "no such route",
            ),
            ("Throttled", apigw.ResponseType.THROTTLED, "429", "throttled", "too many requests"),
            (
                "RequestTooLarge",
                apigw.ResponseType.REQUEST_TOO_LARGE,
                "413",
                "request_too_large",
                "request bodies are limited to 10 MB; send large images through POST /v1/uploads",
            ),
            (
                # Also what a body too large for Lambda's 6 MB invocation payload gets.
                "IntegrationFailure",
                apigw.ResponseType.INTEGRATION_FAILURE,
                "502",
                "integration_failure",
                "the request could not be processed (bodies must stay under 6 MB: send large images "
                "through POST /v1/uploads)",
            ),
            (
                "QuotaExceeded",
                apigw.ResponseType.QUOTA_EXCEEDED,
                "429",
                "quota_exceeded",
                "the API key's daily quota is used up",
            ),
        ):
            self.rest_api.add_gateway_response(
                response_id, type=response_type, status_code=status, templates=_error_template(code, message)
            )

        # One key to start with; every further key (= tenant) is added to this plan.
        self.api_key = self.rest_api.add_api_key("ApiKey", description="videohook default tenant")
        set_logical_id(self.api_key, "ApiKey")
        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            description="videohook per-key throttling and daily quota",
            throttle=apigw.ThrottleSettings(
                rate_limit=limits.key_rate_limit, burst_limit=limits.key_burst_limit
            ),
            quota=apigw.QuotaSettings(limit=limits.key_quota_per_day, period=apigw.Period.DAY),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        self.usage_plan.add_api_key(self.api_key)
        set_logical_id(self.usage_plan, "UsagePlan")

        self._acknowledge_api()

    def _acknowledge_grants(self, storage: Storage, state_machine: sfn.StateMachine) -> None:
        role = self.function.role
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{ref(storage.jobs_table)}/index/*]",
            "grant_read_write_data on the jobs table includes its indexes; the api lists a tenant's "
            "jobs through the by_tenant index.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{ref(storage.video_bucket)}/*]",
            "The api presigns GET URLs of finished videos and of uploads (for the provider): "
            "s3:GetObject* on the video bucket's objects only.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{ref(storage.video_bucket)}/{UPLOAD_KEY_PREFIX}*]",
            "POST /v1/uploads presigns S3 PUTs signed by this role: s3:PutObject on the uploads/ prefix "
            "of the video bucket only (each object key is uploads/<tenant>/<upload id>).",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{ref(storage.video_bucket)}/{INCOMING_KEY_PREFIX}*]",
            "Zero-copy: submit presigns the S3 PUT that a provider uploads the finished video with, "
            "signed by this role: s3:PutObject on the incoming/ prefix of the video bucket only.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "Bucket.grant_put's s3:Abort* = s3:AbortMultipartUpload, on the uploads/ prefix only "
            "(a presigned upload may be abandoned).",
        )
        # How cdk-nag names grant_execution's resource: the machine's name is the ARN's 7th part.
        machine = Stack.of(state_machine).resolve(state_machine.node.default_child.logical_id)
        machine_name = json.dumps(
            {"Fn::Select": [6, {"Fn::Split": [":", {"Ref": machine}]}]}, separators=(",", ":")
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
            f"execution:{machine_name}:*]",
            "Cancel stops the job's execution of this one state machine: states:StopExecution on "
            "its executions (<machine>:*); execution names are job ids, known only at run time.",
        )
        for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*"):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "Bucket.grant_read's action groups, on the video bucket only: "
                "read-only access for presigning.",
            )

    def _acknowledge_api(self) -> None:
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG2",
            "Parameters are validated by API Gateway; bodies by the api Lambda against the pydantic "
            "models that also generate the OpenAPI document, so every bad body gets a field-level "
            "error and the local stack answers exactly like the cloud.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "Regional API protected by API keys with per-key throttling and daily quotas plus stage "
            "throttling; a WAF web ACL is attached centrally (Firewall Manager) "
            "where an account requires it.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG4",
            "Callers are machine clients authenticated by API key (each key is a tenant, enforced by the "
            "usage plan); GET /v1/openapi.json is the public API description. No end-user identities exist.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "No Cognito user pool: callers are machine clients identified by their API key (see APIG4).",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway CloudWatch role uses the AWS managed policy made for exactly "
            "this purpose (needed for execution logging, APIG6).",
        )
