"""Files in the repository that are generated from the code (`make openapi`, the README's tables)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, *, check: bool, out_of_date: str) -> int:
    """Write `text` to `path` if it differs; with `check`, only say so (`out_of_date`) and exit 1."""
    current = path.read_text() if path.exists() else ""
    if check:
        if current != text:
            print(out_of_date, file=sys.stderr)
            return 1
        return 0
    if current != text:
        path.write_text(text)
        print(f"wrote {path}")
    return 0
