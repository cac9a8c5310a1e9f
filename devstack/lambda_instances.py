"""The api function's instances in the local stack, side by side like Lambda's.

Lambda runs one request at a time in each instance of a function and starts another
instance when every instance is busy, up to the function's concurrency. `InstancePool`
does the same with the handler's `new_instance()` (each instance holds its own
Powertools resolver, which keeps the current request): a request takes an idle
instance, or a new one while fewer than `limit` exist; beyond that it waits for an
instance to become idle (the local stack queues where Lambda would throttle). An
instance whose runtime was killed (`lambda_bridge.LambdaKilled`) is dropped, as Lambda
drops its environment; the next request starts a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# Instances of the api function at most, unless the template reserves a concurrency for it:
# enough for the benchmark's 100 simultaneous submits (bench/run.py) to run side by side.
DEFAULT_CONCURRENCY = 100


def concurrency_from_template(template: dict[str, Any], handler: str) -> int:
    """The function's `ReservedConcurrentExecutions` in the template, else DEFAULT_CONCURRENCY."""
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Function" and props.get("Handler") == handler:
            reserved = props.get("ReservedConcurrentExecutions")
            if reserved is not None:
                return int(reserved)
    return DEFAULT_CONCURRENCY


class InstancePool:
    def __init__(self, new_instance: Callable[[], Handler], limit: int = DEFAULT_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("an instance pool needs a limit of at least 1")
        self._new_instance = new_instance
        self.limit = limit
        self._idle: list[Handler] = []
        self._started = 0  # instances that exist: idle, busy, or being started
        self._changed = threading.Condition()

    @property
    def size(self) -> int:
        """How many instances exist now."""
        with self._changed:
            return self._started

    @contextmanager
    def instance(self) -> Iterator[Handler]:
        """An instance of the function for one request, returned to the pool afterwards."""
        with self._changed:
            while not self._idle and self._started >= self.limit:
                self._changed.wait()
            handler = self._idle.pop() if self._idle else None
            if handler is None:
                self._started += 1
        if handler is None:
            try:
                handler = self._new_instance()
            except BaseException:
                self._drop()
                raise
        try:
            yield handler
        except Exception:
            self._release(handler)  # an error answer: the instance serves the next request
            raise
        except BaseException:
            self._drop()  # the runtime itself died with the request
            raise
        else:
            self._release(handler)

    def _release(self, handler: Handler) -> None:
        with self._changed:
            self._idle.append(handler)
            self._changed.notify()

    def _drop(self) -> None:
        with self._changed:
            self._started -= 1
            self._changed.notify()
