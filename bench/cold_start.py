"""Cold start of every Lambda handler, import plus first invocation, beside a reference handler.

What a user feels of a Lambda cold start is the import of the handler module (the template's
`Handler`) plus its first invocation, which pays for everything deferred to it (boto3 and
its clients, the X-Ray tracer, the validators of the models it uses). Each handler is
measured that way in a fresh interpreter (bench/cold_probe.py, timed inside the process with
`time.perf_counter`), invoked once with its sample event from events/
(`sample_event`), beside bench/reference_handler.py, a handler built the usual Powertools
way (APIGatewayRestResolver with validation, a Logger, one pydantic model, one route),
invoked with the api's sample submit. The pairs run A/B (the reference right before each
handler, round after round) so that load on the machine affects both alike; figures are
medians of `runs`, the ratio is handler / reference.

The processes see what Lambda sets for these functions: the functions' static environment
(`infra.constructs.STATIC_ENVIRONMENT`), the Lambda runtime's variables and active tracing
(the trace header; the X-Ray daemon's address is loopback, as in Lambda), so the tracer is
created at the first invocation as it is in the cloud. Every AWS call goes to a moto server
on 127.0.0.1 (AWS_ENDPOINT_URL) that holds no resources: a handler's first invocation parses
and validates its event, creates its clients and makes its first AWS call, which moto answers
with ResourceNotFoundException (the api reads the provider keys first, through Powertools'
secrets provider: GetParameterError); the invocation ends there (the outcome is reported). What it
leaves out is the rest of a successful invocation: more calls on the same warm clients, and
the provider's HTTP client for the steps that call one. The reference makes no AWS call.

The interpreter is Lambda's Python version (`infra.constructs.RUNTIME`), run as `python -S`
(no site-packages) with PYTHONPATH = functions/ (bench/ for the reference) + a directory
holding exactly the runtime dependencies (`uv export --no-dev`, as the Makefile builds the
layer): the dev-only packages (moto, cdk, pytest, rich, click, ...) are not there to be
picked up by accident (httpx, for one, imports its command line, and with it rich and
click, whenever they are installed). For another Python than the dev one, that directory is
installed from the lock (`uv pip install --target`) into .tools/ by
`python -m bench.cold_start`, which `make bench` runs first, like `uv sync`: the benchmark
itself only reads it. Without that Python or that directory, the dev interpreter and links
into its environment stand in, and the note says so. Bytecode is compiled once beforehand
into a private cache (PYTHONPYCACHEPREFIX), as a deployment should ship it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.procs import REPO, server

REFERENCE = "reference_handler"  # bench/reference_handler.py
PROBE = REPO / "bench" / "cold_probe.py"
EVENTS = REPO / "events"
# Each handler's sample event is events/<handler>.json, but the api's: its submit (the
# reference's route takes the same request).
SAMPLE_EVENTS = {"api": "api_create_video.json", REFERENCE: "api_create_video.json"}


@dataclass(frozen=True)
class ColdStart:
    """One fresh process (bench/cold_probe.py)."""

    import_seconds: float
    invoke_seconds: float
    outcome: str  # the answer's statusCode, "returned", or the exception's type

    @property
    def seconds(self) -> float:
        return self.import_seconds + self.invoke_seconds


@dataclass(frozen=True)
class Median:
    """Medians over the fresh processes of one module."""

    import_seconds: float
    invoke_seconds: float
    seconds: float  # the median of the sums (not the sum of the medians)
    outcomes: tuple[str, ...]

    @classmethod
    def of(cls, samples: list[ColdStart]) -> Median:
        return cls(
            statistics.median(sample.import_seconds for sample in samples),
            statistics.median(sample.invoke_seconds for sample in samples),
            statistics.median(sample.seconds for sample in samples),
            tuple(sorted({sample.outcome for sample in samples})),
        )


@dataclass(frozen=True)
class ColdStartFigures:
    module: str
    handler: Median
    reference: Median

    @property
    def event(self) -> str:
        return sample_event(self.module).name

    @property
    def ratio(self) -> float:
        return self.handler.seconds / self.reference.seconds


def handler_modules() -> list[str]:
    """The modules of functions/handlers that define `handler` at top level: the Lambda entry
    points (the template's `Handler`s), not the modules they are made of."""
    return sorted(
        f"handlers.{path.stem}"
        for path in (REPO / "functions" / "handlers").glob("*.py")
        if "handler" in _top_level_names(path)
    )


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def sample_event(module: str) -> Path:
    """The file of events/ that the first invocation of `module` gets."""
    name = module.removeprefix("handlers.")
    return EVENTS / SAMPLE_EVENTS.get(name, f"{name}.json")


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


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:videohook-"


def lambda_runtime_environment(endpoint: str) -> dict[str, str]:
    """What Lambda's runtime sets for a function with active tracing (the stack's functions),
    with fake credentials and AWS_ENDPOINT_URL = `endpoint` for every AWS call."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{lambda_python_version()}",
        "AWS_LAMBDA_FUNCTION_NAME": "ColdStartBench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "LAMBDA_TASK_ROOT": str(REPO / "functions"),
        "_X_AMZN_TRACE_ID": "Root=1-67a0c0de-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        # The stack gives the functions its secrets' ARNs (videohook.config): the api's submit
        # reads the provider keys first.
        "VIDEOHOOK_PROVIDER_KEYS_SECRET_ARN": f"{SECRET_ARN}provider-keys",
        "VIDEOHOOK_WEBHOOK_SECRET_ARN": f"{SECRET_ARN}webhook-secret",
    }


def measure(
    runs: int = 10, modules: list[str] | None = None, python_version: str | None = None
) -> tuple[list[ColdStartFigures], str]:
    """(figures per handler, a note on the environment); python_version None: the dev Python."""
    modules = modules or handler_modules()
    workdir = Path(tempfile.mkdtemp(prefix="videohook-bench-cold-"))
    try:
        environment = import_environment(workdir, python_version)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
        env.update(lambda_environment(), PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
        paths = {module: str(REPO / "functions") for module in modules}
        paths[REFERENCE] = str(REPO / "bench")

        def once(module: str) -> ColdStart:
            done = subprocess.run(
                [environment.python, *environment.flags, str(PROBE), module, str(sample_event(module))],
                env={**env, "PYTHONPATH": os.pathsep.join([paths[module], *environment.path])},
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise RuntimeError(f"cold start of {module} failed:\n{done.stderr[-2000:]}")
            return ColdStart(**json.loads(done.stdout.strip().splitlines()[-1]))

        samples: dict[str, list[ColdStart]] = {module: [] for module in [REFERENCE, *modules]}
        with server("moto") as endpoint:
            env.update(lambda_runtime_environment(endpoint))
            for module in samples:  # compile the bytecode cache
                once(module)
            for _ in range(runs):
                for module in modules:  # A/B: the reference right before each handler
                    samples[REFERENCE].append(once(REFERENCE))
                    samples[module].append(once(module))
        reference = Median.of(samples[REFERENCE])
        figures = [ColdStartFigures(module, Median.of(samples[module]), reference) for module in modules]
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
