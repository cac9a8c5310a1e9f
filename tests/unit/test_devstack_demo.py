"""devstack.demo (`make demo`): its console is the demo's own lines; metrics and logs go to the file."""

from __future__ import annotations

import json

import pytest

from devstack import demo

EMF = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "JobsSucceeded": 1})
RECORD = json.dumps({"level": "INFO", "message": "job polled", "job_id": "vid_1", "service": "videohook"})


class FakeStack:
    """What main() uses of a LocalStack; `start` writes what the handlers write on stdout."""

    def __init__(self, config) -> None:
        self.config = config
        self.url = "http://127.0.0.1:1"
        self.stopped = False

    def start(self) -> FakeStack:
        print(EMF)
        print(RECORD)
        return self

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("problems", [[], ["text-to-video: no webhook within 90 s"]])
def test_the_console_has_the_summary_and_no_json_the_log_file_has_the_rest(
    problems, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("VIDEOHOOK_LOG_LEVEL", "VIDEOHOOK_PROVIDER", "VIDEOHOOK_TIME_SCALE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")  # install() sets it: undone after the test
    monkeypatch.setenv("VIDEOHOOK_LOG_FILE", str(tmp_path / "demo.log"))
    stacks: list[FakeStack] = []
    monkeypatch.setattr(demo, "LocalStack", lambda config: stacks.append(FakeStack(config)) or stacks[-1])

    def run_demo(stack: FakeStack) -> list[str]:
        print(EMF)
        print("2/2 jobs verified end to end in 1.0 s")
        return list(problems)

    monkeypatch.setattr(demo, "run_demo", run_demo)
    assert demo.main([]) == (1 if problems else 0)
    assert stacks[0].stopped and stacks[0].config.port == 0
    assert stacks[0].config.time_scale == demo.DEMO_TIME_SCALE
    out, err = capsys.readouterr()
    console = out.splitlines()
    assert not [line for line in console if line.lstrip().startswith("{")], out
    hint = "(--verbose or VIDEOHOOK_LOG_LEVEL=DEBUG shows them here)"
    assert console[0] == f"logs and metrics: {tmp_path / 'demo.log'} {hint}"
    assert "2/2 jobs verified end to end in 1.0 s" in console
    if problems:
        assert console[-1] == "demo FAILED: 1 problem(s)"
        assert err == "FAILED: text-to-video: no webhook within 90 s\n"
    else:
        assert console[-1] == "demo passed: every check held"
    logged = (tmp_path / "demo.log").read_text().splitlines()
    assert logged.count(EMF) == 2 and RECORD in logged and logged[-1] == console[-1]
