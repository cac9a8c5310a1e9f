"""infra/layer_lock.py: the layer records the uv.lock it was built from; another one makes it stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infra import layer_lock

REPO_ROOT = Path(__file__).resolve().parents[2]


def built_layer(tmp_path: Path) -> tuple[Path, Path]:
    layer, lock = tmp_path / "lambda-layer", tmp_path / "uv.lock"
    (layer / "python").mkdir(parents=True)
    lock.write_text('version = 1\n[[package]]\nname = "httpx"\nversion = "0.28.1"\n')
    return layer, lock


def test_a_layer_is_current_until_uv_lock_changes(tmp_path: Path) -> None:
    layer, lock = built_layer(tmp_path)
    layer_lock.record(layer, lock)
    assert layer_lock.staleness(layer, lock) is None
    lock.write_text(lock.read_text().replace("0.28.1", "0.28.2"))
    assert "another uv.lock" in (layer_lock.staleness(layer, lock) or "")


def test_a_layer_without_a_record_or_without_python_is_not_current(tmp_path: Path) -> None:
    layer, lock = built_layer(tmp_path)
    assert layer_lock.RECORD_NAME in (layer_lock.staleness(layer, lock) or "")
    assert "does not exist" in (layer_lock.staleness(tmp_path / "none", lock) or "")


def test_make_layer_runs_check_and_record_with_the_system_python(tmp_path: Path) -> None:
    # The Makefile runs `python3 infra/layer_lock.py check|record <dir>` against the repo's uv.lock.
    layer, _ = built_layer(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "infra/layer_lock.py", *args]
        return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)

    stale = run("check", str(layer))
    assert stale.returncode == 1 and "Lambda layer to (re)build" in stale.stderr
    assert run("record", str(layer)).returncode == 0
    assert (layer / layer_lock.RECORD_NAME).read_text().strip() == layer_lock.lock_digest()
    assert run("check", str(layer)).returncode == 0
    assert run("nope").returncode == 2
