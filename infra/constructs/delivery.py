"""Delivery: webhook attempts on a schedule, their log, and the dead-letter queue.

    AttemptDelivery -> DeliveryOutcome
      retry     -> WaitBeforeRetry (SecondsPath $.wait_seconds) -> AttemptDelivery
      otherwise -> Delivered (Succeed)

One execution per event, named after the event id: StartExecution with the same
name and input is idempotent, so an event is never delivered twice by two runs.
The schedule (immediately, 5 s, 5 min, ... 24 h: about three days) lives in
`videohook.webhook_delivery`; the state machine only waits, so no Lambda sleeps.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import acknowledge, ref, set_logical_id, table
from infra.constructs.foundation import Foundation
from infra.constructs.state_machines import lambda_task, retry, standard_state_machine, wait_chosen_seconds
from infra.constructs.storage import Storage

# The Comment of the state machine (its definition).
COMMENT = "videohook: deliver one event to the caller's webhook on the retry schedule"


class Delivery(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, foundation: Foundation, *, event_bus_name: str = "default"
    ) -> None:
        super().__init__(scope, construct_id)
        factory, storage, notifications = foundation.factory, foundation.storage, foundation.notifications
        self.notifications = notifications
        self.event_bus = events.EventBus.from_event_bus_name(self, "EventBus", event_bus_name)

        # Attempts (pk = job id) and disabled webhook URLs (pk = tenant#<id>).
        self.table = table(
            self,
            "DeliveriesTable",
            partition_key="pk",
            sort_key="sk",
            ttl_attribute="expires_at",
        )

        self.dead_letter_queue = sqs.Queue(
            self,
            "WebhookDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        set_logical_id(self.dead_letter_queue, "WebhookDeadLetterQueue")
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of webhook deliveries; "
            "operators read it and redrive.",
        )

        self.function = factory.function(
            self,
            "DeliverWebhookFunction",
            handler="handlers.deliver_webhook.handler",
            description="videohook state AttemptDelivery: one signed POST, logged; decides the next wait",
            environment={
                "VIDEOHOOK_DELIVERIES_TABLE": self.table.table_name,
                "VIDEOHOOK_WEBHOOK_DLQ_URL": self.dead_letter_queue.queue_url,
            },
        )
        storage.jobs_table.grant_read_data(self.function)
        self.table.grant_read_write_data(self.function)
        self.dead_letter_queue.grant_send_messages(self.function)
        notifications.webhook_secret.grant_read(self.function)

        attempt = lambda_task(
            self,
            "AttemptDelivery",
            factory.invoked(self.function),
            comment="DeliveryRequest {job_id, event_id, event, attempt} -> DeliveryStep {..., outcome}",
        )
        # A crashed attempt (a bug, not the receiver) is retried a few times before the execution fails.
        retry(attempt, [sfn.Errors.TASKS_FAILED], interval=Duration.seconds(5), max_attempts=3)
        wait = wait_chosen_seconds(
            self, "WaitBeforeRetry", comment="The retry schedule's next wait (with jitter and Retry-After)"
        )
        outcome = sfn.Choice(self, "DeliveryOutcome")
        done = sfn.Succeed(self, "Delivered", comment="delivered, gone (410), skipped, or dead-lettered")
        definition = attempt.next(
            outcome.when(sfn.Condition.string_equals("$.outcome", "retry"), wait.next(attempt)).otherwise(
                done
            )
        )

        timeout = Duration.days(4)  # the schedule adds up to about 3.2 days
        self.state_machine, self.log_group = standard_state_machine(
            self, "DeliveryStateMachine", definition, log_name="Delivery", comment=COMMENT, timeout=timeout
        )
        self._acknowledge(storage)

    def grant_emit(self, function: lambda_.Function) -> None:
        """Let `function` emit job events: SNS, EventBridge, and starting their delivery."""
        self.notifications.topic.grant_publish(function)
        self.event_bus.grant_put_events_to(function)
        self.state_machine.grant_start_execution(function)
        function.add_environment("VIDEOHOOK_DELIVERY_STATE_MACHINE_ARN", self.state_machine.state_machine_arn)
        function.add_environment("VIDEOHOOK_EVENT_BUS", self.event_bus.event_bus_name)

    def grant_read_log(self, function: lambda_.Function) -> None:
        """Let `function` read the delivery log (GET .../deliveries)."""
        self.table.grant_read_data(function)
        function.add_environment("VIDEOHOOK_DELIVERIES_TABLE", self.table.table_name)

    def _acknowledge(self, storage: Storage) -> None:
        acknowledge(
            self.function.role,
            f"AwsSolutions-IAM5[Resource::{ref(storage.jobs_table)}/index/*]",
            "grant_read_data on the jobs table includes its indexes (<table>/index/*); "
            "the only index is by_tenant.",
        )
        role = self.state_machine.role
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions vended logging (logs:*LogDelivery*, logs:PutResourcePolicy, "
            "logs:DescribeResourcePolicies, logs:DescribeLogGroups) and X-Ray support no resource scoping.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{ref(self.function)}:*]",
            "LambdaInvoke grants lambda:InvokeFunction on the delivery function "
            "and its versions/aliases only.",
        )
