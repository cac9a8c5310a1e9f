"""The cold-import benchmark reads what `python -m bench.cold_start` installed; it never installs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import cold_start


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
