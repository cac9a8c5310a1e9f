"""The local stack's pool of api instances: side by side up to the concurrency, one request each."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from devstack.lambda_bridge import LambdaKilled
from devstack.lambda_instances import DEFAULT_CONCURRENCY, InstancePool, concurrency_from_template


def counting_factory() -> tuple[list[Any], Any]:
    made: list[Any] = []

    def new_instance() -> Any:
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200}

        made.append(handler)
        return handler

    return made, new_instance


def test_an_idle_instance_is_reused() -> None:
    made, new_instance = counting_factory()
    pool = InstancePool(new_instance, limit=4)
    for _ in range(3):
        with pool.instance() as handler:
            assert handler is made[0]
    assert len(made) == 1 and pool.size == 1


def test_a_busy_instance_is_never_shared() -> None:
    made, new_instance = counting_factory()
    pool = InstancePool(new_instance, limit=4)
    with pool.instance() as first, pool.instance() as second:
        assert first is not second
    assert len(made) == 2 and pool.size == 2


def test_beyond_the_concurrency_a_request_waits_for_an_idle_instance() -> None:
    made, new_instance = counting_factory()
    pool = InstancePool(new_instance, limit=2)
    got: list[Any] = []
    with pool.instance(), pool.instance():
        waiter = threading.Thread(target=lambda: got.append(pool.instance().__enter__()))
        waiter.start()
        waiter.join(timeout=0.2)
        assert waiter.is_alive() and got == []  # both instances busy: it waits
    waiter.join(timeout=5)
    assert got and got[0] in made and len(made) == 2


def test_an_error_keeps_the_instance_a_killed_runtime_drops_it() -> None:
    made, new_instance = counting_factory()
    pool = InstancePool(new_instance, limit=1)
    with pytest.raises(RuntimeError), pool.instance():
        raise RuntimeError("an error answer")
    with pool.instance() as handler:
        assert handler is made[0]
    with pytest.raises(LambdaKilled), pool.instance():
        raise LambdaKilled
    assert pool.size == 0
    with pool.instance() as handler:
        assert handler is made[1]  # a fresh instance, within the limit of 1


def test_an_instance_that_fails_to_start_frees_its_place() -> None:
    def broken() -> Any:
        raise ImportError("no such handler")

    pool = InstancePool(broken, limit=1)
    for _ in range(2):
        with pytest.raises(ImportError), pool.instance():
            pass
    assert pool.size == 0


def test_the_concurrency_is_the_templates_reserved_concurrency_or_the_default() -> None:
    def template(**props: Any) -> dict[str, Any]:
        function = {"Handler": "handlers.api.handler", **props}
        other = {"Handler": "handlers.poll_provider.handler", "ReservedConcurrentExecutions": 3}
        return {
            "Resources": {
                "Api": {"Type": "AWS::Lambda::Function", "Properties": function},
                "Poll": {"Type": "AWS::Lambda::Function", "Properties": other},
            }
        }

    assert concurrency_from_template(template(), "handlers.api.handler") == DEFAULT_CONCURRENCY
    assert concurrency_from_template(template(ReservedConcurrentExecutions=7), "handlers.api.handler") == 7
    with pytest.raises(ValueError):
        InstancePool(lambda: None, limit=0)  # type: ignore[arg-type, return-value]
