"""`make bench`'s machinery on tiny sizes, so that it cannot rot (the figures are not judged here).

Every section runs for real: the polling simulation, the copy and its baseline in fresh
processes against loopback servers, the cold imports, the cost model, and jobs through
the session's local stack.
"""

from __future__ import annotations

import pytest

from bench import stack_bench
from bench.run import Config, MiB, collect, render, summary, write_docs

pytestmark = pytest.mark.e2e


def test_every_section_runs_and_renders_one_table(local_stack, api, tmp_path):
    def on_session_stack(config: Config) -> dict:
        figures = stack_bench.run_on(
            local_stack,
            jobs=config.stack_jobs,
            sequential=config.stack_sequential,
            copy_jobs=config.stack_copy_jobs,
            api_key=api.headers["x-api-key"],
        )
        return {**figures, "time_scale": local_stack.config.time_scale, "memory_mb": {}}

    config = Config(
        sim_jobs=300,
        copy_sizes=(6 * MiB, 11 * MiB),
        copy_repeats={},
        import_runs=1,
        import_modules=["handlers.fail_job"],
        import_on_lambda_python=False,  # the same interpreter on every machine (see bench.cold_start)
        stack_jobs=3,
        stack_sequential=1,
        stack_copy_jobs=1,
        stack_runner=on_session_stack,
    )
    report = collect(config, log=lambda line: None)

    sections = {row.section.split(" (")[0].split(",")[0] for row in report.rows}
    assert {"polling", "copy 6 MiB", "copy 11 MiB", "zero-copy", "cold start", "local stack"} <= sections
    assert any(row.section.startswith("cost of a typical") for row in report.rows)
    assert all(row.value and row.verdict in ("", "PASS", "FAIL") for row in report.rows)
    zero_copy = next(row for row in report.rows if row.section.startswith("zero-copy"))
    assert zero_copy.verdict == "PASS" and zero_copy.value.startswith("0 B")
    stack = next(row for row in report.rows if row.measure == "jobs succeeded, webhook received")
    assert stack.verdict == "PASS"

    table = render(report.rows)
    assert table.count("\n") == len(report.rows) + 1
    assert "targets pass" in summary(report.rows)
    page = write_docs(report, tmp_path / "benchmarks.md").read_text()
    assert table in page and "CPU:" in page and "Python:" in page
