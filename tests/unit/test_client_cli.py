"""`videohook` (cli.py): what each failure prints on stderr and the exit code it ends with."""

from __future__ import annotations

import httpx

from tests.fakes import CLIENT_API_KEY, VIDEO_BYTES, dropped_connection, error_json, succeeded_json
from tests.unit.cli_runner import run_cli


def test_cli_exit_2_without_configuration(monkeypatch):
    monkeypatch.delenv("VIDEOHOOK_URL", raising=False)
    monkeypatch.setenv("VIDEOHOOK_API_KEY", CLIENT_API_KEY)
    code, out, err = run_cli(None, "status", "vid_1")
    assert (code, out) == (2, "") and err.startswith("error: VIDEOHOOK_URL is not set")


def test_cli_exit_3_prints_the_api_error(api, client):
    api.on("POST", "/prod/v1/videos", error_json(400, "invalid_field", "duration: too big", "duration"))
    code, out, err = run_cli(client, "submit", "p", "--duration", "99")
    assert (code, out) == (3, "")
    assert err == "error: invalid_field: duration: too big (field: duration)\n"
    api.on("POST", "/prod/v1/videos/vid_1/cancel", error_json(409, "job_finished", "the job already ended"))
    assert run_cli(client, "cancel", "vid_1") == (3, "", "error: job_finished: the job already ended\n")


def test_cli_exit_3_on_a_bad_key_with_a_hint(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(403, json={"message": "Forbidden"}))
    code, _, err = run_cli(client, "status", "vid_1")
    assert code == 3 and err.startswith("error: forbidden: Forbidden\nhint: check VIDEOHOOK_API_KEY")


def test_cli_exit_4_on_server_and_network_errors(api, client):
    client._retries = 0
    api.on("GET", "/prod/v1/videos/vid_1", error_json(500, "internal", "boom"))
    assert run_cli(client, "status", "vid_1") == (4, "", "error: internal: boom (HTTP 500)\n")

    api.on("GET", "/prod/v1/videos/vid_1", dropped_connection)
    code, _, err = run_cli(client, "status", "vid_1")
    assert code == 4 and err.startswith("error: cannot reach https://api.example.test")


def test_cli_exit_6_when_the_download_is_corrupt(api, client, tmp_path):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=succeeded_json()))
    api.serves_video(VIDEO_BYTES[:-1] + b"X")
    code, _, err = run_cli(client, "download", "vid_1", "--out", str(tmp_path / "v.mp4"))
    assert code == 6 and "integrity check failed" in err and "SHA-256" in err
    assert list(tmp_path.iterdir()) == []
