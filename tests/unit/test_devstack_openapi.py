"""devstack.openapi (`make openapi`): docs/openapi.json is the API's generated OpenAPI document."""

from __future__ import annotations

import json

import pytest

from devstack import openapi
from handlers.api import openapi_document


def test_docs_openapi_json_is_the_generated_document() -> None:
    committed = json.loads(openapi.DOCUMENT.read_text())
    assert committed == openapi_document(), "docs/openapi.json is out of date: run `make openapi`"
    assert openapi.DOCUMENT.read_text() == openapi.render()  # byte for byte, as `make openapi` writes it
    assert openapi.main(["--check"]) == 0


def test_check_fails_when_the_file_drifts(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(openapi.render().replace('"videohook"', '"videohook-old"'))
    monkeypatch.setattr(openapi, "DOCUMENT", stale)
    assert openapi.main(["--check"]) == 1
    assert openapi.main([]) == 0
    assert stale.read_text() == openapi.render()


def test_the_committed_document_names_make_devs_local_stack() -> None:
    from devstack.stack import DEFAULT_PORT
    from handlers.rest_api.openapi import LOCAL_BASE_URL

    assert LOCAL_BASE_URL == f"http://127.0.0.1:{DEFAULT_PORT}"
    servers = json.loads(openapi.DOCUMENT.read_text())["servers"]
    assert [server["url"] for server in servers] == [LOCAL_BASE_URL]
