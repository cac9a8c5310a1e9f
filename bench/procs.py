"""Helpers for the benchmarks' subprocesses: fresh interpreters, loopback servers, peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHONPATH = os.pathsep.join([str(REPO), str(REPO / "functions")])


def bench_env(**extra: str) -> dict[str, str]:
    """The environment of a benchmark subprocess: this repo on the path, fake AWS credentials."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=PYTHONPATH,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
    for variable in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(variable, None)
    env.update(extra)
    return env


def run_json(module: str, *args: str, timeout: float = 900, env: dict[str, str] | None = None) -> Any:
    """Run `python -m module args` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env or bench_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def server(kind: str, *args: str):
    """A loopback server (`python -m bench.servers kind args`) in its own process; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.servers", kind, *args],
        cwd=REPO,
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"bench.servers {kind} did not start: {line!r}")
        yield line.strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- inside a measured process -------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; return the RSS in bytes."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # then VmHWM includes the setup: growth is overstated, never understated
    return _status_kib("VmRSS") * 1024


def peak_rss() -> int:
    """Peak RSS (VmHWM) in bytes since the last reset."""
    return _status_kib("VmHWM") * 1024


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
