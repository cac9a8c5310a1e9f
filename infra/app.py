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
import tempfile
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
from infra.constructs import ACKNOWLEDGMENTS_CONTEXT
from infra.nag_summary import NagSummary
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


def nag_enabled(app: cdk.App) -> bool:
    """Context `nag` (default on): run the cdk-nag AwsSolutions checks at synth."""
    nag = app.node.try_get_context("nag")
    return nag is None or str(nag).strip().lower() not in ("false", "0", "no", "off")


def build_stack(app: cdk.App) -> VideohookStack:
    # The environment's config file (context `config`), validated before anything is built.
    config = VideohookConfig.from_context(app.node)
    return VideohookStack(
        app,
        config.stack_name,
        config=config,
        env=environment(),
        description="videohook: serverless webhook-style wrapper around async video generation APIs",
    )


def build(app: cdk.App) -> VideohookStack:
    stack = build_stack(app)
    if nag_enabled(app):
        # cdk-nag v3 is a policy-validation plugin: any unacknowledged finding (warning or
        # error) fails the synth and is listed in the assembly's validation-report.json.
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def nag_summary(app: cdk.App, context: Mapping[str, Any]) -> NagSummary:
    """cdk-nag's findings on the stack, and how many of them it acknowledges (infra/nag_summary.py)."""
    with tempfile.TemporaryDirectory(prefix="videohook-nag-") as outdir:
        unacknowledged = create_app({**context, ACKNOWLEDGMENTS_CONTEXT: "false"}, outdir=outdir)
        build_stack(unacknowledged)
        return NagSummary.of(app, unacknowledged)


def main(argv: Sequence[str] | None = None) -> int:
    context = parse_context_args(sys.argv[1:] if argv is None else argv)
    app = create_app(context)
    try:
        stack = build(app)
        summary = nag_summary(app, context) if nag_enabled(app) else None
    except (LayerNotBuiltError, ValueError) as error:
        print(f"infra/app.py: {error}", file=sys.stderr)
        return 1
    for warning in stack.config.operator_warnings():
        print(f"infra/app.py: warning: {warning}", file=sys.stderr)
    if summary is not None:
        print(summary.line(), flush=True)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
