"""The job table: one item per job, keyed by `id`, listed per tenant through the `by_tenant` GSI."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from videohook.models import TERMINAL_STATUSES, Job

# Job records outlive their videos a little so that GET keeps answering after expiry.
RECORD_RETENTION = timedelta(days=90)


class JobNotFound(Exception):
    pass


class JobAlreadyTerminal(Exception):
    """A write lost the race against a terminal state (e.g. a cancel): the terminal state wins."""


def _to_dynamo(value: dict[str, Any]) -> dict[str, Any]:
    # The resource API wants Decimal, never float.
    return json.loads(json.dumps(value), parse_float=Decimal)


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


class JobStore:
    def __init__(self, table: Any) -> None:
        """`table` is a boto3 DynamoDB Table resource."""
        self._table = table

    def create(self, job: Job) -> None:
        item = _to_dynamo(job.model_dump(mode="json", exclude_none=True))
        item["expires_at"] = int((job.created_at + RECORD_RETENTION).timestamp())
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")

    def get(self, job_id: str) -> Job:
        item = self._table.get_item(Key={"id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise JobNotFound(job_id)
        item.pop("expires_at", None)
        return Job.model_validate(_from_dynamo(item))

    def get_for_tenant(self, job_id: str, tenant_id: str) -> Job:
        """Another tenant's job is indistinguishable from a missing one."""
        job = self.get(job_id)
        if job.tenant_id != tenant_id:
            raise JobNotFound(job_id)
        return job

    def update(self, job: Job, *, allow_after_terminal: bool = False) -> None:
        """Write every field of `job` back, unless the stored job is already terminal.

        The condition makes a late poll or finalize unable to overwrite a cancel.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        fields = job.model_dump(mode="json")
        for i, (name, value) in enumerate(fields.items()):
            if name == "id":
                continue
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = value
                sets.append(f"#f{i} = :v{i}")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        condition = "attribute_exists(id)"
        if not allow_after_terminal:
            names["#status"] = "status"
            for i, status in enumerate(sorted(TERMINAL_STATUSES)):
                values[f":t{i}"] = status.value
            terminal = ", ".join(f":t{i}" for i in range(len(TERMINAL_STATUSES)))
            condition += f" AND NOT #status IN ({terminal})"
        try:
            self._table.update_item(
                Key={"id": job.id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_dynamo(values),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise JobAlreadyTerminal(job.id) from error
            raise

    def delete(self, job_id: str) -> None:
        self._table.delete_item(Key={"id": job_id})
