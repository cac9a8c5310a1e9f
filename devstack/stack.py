"""The local stack: moto's server + the synthesized template + the API + the sandbox provider."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STACK_NAME = "Videohook"
REGION = "us-east-1"
DEFAULT_PORT = 8787
DEFAULT_API_KEY = "vh_local_dev_key"
SANDBOX_API_KEY = "sandbox-local-key"
API_HANDLER = "handlers.api.handler"
logger = logging.getLogger(__name__)
PROVIDER_KEY_ENV = {"cometapi": "COMETAPI_API_KEY", "xai": "XAI_API_KEY", "aimlapi": "AIMLAPI_API_KEY"}

if str(REPO / "functions") not in sys.path:
    sys.path.insert(0, str(REPO / "functions"))


def synthesize(outdir: Path) -> dict[str, Any]:
    """Run the CDK app (no AWS credentials, no Docker) and return the stack's template."""
    layer = Path(tempfile.mkdtemp(prefix="videohook-layer-"))
    (layer / "python").mkdir()
    env = dict(os.environ)
    env.update(
        CDK_OUTDIR=str(outdir),
        # The layer is not used locally (handlers run in-process); cdk-nag and CDK's template
        # validation run in the infrastructure tests and `make synth`, not on every local start.
        CDK_CONTEXT_JSON=json.dumps({"layer_path": str(layer), "nag": False}),
        CDK_VALIDATION="false",
    )
    for variable in ("AWS_ENDPOINT_URL", "CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        env.pop(variable, None)
    # What the app prints is for `make synth` (e.g. its deployment warnings): in the log, unless it fails.
    run = subprocess.run(
        [sys.executable, str(REPO / "infra" / "app.py")], cwd=REPO, env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        run.check_returncode()
    for line in (run.stdout + run.stderr).splitlines():
        logger.info("synth: %s", line)
    return json.loads((outdir / f"{STACK_NAME}.template.json").read_text())


@dataclass
class LocalStackConfig:
    port: int = DEFAULT_PORT
    api_keys: list[str] = field(default_factory=lambda: [DEFAULT_API_KEY])
    time_scale: float = 1.0
    webhook_secret: str = ""
    provider: str = "sandbox"
    allow_loopback_webhooks: bool = True
    provider_keys: dict[str, str] = field(default_factory=dict)
    # The sandbox's API key; when set, the sandbox accepts only it (as `python -m sandbox` does).
    sandbox_api_key: str = ""
    template: dict[str, Any] | None = None

    @classmethod
    def from_env(cls) -> LocalStackConfig:
        keys = [k.strip() for k in os.environ.get("VIDEOHOOK_API_KEYS", "").split(",") if k.strip()]
        keys = keys or [os.environ.get("VIDEOHOOK_API_KEY") or DEFAULT_API_KEY]
        return cls(
            port=int(os.environ.get("VIDEOHOOK_PORT") or DEFAULT_PORT),
            api_keys=keys,
            time_scale=float(os.environ.get("VIDEOHOOK_TIME_SCALE") or 1.0),
            webhook_secret=os.environ.get("VIDEOHOOK_WEBHOOK_SECRET", ""),
            provider=os.environ.get("VIDEOHOOK_PROVIDER") or "sandbox",
            allow_loopback_webhooks=os.environ.get("VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS", "1") == "1",
            provider_keys={p: os.environ[v] for p, v in PROVIDER_KEY_ENV.items() if os.environ.get(v)},
            sandbox_api_key=os.environ.get("SANDBOX_API_KEY", ""),
        )


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class LocalStack:
    """Everything `make dev` runs, in threads of this process."""

    def __init__(self, config: LocalStackConfig) -> None:
        self.config = config
        self.webhook_secret = config.webhook_secret or new_webhook_secret()
        self.sandbox: Any = None
        self.moto: Any = None
        self.api: Any = None
        self.scheduler: Any = None
        self.environment: dict[str, str] = {}
        self.template: dict[str, Any] = {}
        self.resources: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self.api.url

    def start(self) -> LocalStack:
        from moto.core.config import default_user_config

        from devstack import asl_programs, lambda_bridge, time_scale
        from devstack.api_gateway import (
            ApiGatewayEmulator,
            gateway_responses_from_template,
            routes_from_template,
        )
        from devstack.function_environment import functions_environment
        from devstack.lambda_instances import concurrency_from_template
        from devstack.moto_server import MotoServer, list_services_once, serialize_dynamodb_writes
        from devstack.template import TemplateResolver, create_resources

        template = self.config.template
        if template is None:
            template = synthesize(Path(tempfile.mkdtemp(prefix="videohook-cdk-")))
        self.template = template

        self.moto = MotoServer()
        moto_url = self.moto.url
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_SESSION_TOKEN="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_ENDPOINT_URL=moto_url,
            # moto's Step Functions interpreter calls Lambda and other services through this port.
            MOTO_PORT=str(self.moto.port),
        )
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        lambda_bridge.install()
        time_scale.install(self.config.time_scale)
        asl_programs.install()
        serialize_dynamodb_writes()
        list_services_once()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        self.moto.start()

        provider_keys = dict(self.config.provider_keys)
        overrides: dict[str, str] = {}
        if self.config.provider == "sandbox":
            from sandbox.server import SandboxServer

            self.sandbox = SandboxServer(
                time_factor=self.config.time_scale, api_key=self.config.sandbox_api_key or None
            ).start()
            provider_keys["sandbox"] = self.config.sandbox_api_key or SANDBOX_API_KEY
            overrides["SANDBOX_BASE_URL"] = self.sandbox.url

        resolver = TemplateResolver(template, region=REGION, stack_name=STACK_NAME, endpoint=moto_url)
        secret_ids = _secret_ids_by_variable(template)
        secret_values = {
            secret_ids["VIDEOHOOK_WEBHOOK_SECRET_ARN"]: self.webhook_secret,
            secret_ids["VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN"]: json.dumps(provider_keys),
        }
        import boto3

        environments = create_resources(resolver, boto3.session.Session(), secret_values=secret_values)
        self.environment = functions_environment(
            template,
            environments,
            operator=os.environ,
            stack={
                **overrides,
                "VIDEOHOOK_PROVIDER": self.config.provider,
                "VIDEOHOOK_TIME_SCALE": str(self.config.time_scale),
                "VIDEOHOOK_ALLOW_LOOPBACK_WEBHOOKS": "1" if self.config.allow_loopback_webhooks else "0",
                "POWERTOOLS_TRACE_DISABLED": "1",
            },
        )
        # Handlers run in this process: their environment is the process environment.
        os.environ.update(self.environment)
        from videohook.config import get_settings

        get_settings.cache_clear()

        from devstack.schedules import Scheduler, schedules_from_template

        function_names = {
            function.logical_id: function.physical_name
            for function in resolver.of_type("AWS::Lambda::Function")
        }
        self.scheduler = Scheduler(
            schedules_from_template(template, function_names),
            time_scale=lambda: self.config.time_scale,
            lambda_client=boto3.client("lambda"),
        ).start()

        # Each instance of the api function: a handler bound to its own resolver.
        module, _, _ = API_HANDLER.rpartition(".")
        self.api = ApiGatewayEmulator(
            lambda_bridge.resolve_handler(f"{module}.new_instance"),
            self.config.api_keys,
            concurrency=concurrency_from_template(template, API_HANDLER),
            gateway_responses=gateway_responses_from_template(template),
            routes=routes_from_template(template),
            port=self.config.port,
        ).start()
        return self

    def set_time_scale(self, scale: float) -> None:
        """Change the clock of the running stack: interpreter waits, handlers and the sandbox."""
        from devstack import time_scale
        from videohook.config import get_settings

        self.config.time_scale = scale
        time_scale.install(scale)
        os.environ["VIDEOHOOK_TIME_SCALE"] = self.environment["VIDEOHOOK_TIME_SCALE"] = str(scale)
        if self.sandbox is not None:
            self.sandbox.time_factor = scale
        get_settings.cache_clear()

    def stop(self) -> None:
        for part in (self.api, self.scheduler, self.sandbox, self.moto):
            if part is not None:
                part.stop()


def _secret_ids_by_variable(template: dict[str, Any]) -> dict[str, str]:
    """Which secret each *_SECRET_ARN variable of the functions refers to (by logical id)."""
    found: dict[str, str] = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if name.endswith("_SECRET_ARN") and isinstance(value, dict) and "Ref" in value:
                found[name] = value["Ref"]
    return found
