"""CDK app entry point: `cdk synth` (cdk.json) or, without the CDK CLI or AWS credentials,

    .venv/bin/python infra/app.py [-c key=value ...]

from the repository root. The cloud assembly goes to $CDK_OUTDIR (set by the CDK
CLI) or else ./cdk.out. Context: cdk.json's "context", then $CDK_CONTEXT_JSON (the
CDK CLI's -c), then this script's own -c arguments; keys are listed in infra/stack.py.

The stack is environment-agnostic unless CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION
are set (the CDK CLI sets them when it finds credentials).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

# `python infra/app.py` puts infra/ itself first on sys.path, where infra/constructs/
# would shadow the `constructs` library that aws_cdk imports: swap it for the repo root.
_INFRA_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _INFRA_DIR]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
# Before aws_cdk starts its Node.js runtime: infra/__init__ silences jsii's Node.js version banner.
importlib.import_module("infra")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import VideohookConfig
from infra.stack import LayerNotBuiltError, VideohookStack

CDK_JSON = REPO_ROOT / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags): applied the same way with or without the CDK CLI."""
    if not CDK_JSON.is_file():
        return {}
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def parse_context_args(argv: Sequence[str]) -> dict[str, str]:
    """`-c key=value` / `--context key=value` / `--context=key=value`, like the CDK CLI."""
    context: dict[str, str] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-c", "--context"):
            if not args:
                raise SystemExit(f"{arg} needs key=value")
            item = args.pop(0)
        elif arg.startswith("--context="):
            item = arg.removeprefix("--context=")
        else:
            raise SystemExit(f"unknown argument {arg!r} (usage: infra/app.py [-c key=value ...])")
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"context must be key=value, got {item!r}")
        context[key] = value
    return context


def create_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """An App with cdk.json's context, overridden by $CDK_CONTEXT_JSON, overridden by `context`.

    Tests use it to synth with exactly the feature flags of `make synth` / `cdk synth`."""
    kwargs: dict[str, Any] = {"context": cdk_json_context(), "post_cli_context": dict(context or {})}
    if outdir:
        kwargs["outdir"] = outdir
    elif not os.environ.get("CDK_OUTDIR"):
        kwargs["outdir"] = str(REPO_ROOT / "cdk.out")
    return cdk.App(**kwargs)


def environment() -> cdk.Environment | None:
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    if not account and not region:
        return None  # environment-agnostic: synthesizes with no AWS credentials at all
    return cdk.Environment(account=account or None, region=region or None)


def _enabled(value: Any) -> bool:
    return str(value).strip().lower() not in ("false", "0", "no", "off")


def build(app: cdk.App) -> VideohookStack:
    # The environment's config file (context `config`), validated before anything is built.
    config = VideohookConfig.from_context(app.node)
    stack = VideohookStack(
        app,
        config.stack_name,
        config=config,
        env=environment(),
        description="videohook: serverless webhook-style wrapper around async video generation APIs",
    )
    nag = app.node.try_get_context("nag")
    if nag is None or _enabled(nag):
        # cdk-nag v3 is a policy-validation plugin: any unacknowledged finding (warning or
        # error) fails the synth and is listed in the assembly's validation-report.json.
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def main(argv: Sequence[str] | None = None) -> int:
    app = create_app(parse_context_args(sys.argv[1:] if argv is None else argv))
    try:
        build(app)
    except (LayerNotBuiltError, ValueError) as error:
        print(f"infra/app.py: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
