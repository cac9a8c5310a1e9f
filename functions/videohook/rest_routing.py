"""Powertools' REST API routing, imported without the rest of its event_handler package.

`aws_lambda_powertools.event_handler`'s `__init__` imports every resolver Powertools has
(AppSync's brings asyncio, ssl and subprocess), and `utilities.data_classes`' imports the
class of every event source (Kafka, Kinesis, CodePipeline, ...): together a fifth of the api
function's cold start, for routes that need only the REST resolver and its event. So before
the first import of them, each package is registered with its real path but without running
its `__init__`; each name the `__init__` exports is imported from its own module when first
asked for, so `from aws_lambda_powertools.event_handler import Response` still works
(Powertools' own modules do it). In a process that already imported a package, nothing
changes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from types import ModuleType

# Packages whose __init__ imports far more than the REST resolver uses.
DEFERRED_PACKAGES = (
    "aws_lambda_powertools.event_handler",  # every resolver
    "aws_lambda_powertools.utilities.data_classes",  # every event source's class
)


def defer_package_init(name: str) -> ModuleType:
    """Register package `name` without running its `__init__`: each name that `__init__`
    re-exports (`from module import name`, `from .module import name`) is imported from its
    module at first access. An `__init__` that does anything else (a later version might) is
    run as usual."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not a package with an __init__", name=name)
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), spec.origin)
    if not all(map(_only_declares, tree.body)):
        return importlib.import_module(name)
    origin_of = {
        alias.asname or alias.name: (
            importlib.util.resolve_name("." * node.level + node.module, name),
            alias.name,
        )
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    package = importlib.util.module_from_spec(spec)

    def resolve(attribute: str) -> object:
        if attribute not in origin_of:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        module, original = origin_of[attribute]
        value = getattr(importlib.import_module(module), original)
        setattr(package, attribute, value)
        return value

    package.__getattr__ = resolve  # PEP 562
    package.__all__ = list(origin_of)
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)
    return package


def _only_declares(node: ast.stmt) -> bool:
    """A docstring, `from module import names` (`.module` too), or `__all__ = [...]`."""
    if isinstance(node, ast.ImportFrom):
        return node.module is not None and all(alias.name != "*" for alias in node.names)
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    return isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["__all__"]


for _package in DEFERRED_PACKAGES:
    defer_package_init(_package)

# Imported after the packages are registered (that is the point of this module).
from aws_lambda_powertools.event_handler.api_gateway import (  # noqa: E402
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query  # noqa: E402

__all__ = ["APIGatewayRestResolver", "Header", "Path", "Query", "RequestValidationError", "Response"]
