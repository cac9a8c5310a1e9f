"""The client's models (models.py): answers parsed into typed jobs."""

from __future__ import annotations

import httpx

from tests.fakes import job_json


def test_unknown_fields_in_answers_are_tolerated(api, client):
    api.on("GET", "/prod/v1/videos/vid_1", httpx.Response(200, json=job_json(tenant_hint="x", cost=3)))
    job = client.get_video("vid_1")
    assert job.id == "vid_1" and job.raw["cost"] == 3
