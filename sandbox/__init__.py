"""The sandbox provider: a real HTTP server speaking the three Grok Imagine video contracts.

Quick use::

    from sandbox import SandboxServer, mp4_sha256

    with SandboxServer(time_factor=0.01) as server:
        base = server.url                      # http://127.0.0.1:<port>
        ...                                    # POST {base}/v1/videos/generations etc.

Endpoints (one port): xAI ``POST /v1/videos/generations`` + ``GET /v1/videos/{id}``;
CometAPI ``POST /grok/v1/videos/generations`` + ``GET /grok/v1/videos/{id}``;
AI/ML API ``POST /v2/video/generations`` + ``GET /v2/video/generations?generation_id={id}``;
videos ``GET|HEAD /files/{id}.mp4`` (no auth, Range supported); introspection
``GET /sandbox/jobs``, ``GET /sandbox/stats``, ``GET /sandbox/health``, ``POST /sandbox/reset``,
``GET|POST|DELETE /sandbox/faults``.

Per-job directives anywhere in the prompt: ``sandbox:outcome=succeeded|failed|expired|moderated``,
``sandbox:bytes=N`` (also ``64MiB``, ``1g``), ``sandbox:seconds=F`` (generation seconds before
``time_factor``), ``sandbox:truncate=N`` (serve only N body bytes of the download, then close),
and the fault knobs (``sandbox:submit_429=2``, ``sandbox:poll_5xx=3``, ``sandbox:stall_after=N``,
...): the full table is in ``sandbox/faults.py``'s docstring and ``python -m sandbox --help``.
The same knobs set globally: ``SandboxServer(faults={...})``, ``server.set_faults(...)``,
``POST /sandbox/faults``.
"""

from sandbox.cometapi import COMET_ENVELOPES
from sandbox.create_checks import ASPECT_RATIOS, RESOLUTIONS
from sandbox.faults import DIRECTIVE_KEYS, KNOBS, MAX_FAULT_WAIT, OUTCOMES
from sandbox.http_handler import CONTRACTS
from sandbox.mp4 import MIN_SIZE, iter_mp4, mp4_sha256
from sandbox.server import SandboxServer

__all__ = [
    "ASPECT_RATIOS",
    "COMET_ENVELOPES",
    "CONTRACTS",
    "DIRECTIVE_KEYS",
    "KNOBS",
    "MAX_FAULT_WAIT",
    "MIN_SIZE",
    "OUTCOMES",
    "RESOLUTIONS",
    "SandboxServer",
    "iter_mp4",
    "mp4_sha256",
]
