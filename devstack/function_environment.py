"""The functions' environment in the local stack: the synthesized template's, with the operator's settings.

The template gives every function two kinds of variables: the names and ARNs of the
stack's resources (intrinsic functions, resolved to the local resources) and the
deployment's settings, plain values (infra/config.py's `lambda_environment`:
`VIDEOHOOK_JOB_DEADLINE_SECONDS`, `VIDEOHOOK_DEFAULT_MODEL`, `POWERTOOLS_LOG_LEVEL`, ...).
A setting present in the environment of `make dev` beats the template's value, as a
different deployment configuration would; a resource's name never does (the local
resources are the ones just created). The stack's own choices (provider, time scale,
loopback webhooks, devstack.stack) come last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deployment_settings(template: dict[str, Any]) -> set[str]:
    """The variables the template gives some function as a plain value, not a resource's reference."""
    functions = [
        resource.get("Properties") or {}
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Lambda::Function"
    ]
    return {
        name
        for props in functions
        for name, value in props.get("Environment", {}).get("Variables", {}).items()
        if isinstance(value, str | int | float | bool)
    }


def functions_environment(
    template: dict[str, Any],
    resolved: Mapping[str, Mapping[str, str]],
    *,
    operator: Mapping[str, str],
    stack: Mapping[str, str],
) -> dict[str, str]:
    """One environment for every function (they run in one process): `resolved` (each function's
    variables, intrinsics resolved), then the settings `operator` sets, then `stack`."""
    environment: dict[str, str] = {}
    for variables in resolved.values():
        environment.update(variables)
    environment.update({name: operator[name] for name in deployment_settings(template) if operator.get(name)})
    environment.update(stack)
    return environment
