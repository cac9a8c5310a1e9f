"""The OpenAPI document the local stack serves generates a working client: openapi-python-client
(a dev dependency) writes one into a temporary folder, and its `createVideo` and `getVideo` start
and read a job through the local stack, with the server URL the document names."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e

PACKAGE = "videohook_generated"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated(local_stack: Any, tmp_path: Path) -> Iterator[tuple[str, ModuleType]]:
    """(the document's server URL, the generated package) from the served document."""
    answer = httpx.get(f"{local_stack.url}/v1/openapi.json", timeout=30)
    assert answer.status_code == 200
    document = tmp_path / "openapi.json"
    document.write_bytes(answer.content)
    config = tmp_path / "config.yaml"
    # No post hooks: the generator would run ruff over the code, which only makes it prettier.
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    run = subprocess.run(
        [GENERATOR, "generate", "--path", document, "--config", config, "--meta", "none"]
        + ["--output-path", tmp_path / PACKAGE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr  # every part understood
    sys.path.insert(0, str(tmp_path))
    try:
        yield answer.json()["servers"][0]["url"], importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_creates_and_reads_a_job(local_stack: Any, generated: tuple[str, Any]) -> None:
    server_url, package = generated
    assert server_url == local_stack.url  # absolute: where the document was served from
    create_video = importlib.import_module(f"{PACKAGE}.api.videos.create_video")
    get_video = importlib.import_module(f"{PACKAGE}.api.videos.get_video")
    models = importlib.import_module(f"{PACKAGE}.models")

    client = package.AuthenticatedClient(
        base_url=server_url, token=API_KEY, prefix="", auth_header_name="x-api-key", timeout=httpx.Timeout(60)
    )
    with client:
        request = models.CreateVideoRequest(prompt="A paper boat drifts on a pond.", duration=1)
        created = create_video.sync_detailed(client=client, body=request, idempotency_key="generated-1")
        assert created.status_code == 202, created.content
        job = created.parsed
        assert isinstance(job, models.JobView)
        assert job.id.startswith("vid_") and job.prompt == request.prompt and job.duration == 1
        assert job.status in set(models.JobStatus)

        read = get_video.sync(id=job.id, client=client)
        assert isinstance(read, models.JobView)
        assert (read.id, read.prompt, read.created_at) == (job.id, job.prompt, job.created_at)
        assert 0 <= read.progress <= 100

        missing = get_video.sync(id="vid_01jzzzzzzzzzzzzzzzzzzzzzzz", client=client)
        assert isinstance(missing, models.ErrorResponse) and missing.error.code == "not_found"
