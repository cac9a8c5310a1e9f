"""`defer_package_init`: a package registered without running its `__init__`, on a package made here."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from videohook.rest_routing import defer_package_init


@pytest.fixture()
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "deferred_pkg"
    root.mkdir()
    (root / "__init__.py").write_text(
        textwrap.dedent(
            '''
            """Re-exports only, like Powertools' event_handler."""
            from .light import Light, shine as glow
            from deferred_pkg.heavy import Heavy

            __all__ = ["Light", "glow", "Heavy"]
            '''
        )
    )
    (root / "light.py").write_text("class Light: ...\ndef shine(): return 'light'\n")
    (root / "heavy.py").write_text("import sys\nsys.heavy_imported = True\nclass Heavy: ...\n")
    (root / "other.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "deferred_pkg"
    for name in [name for name in sys.modules if name.split(".")[0] == "deferred_pkg"]:
        del sys.modules[name]
    if hasattr(sys, "heavy_imported"):
        del sys.heavy_imported


def test_each_exported_name_is_imported_from_its_module_at_first_access(package: str) -> None:
    deferred = defer_package_init(package)
    from deferred_pkg import Light, glow

    assert Light.__module__ == "deferred_pkg.light" and glow() == "light"
    assert "deferred_pkg.heavy" not in sys.modules and not hasattr(sys, "heavy_imported")
    assert deferred.Heavy.__module__ == "deferred_pkg.heavy"
    assert sys.heavy_imported is True
    assert sorted(deferred.__all__) == ["Heavy", "Light", "glow"]


def test_submodules_import_and_unknown_names_raise_attribute_error(package: str) -> None:
    deferred = defer_package_init(package)
    from deferred_pkg import other
    from deferred_pkg.light import shine

    assert other.VALUE == 1 and shine() == "light"
    assert sys.modules[package] is deferred
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        deferred.missing  # noqa: B018 - the access is the test
    with pytest.raises(ImportError):
        from deferred_pkg import missing  # noqa: F401


def test_a_package_already_imported_is_left_as_it_is(package: str) -> None:
    import deferred_pkg

    assert defer_package_init(package) is deferred_pkg
    assert "deferred_pkg.heavy" in sys.modules


def test_a_package_whose_init_does_more_than_re_export_is_imported_as_usual(
    package: str, tmp_path: Path
) -> None:
    init = tmp_path / package / "__init__.py"
    init.write_text(init.read_text() + "import sys\nsys.heavy_imported = 'by __init__'\n")

    imported = defer_package_init(package)

    assert sys.heavy_imported == "by __init__"
    assert "__getattr__" not in vars(imported) and imported.Heavy.__module__ == "deferred_pkg.heavy"
