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
API Gateway). The ops topic and its KMS key: infra/constructs/ops_topic.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import AlarmsConfig
from infra.constructs import set_logical_id
from infra.constructs.ops_topic import ops_topic

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

        self.topic_key, self.topic = ops_topic(self, self._prefix, settings.email)
        self._action = cw_actions.SnsAction(self.topic)

        # ---- application alarms (EMF metrics) ----------------------------------------
        finished = "FILL(succeeded, 0) + FILL(failed, 0)"
        self.failed_job_rate = _math(
            f"IF({finished} >= {settings.failed_job_rate_min_jobs}, 100 * FILL(failed, 0) / ({finished}), 0)",
            "failed-job rate (%)",
            succeeded=app_metric(JOBS_SUCCEEDED),
            failed=app_metric(JOBS_FAILED),
        )
        self._rate_alarm(
            "FailedJobRate",
            self.failed_job_rate,
            settings.failed_job_rate_percent,
            f"finished jobs failed or expired in 2 of the last 3 five-minute periods (with at least "
            f"{settings.failed_job_rate_min_jobs} finished jobs in a period).",
            datapoints_to_alarm=2,
            anchor="failedjobrate",
        )

        requests, errors = app_metric(PROVIDER_REQUESTS), app_metric(PROVIDER_ERRORS)
        minimum = settings.provider_error_rate_min_requests
        self.provider_error_rate = _math(
            f"IF(FILL(requests, 0) >= {minimum}, 100 * FILL(errors, 0) / FILL(requests, 0), 0)",
            "provider error rate (%)",
            requests=requests,
            errors=errors,
        )
        percent = settings.provider_error_rate_percent
        self._rate_alarm(
            "ProviderErrorRate",
            self.provider_error_rate,
            percent,
            "provider calls failed (429, 5xx, timeouts, unreadable answers, rejected key) for 15 minutes.",
            datapoints_to_alarm=3,
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

    def _rate_alarm(
        self, name: str, rate: cw.IMetric, percent: float, what: str, *, datapoints_to_alarm: int, anchor: str
    ) -> None:
        """Fires when the rate exceeds `percent` in `datapoints_to_alarm` of the last 3 periods."""
        self._alarm(
            name,
            rate,
            threshold=percent,
            evaluation_periods=3,
            datapoints_to_alarm=datapoints_to_alarm,
            description=f"More than {percent:g}% of {what}",
            anchor=anchor,
        )

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

        def counts(title: str, labels: Mapping[str, str]) -> cw.GraphWidget:
            """Sums of videohook's metrics (name -> label)."""
            return graph(title, [app_metric(name, label=label) for name, label in labels.items()])

        def statistics(title: str, name: str, *stats: str) -> cw.GraphWidget:
            return graph(title, [app_metric(name, stat, label=stat) for stat in stats])

        def rate(title: str, metric: cw.IMetric, alarm_percent: float) -> cw.GraphWidget:
            return graph(title, [metric], left_annotations=[cw.HorizontalAnnotation(value=alarm_percent)])

        settings = self.settings
        dashboard.add_widgets(
            counts(
                "Jobs",
                {
                    JOBS_SUBMITTED: "submitted",
                    JOBS_SUCCEEDED: "succeeded",
                    JOBS_FAILED: "failed or expired",
                    JOBS_CANCELED: "canceled",
                },
            ),
            rate("Failed-job rate (%)", self.failed_job_rate, settings.failed_job_rate_percent),
            graph("Failed jobs by error code", [_search(JOBS_FAILED, "error_code")]),
        )
        dashboard.add_widgets(
            statistics("Queue-to-done time (s)", QUEUE_TO_DONE, "p50", "p90", "p99"),
            statistics("Polls per job", POLLS_PER_JOB, "Average", "p90", "Maximum"),
            statistics(
                "Detection lag (s): video ready -> poll saw it", DETECTION_LAG, "p50", "p90", "Maximum"
            ),
        )
        dashboard.add_widgets(
            statistics("Copy throughput (bytes/s)", COPY_THROUGHPUT, "Average", "p10", "Minimum"),
            statistics("Copy time (s)", COPY_SECONDS, "p50", "p90", "Maximum"),
            graph(
                "Copied bytes",
                [
                    app_metric(COPY_BYTES, "Sum", label="total"),
                    app_metric(COPY_BYTES, "Average", label="average"),
                ],
            ),
        )
        dashboard.add_widgets(
            counts("Provider calls", {PROVIDER_REQUESTS: "requests", PROVIDER_ERRORS: "errors"}),
            rate("Provider error rate (%)", self.provider_error_rate, settings.provider_error_rate_percent),
            graph("Provider errors by provider", [_search(PROVIDER_ERRORS, "provider")]),
        )
        delivery: list[cw.IWidget] = [
            counts(
                "Webhook attempts",
                {
                    WEBHOOK_ATTEMPTS: "attempts",
                    WEBHOOK_FAILURES: "failures",
                    WEBHOOK_DEAD_LETTERED: "dead-lettered",
                },
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
