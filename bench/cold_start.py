"""Cold import time of every Lambda handler vs a bare `import boto3`, in fresh interpreters.

What a Lambda cold start imports is the handler module (the `Handler` of the template)
with the runtime dependencies of the layer. To measure that, not this repository's dev
environment, each import runs in a fresh `python -S` (no site-packages) with
PYTHONPATH = functions/ + a directory of links to exactly the runtime dependencies
(`uv export --no-dev`, as the Makefile builds the layer): the dev-only packages (moto,
cdk, pytest, rich, click, ...) are not there to be picked up by accident (httpx, for
one, imports its command line, and with it rich and click, whenever they are installed).
Bytecode is compiled once beforehand into a private cache (PYTHONPYCACHEPREFIX), as a
deployment should ship it; the modules are measured round-robin so that load on the
machine affects them alike. The figure is the median of `runs` imports, timed inside
the process (`time.perf_counter` around the import statement).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.procs import REPO

BASELINE = "boto3"
_PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


@dataclass(frozen=True)
class ImportFigures:
    module: str
    median_seconds: float
    baseline_seconds: float

    @property
    def ratio(self) -> float:
        return self.median_seconds / self.baseline_seconds


def handler_modules() -> list[str]:
    return sorted(
        f"handlers.{path.stem}"
        for path in (REPO / "functions" / "handlers").glob("*.py")
        if path.stem != "__init__"
    )


def runtime_distributions() -> list[str] | None:
    """The locked runtime dependencies (what the Lambda layer holds), or None without uv."""
    uv = REPO / ".tools" / "bin" / "uv"
    if not uv.exists():
        return None
    done = subprocess.run(
        [str(uv), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return None
    return [
        line.split("==")[0] for line in done.stdout.splitlines() if "==" in line and not line[0].isspace()
    ]


def build_runtime_site(target: Path) -> bool:
    """Links to the top-level modules of the runtime dependencies; False if they are unknown."""
    names = runtime_distributions()
    if not names:
        return False
    for name in names:
        distribution = importlib.metadata.distribution(name)
        tops = {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}
        for top in tops:
            if top.endswith((".dist-info", ".data")) or top == "bin":
                continue
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)
    return True


def measure(runs: int = 10, modules: list[str] | None = None) -> tuple[list[ImportFigures], str]:
    """(figures per handler, a note on the environment)."""
    modules = modules or handler_modules()
    workdir = Path(tempfile.mkdtemp(prefix="videohook-bench-imports-"))
    try:
        site = workdir / "site"
        site.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
        env.update(PYTHONPYCACHEPREFIX=str(workdir / "pycache"), AWS_DEFAULT_REGION="us-east-1")
        flags: list[str] = []
        if build_runtime_site(site):
            env["PYTHONPATH"] = os.pathsep.join([str(REPO / "functions"), str(site)])
            flags = ["-S"]
            note = "runtime dependencies only (uv export --no-dev), -S, bytecode precompiled"
        else:
            env["PYTHONPATH"] = str(REPO / "functions")
            note = "the full dev environment (uv not found), bytecode precompiled"

        def once(module: str) -> float:
            done = subprocess.run(
                [sys.executable, *flags, "-c", _PROBE.format(module=module)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"import {module} failed:\n{done.stderr[-2000:]}")
            return float(done.stdout.strip().splitlines()[-1])

        targets = [BASELINE, *modules]
        for module in targets:  # compile the bytecode cache
            once(module)
        times: dict[str, list[float]] = {module: [] for module in targets}
        for _ in range(runs):
            for module in targets:
                times[module].append(once(module))
        baseline = statistics.median(times[BASELINE])
        return [ImportFigures(module, statistics.median(times[module]), baseline) for module in modules], note
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
