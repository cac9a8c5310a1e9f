"""handlers.rest_api.errors: the one table of error answers (status, body, headers) of every DomainError."""

from __future__ import annotations

import pytest

from handlers.rest_api import errors as api_errors
from videohook import errors


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (errors.InvalidInput("c", "m", field="f"), 400, {}),
        (errors.ProviderRefused("c", "m"), 400, {}),
        (errors.NotFound("c", "m", field="id"), 404, {}),
        (errors.Conflict("c", "m"), 409, {}),
        (errors.IdempotencyInProgress("c", "m", retry_after=1), 409, {"Retry-After": "1"}),
        (errors.IdempotencyKeyReused("c", "m"), 422, {}),
        (errors.ProviderAuthFailed("c", "m"), 502, {}),
        (errors.ProviderUnavailable("c", "m", retry_after=2.5), 503, {"Retry-After": "3"}),
        (errors.ProviderUnavailable("c", "m"), 503, {}),
        (errors.ProviderNotConfigured("c", "m", field="provider"), 503, {}),
    ],
)
def test_every_domain_error_has_its_status(error: errors.DomainError, status: int, headers: dict) -> None:
    response = api_errors.answer_domain_error(error)
    assert response.status_code == status
    assert response.body == {"error": {"code": "c", "message": "m", "field": error.field}}
    assert api_errors.headers_of(error) == headers


def test_every_domain_error_class_is_in_the_table() -> None:
    classes = {
        value
        for value in vars(errors).values()
        if isinstance(value, type)
        and issubclass(value, errors.DomainError)
        and value is not errors.DomainError
    }
    assert classes == set(api_errors.STATUS)
