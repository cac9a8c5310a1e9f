"""Cold import time of every Lambda handler vs a bare `import boto3`, in fresh interpreters.

What a Lambda cold start imports is the handler module (the `Handler` of the template)
with the runtime dependencies of the layer, on the function's Python. To measure that, not
this repository's dev environment, each import runs in a fresh `python -S` (no
site-packages) of Lambda's Python version (`infra.constructs.RUNTIME`) with PYTHONPATH =
functions/ + a directory holding exactly the runtime dependencies (`uv export --no-dev`, as
the Makefile builds the layer): the dev-only packages (moto, cdk, pytest, rich, click, ...)
are not there to be picked up by accident (httpx, for one, imports its command line, and
with it rich and click, whenever they are installed). For another Python than the dev
one, that directory is installed from the lock (`uv pip install --target`) into .tools/ by
`python -m bench.cold_start`, which `make bench` runs first, like `uv sync`: the benchmark
itself only reads it. Without that Python or that directory, the dev interpreter and links
into its environment stand in, and the note says so. The functions' static environment
(`infra.constructs.STATIC_ENVIRONMENT`) is set. Bytecode is compiled once beforehand into a
private cache (PYTHONPYCACHEPREFIX), as a deployment should ship it; the modules are
measured round-robin so that load on the machine affects them alike. The figure is the median of
`runs` imports, timed inside the process (`time.perf_counter` around the import statement).
"""

from __future__ import annotations

import hashlib
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


UV = REPO / ".tools" / "bin" / "uv"
SITES = REPO / ".tools" / "bench"
INSTALLED_MARKER = ".complete"


def lambda_python_version() -> str:
    """The Python version Lambda runs the handlers on, as the stack declares it ("3.12")."""
    from infra.constructs import RUNTIME

    return RUNTIME.name.removeprefix("python")


def lambda_environment() -> dict[str, str]:
    """The part of the functions' environment that is the same in every deployment."""
    from infra.constructs import STATIC_ENVIRONMENT

    return dict(STATIC_ENVIRONMENT)


def runtime_requirements() -> str | None:
    """The locked runtime dependencies (what the Lambda layer holds), as requirements; None without uv."""
    if not UV.exists():
        return None
    done = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else None


def link_runtime_site(requirements: str, target: Path) -> None:
    """Links to the top-level modules of the runtime dependencies, from the dev environment."""
    pinned = (line for line in requirements.splitlines() if "==" in line and not line[0].isspace())
    for name in (line.split("==")[0] for line in pinned):
        distribution = importlib.metadata.distribution(name)
        tops = {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}
        for top in tops:
            if top.endswith((".dist-info", ".data")) or top == "bin":
                continue
            source = Path(str(distribution.locate_file(top)))
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source)


def find_python(version: str) -> str | None:
    """The real executable of Python `version`: on PATH or installed by pyenv (whose shim
    runs only the selected version), or None."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(map(str, pyenv_root.glob(f"versions/{version}.*/bin/python{version}")), reverse=True)
    for candidate in filter(None, candidates):
        done = subprocess.run(
            [candidate, "-c", "import sys; print(sys.executable, '%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0 and done.stdout.split()[1:] == [version]:
            return done.stdout.split()[0]
    return None


def runtime_site(version: str, requirements: str) -> Path:
    """Where the runtime dependencies for Python `version` are kept, by lock state."""
    key = hashlib.sha256(f"{version}\n{requirements}".encode()).hexdigest()[:16]
    return SITES / f"site-py{version}-{key}"


def installed(site: Path) -> bool:
    """Whether `site` holds a finished install (the marker is written last)."""
    return (site / INSTALLED_MARKER).exists()


def install_runtime_site(python: str, version: str, requirements: str) -> Path | None:
    """The runtime dependencies installed for `python` from the lock (once per lock state)."""
    site = runtime_site(version, requirements)
    if installed(site):
        return site
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    listing = site / "requirements.txt"
    listing.write_text(requirements)
    done = subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--target", str(site), "--python", python,
         "--only-binary", ":all:", "-r", str(listing)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(site, ignore_errors=True)
        return None
    (site / INSTALLED_MARKER).touch()
    return site


@dataclass(frozen=True)
class ImportEnvironment:
    python: str
    flags: tuple[str, ...]
    path: tuple[str, ...]  # PYTHONPATH after functions/
    note: str


def import_environment(workdir: Path, python_version: str | None) -> ImportEnvironment:
    """Lambda's Python with the runtime dependencies when it can be had, else the closest stand-in."""
    requirements = runtime_requirements()
    if requirements is None:
        return ImportEnvironment(sys.executable, (), (), "the full dev environment (uv not found)")
    dev_version = "{}.{}".format(*sys.version_info[:2])
    only_runtime = "runtime dependencies only (uv export --no-dev), -S"
    if python_version and python_version != dev_version:
        python = find_python(python_version)
        site = runtime_site(python_version, requirements)
        if python and installed(site):
            return ImportEnvironment(
                python, ("-S",), (str(site),), f"Python {python_version} (Lambda's), {only_runtime}"
            )
        missing = (
            f"Python {python_version} (Lambda's) not found"
            if python is None
            else "its runtime dependencies are not installed: python -m bench.cold_start"
        )
        only_runtime += f"; dev Python {dev_version} ({missing})"
    else:
        only_runtime += f"; Python {dev_version}"
    site = workdir / "site"
    site.mkdir()
    link_runtime_site(requirements, site)
    return ImportEnvironment(sys.executable, ("-S",), (str(site),), only_runtime)


def measure(
    runs: int = 10, modules: list[str] | None = None, python_version: str | None = None
) -> tuple[list[ImportFigures], str]:
    """(figures per handler, a note on the environment); python_version None: the dev Python."""
    modules = modules or handler_modules()
    workdir = Path(tempfile.mkdtemp(prefix="videohook-bench-imports-"))
    try:
        environment = import_environment(workdir, python_version)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
        env.update(
            lambda_environment(),
            PYTHONPYCACHEPREFIX=str(workdir / "pycache"),
            AWS_DEFAULT_REGION="us-east-1",
            PYTHONPATH=os.pathsep.join([str(REPO / "functions"), *environment.path]),
        )

        def once(module: str) -> float:
            done = subprocess.run(
                [environment.python, *environment.flags, "-c", _PROBE.format(module=module)],
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
        figures = [ImportFigures(module, statistics.median(times[module]), baseline) for module in modules]
        return figures, f"{environment.note}, bytecode precompiled"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def prepare() -> str:
    """Install the runtime dependencies for Lambda's Python (from the package registry, once);
    what the measurement will run on, in a sentence."""
    version = lambda_python_version()
    requirements = runtime_requirements()
    python = find_python(version)
    if requirements is None or python is None:
        return f"cold imports: no uv or no Python {version}; the dev Python will stand in"
    site = install_runtime_site(python, version, requirements)
    if site is None:
        return f"cold imports: installing the runtime dependencies for Python {version} failed"
    return f"cold imports: Python {version} with the runtime dependencies in {site.relative_to(REPO)}"


if __name__ == "__main__":
    print(prepare())
