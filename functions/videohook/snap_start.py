"""Lambda SnapStart: what runs before the snapshot and after each restore.

With the deployment option `snap_start` on (infra/config.py, docs/deploy.md), Lambda runs a
function's initialization once, when a version is published, snapshots the process, and
resumes every new instance of that version from the snapshot. Two hooks:

- before the snapshot, `warm`: create what a first invocation would (the tracer and its
  patches, the runtime's AWS clients and tables), so every restored instance starts with it;
- after each restore, `reseed`: `random`'s state is in the snapshot, the same in every
  restored instance, so it is seeded again from the OS; the HTTP client's connections and
  the cached secrets, if the process had any, are dropped (no instance shares them).

They are registered through AWS's Snapshot Restore for Python library (`snapshot_restore_py`),
which Lambda's Python managed runtime provides: `register` does nothing where it is absent
(the local stack, tests, a function without SnapStart outside Lambda). handlers/__init__.py
calls `register` once, so every handler module registers them, once per process.
"""

from __future__ import annotations

import random

from videohook import telemetry
from videohook.runtime import get_runtime


def warm() -> None:
    """Before the snapshot: the tracer, the runtime's AWS clients and tables (no call made)."""
    telemetry.tracer()
    get_runtime().warm()


def reseed() -> None:
    """After a restore: a fresh `random` state, no HTTP connection or secret of the snapshot."""
    random.seed()
    get_runtime().forget_connections()


def register() -> bool:
    """Register `warm` and `reseed` with the runtime's SnapStart library; False without it."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # the library is Lambda's Python runtime's, not a dependency of videohook
        return False
    register_before_snapshot(warm)
    register_after_restore(reseed)
    return True
