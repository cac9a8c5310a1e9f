"""Write the API's OpenAPI document to docs/openapi.json (`make openapi`).

The document is generated from the api handler's routes and pydantic models, the
same one `GET /v1/openapi.json` serves; `--check` only reports whether the file
is up to date (tests/unit/test_devstack_openapi.py fails when it is not).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from devstack.generated_files import write_or_check

REPO = Path(__file__).resolve().parent.parent
DOCUMENT = REPO / "docs" / "openapi.json"

if str(REPO / "functions") not in sys.path:
    sys.path.insert(0, str(REPO / "functions"))


def render() -> str:
    """The document as committed: stable key order, two-space indent, final newline."""
    from handlers.api import openapi_document

    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is out of date")
    args = parser.parse_args(argv)
    return write_or_check(
        DOCUMENT, render(), check=args.check, out_of_date=f"{DOCUMENT} is out of date: run `make openapi`"
    )


if __name__ == "__main__":
    raise SystemExit(main())
