"""moto's server as the local stack runs it: its own thread, a deep accept queue, atomic writes.

The stack's handlers, moto's Step Functions interpreter and the API all call moto's
server at once (each concurrent api instance, each execution). moto's
`ThreadedMotoServer` listens with werkzeug's queue of 128 connections: a burst beyond
that has its connection attempts dropped by the kernel, retried after 1, 3, 7 s...,
which shows up as seconds of latency. `MotoServer` is the same werkzeug server on the
same moto application, on a socket that this module binds with a longer queue.

moto's application picks the service of every request under one lock, and there lists
its own package directory (`moto.backends.list_of_moto_modules`: a listdir and an isdir
per service). Each of those system calls lets the other threads run, so with a hundred
requests in flight the lock is held for seconds. The services of the installed moto do
not change while the stack runs: `list_services_once` lists them once.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

# Pending connections the listening sockets of the local stack keep (the kernel caps it at
# net.core.somaxconn).
LISTEN_BACKLOG = 1024


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self._socket = socket.create_server((host, port), backlog=LISTEN_BACKLOG)
        self.port = self._socket.getsockname()[1]
        self._server = make_server(
            host,
            self.port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
            fd=self._socket.fileno(),
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self._server.shutdown()
        self._server.server_close()
        self._socket.close()


def list_services_once() -> None:
    """moto's service names, listed once for the process (see the module docstring)."""
    from moto import backends

    names = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: names


_dynamodb_write_lock = threading.RLock()


def serialize_dynamodb_writes() -> None:
    """Make moto's conditional writes atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes, with no lock between: two
    concurrent conditional puts can both succeed, which DynamoDB never allows (the
    idempotent submit relies on exactly that). One lock around every write restores it.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
        original = getattr(DynamoDBBackend, name, None)
        if original is None or getattr(original, "_videohook_serialized", False):
            continue

        def serialized(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _dynamodb_write_lock:
                return _original(*args, **kwargs)

        serialized._videohook_serialized = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialized)
