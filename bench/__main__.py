"""`make bench` / `python -m bench`: every benchmark, one table, PASS/FAIL per target.

python -m bench                 # everything; writes docs/benchmarks.md
python -m bench --no-docs       # print only
python -m bench polling copy    # some sections: polling copy zero-copy imports cost stack
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "functions"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def main(argv: list[str] | None = None) -> int:
    from bench.run import Config, collect, render, summary, write_docs

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", help="default: all")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    config = Config()
    if args.sections:
        unknown = set(args.sections) - set(config.sections)
        if unknown:
            parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(config.sections)}")
        config.sections = tuple(args.sections)
    report = collect(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(render(report.rows))
    print()
    for note in report.notes:
        print(note)
    print(summary(report.rows))
    if not args.no_docs and not args.sections:
        print(f"wrote {write_docs(report).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
