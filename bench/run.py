"""Collect every benchmark of `make bench` and render them as one table.

Each row is a figure beside its baseline from the same run, with the target it is held
to (if any) and PASS/FAIL.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold_start, copy_bench, cost, polling_sim
from bench.procs import REPO, run_json

MiB = 1024 * 1024
MB = 1_000_000


@dataclass
class Config:
    sim_jobs: int = 10_000
    copy_sizes: tuple[int, ...] = (64 * MiB, 1024 * MiB)
    copy_repeats: dict[int, int] = field(default_factory=lambda: {64 * MiB: 5, 1024 * MiB: 2})
    import_runs: int = 10
    import_modules: list[str] | None = None  # default: every module of functions/handlers
    # Imports on Lambda's Python version (installed for the bench from the lock, once), not the dev one.
    import_on_lambda_python: bool = True
    stack_jobs: int = 100
    stack_sequential: int = 5
    stack_copy_jobs: int = 10
    time_scale: float = 0.05
    # None: a fresh local stack in a subprocess; else a function running bench.stack_bench.run_on
    # on a stack that is already up (the smoke test's).
    stack_runner: Callable[[Config], dict[str, Any]] | None = None
    sections: tuple[str, ...] = ("polling", "copy", "zero-copy", "imports", "cost", "stack")


@dataclass(frozen=True)
class Row:
    section: str
    measure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""  # PASS, FAIL or ""


def _ratio(value: float, baseline: float) -> str:
    if not baseline or math.isnan(value) or math.isnan(baseline):
        return ""
    return f"{value / baseline:.2f}x"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _percentile(values: list[float], q: float) -> float:
    return polling_sim.percentile(values, q)


# ---- sections ---------------------------------------------------------------------------------------


def polling_rows(config: Config) -> list[Row]:
    results = polling_sim.simulate(config.sim_jobs)
    adaptive, one, fifteen = results["adaptive"], results["fixed 1 s"], results["fixed 15 s"]
    section = f"polling ({config.sim_jobs:,} simulated jobs)"
    return [
        Row(
            section,
            "polls per job (mean)",
            f"{adaptive.mean_polls:.2f}",
            f"fixed 15 s: {fifteen.mean_polls:.2f}",
            _ratio(adaptive.mean_polls, fifteen.mean_polls),
            "<= fixed 15 s",
            _verdict(adaptive.mean_polls <= fifteen.mean_polls),
        ),
        Row(
            section,
            "polls per job (mean)",
            f"{adaptive.mean_polls:.2f}",
            f"fixed 1 s: {one.mean_polls:.2f}",
            _ratio(adaptive.mean_polls, one.mean_polls),
        ),
        _lag_row(section, "p50", (adaptive.lag_p50, one.lag_p50, fifteen.lag_p50), limit=1.5),
        _lag_row(section, "p95", (adaptive.lag_p95, one.lag_p95, fifteen.lag_p95), limit=5.0),
        Row(
            section,
            "no-progress jobs (AI/ML API shape, 20%): polls / lag p50 / p95",
            f"{adaptive.no_progress_mean_polls:.2f} / {_seconds(adaptive.no_progress_lag_p50)}"
            f" / {_seconds(adaptive.no_progress_lag_p95)}",
            f"fixed 15 s: {fifteen.no_progress_mean_polls:.2f} / {_seconds(fifteen.no_progress_lag_p50)}"
            f" / {_seconds(fifteen.no_progress_lag_p95)}",
        ),
    ]


def _lag_row(section: str, quantile: str, lags: tuple[float, float, float], *, limit: float) -> Row:
    """A detection-lag quantile of the adaptive policy beside fixed 1 s and 15 s (the ratio: to 15 s)."""
    adaptive, one, fifteen = lags
    return Row(
        section,
        f"detection lag {quantile}",
        _seconds(adaptive),
        f"fixed 1 s: {_seconds(one)}; 15 s: {_seconds(fifteen)}",
        _ratio(adaptive, fifteen),
        f"<= {limit:g} s",
        _verdict(adaptive <= limit),
    )


def copy_rows(config: Config) -> list[Row]:
    rows: list[Row] = []
    measured = copy_bench.measure(config.copy_sizes, repeats=config.copy_repeats)
    smallest = measured[0]
    for figures in measured:
        label = (
            f"{figures.size // MiB} MiB"
            if figures.size < 1024 * MiB
            else f"{figures.size // (1024 * MiB)} GiB"
        )
        section = f"copy {label} (median of {figures.runs} runs per mode)"
        rows.append(
            Row(
                section,
                "throughput, sandbox video URL -> S3 (FinalizeVideo's copy)",
                f"{figures.copy_mib_s:.1f} MiB/s",
                f"upload_file from disk: {figures.baseline_mib_s:.1f} MiB/s",
                _ratio(figures.copy_mib_s, figures.baseline_mib_s),
                ">= 0.8x",
                _verdict(figures.ratio >= 0.8),
            )
        )
        rows.append(
            Row(
                section,
                "throughput, simplest alternative: upload_fileobj of a hashing stream (not deployed)",
                f"{figures.simple_mib_s:.1f} MiB/s",
                f"upload_file from disk: {figures.baseline_mib_s:.1f} MiB/s",
                _ratio(figures.simple_mib_s, figures.baseline_mib_s),
                "would need >= 0.8x: "
                + ("met" if figures.simple_mib_s >= 0.8 * figures.baseline_mib_s else "missed"),
            )
        )
        rows.append(
            Row(
                section,
                "throughput, sendfile server -> S3 (same copy, a source without CPU cost)",
                f"{figures.static_copy_mib_s:.1f} MiB/s",
                f"upload_file from disk: {figures.baseline_mib_s:.1f} MiB/s",
                _ratio(figures.static_copy_mib_s, figures.baseline_mib_s),
            )
        )
        target, verdict = "", ""
        if figures is not smallest:
            limit = min(100 * MB, smallest.copy_rss_growth * 1.1)
            target = f"<= 100 MB and <= {smallest.copy_rss_growth / MB:.1f} MB + 10%"
            verdict = _verdict(figures.copy_rss_growth <= limit)
        rows.append(
            Row(
                section,
                "peak RSS growth (largest of the runs)",
                f"{figures.copy_rss_growth / MB:.1f} MB",
                f"upload_file: {figures.baseline_rss_growth / MB:.1f} MB",
                _ratio(figures.copy_rss_growth, figures.baseline_rss_growth),
                target,
                verdict,
            )
        )
        simple_target = ""
        if figures is not smallest:
            kept = figures.simple_rss_growth <= min(100 * MB, smallest.simple_rss_growth * 1.1)
            simple_target = f"would need the same: {'met' if kept else 'missed'}"
        rows.append(
            Row(
                section,
                "peak RSS growth, simplest alternative (largest of the runs)",
                f"{figures.simple_rss_growth / MB:.1f} MB",
                f"upload_file: {figures.baseline_rss_growth / MB:.1f} MB",
                _ratio(figures.simple_rss_growth, figures.baseline_rss_growth),
                simple_target,
            )
        )
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def import_rows(config: Config) -> tuple[list[Row], str]:
    version = cold_start.lambda_python_version() if config.import_on_lambda_python else None
    figures, note = cold_start.measure(config.import_runs, config.import_modules, version)
    section = f"cold start, import + first invocation (median of {config.import_runs} fresh processes each)"
    rows = [
        Row(
            section,
            f"{f.module} ({f.event}: {', '.join(f.handler.outcomes)})",
            f"{_ms(f.handler.seconds)} ({_ms(f.handler.import_seconds)} + {_ms(f.handler.invoke_seconds)})",
            f"reference handler: {_ms(f.reference.seconds)} ({_ms(f.reference.import_seconds)}"
            f" + {_ms(f.reference.invoke_seconds)})",
            _ratio(f.handler.seconds, f.reference.seconds),
            "<= 1.3x",
            _verdict(f.ratio <= 1.3),
        )
        for f in figures
    ]
    return rows, note


def stack_figures(config: Config) -> dict[str, Any]:
    if config.stack_runner is not None:
        return config.stack_runner(config)
    return run_json(
        "bench.stack_bench",
        str(config.stack_jobs),
        str(config.time_scale),
        str(config.stack_sequential),
        str(config.stack_copy_jobs),
        timeout=1500,
    )


def zero_copy_rows(stack: dict[str, Any]) -> list[Row]:
    zero, copied = stack["zero_copy"], stack["copy"]
    ok = zero["jobs"] > 0 and zero["bytes_copied"] == 0 and zero["transfers"] == ["provider_upload"]
    return [
        Row(
            f"zero-copy ({zero['jobs']} sandbox jobs, xAI contract, through the local stack)",
            "video bytes through FinalizeVideo",
            f"{zero['bytes_copied']:,} B ({zero['bytes_read_to_verify']:,} B of MP4 headers read to verify)",
            f"copy path ({copied['jobs']} jobs, AI/ML API contract): {copied['bytes_copied']:,} B",
            "",
            "= 0",
            _verdict(ok),
        )
    ]


def cost_rows(stack: dict[str, Any] | None) -> list[Row]:
    shape = cost.shape_from_stack(stack) if stack else cost.Shape()
    adaptive = cost.job_cost(*cost.typical_polls(None), shape)
    fixed = cost.job_cost(*cost.typical_polls(15), shape)
    section = f"cost of a typical {cost.TYPICAL_SECONDS:.0f} s job (adaptive vs fixed 15 s)"
    pairs = [
        ("polls / detection lag", f"{adaptive.polls:.1f} / {_seconds(adaptive.lag)}",
         f"{fixed.polls:.1f} / {_seconds(fixed.lag)}", adaptive.polls, fixed.polls),
        ("state transitions", f"{adaptive.transitions:.1f}", f"{fixed.transitions:.1f}",
         adaptive.transitions, fixed.transitions),
        ("Lambda invocations", f"{adaptive.invocations:.1f}", f"{fixed.invocations:.1f}",
         adaptive.invocations, fixed.invocations),
        ("Lambda GB-seconds", f"{adaptive.gb_seconds:.3f}", f"{fixed.gb_seconds:.3f}",
         adaptive.gb_seconds, fixed.gb_seconds),
        ("list price per 1M jobs", f"${adaptive.dollars * 1e6:,.0f}", f"${fixed.dollars * 1e6:,.0f}",
         adaptive.dollars, fixed.dollars),
    ]  # fmt: skip
    rows = [
        Row(section, measure, value, f"fixed 15 s: {baseline}", _ratio(a, b))
        for measure, value, baseline, a, b in pairs
    ]
    return rows


# The local stack's API serves concurrent requests side by side (devstack.lambda_instances), as
# API Gateway does with concurrent Lambda instances: simultaneous submits do not queue.
STACK_LATENCY_TARGETS = {"submit latency p99": 2.0}


def stack_rows(stack: dict[str, Any], config: Config) -> list[Row]:
    jobs = stack["jobs"]
    section = f"local stack, {jobs} concurrent jobs (time scale {stack.get('time_scale', config.time_scale)})"
    latency, alone = stack["submit_latency"], stack["submit_latency_alone"]
    lags, lags_alone = stack["done_to_webhook"], stack["done_to_webhook_alone"]
    succeeded = stack["statuses"].get("succeeded", 0)
    rows = [
        Row(
            section,
            "jobs succeeded, webhook received",
            f"{succeeded}/{jobs}, {stack['webhooks']}/{jobs}",
            "",
            "",
            f"{jobs}/{jobs}",
            _verdict(succeeded == jobs and stack["webhooks"] == jobs),
        )
    ]
    for name, values, baseline in (
        ("submit latency", latency, alone),
        ("provider done -> webhook received", lags, lags_alone),
    ):
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            value = _percentile(values, q)
            base = _percentile(baseline, q)
            limit = STACK_LATENCY_TARGETS.get(f"{name} {label}")
            rows.append(
                Row(
                    section,
                    f"{name} {label}",
                    _seconds(value),
                    f"one job at a time ({len(baseline)}): {_seconds(base)}",
                    _ratio(value, base),
                    f"<= {limit:g} s" if limit is not None else "",
                    _verdict(value <= limit) if limit is not None else "",
                )
            )
    return rows


# ---- everything ---------------------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[Row]
    notes: list[str]
    started: datetime
    seconds: float
    machine: dict[str, str]


def collect(config: Config, log: Callable[[str], None] = print) -> Report:
    started, clock, host = datetime.now(UTC), time.monotonic(), machine()
    rows: list[Row] = []
    notes: list[str] = []
    stack: dict[str, Any] | None = None
    sections = config.sections

    def section(name: str) -> None:
        log(f"bench: {name} ... ({time.monotonic() - clock:.0f} s)")

    if "polling" in sections:
        section("polling simulation")
        rows += polling_rows(config)
    if "copy" in sections:
        section("copy throughput and memory")
        rows += copy_rows(config)
    if "stack" in sections or "zero-copy" in sections or "cost" in sections:
        if "stack" in sections or "zero-copy" in sections:
            section(f"{config.stack_jobs} jobs through the local stack")
            stack = stack_figures(config)
    if "zero-copy" in sections and stack:
        rows += zero_copy_rows(stack)
    if "imports" in sections:
        section("cold starts")
        import_figures, note = import_rows(config)
        rows += import_figures
        notes.append(f"cold starts: {note}")
    if "cost" in sections:
        rows += cost_rows(stack)
        notes.append(
            "cost: " + cost.PRICES + "; durations and memory "
            + ("measured on the local stack (in-process handlers on loopback: AWS adds network time)"
               if stack else "assumed (100 ms per invocation, 256 MB)")
        )  # fmt: skip
    if "stack" in sections and stack:
        rows += stack_rows(stack, config)
    section("done")
    return Report(rows, notes, started, time.monotonic() - clock, host)


def render(rows: list[Row]) -> str:
    header = ("section", "measure", "videohook", "baseline (same run)", "ratio", "target", "result")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    previous = None
    for row in rows:
        section = row.section if row.section != previous else ""
        previous = row.section
        cells = (section, row.measure, row.value, row.baseline, row.ratio, row.target, row.verdict)
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    judged = [row for row in rows if row.verdict]
    failed = [row for row in judged if row.verdict == "FAIL"]
    text = f"{len(judged) - len(failed)} of {len(judged)} targets pass"
    if failed:
        text += "; FAIL: " + "; ".join(f"{row.section}: {row.measure}" for row in failed)
    return text


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ""
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "load average at start (1, 5, 15 min)": load,
    }


def write_docs(report: Report, path: Path | None = None) -> Path:
    path = path or REPO / "docs" / "benchmarks.md"
    from bench.docs import document

    path.write_text(document(report, render(report.rows), summary(report.rows)))
    return path
