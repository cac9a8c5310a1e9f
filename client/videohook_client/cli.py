"""The `videohook` command."""

from __future__ import annotations


def main() -> int:
    raise SystemExit("videohook CLI: not implemented yet")
