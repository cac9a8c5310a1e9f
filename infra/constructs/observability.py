"""Observability: the operations dashboard, the alarms, and the ops topic they notify.

Alarms (docs/runbook.md says what each means and what to do), all notifying the ops
topic when they fire and when they recover:

    <stack>-FailedJobRate              failed or expired jobs / finished jobs (EMF metrics)
    <stack>-ProviderErrorRate          provider calls answered 429/5xx/timeouts/auth errors
    <stack>-<Machine>ExecutionsFailed  a state machine's executions failed or timed out
    <stack>-WebhookDeadLetters         the webhook dead-letter queue is not empty
    <stack>-<Function>-Errors          a Lambda function's errors, one alarm per function
    <stack>-<Function>-Throttles       a Lambda function's throttles, one alarm per function

The application metrics are the ones videohook.telemetry writes in EMF (namespace
`videohook`, dimension `service`); the rest are AWS's own (Lambda, Step Functions, SQS,
API Gateway). The ops topic is encrypted with its own KMS key: CloudWatch cannot
publish to a topic under the AWS managed SNS key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import AlarmsConfig
from infra.constructs import set_logical_id

NAMESPACE = "videohook"  # videohook.telemetry.NAMESPACE
SERVICE = "videohook"  # videohook.telemetry.SERVICE
PERIOD = Duration.minutes(5)
RUNBOOK = "docs/runbook.md"

# videohook.telemetry's metric names (tests/infra/test_observability.py keeps them in step).
JOBS_SUBMITTED = "JobsSubmitted"
JOBS_SUCCEEDED = "JobsSucceeded"
JOBS_FAILED = "JobsFailed"
JOBS_CANCELED = "JobsCanceled"
QUEUE_TO_DONE = "QueueToDoneSeconds"
POLLS_PER_JOB = "PollsPerJob"
DETECTION_LAG = "DetectionLagSeconds"
COPY_BYTES = "CopyBytes"
COPY_SECONDS = "CopySeconds"
COPY_THROUGHPUT = "CopyThroughput"
PROVIDER_REQUESTS = "ProviderRequests"
PROVIDER_ERRORS = "ProviderErrors"
WEBHOOK_ATTEMPTS = "WebhookAttempts"
WEBHOOK_FAILURES = "WebhookFailures"
WEBHOOK_DEAD_LETTERED = "WebhookDeadLettered"


def app_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
    """One of videohook's own (EMF) metrics, over the whole service."""
    return cw.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


def _math(expression: str, label: str, **metrics: cw.IMetric) -> cw.MathExpression:
    """Metric math over `metrics` (each named by its keyword in `expression`), per alarm period."""
    return cw.MathExpression(expression=expression, using_metrics=metrics, label=label, period=PERIOD)


def _search(metric_name: str, dimension: str, statistic: str = "Sum") -> cw.MathExpression:
    """Every series of `metric_name` split by `dimension` (e.g. failures by error code)."""
    return cw.MathExpression(
        expression=(
            f"SEARCH('{{{NAMESPACE},service,{dimension}}} MetricName=\"{metric_name}\"', "
            f"'{statistic}', {int(PERIOD.to_seconds())})"
        ),
        using_metrics={},
        label="",
        period=PERIOD,
    )


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Sequence[lambda_.IFunction],
        state_machines: Mapping[str, sfn.IStateMachine],
        dead_letter_queue: sqs.IQueue | None = None,
        rest_api: apigw.RestApi | None = None,
        alarms: AlarmsConfig | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        settings = alarms or AlarmsConfig()
        self.settings = settings
        stack = Stack.of(self)
        self._prefix = stack.stack_name
        self.alarms: list[cw.Alarm] = []

        # ---- the ops topic ---------------------------------------------------------
        self.topic_key = kms.Key(
            self,
            "OpsTopicKey",
            description=f"{self._prefix}: encrypts the ops topic (alarm notifications)",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        set_logical_id(self.topic_key, "OpsTopicKey")
        # CloudWatch encrypts the alarm notification it publishes: it must use the key.
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "OpsTopic",
            display_name=f"{self._prefix} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        set_logical_id(self.topic, "OpsTopic")
        # The topic policy replaces SNS's default one: let this account's alarms, and only them, publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        for address in settings.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        self._action = cw_actions.SnsAction(self.topic)

        # ---- application alarms (EMF metrics) ----------------------------------------
        self.failed_job_rate = _math(
            f"IF(FILL(succeeded, 0) + FILL(failed, 0) >= {settings.failed_job_rate_min_jobs}, "
            "100 * FILL(failed, 0) / (FILL(succeeded, 0) + FILL(failed, 0)), 0)",
            "failed-job rate (%)",
            succeeded=app_metric(JOBS_SUCCEEDED),
            failed=app_metric(JOBS_FAILED),
        )
        self._alarm(
            "FailedJobRate",
            self.failed_job_rate,
            threshold=settings.failed_job_rate_percent,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=(
                f"More than {settings.failed_job_rate_percent:g}% of finished jobs failed or expired in 2 of "
                f"the last 3 five-minute periods (with at least {settings.failed_job_rate_min_jobs} "
                "finished jobs in a period)."
            ),
            anchor="failedjobrate",
        )

        self.provider_error_rate = _math(
            f"IF(FILL(requests, 0) >= {settings.provider_error_rate_min_requests}, "
            "100 * FILL(errors, 0) / FILL(requests, 0), 0)",
            "provider error rate (%)",
            requests=app_metric(PROVIDER_REQUESTS),
            errors=app_metric(PROVIDER_ERRORS),
        )
        self._alarm(
            "ProviderErrorRate",
            self.provider_error_rate,
            threshold=settings.provider_error_rate_percent,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            description=(
                f"More than {settings.provider_error_rate_percent:g}% of provider calls failed (429, 5xx, "
                "timeouts, unreadable answers, rejected key) for 15 minutes."
            ),
            anchor="providererrorrate",
        )

        # ---- workflows, dead letters, functions --------------------------------------
        for label, machine in state_machines.items():
            self._alarm(
                f"{label}ExecutionsFailed",
                _math(
                    "FILL(failed, 0) + FILL(timedOut, 0)",
                    f"{label} executions failed or timed out",
                    failed=machine.metric_failed(period=PERIOD, statistic="Sum"),
                    timedOut=machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                ),
                threshold=1,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"An execution of the {label} state machine failed or timed out.",
                anchor="executionsfailed",
            )

        self.dead_letter_queue = dead_letter_queue
        if dead_letter_queue is not None:
            self._alarm(
                "WebhookDeadLetters",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=1,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # SQS stops reporting a queue nobody calls: keep the state until it reports again.
                treat_missing_data=cw.TreatMissingData.IGNORE,
                description="Webhook events gave up on their receiver and wait in the dead-letter queue.",
                anchor="webhookdeadletters",
            )

        self.functions = list(functions)
        for function in self.functions:
            name = function.node.id
            self._alarm(
                f"{name}-Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=settings.lambda_errors,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"{name} failed {settings.lambda_errors} or more invocations in 5 minutes.",
                anchor="lambda-errors",
            )
            self._alarm(
                f"{name}-Throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description=f"{name} was throttled (concurrency limit) in the last 5 minutes.",
                anchor="lambda-throttles",
            )

        self.dashboard = self._dashboard(state_machines, rest_api)

    # ---- helpers ------------------------------------------------------------------------

    def _alarm(
        self,
        name: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        anchor: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treat_missing_data: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
    ) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            f"{name.replace('-', '')}Alarm",
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=f"{description} Runbook: {RUNBOOK}#{anchor}",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=treat_missing_data,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self, state_machines: Mapping[str, sfn.IStateMachine], rest_api: apigw.RestApi | None
    ) -> cw.Dashboard:
        dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{self._prefix}-operations",
            default_interval=Duration.hours(6),
        )
        set_logical_id(dashboard, "OperationsDashboard")
        width = 8

        def graph(title: str, left: Sequence[cw.IMetric], **kwargs: object) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=list(left), width=width, height=6, **kwargs)  # type: ignore[arg-type]

        dashboard.add_widgets(
            cw.TextWidget(
                markdown=(
                    f"# {self._prefix}\nJobs, workflow, provider, copy and webhook delivery. "
                    f"Every alarm's meaning and first steps: `{RUNBOOK}`. Logs Insights: "
                    '`filter job_id = "vid_..."` finds one job in every function\'s log group.'
                ),
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(cw.AlarmStatusWidget(alarms=self.alarms, title="Alarms", width=24, height=4))
        dashboard.add_widgets(
            graph(
                "Jobs",
                [
                    app_metric(JOBS_SUBMITTED, label="submitted"),
                    app_metric(JOBS_SUCCEEDED, label="succeeded"),
                    app_metric(JOBS_FAILED, label="failed or expired"),
                    app_metric(JOBS_CANCELED, label="canceled"),
                ],
            ),
            graph(
                "Failed-job rate (%)",
                [self.failed_job_rate],
                left_annotations=[cw.HorizontalAnnotation(value=self.settings.failed_job_rate_percent)],
            ),
            graph("Failed jobs by error code", [_search(JOBS_FAILED, "error_code")]),
        )
        dashboard.add_widgets(
            graph(
                "Queue-to-done time (s)",
                [app_metric(QUEUE_TO_DONE, stat, label=stat) for stat in ("p50", "p90", "p99")],
            ),
            graph(
                "Polls per job",
                [app_metric(POLLS_PER_JOB, stat, label=stat) for stat in ("Average", "p90", "Maximum")],
            ),
            graph(
                "Detection lag (s): video ready -> poll saw it",
                [app_metric(DETECTION_LAG, stat, label=stat) for stat in ("p50", "p90", "Maximum")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Copy throughput (bytes/s)",
                [app_metric(COPY_THROUGHPUT, stat, label=stat) for stat in ("Average", "p10", "Minimum")],
            ),
            graph(
                "Copy time (s)",
                [app_metric(COPY_SECONDS, stat, label=stat) for stat in ("p50", "p90", "Maximum")],
            ),
            graph(
                "Copied bytes",
                [
                    app_metric(COPY_BYTES, "Sum", label="total"),
                    app_metric(COPY_BYTES, "Average", label="average"),
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Provider calls",
                [
                    app_metric(PROVIDER_REQUESTS, label="requests"),
                    app_metric(PROVIDER_ERRORS, label="errors"),
                ],
            ),
            graph(
                "Provider error rate (%)",
                [self.provider_error_rate],
                left_annotations=[cw.HorizontalAnnotation(value=self.settings.provider_error_rate_percent)],
            ),
            graph("Provider errors by provider", [_search(PROVIDER_ERRORS, "provider")]),
        )
        delivery: list[cw.IWidget] = [
            graph(
                "Webhook attempts",
                [
                    app_metric(WEBHOOK_ATTEMPTS, label="attempts"),
                    app_metric(WEBHOOK_FAILURES, label="failures"),
                    app_metric(WEBHOOK_DEAD_LETTERED, label="dead-lettered"),
                ],
            )
        ]
        if self.dead_letter_queue is not None:
            delivery.append(
                graph(
                    "Webhook dead-letter queue",
                    [
                        self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                            period=PERIOD, statistic="Maximum", label="messages"
                        )
                    ],
                )
            )
        if rest_api is not None:
            delivery.append(
                graph(
                    "API requests",
                    [
                        rest_api.metric_count(period=PERIOD, label="requests"),
                        rest_api.metric_client_error(period=PERIOD, label="4xx"),
                        rest_api.metric_server_error(period=PERIOD, label="5xx"),
                    ],
                    right=[rest_api.metric_latency(period=PERIOD, statistic="p90", label="latency p90 (ms)")],
                )
            )
        dashboard.add_widgets(*delivery)
        dashboard.add_widgets(
            *[
                graph(
                    f"{label} executions",
                    [
                        machine.metric_started(period=PERIOD, label="started"),
                        machine.metric_succeeded(period=PERIOD, label="succeeded"),
                        machine.metric_failed(period=PERIOD, label="failed"),
                        machine.metric_timed_out(period=PERIOD, label="timed out"),
                    ],
                )
                for label, machine in state_machines.items()
            ]
        )
        dashboard.add_widgets(
            graph(
                "Lambda errors",
                [f.metric_errors(period=PERIOD, label=f.node.id) for f in self.functions],
            ),
            graph(
                "Lambda throttles",
                [f.metric_throttles(period=PERIOD, label=f.node.id) for f in self.functions],
            ),
            graph(
                "Lambda duration p90 (ms)",
                [f.metric_duration(period=PERIOD, statistic="p90", label=f.node.id) for f in self.functions],
            ),
        )
        return dashboard
