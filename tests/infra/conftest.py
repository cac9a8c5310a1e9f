"""Session fixtures of the infrastructure tests.

`synthesized`: the default stack (config/default.json), synthesized once per session in
this process against an empty layer directory, as `make synth` would without AWS.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace

import pytest

# Before aws_cdk starts its Node.js runtime: infra/__init__ silences jsii's Node.js version banner.
importlib.import_module("infra")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from aws_cdk.assertions import Template

    from infra.app import create_app
    from infra.stack import VideohookStack

    layer: Path = tmp_path_factory.mktemp("lambda-layer")
    (layer / "python").mkdir()
    app = create_app({"layer_path": str(layer)}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = VideohookStack(app, "Videohook")
    template = Template.from_stack(stack)
    return SimpleNamespace(app=app, stack=stack, template=template, json=template.to_json())
