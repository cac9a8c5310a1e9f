"""The API's contract as the local stack serves it: its OpenAPI document, the template's routes and
gateway answers, and one job shape everywhere."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from devstack.api_gateway import MAX_EVENT_BYTES, routes_from_template
from devstack.openapi import DOCUMENT
from devstack.stack import SANDBOX_API_KEY
from handlers.api import openapi_document
from videohook.models import JobView

pytestmark = pytest.mark.e2e


def provider_calls(local_stack: Any) -> dict[str, int]:
    """The sandbox's counters of create requests (polls of other tests' jobs go on meanwhile)."""
    stats = local_stack.sandbox.stats
    return {name: stats[name] for name in ("submissions", "accepted", "refused")}


def test_the_served_document_is_docs_openapi_json(local_stack) -> None:
    answer = httpx.get(f"{local_stack.url}/v1/openapi.json")  # public: no API key
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    served = answer.json()
    # The one difference: the served document names the base URL it was served from.
    assert [server["url"] for server in served.pop("servers")] == [local_stack.url]
    committed = json.loads(DOCUMENT.read_text())
    assert committed == openapi_document()
    assert served == {name: value for name, value in committed.items() if name != "servers"}


def test_every_documented_operation_is_an_api_gateway_method_and_back(local_stack) -> None:
    """The template's routes (what API Gateway serves in the cloud and the emulator serves here)
    are exactly the documented operations, with the API key required where the document says so."""
    document = openapi_document()
    documented = {
        (method.upper(), path): bool(operation.get("security"))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    deployed = {
        (route.method, route.resource): route.api_key_required
        for route in routes_from_template(local_stack.template)
    }
    assert deployed == documented


def test_a_route_or_method_the_template_lacks_gets_the_gateways_not_found(local_stack, api) -> None:
    for method, path in (
        ("GET", "/v1/jobs"),
        ("PUT", "/v1/videos"),
        ("GET", "/v1/videos/x/cancel"),
        ("GET", "/"),
    ):
        answer = api.request(method, path)
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["code"] == "not_found"


def test_a_body_too_large_for_lambda_gets_the_integration_failure_answer(local_stack, api) -> None:
    """API Gateway takes 10 MB but Lambda only 6 MB of event: the cloud answers INTEGRATION_FAILURE."""
    padding = "A" * (MAX_EVENT_BYTES + 1024)
    calls = provider_calls(local_stack)
    answer = api.post(
        "/v1/videos", json={"prompt": "Too big", "image": {"url": f"data:image/png;base64,{padding}"}}
    )
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "integration_failure"
    assert provider_calls(local_stack) == calls


def test_a_non_utf8_body_is_refused(local_stack, api) -> None:
    answer = api.post(
        "/v1/videos", content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"


def test_a_lone_surrogate_is_refused(local_stack, api) -> None:
    answer = api.post(
        "/v1/videos", content=b'{"prompt": "a fox \\ud800"}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_body"
    # A proper pair is text like any other.
    answer = api.post(
        "/v1/videos",
        content=b'{"prompt": "a fox \\ud83e\\udd8a sandbox:outcome=failed"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 202 and answer.json()["prompt"].endswith("\U0001f98a sandbox:outcome=failed")


def test_get_list_and_create_show_the_same_job_view(local_stack, api) -> None:
    created = api.post(
        "/v1/videos", json={"prompt": f"One shape {uuid.uuid4()} sandbox:outcome=failed"}
    ).json()
    fetched = api.get(f"/v1/videos/{created['id']}").json()
    listed = next(
        item
        for item in api.get("/v1/videos", params={"limit": 100}).json()["data"]
        if item["id"] == created["id"]
    )
    assert set(created) == set(fetched) == set(listed) == set(JobView.model_fields)
    assert "tenant_id" not in fetched and "provider_video_url" not in fetched


def test_no_answer_carries_a_secret(local_stack, api) -> None:
    secrets = (local_stack.webhook_secret, SANDBOX_API_KEY)  # the webhook signing secret, the provider key
    created = api.post("/v1/videos", json={"prompt": f"Secrets {uuid.uuid4()} sandbox:outcome=failed"})
    answers = [
        created,
        api.get(f"/v1/videos/{created.json()['id']}"),
        api.get("/v1/videos", params={"limit": 5}),
        api.post("/v1/videos", json={"prompt": "x", "provider": "xai"}),
    ]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer.text
    upload = api.post("/v1/uploads", json={"content_type": "image/jpeg", "bytes": 2048})
    assert upload.status_code == 201
    assert set(upload.json()) == {"upload_id", "upload_url", "method", "headers", "expires_at"}
    assert local_stack.webhook_secret not in upload.text and SANDBOX_API_KEY not in upload.text
