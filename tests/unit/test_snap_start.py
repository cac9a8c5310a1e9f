"""videohook.snap_start: the SnapStart hooks, what they do, and that every handler registers them.

The hooks are registered through `snapshot_restore_py`, the library Lambda's Python runtime
provides: here a fake one, in sys.modules or on the path of a fresh interpreter, records them.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bench.cold_start import handler_modules
from bench.procs import REPO
from videohook import runtime as runtime_module
from videohook import snap_start
from videohook.runtime import get_runtime

LIBRARY = "snapshot_restore_py"


@pytest.fixture
def fresh_runtime(monkeypatch) -> None:
    """The process's runtime is this test's own (the next test gets a new one)."""
    monkeypatch.setattr(runtime_module, "_runtime", None)


def fake_library() -> tuple[types.ModuleType, dict[str, list]]:
    registered: dict[str, list] = {"before_snapshot": [], "after_restore": []}
    library = types.ModuleType(LIBRARY)
    library.register_before_snapshot = registered["before_snapshot"].append
    library.register_after_restore = registered["after_restore"].append
    return library, registered


def test_register_hands_the_runtime_library_warm_and_reseed(monkeypatch) -> None:
    library, registered = fake_library()
    monkeypatch.setitem(sys.modules, LIBRARY, library)
    assert snap_start.register() is True
    assert registered == {"before_snapshot": [snap_start.warm], "after_restore": [snap_start.reseed]}


def test_without_the_runtime_library_register_does_nothing(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, LIBRARY, None)  # what `import` of an absent module meets
    assert snap_start.register() is False


def test_warm_creates_every_aws_client_and_table_of_the_runtime_but_no_http_client(
    in_process_aws, fresh_runtime
) -> None:
    snap_start.warm()
    created = set(vars(get_runtime()))
    clients = {"s3", "sfn", "sns", "sqs", "events", "_secrets"}
    tables = {"store", "deliveries", "history", "idempotency_store"}
    assert clients | tables <= created
    assert "http" not in created


def test_reseed_gives_random_a_new_state_and_drops_connections_and_cached_secrets(
    in_process_aws, fresh_runtime
) -> None:
    random.seed(7)
    snapshot_state = random.getstate()
    runtime = get_runtime()
    client = runtime.http
    secrets = runtime._secrets  # the secrets provider, as a first read creates it
    secrets.add_to_cache(("arn", "json"), {"xai": "xai-key"}, max_age=300)
    snap_start.reseed()
    assert random.getstate() != snapshot_state
    assert client.is_closed
    assert "http" not in vars(runtime)
    assert runtime.http is not client  # the next use opens its own
    assert secrets.store == {}
    assert runtime._secrets is secrets  # its client, warmed before the snapshot, is kept


def test_reseed_in_a_process_that_made_no_connection(in_process_aws, fresh_runtime) -> None:
    snap_start.reseed()
    assert "http" not in vars(get_runtime())


REGISTERED_BY_HANDLERS = """
import json, sys
import snapshot_restore_py
for module in {modules!r}:
    __import__(module)
print(json.dumps({{
    when: [f"{{hook.__module__}}.{{hook.__name__}}" for hook in hooks]
    for when, hooks in snapshot_restore_py.REGISTERED.items()
}}))
"""

FAKE_LIBRARY = """
REGISTERED = {"before_snapshot": [], "after_restore": []}
register_before_snapshot = REGISTERED["before_snapshot"].append
register_after_restore = REGISTERED["after_restore"].append
"""


def test_every_handler_registers_the_hooks_once_per_process(tmp_path: Path) -> None:
    (tmp_path / f"{LIBRARY}.py").write_text(FAKE_LIBRARY)
    code = REGISTERED_BY_HANDLERS.format(modules=handler_modules())
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO / 'functions'}:{tmp_path}"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before_snapshot": ["videohook.snap_start.warm"],
        "after_restore": ["videohook.snap_start.reseed"],
    }
