"""Property-based tests of the live local stack against its own OpenAPI document (schemathesis).

Every operation of the document is called with generated valid and invalid inputs,
as a tenant (`x-api-key`); no answer may be a 5xx and every answer must be documented
(status, content type, schema). The document is docs/openapi.json, which
tests/e2e/test_api_contract.py proves identical to what the stack serves at
/v1/openapi.json (loading it from a file lets pytest collect one test per operation
before the stack runs).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis

from devstack.openapi import DOCUMENT
from devstack.receiver import WebhookReceiver
from tests.conftest import API_KEY_FUZZ as API_KEY

pytestmark = pytest.mark.e2e
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
DETERMINISTIC = os.environ.get("SCHEMATHESIS_RANDOM") != "1"

schema = schemathesis.openapi.from_path(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "headers": {"x-api-key": API_KEY},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": DETERMINISTIC},
            "checks": {
                # API Gateway answers a method the API lacks with its MISSING_AUTHENTICATION_TOKEN
                # response (404 here, like an unknown route), never 405.
                "unsupported_method": {"enabled": False},
                # Schema-valid is not always acceptable: whether a cursor came from this API, a
                # provider supports reference images or an upload exists is not a JSON Schema fact.
                # Such requests get a documented 400, which the other checks hold to its schema.
                "positive_data_acceptance": {"enabled": False},
            },
        }
    ),
)


@pytest.fixture(scope="module")
def webhook_url():
    receiver = WebhookReceiver()
    yield receiver.url
    receiver.stop()


def _keep_webhooks_on_machine(case: Any, webhook_url: str) -> None:
    """Generated webhook URLs could name any host: the stack would resolve and POST to it."""
    if isinstance(case.body, dict) and isinstance(case.body.get("webhook_url"), str):
        case.body["webhook_url"] = webhook_url


@schema.parametrize()
def test_the_api_answers_as_documented(case: Any, local_stack: Any, webhook_url: str) -> None:
    _keep_webhooks_on_machine(case, webhook_url)
    # The key passed explicitly: schemathesis then probes that a missing or invalid key is refused.
    case.call_and_validate(base_url=local_stack.url, headers={"x-api-key": API_KEY}, timeout=60)


def _operation(path: str, method: str) -> Any:
    return schema[path][method]


def test_answers_about_real_jobs_are_documented(local_stack: Any, webhook_url: str) -> None:
    """What random ids rarely reach: a real job, its replay, cancel (200 then 409), a next page."""
    seen: list[int] = []

    def check(path: str, method: str, **data: Any) -> Any:
        case = _operation(path, method).Case(**data)
        response = case.call_and_validate(
            base_url=local_stack.url, headers={"x-api-key": API_KEY}, timeout=60
        )
        seen.append(response.status_code)
        return response

    body = {
        "prompt": "A schema-checked heron sandbox:seconds=100000",
        "duration": 1,
        "webhook_url": webhook_url,
    }
    key = {"Idempotency-Key": "schemathesis-explicit-case"}
    created = check("/v1/videos", "POST", body=body, headers=key).json()
    assert check("/v1/videos", "POST", body=body, headers=key).json()["id"] == created["id"]
    assert check("/v1/videos", "POST", body={**body, "duration": 2}, headers=key).status_code == 422
    check("/v1/videos/{id}", "GET", path_parameters={"id": created["id"]})
    assert check("/v1/videos/{id}/cancel", "POST", path_parameters={"id": created["id"]}).status_code == 200
    assert check("/v1/videos/{id}/cancel", "POST", path_parameters={"id": created["id"]}).status_code == 409
    page = check("/v1/videos", "GET", query={"limit": 1}).json()
    check("/v1/videos", "GET", query={"limit": 1, "cursor": page["next_cursor"], "status": "canceled"})
    upload = check("/v1/uploads", "POST", body={"content_type": "image/jpeg", "bytes": 1000}).json()
    missing = {"prompt": "Not uploaded", "image": {"upload_id": upload["upload_id"]}}
    assert check("/v1/videos", "POST", body=missing).status_code == 400
    assert seen == [202, 202, 422, 200, 200, 409, 200, 200, 201, 400]
