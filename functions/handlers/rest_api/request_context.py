"""The request an API instance is answering, for its route functions.

The route modules' Routers are shared by every resolver that includes them, and a Router
reads request state (`current_event`, `lambda_context`) from the LAST resolver that
included it: with several instances in one process (the local stack serves requests side
by side, one resolver per simulated Lambda instance), that would be another instance's
request. So each instance's handler (handlers.api.new_instance) puts its own resolver in a
context variable for the time of one request (`answering`), and routes read the request
through `tenant_id()` and `lambda_context()` here. Context variables are per thread:
concurrent instances each see their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from handlers.rest_api.errors import MissingApiKey

_answering: ContextVar[APIGatewayRestResolver] = ContextVar("videohook_api_resolver")


@contextmanager
def answering(resolver: APIGatewayRestResolver) -> Iterator[None]:
    token = _answering.set(resolver)
    try:
        yield
    finally:
        _answering.reset(token)


def resolver() -> APIGatewayRestResolver:
    """The resolver answering this thread's request."""
    return _answering.get()


def tenant_id() -> str:
    """Every API key is a tenant: API Gateway puts the key's id in the request context."""
    tenant = resolver().current_event.request_context.identity.api_key_id
    if not tenant:
        raise MissingApiKey()
    return tenant


def lambda_context() -> Any:
    return resolver().lambda_context
