"""The API Gateway emulator's routing and refusals, taken from a template like the synthesized one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack import api_gateway
from devstack.api_gateway import (
    ApiGatewayEmulator,
    Route,
    gateway_responses_from_template,
    routes_from_template,
)

KEY = "vh_unit_test_key"
ROOT = {"Fn::GetAtt": ["RestApi", "RootResourceId"]}
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "V1": {"Type": "AWS::ApiGateway::Resource", "Properties": {"ParentId": ROOT, "PathPart": "v1"}},
        "Videos": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": {"Ref": "V1"}, "PathPart": "videos"},
        },
        "Id": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": {"Ref": "Videos"}, "PathPart": "{id}"},
        },
        "Cancel": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": {"Ref": "Id"}, "PathPart": "cancel"},
        },
        "Doc": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": {"Ref": "V1"}, "PathPart": "openapi.json"},
        },
        "PostVideos": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {"HttpMethod": "POST", "ResourceId": {"Ref": "Videos"}, "ApiKeyRequired": True},
        },
        "GetVideo": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {"HttpMethod": "GET", "ResourceId": {"Ref": "Id"}, "ApiKeyRequired": True},
        },
        "CancelVideo": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {"HttpMethod": "POST", "ResourceId": {"Ref": "Cancel"}, "ApiKeyRequired": True},
        },
        "GetDoc": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {"HttpMethod": "GET", "ResourceId": {"Ref": "Doc"}},
        },
        "NotFound": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "ResponseType": "MISSING_AUTHENTICATION_TOKEN",
                "StatusCode": "404",
                "ResponseTemplates": {
                    "application/json": '{"error": {"code": "not_found", "message": "no"}}'
                },
            },
        },
    }
}


def test_routes_are_read_from_the_template() -> None:
    routes = routes_from_template(TEMPLATE)
    assert {(r.method, r.resource, r.api_key_required) for r in routes} == {
        ("POST", "/v1/videos", True),
        ("GET", "/v1/videos/{id}", True),
        ("POST", "/v1/videos/{id}/cancel", True),
        ("GET", "/v1/openapi.json", False),
    }
    assert routes[-1].resource.count("{") >= routes[0].resource.count("{")  # literal routes first


@pytest.mark.parametrize(
    ("resource", "path", "parameters"),
    [
        ("/v1/videos/{id}", "/v1/videos/vid_1", {"id": "vid_1"}),
        ("/v1/videos/{id}/cancel", "/v1/videos/vid_1/cancel", {"id": "vid_1"}),
        ("/v1/videos", "/v1/videos", {}),
        ("/v1/videos/{id}", "/v1/videos", None),
        ("/v1/videos/{id}", "/v1/videos/a/b", None),
        ("/v1/videos/{id}/cancel", "/v1/videos/vid_1/undo", None),
        ("/v1/videos", "/v1/uploads", None),
    ],
)
def test_route_matching(resource: str, path: str, parameters: dict[str, str] | None) -> None:
    assert Route("GET", resource, True).match(path) == parameters


@pytest.fixture
def emulator() -> Iterator[tuple[ApiGatewayEmulator, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        if event["path"].endswith("/explode"):
            raise RuntimeError("boom")
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    running = ApiGatewayEmulator(
        lambda: handler,
        [KEY],
        gateway_responses=gateway_responses_from_template(TEMPLATE),
        routes=routes_from_template(TEMPLATE),
    ).start()
    yield running, events
    running.stop()


def test_a_known_route_reaches_the_handler_with_its_resource(emulator) -> None:
    running, events = emulator
    answer = httpx.post(f"{running.url}/v1/videos/vid_9/cancel", headers={"x-api-key": KEY})
    assert answer.status_code == 200
    (event,) = events
    assert event["resource"] == "/v1/videos/{id}/cancel"
    assert event["pathParameters"] == {"id": "vid_9"}
    assert event["requestContext"]["identity"]["apiKeyId"].startswith("key_")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/videos"), ("DELETE", "/v1/videos/vid_1"), ("TRACE", "/v1/videos"), ("GET", "/x")],
)
def test_what_the_template_lacks_gets_the_missing_route_answer(emulator, method: str, path: str) -> None:
    running, events = emulator
    answer = httpx.request(method, f"{running.url}{path}", headers={"x-api-key": KEY})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert events == []


def test_the_api_key_is_required_where_the_template_says(emulator) -> None:
    running, events = emulator
    assert httpx.get(f"{running.url}/v1/videos/vid_1").status_code == 403
    assert httpx.get(f"{running.url}/v1/openapi.json").status_code == 200
    assert [event["path"] for event in events] == ["/v1/openapi.json"]


def test_bodies_over_the_gateway_limit_are_read_and_refused(emulator) -> None:
    running, events = emulator
    body = b"x" * (api_gateway.MAX_BODY_BYTES + 1)
    answer = httpx.post(f"{running.url}/v1/videos", content=body, headers={"x-api-key": KEY}, timeout=30)
    assert answer.status_code == 413
    assert answer.json() == {"message": "Request Too Long"}  # API Gateway's default, not customised here
    assert events == []


def test_events_over_lambdas_limit_and_crashes_are_integration_failures(emulator) -> None:
    running, events = emulator
    body = json.dumps({"blob": "x" * api_gateway.MAX_EVENT_BYTES}).encode()
    answer = httpx.post(f"{running.url}/v1/videos", content=body, headers={"x-api-key": KEY}, timeout=30)
    assert (answer.status_code, answer.json()) == (502, {"message": "Internal server error"})
    assert events == []
    running_routes = [Route("GET", "/v1/videos/{id}/explode", True)]
    running._routes = running_routes  # a route whose handler crashes
    answer = httpx.get(f"{running.url}/v1/videos/vid_1/explode", headers={"x-api-key": KEY})
    assert answer.status_code == 502 and len(events) == 1


def test_a_burst_of_connections_is_accepted(emulator) -> None:
    import concurrent.futures

    running, _ = emulator
    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(lambda _: httpx.get(f"{running.url}/v1/openapi.json").status_code, range(40)))
    assert codes == [200] * 40


def test_requests_run_side_by_side_each_instance_one_at_a_time() -> None:
    """Like Lambda's instances: each instance (its own resolver, which keeps the current
    request) handles one request at a time; concurrent requests run on other instances,
    at once, and every request gets its own answer."""
    import concurrent.futures
    import threading
    import time

    guard = threading.Lock()
    inside: dict[int, int] = {}  # instance -> requests inside it now
    overlaps: list[int] = []  # requests inside the same instance, seen at each entry
    at_once, all_inside = [0], threading.Barrier(8, timeout=10)

    def new_instance() -> Any:
        with guard:
            number = len(inside)
            inside[number] = 0

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with guard:
                inside[number] += 1
                overlaps.append(inside[number])
                at_once[0] = max(at_once[0], sum(inside.values()))
            all_inside.wait()  # the first 8 requests are all inside their instances together
            time.sleep(0.01)
            with guard:
                inside[number] -= 1
            return {"statusCode": 200, "body": event["body"] or ""}

        return handler

    running = ApiGatewayEmulator(new_instance, [KEY], concurrency=8).start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            bodies = [f"request-{index}" for index in range(32)]
            answers = list(
                pool.map(
                    lambda body: (
                        httpx.post(f"{running.url}/v1/videos", content=body, headers={"x-api-key": KEY}).text
                    ),
                    bodies,
                )
            )
    finally:
        running.stop()
    assert answers == bodies  # every request got its own answer
    assert max(overlaps) == 1  # never two requests in one instance
    assert at_once[0] == 8 and len(inside) == 8  # side by side, up to the concurrency
