"""The shape of functions/: no import cycles among its modules, and HTTP only in functions/handlers/.

Read from the source with `ast`: every import counts, at module level, inside functions and
under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
PACKAGES = ("videohook", "handlers")
# Names of HTTP answers and of the API's resolver: only functions/handlers/ uses those (an
# HTTP *client's* Response, e.g. httpx's in the provider adapters, is not an answer).
HTTP_NAMES = {"ApiError", "APIGatewayRestResolver", "Router"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(FUNCTIONS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), filename=str(path))
        for package in PACKAGES
        for path in sorted((FUNCTIONS / package).rglob("*.py"))
    }


def imported(tree: ast.Module, name: str, known: set[str]) -> set[str]:
    """The modules of `known` that `tree` (module `name`) imports anywhere."""
    found: set[str] = set()
    package = name if name in PACKAGES else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from videohook import submit` imports a module; `from videohook.models import Job` its module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target not in PACKAGES:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_imports_inside_functions_and_type_checking() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from videohook.job_store import JobStore\n"
        "def f():\n    from videohook import submit\n    import videohook.models\n"
    )
    known = {"videohook", "videohook.job_store", "videohook.submit", "videohook.models", "videohook.x"}
    assert imported(tree, "videohook.x", known) == {
        "videohook.job_store",
        "videohook.submit",
        "videohook.models",
    }
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_among_the_modules_of_functions() -> None:
    trees = modules()
    known = set(trees)
    graph = {name: imported(tree, name, known) for name, tree in trees.items()}
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(component) for component in found)


def http_uses(tree: ast.Module) -> list[str]:
    """What in a module builds or names an HTTP answer: an HTTP class, Powertools' event
    handler, or a `status=`/`status_code=` keyword with an HTTP status literal."""
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in HTTP_NAMES:
                uses.append(f"line {node.lineno}: {name}")
        elif isinstance(node, ast.ClassDef) and node.name in HTTP_NAMES:
            uses.append(f"line {node.lineno}: class {node.name}")
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names]
            for name in names:
                if name in HTTP_NAMES or name.startswith("aws_lambda_powertools.event_handler"):
                    uses.append(f"line {node.lineno}: import {name}")
        elif isinstance(node, ast.keyword) and node.arg in ("status", "status_code"):
            value = node.value
            if isinstance(value, ast.Constant) and type(value.value) is int and 100 <= value.value <= 599:
                uses.append(f"line {node.lineno}: {node.arg}={value.value}")
    return uses


def test_the_check_finds_http_answers() -> None:
    tree = ast.parse(
        "from aws_lambda_powertools.event_handler import Response\n"
        "from videohook.errors import ApiError\n"
        "raise Refusal('c', 'm', status=409)\n"
        "answer(status_code=200)\n"
    )
    assert len(http_uses(tree)) == 4  # the two imports, ApiError, status=409
    assert http_uses(ast.parse("f(status=JobStatus.FAILED, status_code=response.status)")) == []


def test_http_answers_are_built_only_in_handlers() -> None:
    outside = {
        name: uses
        for name, tree in modules().items()
        if not name.startswith("handlers") and (uses := http_uses(tree))
    }
    assert outside == {}, f"HTTP outside functions/handlers/: {outside}"
