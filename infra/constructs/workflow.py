"""Workflow: the four step Lambdas and the Standard state machine that drives one job,
and the scheduled ReconcileSubmissions Lambda that finishes submits that died half-way.

    WaitForProvider (SecondsPath $.wait_seconds) -> PollProvider -> IsJobDone
      queued | running -> WaitForProvider
      succeeded        -> FinalizeVideo -> PublishEvent
      otherwise        -> PublishEvent
    PollProvider, FinalizeVideo  --Catch States.ALL ($.failure)--> RecordFailure -> PublishEvent
    PublishEvent -> Done
    PublishEvent publishes to SNS and EventBridge and starts the event's delivery execution
    (infra/constructs/delivery.py), which retries the webhook on its own schedule.

Only plain ASL (JSONPath, Wait/Task/Choice/Succeed, Retry/Catch): the synthesized
definition also runs locally on moto's Step Functions interpreter.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import acknowledge, ref, set_logical_id
from infra.constructs.delivery import Delivery
from infra.constructs.foundation import Foundation
from infra.constructs.state_machines import lambda_task, retry, standard_state_machine, wait_chosen_seconds
from infra.constructs.storage import INCOMING_KEY_PREFIX, Storage

# The copy errors that handlers.finalize_video raises only when a new attempt may succeed
# (videohook.copy_errors' errors with retryable=True); any other copy error fails the job.
RETRYABLE_COPY_ERRORS = ["VideoDownloadIncomplete", "VideoDownloadFailed", "VideoUploadFailed"]
# How Step Functions names the error of a Lambda whose runtime died (Lambda's errorType).
RUNTIME_DEATHS = ["Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"]
# How often ReconcileSubmissions runs; it acts on submits older than Settings.submission_grace_seconds.
RECONCILE_EVERY_MINUTES = 5
# The Comment of the state machine (its definition).
COMMENT = "videohook: wait for the provider, store the video, publish the event"


class Workflow(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, foundation: Foundation, *, delivery: Delivery
    ) -> None:
        super().__init__(scope, construct_id)
        factory, storage, notifications = foundation.factory, foundation.storage, foundation.notifications
        table = storage.jobs_table
        bucket = storage.video_bucket

        def function(construct_id: str, handler: str, description: str, **options: Any) -> lambda_.Function:
            """One of the workflow's functions: each reads and writes the jobs table."""
            created = factory.function(
                self, construct_id, handler=handler, description=description, **options
            )
            table.grant_read_write_data(created)
            return created

        self.poll_function = function(
            "PollProviderFunction",
            "handlers.poll_provider.handler",
            "videohook state PollProvider: ask the provider for the job's state",
        )
        notifications.provider_keys_secret.grant_read(self.poll_function)
        delivery.grant_emit(self.poll_function)  # video.running

        self.finalize_function = function(
            "FinalizeVideoFunction",
            "handlers.finalize_video.handler",
            "videohook state FinalizeVideo: stream the provider's video into S3",
            memory_size=1024,
            timeout=Duration.minutes(15),
        )
        bucket.grant_put(self.finalize_function)
        bucket.grant_read(self.finalize_function)
        # A provider's upload is moved from incoming/ to videos/: the move deletes its source.
        bucket.grant_delete(self.finalize_function, f"{INCOMING_KEY_PREFIX}*")
        notifications.provider_keys_secret.grant_read(self.finalize_function)

        self.fail_function = function(
            "FailJobFunction",
            "handlers.fail_job.handler",
            "videohook state RecordFailure: record a step's uncaught error on the job",
        )

        self.publish_function = function(
            "PublishEventFunction",
            "handlers.publish_event.handler",
            "videohook state PublishEvent: publish the job's event to SNS",
        )
        # The event carries a presigned download URL of the video, signed by this role.
        bucket.grant_read(self.publish_function)
        delivery.grant_emit(self.publish_function)

        # Every few minutes: submits that died between the provider's accept and the
        # execution's start are resumed (or failed when the provider's answer was lost).
        self.reconcile_function = function(
            "ReconcileSubmissionsFunction",
            "handlers.reconcile_submissions.handler",
            "videohook: resume or fail submits that died half-way (scheduled)",
        )
        delivery.grant_emit(self.reconcile_function)  # video.queued of a resumed job
        self.reconcile_schedule = events.Rule(
            self,
            "ReconcileSubmissionsSchedule",
            description="videohook: run ReconcileSubmissions",
            schedule=events.Schedule.rate(Duration.minutes(RECONCILE_EVERY_MINUTES)),
            targets=[targets.LambdaFunction(factory.invoked(self.reconcile_function), retry_attempts=2)],
        )
        set_logical_id(self.reconcile_schedule, "ReconcileSubmissionsSchedule")

        self._acknowledge_grants(storage)

        # ---- states ------------------------------------------------------------
        wait = wait_chosen_seconds(
            self, "WaitForProvider", comment="The provider's job is still queued or running"
        )
        # The steps that pass their whole input to their function: (state, function, contract).
        poll, finalize, publish = (
            lambda_task(self, state_name, factory.invoked(function), comment=contract)
            for state_name, function, contract in (
                (
                    "PollProvider",
                    self.poll_function,
                    "WorkflowInput {job_id, wait_seconds} -> PollResult {job_id, status, wait_seconds}",
                ),
                ("FinalizeVideo", self.finalize_function, "PollResult -> FinalizeResult {job_id, status}"),
                ("PublishEvent", self.publish_function, "{job_id, ...} -> {job_id, event_id, event}"),
            )
        )
        is_done = sfn.Choice(self, "IsJobDone")
        record_failure = lambda_task(
            self,
            "RecordFailure",
            factory.invoked(self.fail_function),
            payload=sfn.TaskInput.from_object(
                {"job_id": sfn.JsonPath.string_at("$.job_id"), "error": sfn.JsonPath.object_at("$.failure")}
            ),
            comment="{job_id, error: {Error, Cause}} -> FinalizeResult",
        )
        done = sfn.Succeed(self, "Done")

        catch_all = {"errors": [sfn.Errors.ALL], "result_path": "$.failure"}
        poll.add_catch(record_failure, **catch_all)
        finalize.add_catch(record_failure, **catch_all)

        # A truncated or failed copy is retried from scratch (the aborted upload leaves nothing);
        # after the last attempt the Catch records the job as failed with the copy error's code.
        # A killed runtime (timeout, out of memory, crash) runs no cleanup: the next attempt
        # aborts the multipart upload it left open (multipart_upload) and starts again.
        for errors, attempts in ((RETRYABLE_COPY_ERRORS, 3), (RUNTIME_DEATHS, 2)):
            retry(finalize, errors, interval=Duration.seconds(10), max_attempts=attempts)
        finalize.next(publish)
        record_failure.next(publish)
        publish.next(done)
        is_done.when(
            sfn.Condition.or_(
                sfn.Condition.string_equals("$.status", "queued"),
                sfn.Condition.string_equals("$.status", "running"),
            ),
            wait,
        ).when(sfn.Condition.string_equals("$.status", "succeeded"), finalize).otherwise(publish)
        definition = wait.next(poll).next(is_done)

        timeout = Duration.hours(24)  # a safety net only: the poll step enforces the job deadline itself
        self.state_machine, self.log_group = standard_state_machine(
            self, "StateMachine", definition, log_name="Workflow", comment=COMMENT, timeout=timeout
        )
        self.state_machine.grant_start_execution(self.reconcile_function)
        self.reconcile_function.add_environment(
            "VIDEOHOOK_STATE_MACHINE_ARN", self.state_machine.state_machine_arn
        )
        self._acknowledge_state_machine_role()

    def _acknowledge_grants(self, storage: Storage) -> None:
        table = ref(storage.jobs_table)
        bucket = ref(storage.video_bucket)
        index_reason = (
            "grant_*_data on the jobs table includes its indexes (<table>/index/*); "
            "its indexes are by_tenant and by_submission, the table itself is named exactly."
        )
        for function in (
            self.poll_function,
            self.finalize_function,
            self.fail_function,
            self.publish_function,
            self.reconcile_function,
        ):
            acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{table}/index/*]", index_reason)

        objects_reason = (
            "Object-level S3 actions need an object ARN: grants are scoped to the video bucket's "
            "objects (<bucket>/*), not to other buckets."
        )
        read_actions = ("s3:GetObject*", "s3:GetBucket*", "s3:List*")
        read_reason = (
            "Bucket.grant_read's action groups (Get*/List* on this one bucket only): read-only, "
            "needed to read back and presign the stored video."
        )
        for function in (self.finalize_function, self.publish_function):
            acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{bucket}/*]", objects_reason)
            for action in read_actions:
                acknowledge(function.role, f"AwsSolutions-IAM5[Action::{action}]", read_reason)
        acknowledge(
            self.finalize_function.role,
            f"AwsSolutions-IAM5[Resource::{bucket}/{INCOMING_KEY_PREFIX}*]",
            "Zero-copy: FinalizeVideo moves a provider's upload out of incoming/<tenant>/<job>.mp4 "
            "(CopyObject, then DeleteObject): deletes are granted on the incoming/ prefix only.",
        )
        acknowledge(
            self.finalize_function.role,
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
            "Bucket.grant_delete's s3:DeleteObject* (DeleteObject, DeleteObjectVersion, "
            "DeleteObjectTagging...), on the incoming/ prefix only.",
        )
        acknowledge(
            self.finalize_function.role,
            "AwsSolutions-IAM5[Action::s3:Abort*]",
            "Bucket.grant_put's s3:Abort* = s3:AbortMultipartUpload, needed to clean up a failed "
            "multipart copy of the video (video bucket objects only).",
        )

    def _acknowledge_state_machine_role(self) -> None:
        role = self.state_machine.role
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions vended logging (logs:CreateLogDelivery, logs:*LogDelivery*, "
            "logs:PutResourcePolicy, logs:DescribeResourcePolicies, logs:DescribeLogGroups) and X-Ray "
            "(xray:PutTraceSegments, xray:PutTelemetryRecords, xray:GetSampling*) "
            "support no resource scoping.",
        )
        for function in (
            self.poll_function,
            self.finalize_function,
            self.fail_function,
            self.publish_function,
        ):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{ref(function)}:*]",
                f"LambdaInvoke grants lambda:InvokeFunction on {function.node.id} and its versions/aliases "
                "(<function arn>:*); only this workflow's own functions are invocable.",
            )
