"""Which uv.lock the Lambda dependencies layer was built from.

`make layer` builds `build/lambda-layer/` from uv.lock and then records the lock's
SHA-256 in the layer (`uv.lock.sha256`); `make layer` rebuilds whenever the recorded
digest differs from uv.lock's (content, not timestamps), and the CDK app
(infra/stack.py) refuses to synthesize a layer built from another uv.lock.

Standard library only: the Makefile runs it with the system's `python3` before the
venv exists:

    python3 infra/layer_lock.py check build/lambda-layer    # exit 0 when current, else 1 and why
    python3 infra/layer_lock.py record build/lambda-layer   # after a build
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO_ROOT / "uv.lock"
RECORD_NAME = "uv.lock.sha256"


def lock_digest(lock: Path = LOCK_FILE) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def record(layer_dir: Path, lock: Path = LOCK_FILE) -> None:
    """Note in `layer_dir` that it was built from `lock` as it is now."""
    (layer_dir / RECORD_NAME).write_text(lock_digest(lock) + "\n")


def staleness(layer_dir: Path, lock: Path = LOCK_FILE) -> str | None:
    """Why the layer in `layer_dir` is not the one `lock` asks for, or None when it is."""
    if not (layer_dir / "python").is_dir():
        return f"{layer_dir / 'python'} does not exist"
    recorded = layer_dir / RECORD_NAME
    if not recorded.is_file():
        return f"{layer_dir} does not record which uv.lock it was built from ({RECORD_NAME})"
    if recorded.read_text().strip() != lock_digest(lock):
        return f"{layer_dir} was built from another uv.lock than the current one"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "record"):
        print("usage: layer_lock.py check|record <layer dir>", file=sys.stderr)
        return 2
    layer_dir = Path(argv[1])
    if argv[0] == "record":
        record(layer_dir)
        return 0
    reason = staleness(layer_dir)
    if reason:
        print(f"Lambda layer to (re)build: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
