"""The cold-start benchmark reads what `python -m bench.cold_start` installed (it never
installs), invokes every handler with its sample event, and reaches loopback only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import cold_probe, cold_start


@pytest.fixture()
def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cold_start, "SITES", tmp_path / "sites")
    monkeypatch.setattr(cold_start, "find_python", lambda version: sys.executable)

    def no_install(*args: object) -> None:
        raise AssertionError("the measurement installed packages")

    monkeypatch.setattr(cold_start, "install_runtime_site", no_install)
    return tmp_path / "sites"


def test_without_the_installed_dependencies_the_dev_python_stands_in_and_the_note_says_how(
    sites: Path, tmp_path: Path
) -> None:
    environment = cold_start.import_environment(tmp_path, "3.99")

    assert environment.python == sys.executable
    assert "python -m bench.cold_start" in environment.note
    assert not sites.exists()


def test_with_them_lambdas_python_runs_on_exactly_that_directory(sites: Path, tmp_path: Path) -> None:
    requirements = cold_start.runtime_requirements()
    assert requirements and "boto3==" in requirements
    site = cold_start.runtime_site("3.99", requirements)
    site.mkdir(parents=True)
    (site / cold_start.INSTALLED_MARKER).touch()

    environment = cold_start.import_environment(tmp_path, "3.99")

    assert environment.path == (str(site),) and environment.flags == ("-S",)
    assert environment.note.startswith("Python 3.99 (Lambda's)")


def test_every_handler_has_a_sample_event_and_the_api_is_invoked_like_the_reference() -> None:
    modules = cold_start.handler_modules()

    assert "handlers.api" in modules and "handlers.poll_provider" in modules
    assert all(cold_start.sample_event(module).is_file() for module in modules)
    assert cold_start.sample_event("handlers.api") == cold_start.sample_event(cold_start.REFERENCE)
    assert (cold_start.REPO / "bench" / f"{cold_start.REFERENCE}.py").is_file()


def test_only_the_modules_defining_handler_are_measured(tmp_path: Path) -> None:
    (tmp_path / "entry.py").write_text("def handler(event, context):\n    return {}\n")
    (tmp_path / "built.py").write_text("def new():\n    pass\n\nhandler = new()\n")
    (tmp_path / "part.py").write_text("def route():\n    pass\n")

    assert {"handler"} <= cold_start._top_level_names(tmp_path / "entry.py")
    assert {"handler"} <= cold_start._top_level_names(tmp_path / "built.py")
    assert "handler" not in cold_start._top_level_names(tmp_path / "part.py")


@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("socket.getaddrinfo", ("hooks.example.com", 443, 0, 0, 0)),
        ("socket.connect", (None, ("203.0.113.10", 443))),
        ("socket.sendto", (None, ("169.254.169.254", 2000))),
    ],
)
def test_the_probe_refuses_any_address_but_loopback(event: str, args: tuple) -> None:
    with pytest.raises(ConnectionRefusedError):
        cold_probe.loopback_only(event, args)


@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("socket.getaddrinfo", ("127.0.0.1", 4566, 0, 0, 0)),
        ("socket.connect", (None, ("127.0.0.1", 4566))),
        ("socket.sendto", (None, ("127.0.0.1", 2000))),
        ("open", ("/etc/hosts", "r", 0)),
    ],
)
def test_the_probe_lets_loopback_through(event: str, args: tuple) -> None:
    cold_probe.loopback_only(event, args)
