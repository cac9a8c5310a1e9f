"""What every wire contract module gives the server.

A contract (``sandbox/xai.py``, ``sandbox/cometapi.py``, ``sandbox/aimlapi.py``) is one
``Contract``: its routes, how it validates a create body (with ``sandbox/create_checks.py``),
and the shapes of its answers. The facts they follow are in docs/providers.md §1-§3.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.answers import CannedResponse
from sandbox.jobs import Job


@dataclass(frozen=True)
class PollOptions:
    """What a poll answer depends on besides the job: the global options and the job's knobs."""

    pending_202: bool
    comet_envelope: str


@dataclass(frozen=True)
class Contract:
    """One wire contract: routes, create validation, answer shapes."""

    name: str
    create_path: str
    poll_path: re.Pattern[str] | None
    """``GET`` of a job by its id in the path; ``None``: ``GET create_path`` with the id in the query."""
    validate: Callable[[Any], dict[str, Any]]
    """A create body -> the job's parameters (raises ``ApiError`` like the real API)."""
    poll_id: Callable[[str, str], str]
    """``(path, query)`` of a poll -> the job id (raises ``ApiError``)."""
    created: Callable[[Job], dict[str, Any]]
    """The body of the answer to an accepted create."""
    poll_answer: Callable[[Job, float, int, PollOptions], CannedResponse]
    """``(job, now, poll number, options)`` -> the answer to a poll."""


def failure_error() -> dict[str, str]:
    """The ``error`` of a job whose outcome is ``failed``."""
    return {"code": "generation_failed", "message": "Video generation failed (sandbox:outcome=failed)."}
