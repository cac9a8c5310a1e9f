"""`videohook`'s command line (cli_parser.py): usage errors end with exit 2 before any request, and
the help text documents the exit codes."""

from __future__ import annotations

from videohook_client import cli

from tests.unit.cli_runner import run_cli


def test_cli_exit_2_on_usage_errors_before_any_request(api, client, tmp_path):
    code, out, err = run_cli(client, "submit")
    assert (code, out) == (2, "") and "error: the following arguments are required: PROMPT" in err
    assert run_cli(client, "submit", "p", "--metadata", "[1]")[0] == 2
    assert run_cli(client, "submit", "p", "--duration", "two")[0] == 2
    assert run_cli(client, "submit", "p", "--timeout", "-1")[0] == 2
    assert run_cli(client, "list", "--status", "done")[0] == 2
    assert run_cli(client, "download", "vid_1")[0] == 2
    assert run_cli(client, "frobnicate")[0] == 2
    code, _, err = run_cli(client, "submit", "p", "--out", str(tmp_path / "missing" / "v.mp4"))
    assert code == 2 and "does not exist" in err
    code, _, err = run_cli(client, "submit", "p", "--image", str(tmp_path / "nope.png"))
    assert code == 2 and "no such file" in err
    assert api.requests == []


def test_cli_help_documents_the_exit_codes(capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for line in ("0    success", "3    the API refused", "5    timed out", "6    the download failed"):
        assert line in text
