"""devstack.local_output: the quiet console of `make dev` and `make demo`, everything in a file."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

import pytest

from devstack import local_output
from devstack.local_output import LineRouter, LocalOutput, routed

EMF = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "JobsSubmitted": 1}) + "\n"


def record(message: str, level: str = "INFO", **keys: object) -> str:
    return json.dumps({"level": level, "message": message, "service": "videohook", **keys}) + "\n"


def test_metrics_and_routine_records_stay_off_the_console_plain_lines_stay_on() -> None:
    assert routed(EMF) is None
    assert routed(record("job polled", job_id="vid_1", status="running")) is None
    assert routed("videohook ready: http://127.0.0.1:8787\n") == "videohook ready: http://127.0.0.1:8787\n"
    assert routed('{"not": "a log record"}\n') == '{"not": "a log record"}\n'
    assert routed("{ not json\n") == "{ not json\n"


def test_a_job_transition_is_one_line_with_its_id_and_status() -> None:
    line = routed(record("event published", job_id="vid_1", event_type="video.succeeded", event_id="e"))
    assert line is not None and line.endswith(" vid_1 succeeded\n")


def test_warnings_and_errors_are_one_line_each_without_their_traceback() -> None:
    line = routed(
        record(
            "invocation failed",
            level="ERROR",
            function_name="Videohook-PollProviderFunction",
            job_id="vid_1",
            exception="Traceback (most recent call last):\n  ...",
            exception_name="ProviderTransient",
        )
    )
    assert line is not None
    assert line.endswith(
        " ERROR Videohook-PollProviderFunction: invocation failed"
        " (job_id: vid_1, exception_name: ProviderTransient)\n"
    )
    assert "Traceback" not in line


def test_the_router_writes_every_line_to_the_file_and_keeps_lines_whole_per_thread() -> None:
    console, file = io.StringIO(), io.StringIO()
    router = LineRouter(console, file, verbose=False)
    started = threading.Barrier(2)

    def metrics() -> None:
        started.wait()
        for _ in range(200):
            print(EMF.rstrip("\n"), file=router)  # print writes the text and "\n" separately

    other = threading.Thread(target=metrics)
    other.start()
    started.wait()
    for number in range(200):
        router.write(f"line {number}")
        router.write("\n")
    other.join()
    router.close()
    assert console.getvalue().splitlines() == [f"line {number}" for number in range(200)]
    lines = file.getvalue().splitlines()
    assert len(lines) == 400 and lines.count(EMF.rstrip("\n")) == 200


def test_verbose_shows_everything_on_the_console_too() -> None:
    console, file = io.StringIO(), io.StringIO()
    router = LineRouter(console, file, verbose=True)
    router.write(EMF + record("job polled"))
    assert console.getvalue() == file.getvalue() == EMF + record("job polled")


def test_settings_quiet_by_default_verbose_from_the_flag_or_the_variable(tmp_path) -> None:
    quiet = LocalOutput.from_env({}, default_file=tmp_path / "dev.log")
    assert (quiet.verbose, quiet.handler_level, quiet.log_file) == (False, "DEBUG", tmp_path / "dev.log")
    # The operator's POWERTOOLS_LOG_LEVEL is left alone.
    assert LocalOutput.from_env({"POWERTOOLS_LOG_LEVEL": "WARNING"}).handler_level is None
    assert LocalOutput.from_env({}, verbose=True).handler_level == "DEBUG"
    assert LocalOutput.from_env({}, verbose=True).verbose
    chosen = {"VIDEOHOOK_LOG_LEVEL": "info", "VIDEOHOOK_LOG_FILE": str(tmp_path / "x.log")}
    info = LocalOutput.from_env(chosen)
    assert (info.verbose, info.handler_level, info.log_file) == (True, "INFO", tmp_path / "x.log")
    with pytest.raises(ValueError, match="VIDEOHOOK_LOG_LEVEL=loud: use one of DEBUG, INFO"):
        LocalOutput.from_env({"VIDEOHOOK_LOG_LEVEL": "loud"})


def test_install_routes_stdout_and_the_request_log_restore_undoes_it(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")  # so that install's change is undone after the test
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL")
    output = LocalOutput.from_env({}, default_file=tmp_path / "logs" / "dev.log")
    before = sys.stdout
    output.install()
    try:
        assert local_output.os.environ["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
        print(output.describe())
        print(EMF, end="")
        logging.getLogger(local_output.REQUESTS_LOGGER).info("%s %s %s", "POST", "/v1/videos", 202)
        logging.getLogger("devstack.stack").info("synth: a warning for make synth")
    finally:
        output.restore()
    assert sys.stdout is before
    assert not logging.getLogger(local_output.REQUESTS_LOGGER).handlers
    console = capsys.readouterr().out.splitlines()
    assert console[0].startswith("logs and metrics: ") and console[0].endswith(
        "(--verbose or VIDEOHOOK_LOG_LEVEL=DEBUG shows them here)"
    )
    assert console[1].endswith(" POST /v1/videos 202") and len(console) == 2
    written = (tmp_path / "logs" / "dev.log").read_text()
    assert EMF in written and "POST /v1/videos 202" in written
    assert "synth: a warning for make synth" in written
