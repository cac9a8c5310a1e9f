"""devstack.readme_tables: README.md's limits and sandbox tables are generated from the code."""

from __future__ import annotations

import pytest

from devstack import readme_tables
from videohook.models import ASPECT_RATIOS, KNOWN_MODELS, MAX_PROMPT_CHARS
from videohook.request_rules import MAX_METADATA_BYTES


def test_readme_has_the_generated_tables() -> None:
    text = readme_tables.README.read_text()
    assert text == readme_tables.render(text), (
        "README.md's tables are out of date: run `python -m devstack.readme_tables`"
    )
    assert readme_tables.main(["--check"]) == 0


def test_the_limits_are_the_validations_own() -> None:
    table = readme_tables.limits_table()
    assert f"| `prompt` | 1 to {MAX_PROMPT_CHARS} characters, not blank |" in table
    assert "| `duration` | 1 to 15 seconds, a whole number |" in table  # CreateVideoRequest's ge/le
    assert all(f"`{ratio}`" in table for ratio in ASPECT_RATIOS)
    assert all(f"`{model}`" in table for model in KNOWN_MODELS)
    assert f"{MAX_METADATA_BYTES} bytes of JSON" in table
    assert "| `Idempotency-Key` (header) | 1 to 255 printable ASCII characters |" in table


def test_a_changed_limit_changes_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from videohook import models

    schema = models.CreateVideoRequest.model_json_schema()
    schema["properties"]["prompt"]["maxLength"] = 10
    monkeypatch.setattr(models.CreateVideoRequest, "model_json_schema", classmethod(lambda cls: schema))
    assert "| `prompt` | 1 to 10 characters, not blank |" in readme_tables.limits_table()


def test_every_sandbox_directive_is_listed() -> None:
    from sandbox.faults import KNOBS

    table = readme_tables.sandbox_table()
    assert [line.split("`")[1] for line in table.splitlines()[2:]] == [f"sandbox:{key}=" for key in KNOBS]
    assert "| `sandbox:outcome=` | job | succeeded\\|failed\\|expired\\|moderated: terminal state |" in table


def test_check_fails_when_the_readme_drifts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(readme_tables.README.read_text().replace("| `prompt` | 1 to", "| `prompt` | 2 to"))
    monkeypatch.setattr(readme_tables, "README", stale)
    assert readme_tables.main(["--check"]) == 1
    assert readme_tables.main([]) == 0
    assert readme_tables.main(["--check"]) == 0


def test_markers_missing_is_an_error() -> None:
    with pytest.raises(ValueError, match="lacks the markers `<!-- begin limits"):
        readme_tables.render("# a README without tables\n")
