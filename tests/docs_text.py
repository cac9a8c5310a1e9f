"""Reading the docs' fenced code blocks, for the tests that check or run them
(tests/unit/test_docs.py, tests/e2e/test_docs_local_stack.py).

Every `python` and `sh` block of README.md and docs/*.md is one of:

- a fragment: its first line is a `# fragment: ...` comment saying what it leaves out
  (README.md says so where the docs are listed); it must parse;
- checked only: it runs `aws`, `npx`, `npm` or `make` (AWS credentials, a deployed
  stack, downloads, or a long-running target such as `make dev` or `make test`); it must
  parse and name only programs the deploy guide's prerequisites provide (and existing
  make targets, tests/unit/test_docs.py);
- runnable: everything else, run as written against the local stack
  (tests/e2e/test_docs_local_stack.py).

Other blocks (`text`, `http`, `json`, `mermaid`) are output, requests or diagrams, not
programs: the tests check the ones that state facts.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
DOC_FILES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
# An opening fence (indented inside a list item or not), its info string, the code, and the
# closing fence at the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<info>[^`\n]*)\n(?P<code>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PROGRAM_LANGS = ("python", "sh")
FRAGMENT_MARK = "# fragment:"
# Programs whose blocks cannot run in a test: they need AWS or a deployment, download, or run long.
DEPLOYMENT_PROGRAMS = ("aws", "npx", "npm", "make")
_DEPLOYMENT_COMMAND = re.compile(r"(?:^|[;&|({]\s*|\$\()\s*(?:" + "|".join(DEPLOYMENT_PROGRAMS) + r")\b")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str  # without the list item's indentation

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def fragment(self) -> bool:
        return self.code.lstrip().startswith(FRAGMENT_MARK)

    @property
    def checked_only(self) -> bool:
        return self.lang == "sh" and any(_DEPLOYMENT_COMMAND.search(line) for line in commands(self.code))

    @property
    def runnable(self) -> bool:
        return self.lang in PROGRAM_LANGS and not self.fragment and not self.checked_only


def code_blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [
        Block(
            path=path,
            line=text.count("\n", 0, m.start()) + 1,
            lang=(m["info"].split() or [""])[0],
            code=textwrap.dedent(m["code"]) if m["indent"] else m["code"],
        )
        for m in FENCE.finditer(text)
    ]


def all_code_blocks() -> list[Block]:
    return [block for path in DOC_FILES for block in code_blocks(path)]


def blocks(path: Path, *langs: str) -> list[str]:
    return [block.code for block in code_blocks(path) if block.lang in langs]


def commands(code: str) -> list[str]:
    """Shell commands of a block, continuation lines joined, comments dropped."""
    lines = []
    for line in code.replace("\\\n", " ").splitlines():
        line = line.split(" # ")[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def shell_lines(path: Path) -> list[str]:
    """Shell commands of `sh` blocks, continuation lines joined, comments dropped."""
    return [line for code in blocks(path, "sh") for line in commands(code)]
