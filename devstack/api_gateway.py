"""A loopback HTTP server that plays API Gateway's REST proxy integration.

Requests become version 1.0 proxy events for the api function's handler, the one
API Gateway invokes in the cloud, each on an instance of it from a pool
(devstack.lambda_instances): requests are served side by side, one at a time
per instance, like Lambda's concurrent instances. The routes are the template's own
(`AWS::ApiGateway::Resource` / `Method`): a method the template lacks gets the
MISSING_AUTHENTICATION_TOKEN gateway response, and like API Gateway with
`apiKeyRequired`, a request without a known `x-api-key` gets 403 before the
handler runs; the key's id (the tenant) is put in the request context. Bodies
over API Gateway's 10 MB and events over Lambda's 6 MB are refused the way
the cloud refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.lambda_bridge import LambdaContext
from devstack.lambda_instances import DEFAULT_CONCURRENCY, Handler, InstancePool
from devstack.local_output import REQUESTS_LOGGER
from devstack.moto_server import LISTEN_BACKLOG

logger = logging.getLogger(__name__)
# One INFO line per request answered: method, path, status (`make dev` shows them).
request_log = logging.getLogger(REQUESTS_LOGGER)
# API Gateway's payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
# A too-large body is still read up to this size before the 413, then the connection is closed.
MAX_DRAINED_BYTES = 64 * 1024 * 1024
# Lambda's synchronous invocation payload limit: the whole proxy event must fit.
MAX_EVENT_BYTES = 6 * 1024 * 1024
# Without a template's routes: the paths API Gateway serves without an API key, and the resources.
PUBLIC_PATHS = ("/v1/openapi.json",)
RESOURCES = (("/v1/videos/", "/v1/videos/{id}"), ("/v1/videos/", "/v1/videos/{id}/cancel"))
# API Gateway's own answers, unless the template customises them (AWS::ApiGateway::GatewayResponse).
DEFAULT_GATEWAY_RESPONSES = {
    "INVALID_API_KEY": (403, b'{"message":"Forbidden"}'),
    "MISSING_AUTHENTICATION_TOKEN": (403, b'{"message":"Missing Authentication Token"}'),
    "REQUEST_TOO_LARGE": (413, b'{"message":"Request Too Long"}'),
    "INTEGRATION_FAILURE": (502, b'{"message": "Internal server error"}'),
}


@dataclass(frozen=True)
class Route:
    """One method of the REST API: `resource` is API Gateway's path template, e.g. /v1/videos/{id}."""

    method: str
    resource: str
    api_key_required: bool

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters if `path` is this resource, else None."""
        wanted, given = self.resource.strip("/").split("/"), path.strip("/").split("/")
        if len(wanted) != len(given) or not path.startswith("/"):
            return None
        parameters = {}
        for part, value in zip(wanted, given, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not value:
                    return None
                parameters[part[1:-1]] = value
            elif part != value:
                return None
        return parameters


def routes_from_template(template: dict[str, Any]) -> list[Route]:
    """Every AWS::ApiGateway::Method of the template, with its resource's full path."""
    resources = template.get("Resources", {})

    def path_of(reference: Any) -> str:
        if isinstance(reference, dict) and "Ref" in reference:
            props = resources[reference["Ref"]]["Properties"]
            return path_of(props["ParentId"]).rstrip("/") + "/" + props["PathPart"]
        return "/"  # Fn::GetAtt RestApi.RootResourceId

    routes = [
        Route(
            method=props["HttpMethod"],
            resource=path_of(props["ResourceId"]),
            api_key_required=bool(props.get("ApiKeyRequired", False)),
        )
        for resource in resources.values()
        if resource["Type"] == "AWS::ApiGateway::Method"
        for props in [resource["Properties"]]
    ]
    # Like API Gateway, a literal path segment wins over a {parameter}.
    return sorted(routes, key=lambda route: route.resource.count("{"))


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
    for _, template in RESOURCES:
        parameters = Route("ANY", template, True).match(path)
        if parameters:
            return template, parameters
    return path, None


def build_event(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    api_key_id: str | None,
    source_ip: str,
    route: Route | None = None,
) -> dict[str, Any]:
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    if route is not None:
        resource, path_parameters = route.resource, route.match(parts.path) or None
    else:
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
            # The path the caller used (API Gateway's holds the stage, or a custom domain's base
            # path, before the resource; the emulator serves the API at its root).
            "path": parts.path,
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # API Gateway takes bursts of connections; socketserver's default backlog of 5 resets them.
    request_queue_size = LISTEN_BACKLOG


class ApiGatewayEmulator:
    def __init__(
        self,
        new_instance: Callable[[], Handler],
        api_keys: list[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        gateway_responses: dict[str, tuple[int, bytes]] | None = None,
        routes: list[Route] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.instances = InstancePool(new_instance, concurrency)
        self._gateway_responses = {**DEFAULT_GATEWAY_RESPONSES, **(gateway_responses or {})}
        self._routes = routes
        self._tenants = {key: tenant_id_for(key) for key in api_keys}
        emulator = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
                pass

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                status = int(code) if isinstance(code, int) else code
                request_log.info("%s %s %s", self.command, self.path, status)

            def _serve(self) -> None:
                emulator._serve(self)

            def __getattr__(self, name: str) -> Any:
                # Every method (do_GET, do_TRACE, do_QUERY, ...) reaches the route table: one the
                # template lacks gets API Gateway's answer.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

        self._server = _Server((host, port), RequestHandler)
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

    def _route(self, method: str, path: str) -> Route | None:
        if self._routes is None:  # no template: every path, key required except the public ones
            return Route(method, path, path not in PUBLIC_PATHS)
        return next((r for r in self._routes if r.method == method and r.match(path) is not None), None)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        json_headers = {"Content-Type": "application/json"}

        def gateway_response(kind: str) -> None:
            self._reply(request, *self._gateway_responses[kind], json_headers)

        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            # Read what was sent (within reason) so the client sees the answer, not a reset.
            remaining = min(length, MAX_DRAINED_BYTES)
            while remaining > 0:
                chunk = request.rfile.read(min(remaining, 1024 * 1024))
                if not chunk:
                    break
                remaining -= len(chunk)
            request.close_connection = True
            gateway_response("REQUEST_TOO_LARGE")
            return
        body = request.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in request.headers.items()}
        headers["x-forwarded-proto"] = "http"  # as API Gateway names the scheme it was reached by
        path = urlsplit(request.path).path
        route = self._route(request.command, path)
        if route is None:
            gateway_response("MISSING_AUTHENTICATION_TOKEN")
            return
        api_key = headers.get("x-api-key")
        tenant = self._tenants.get(api_key or "")
        if tenant is None and route.api_key_required:
            gateway_response("INVALID_API_KEY")
            return
        event = build_event(
            request.command,
            request.path,
            headers,
            body,
            tenant,
            request.client_address[0],
            route if self._routes is not None else None,
        )
        if len(json.dumps(event).encode()) > MAX_EVENT_BYTES:
            # Lambda refuses the invocation; API Gateway reports an integration failure.
            gateway_response("INTEGRATION_FAILURE")
            return
        try:
            with self.instances.instance() as handler:
                response = handler(event, LambdaContext(function_name="videohook-api"))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - API Gateway answers a crashed integration with 502
            # BaseException too: a test's simulated kill of the Lambda (no cleanup ran) is a crash.
            logger.exception("api handler crashed")
            gateway_response("INTEGRATION_FAILURE")
            return
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        self._reply(request, int(response.get("statusCode", 502)), data, out_headers)
