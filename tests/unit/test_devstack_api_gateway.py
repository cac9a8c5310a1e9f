"""The local API Gateway's proxy events, and the bridge that runs moto's Lambda invocations in-process."""

from __future__ import annotations

import base64
import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from moto.awslambda import models as lambda_models

from devstack import lambda_bridge
from devstack.api_gateway import build_event, tenant_id_for

API_KEY = "vh_live_SUPERSECRET_0123456789"
TENANT = tenant_id_for(API_KEY)


def event_for(
    method: str = "GET", target: str = "/v1/videos", body: bytes = b"", **headers: str
) -> dict[str, Any]:
    all_headers = {"host": "127.0.0.1:3000", "user-agent": "pytest", "x-api-key": API_KEY, **headers}
    return build_event(method, target, all_headers, body, TENANT, "127.0.0.1")


# ---- build_event -----------------------------------------------------------------


def test_event_for_a_job_resource() -> None:
    event = event_for("GET", "/v1/videos/vid_x")
    assert event["resource"] == "/v1/videos/{id}"
    assert event["path"] == "/v1/videos/vid_x"
    assert event["pathParameters"] == {"id": "vid_x"}
    assert event["httpMethod"] == "GET"
    assert event["requestContext"]["resourcePath"] == "/v1/videos/{id}"
    assert event["requestContext"]["httpMethod"] == "GET"
    assert event["requestContext"]["stage"] == "local"
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize("path", ["/v1/videos", "/v1/videos/", "/v1/videos/a/b", "/v1/openapi.json"])
def test_paths_without_an_id_keep_their_own_resource(path: str) -> None:
    event = event_for("GET", path)
    assert event["resource"] == path
    assert event["pathParameters"] is None


def test_post_with_json_body() -> None:
    body = json.dumps({"prompt": "a fox ü"}).encode()
    event = event_for("POST", "/v1/videos", body, **{"content-type": "application/json"})
    assert event["resource"] == "/v1/videos"
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"prompt": "a fox ü"}
    assert event["headers"]["content-type"] == "application/json"
    assert event["multiValueHeaders"]["content-type"] == ["application/json"]


def test_non_utf8_body_is_base64() -> None:
    body = b"\x89PNG\r\n\x1a\n\xff\xfe"
    event = event_for("POST", "/v1/videos", body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_query_parameters_single_and_multi() -> None:
    event = event_for("GET", "/v1/videos?status=running&tag=a&tag=b&empty=")
    assert event["path"] == "/v1/videos"
    assert event["queryStringParameters"] == {"status": "running", "tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "status": ["running"],
        "tag": ["a", "b"],
        "empty": [""],
    }


def test_identity_has_the_key_id_and_never_the_key() -> None:
    event = event_for("GET", "/v1/videos/vid_x")
    identity = event["requestContext"]["identity"]
    assert identity["apiKeyId"] == TENANT
    assert identity["apiKey"] is None
    assert identity["sourceIp"] == "127.0.0.1"
    assert identity["userAgent"] == "pytest"
    assert API_KEY not in json.dumps(event["requestContext"])


def test_request_ids_are_unique() -> None:
    first, second = event_for(), event_for()
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]
    uuid.UUID(first["requestContext"]["requestId"])


def test_public_path_without_key() -> None:
    event = build_event("GET", "/v1/openapi.json", {}, b"", None, "127.0.0.1")
    assert event["requestContext"]["identity"]["apiKeyId"] is None
    assert event["requestContext"]["identity"]["apiKey"] is None


# ---- tenant_id_for -------------------------------------------------------------------


def test_tenant_id_is_stable_and_never_contains_the_key() -> None:
    assert tenant_id_for(API_KEY) == tenant_id_for(API_KEY) == TENANT
    assert TENANT.startswith("key_") and len(TENANT) == len("key_") + 16
    assert API_KEY not in TENANT
    # API Gateway keys are at least 20 characters; a hex-looking key must not survive either.
    for key in ("0123456789abcdef0123", "key_0123456789abcdef0123", "AbCdEfGhIjKlMnOpQrStUvWx"):
        assert key not in tenant_id_for(key)
        assert key[:16].lower() not in tenant_id_for(key)


def test_tenant_ids_differ_per_key() -> None:
    ids = {tenant_id_for(f"key-{i}") for i in range(200)}
    assert len(ids) == 200


# ---- lambda_bridge ---------------------------------------------------------------------


@pytest.fixture
def bridge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Install the bridge (undone afterwards) and a handler module in tmp_path; yields its module name."""
    module = f"bridge_handler_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            class JobExploded(RuntimeError):
                pass


            def handler(event, context):
                if event.get("explode"):
                    raise JobExploded(f"boom for {event['explode']}")
                return {
                    "echo": event,
                    "function_name": context.function_name,
                    "memory": context.memory_limit_in_mb,
                    "arn": context.invoked_function_arn,
                    "remaining": context.get_remaining_time_in_millis(),
                }
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # Registered with monkeypatch so that the original is restored after the test.
    monkeypatch.setattr(
        lambda_models.LambdaFunction, "_invoke_lambda", lambda_models.LambdaFunction._invoke_lambda
    )
    monkeypatch.setattr(lambda_bridge, "invocations", {})
    lambda_bridge.install()
    yield module
    sys.modules.pop(module, None)


def stand_in(module: str) -> SimpleNamespace:
    return SimpleNamespace(
        handler=f"{module}.handler",
        function_name="videohook-poll",
        memory_size="512",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:videohook-poll",
    )


def test_installed_after_install(bridge: str) -> None:
    assert lambda_bridge.installed()
    assert lambda_models.LambdaFunction._invoke_lambda is not lambda_bridge._original_invoke


def test_bridge_returns_the_handler_result(bridge: str) -> None:
    invoke = lambda_models.LambdaFunction._invoke_lambda
    payload, errored, logs = invoke(stand_in(bridge), json.dumps({"job_id": "vid_1", "wait_seconds": 4}))
    assert errored is False
    assert logs == ""
    assert json.loads(payload) == {
        "echo": {"job_id": "vid_1", "wait_seconds": 4},
        "function_name": "videohook-poll",
        "memory": 512,
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:videohook-poll",
        "remaining": 900_000,
    }


def test_bridge_accepts_dict_and_empty_events(bridge: str) -> None:
    invoke = lambda_models.LambdaFunction._invoke_lambda
    assert json.loads(invoke(stand_in(bridge), {"a": 1})[0])["echo"] == {"a": 1}
    assert json.loads(invoke(stand_in(bridge), None)[0])["echo"] == {}


def test_bridge_reports_exceptions_like_lambda(bridge: str) -> None:
    invoke = lambda_models.LambdaFunction._invoke_lambda
    payload, errored, logs = invoke(stand_in(bridge), json.dumps({"explode": "vid_2"}))
    assert errored is True
    body = json.loads(payload)
    assert body["errorType"] == "JobExploded"
    assert body["errorMessage"] == "boom for vid_2"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert "Traceback" in logs and "JobExploded: boom for vid_2" in logs


def test_bridge_counts_invocations_per_handler(bridge: str) -> None:
    invoke = lambda_models.LambdaFunction._invoke_lambda
    for _ in range(3):
        invoke(stand_in(bridge), "{}")
    invoke(stand_in(bridge), json.dumps({"explode": "x"}))
    assert lambda_bridge.invocations == {f"{bridge}.handler": 4}


def test_resolve_handler(bridge: str) -> None:
    function = lambda_bridge.resolve_handler(f"{bridge}.handler")
    assert function.__name__ == "handler"
    with pytest.raises(ModuleNotFoundError):
        lambda_bridge.resolve_handler("no_such_module_for_videohook.handler")
