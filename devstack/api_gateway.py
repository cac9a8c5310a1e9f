"""A loopback HTTP server that plays API Gateway's REST proxy integration.

Requests become version 1.0 proxy events for the same `handlers.api.handler`
that API Gateway invokes in the cloud. Like API Gateway with
`apiKeyRequired`, a request without a known `x-api-key` gets 403 before the
handler runs, and the key's id (the tenant) is put in the request context.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.lambda_bridge import LambdaContext

logger = logging.getLogger(__name__)
# API Gateway's payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
# Routes that API Gateway serves without an API key.
PUBLIC_PATHS = ("/v1/openapi.json",)
RESOURCES = (("/v1/videos/", "/v1/videos/{id}"),)
# API Gateway's own answers, unless the template customises them (AWS::ApiGateway::GatewayResponse).
DEFAULT_GATEWAY_RESPONSES = {
    "INVALID_API_KEY": (403, b'{"message":"Forbidden"}'),
    "REQUEST_TOO_LARGE": (413, b'{"message":"Request Too Long"}'),
}


def gateway_responses_from_template(template: dict[str, Any]) -> dict[str, tuple[int, bytes]]:
    responses = dict(DEFAULT_GATEWAY_RESPONSES)
    for resource in template.get("Resources", {}).values():
        if resource["Type"] != "AWS::ApiGateway::GatewayResponse":
            continue
        props = resource["Properties"]
        kind = props["ResponseType"]
        status, body = responses.get(kind, (500, b""))
        body_template = props.get("ResponseTemplates", {}).get("application/json")
        responses[kind] = (
            int(props.get("StatusCode", status)),
            body_template.encode() if body_template else body,
        )
    return responses


def tenant_id_for(api_key: str) -> str:
    """A stable stand-in for API Gateway's API key id; never the key itself."""
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


def _resource(path: str) -> tuple[str, dict[str, str] | None]:
    for prefix, template in RESOURCES:
        rest = path.removeprefix(prefix)
        if path.startswith(prefix) and rest and "/" not in rest:
            return template, {"id": rest}
    return path, None


def build_event(
    method: str, target: str, headers: dict[str, str], body: bytes, api_key_id: str | None, source_ip: str
) -> dict[str, Any]:
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    resource, path_parameters = _resource(parts.path)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": resource,
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{parts.path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {
                # API Gateway passes the key here too; the emulator leaves it out (the header still has it).
                "apiKey": None,
                "apiKeyId": api_key_id,
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent"),
            },
        },
        "body": text or None,
        "isBase64Encoded": encoded,
    }


class ApiGatewayEmulator:
    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        api_keys: list[str],
        *,
        gateway_responses: dict[str, tuple[int, bytes]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._handler = handler
        self._gateway_responses = gateway_responses or DEFAULT_GATEWAY_RESPONSES
        self._tenants = {key: tenant_id_for(key) for key in api_keys}
        emulator = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
                pass

            def _serve(self) -> None:
                emulator._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self._server = ThreadingHTTPServer((host, port), RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ApiGatewayEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(
        self, request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        json_headers = {"Content-Type": "application/json"}
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            request.close_connection = True
            self._reply(request, *self._gateway_responses["REQUEST_TOO_LARGE"], json_headers)
            return
        body = request.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in request.headers.items()}
        path = urlsplit(request.path).path
        api_key = headers.get("x-api-key")
        tenant = self._tenants.get(api_key or "")
        if tenant is None and path not in PUBLIC_PATHS:
            self._reply(request, *self._gateway_responses["INVALID_API_KEY"], json_headers)
            return
        event = build_event(request.command, request.path, headers, body, tenant, request.client_address[0])
        try:
            response = self._handler(event, LambdaContext(function_name="videohook-api"))
        except Exception:  # noqa: BLE001 - API Gateway answers a crashed integration with 502
            logger.exception("api handler crashed")
            self._reply(request, 502, b'{"message": "Internal server error"}', json_headers)
            return
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        self._reply(request, int(response.get("statusCode", 502)), data, out_headers)
