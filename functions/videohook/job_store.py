"""The job table: one item per job, keyed by `id`, listed per tenant through the `by_tenant` GSI."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from videohook.models import TERMINAL_STATUSES, Job, JobStatus

# Job records outlive their videos a little so that GET keeps answering after expiry.
RECORD_RETENTION = timedelta(days=int(os.environ.get("VIDEOHOOK_JOB_RECORD_RETENTION_DAYS") or 90))
TENANT_INDEX = "by_tenant"
# Sparse: only jobs whose submit has not finished carry its key (`submission`).
SUBMISSION_INDEX = "by_submission"
SUBMISSION_IN_PROGRESS = "in_progress"
CLAIM_PREFIX = "claim#"
# Items one list call may examine (a rare status filter on a large tenant must not run for ever).
MAX_ITEMS_EXAMINED_PER_LIST = 1000
# Items one filtered Query reads (the filter applies after the limit).
FILTERED_QUERY_LIMIT = 100


class JobNotFound(Exception):
    pass


class JobAlreadyTerminal(Exception):
    """A write lost the race against a terminal state (e.g. a cancel): the terminal state wins."""


def _to_dynamo(value: dict[str, Any]) -> dict[str, Any]:
    # The resource API wants Decimal, never float.
    return json.loads(json.dumps(value), parse_float=Decimal)


def sortable_time(value: datetime) -> str:
    """Fixed-width UTC ISO 8601 (pydantic drops `.000000`), so strings sort like the instants."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fields(job: Job, *, exclude_none: bool = False) -> dict[str, Any]:
    fields = job.model_dump(mode="json", exclude_none=exclude_none)
    fields["created_at"] = sortable_time(job.created_at)  # the by_tenant index's sort key
    return fields


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
        item = _to_dynamo(_fields(job, exclude_none=True))
        item["expires_at"] = int((job.created_at + RECORD_RETENTION).timestamp())
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(id)")

    def get(self, job_id: str) -> Job:
        item = self._table.get_item(Key={"id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise JobNotFound(job_id)
        return _job(item)

    def get_for_tenant(self, job_id: str, tenant_id: str) -> Job:
        """Another tenant's job is indistinguishable from a missing one (so is any item that is no job)."""
        item = self._table.get_item(Key={"id": job_id}, ConsistentRead=True).get("Item")
        if item is None or item.get("tenant_id") != tenant_id:
            raise JobNotFound(job_id)
        return _job(item)

    def update(self, job: Job, *, allow_after_terminal: bool = False) -> None:
        """Write every field of `job` back, unless the stored job is already terminal.

        The condition makes a late poll or finalize unable to overwrite a cancel.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        fields = _fields(job)
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

    def claim(self, claim_id: str, job_id: str, *, now: datetime, expires_at: datetime) -> str:
        """The job id that owns `claim_id` (an idempotency key's hash): `job_id` if the claim is
        new or expired, else the one that claimed it first. A retried submit resumes that job."""
        item = {"id": CLAIM_PREFIX + claim_id, "job_id": job_id, "expires_at": int(expires_at.timestamp())}
        try:
            self._table.put_item(
                Item=item,
                # DynamoDB's TTL deletes lazily: an expired claim is free to take.
                ConditionExpression="attribute_not_exists(id) OR expires_at < :now",
                ExpressionAttributeValues={":now": int(now.timestamp())},
            )
            return job_id
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        owner = self._table.get_item(Key={"id": CLAIM_PREFIX + claim_id}, ConsistentRead=True).get("Item")
        return str(owner["job_id"]) if owner else self.claim(claim_id, job_id, now=now, expires_at=expires_at)

    def end_submission(self, job_id: str) -> None:
        """The submit is over (the workflow runs, or the job ended): leave the submission index.
        Unconditional: a job canceled during its submit must leave it too."""
        self._table.update_item(
            Key={"id": job_id},
            UpdateExpression="REMOVE #submission",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeNames={"#submission": "submission"},
        )

    def unfinished_submissions(self, *, started_before: datetime, limit: int = 100) -> list[Job]:
        """Jobs whose submit began before `started_before` and has not finished, oldest first."""
        answer = self._table.query(
            IndexName=SUBMISSION_INDEX,
            KeyConditionExpression="#submission = :in_progress AND created_at < :before",
            ExpressionAttributeNames={"#submission": "submission"},
            ExpressionAttributeValues={
                ":in_progress": SUBMISSION_IN_PROGRESS,
                ":before": sortable_time(started_before),
            },
            Limit=limit,
        )
        # The index projects keys only: read each job itself, consistently.
        jobs = []
        for key in answer.get("Items", []):
            try:
                jobs.append(self.get(str(key["id"])))
            except JobNotFound:
                continue
        return jobs

    def cancel(self, job_id: str, tenant_id: str, *, now: datetime) -> Job:
        """Mark the tenant's job canceled in one conditional write; return it as stored.

        Raises JobNotFound (no such job, or another tenant's) or JobAlreadyTerminal.
        """
        names = {"#status": "status", "#tenant": "tenant_id"}
        values: dict[str, Any] = {
            ":canceled": JobStatus.CANCELED.value,
            ":now": sortable_time(now),
            ":tenant": tenant_id,
        }
        terminal = []
        for i, status in enumerate(sorted(TERMINAL_STATUSES)):
            values[f":t{i}"] = status.value
            terminal.append(f":t{i}")
        try:
            answer = self._table.update_item(
                Key={"id": job_id},
                UpdateExpression="SET #status = :canceled, updated_at = :now, completed_at = :now",
                ConditionExpression=(
                    f"attribute_exists(id) AND #tenant = :tenant AND NOT #status IN ({', '.join(terminal)})"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Why the condition failed: the item as it is now (the write changed nothing).
            old = self._table.get_item(Key={"id": job_id}, ConsistentRead=True).get("Item")
            if old is None or old.get("tenant_id") != tenant_id:
                raise JobNotFound(job_id) from error
            raise JobAlreadyTerminal(job_id) from error
        return _job(answer["Attributes"])

    def list_for_tenant(
        self,
        tenant_id: str,
        *,
        limit: int,
        status: JobStatus | None = None,
        after: dict[str, str] | None = None,
    ) -> tuple[list[Job], dict[str, str] | None]:
        """One page of the tenant's jobs, newest first, through the by_tenant index (a Query).

        `after` is a position from a previous page. Returns the jobs and the position to
        continue from: that of the last job returned when the page ended in the middle of
        what DynamoDB read, else DynamoDB's own LastEvaluatedKey; None when nothing is left.
        """
        jobs: list[Job] = []
        position = after
        examined = 0
        while True:
            request: dict[str, Any] = {
                "IndexName": TENANT_INDEX,
                "KeyConditionExpression": "#tenant = :tenant",
                "ExpressionAttributeNames": {"#tenant": "tenant_id"},
                "ExpressionAttributeValues": {":tenant": tenant_id},
                "ScanIndexForward": False,
                # One more than needed: when it comes back, the page ends in the middle.
                "Limit": limit - len(jobs) + 1 if status is None else FILTERED_QUERY_LIMIT,
            }
            if status is not None:
                request["FilterExpression"] = "#status = :status"
                request["ExpressionAttributeNames"]["#status"] = "status"
                request["ExpressionAttributeValues"][":status"] = status.value
            if position is not None:
                request["ExclusiveStartKey"] = {**position, "tenant_id": tenant_id}
            answer = self._table.query(**request)
            examined += answer.get("ScannedCount", 0)
            items = answer.get("Items", [])
            for index, item in enumerate(items):
                if len(jobs) == limit:
                    # More matching items follow: continue after the last one returned.
                    return jobs, _position(jobs[-1])
                jobs.append(_job(item))
                if len(jobs) == limit and index + 1 == len(items) and "LastEvaluatedKey" not in answer:
                    return jobs, None
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return jobs, None
            position = {"id": last["id"], "created_at": last["created_at"]}
            if len(jobs) == limit or examined >= MAX_ITEMS_EXAMINED_PER_LIST:
                # Everything up to DynamoDB's position was examined: continuing there skips nothing.
                return jobs, position


def _position(job: Job) -> dict[str, str]:
    return {"id": job.id, "created_at": sortable_time(job.created_at)}


def _job(item: dict[str, Any]) -> Job:
    item = dict(item)
    item.pop("expires_at", None)
    return Job.model_validate(_from_dynamo(item))
