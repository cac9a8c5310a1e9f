"""Reading the docs' fenced code blocks, for the tests that check or run them
(tests/unit/test_docs.py, tests/e2e/test_docs_local_stack.py)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOC_FILES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path, *langs: str) -> list[str]:
    return [m["code"] for m in FENCE.finditer(path.read_text()) if m["lang"] in langs]


def shell_lines(path: Path) -> list[str]:
    """Shell commands of `sh` blocks, continuation lines joined, comments dropped."""
    lines = []
    for code in blocks(path, "sh"):
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines
