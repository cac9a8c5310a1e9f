"""The state machines' builders: Lambda task states, retriers, waits, and the Standard state machine.

Both state machines (infra/constructs/workflow.py and delivery.py) are built from these,
in plain ASL (JSONPath) that also runs on moto's Step Functions interpreter locally.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.constructs import LOG_RETENTION, set_logical_id

# The Lambda service's transient errors (CDK's default retrier lacks TooManyRequests and jitter).
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
]


def retry(task: sfn.TaskStateBase, errors: list[str], *, interval: Duration, max_attempts: int) -> None:
    """Retry `errors` on `task` with exponential backoff (x2) and full jitter."""
    task.add_retry(
        errors=errors,
        interval=interval,
        backoff_rate=2,
        max_attempts=max_attempts,
        jitter_strategy=sfn.JitterType.FULL,
    )


def lambda_task(
    scope: Construct,
    state_name: str,
    function: lambda_.IFunction,
    *,
    comment: str,
    payload: sfn.TaskInput | None = None,
) -> tasks.LambdaInvoke:
    """A LambdaInvoke whose output is the function's result, with our own service-error retrier.

    Its payload is the state's whole input unless `payload` says otherwise."""
    task = tasks.LambdaInvoke(
        scope,
        state_name,
        lambda_function=function,
        payload=payload or sfn.TaskInput.from_json_path_at("$"),
        output_path="$.Payload",
        retry_on_service_exceptions=False,
        comment=comment,
    )
    retry(task, LAMBDA_SERVICE_ERRORS, interval=Duration.seconds(1), max_attempts=6)
    return task


def wait_chosen_seconds(scope: Construct, state_name: str, *, comment: str) -> sfn.Wait:
    """A Wait state for the seconds the step before it chose (`$.wait_seconds`)."""
    return sfn.Wait(scope, state_name, comment=comment, time=sfn.WaitTime.seconds_path("$.wait_seconds"))


def standard_state_machine(
    scope: Construct,
    logical_id: str,
    definition: sfn.IChainable,
    *,
    log_name: str,
    comment: str,
    timeout: Duration,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """A Standard state machine with X-Ray tracing and execution logging (no execution data)."""
    # /aws/vendedlogs/ keeps Step Functions log delivery from growing the account's
    # CloudWatch Logs resource policy (AWS's recommendation for vended logs).
    log_group = logs.LogGroup(
        scope,
        f"{logical_id}Logs",
        log_group_name=f"/aws/vendedlogs/states/{Stack.of(scope).stack_name}-{log_name}",
        retention=LOG_RETENTION,
        removal_policy=RemovalPolicy.DESTROY,
    )
    state_machine = sfn.StateMachine(
        scope,
        logical_id,
        comment=comment,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        tracing_enabled=True,
        timeout=timeout,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
    )
    set_logical_id(state_machine, logical_id)
    return state_machine, log_group
