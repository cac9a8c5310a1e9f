"""Write README.md's generated tables: the limits of every request field, and the sandbox's directives.

`python -m devstack.readme_tables` rewrites the text between each table's markers
(`<!-- begin NAME ... -->` and `<!-- end NAME -->`); `--check` only reports whether README.md
is up to date (tests/unit/test_devstack_readme_tables.py fails when it is not). The limits
come from what validates a request: `CreateVideoRequest`'s JSON schema (its pydantic fields),
the constants of videohook.models and videohook.request_rules, and the `Idempotency-Key`
parameter of the API's OpenAPI document; the directives from the sandbox's `KNOBS`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.generated_files import write_or_check

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
COMMAND = "python -m devstack.readme_tables"

if str(REPO / "functions") not in sys.path:
    sys.path.insert(0, str(REPO / "functions"))


def _size(n: int) -> str:
    """4194304 -> "4 MiB"."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def _codes(values: Any) -> str:
    return ", ".join(f"`{value}`" for value in values if value is not None)


def _accepts(schema: dict[str, Any]) -> dict[str, Any]:
    """A property's constraints: its non-null branch merged with what sits beside `anyOf`."""
    merged = {key: value for key, value in schema.items() if key != "anyOf"}
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            merged = {**branch, **merged}
    return merged


def _between(low: Any, high: Any, what: str) -> str:
    return f"{low} to {high} {what}" if low is not None else f"at most {high} {what}"


def limits_table() -> str:
    from handlers.api import openapi_document
    from videohook.models import (
        IDEMPOTENCY_KEY_HEADER,
        KNOWN_MODELS,
        MAX_METADATA_KEYS,
        MAX_UPLOAD_BYTES,
        MODELS_WITHOUT_1080P,
        UPLOAD_CONTENT_TYPES,
        CreateVideoRequest,
        ImageInput,
    )
    from videohook.request_rules import MAX_IMAGE_BYTES, MAX_METADATA_BYTES, MAX_METADATA_DEPTH

    body = CreateVideoRequest.model_json_schema()
    field = {name: _accepts(schema) for name, schema in body["properties"].items()}
    image = {name: _accepts(schema) for name, schema in ImageInput.model_json_schema()["properties"].items()}
    header = next(
        _accepts(parameter["schema"])
        for parameter in openapi_document()["paths"]["/v1/videos"]["post"].get("parameters", [])
        if parameter["name"].lower() == IDEMPOTENCY_KEY_HEADER.lower()
    )
    prompt, duration, user = field["prompt"], field["duration"], field["user"]
    references, webhook_url, events = field["reference_images"], field["webhook_url"], field["webhook_events"]
    url_chars = references["items"]["maxLength"]
    assert image["url"].get("maxLength", url_chars) == url_chars  # one URL limit, as the text says
    rows = [
        ("`prompt`", _between(prompt.get("minLength"), prompt["maxLength"], "characters") + ", not blank"),
        (
            "`model`",
            f"{_codes(field['model']['enum'])} (default `{KNOWN_MODELS[0]}`; "
            f"{_codes(MODELS_WITHOUT_1080P)} has no `1080p`)",
        ),
        ("`duration`", _between(duration["minimum"], duration["maximum"], "seconds, a whole number")),
        ("`resolution`", _codes(field["resolution"]["enum"])),
        ("`aspect_ratio`", _codes(field["aspect_ratio"]["enum"])),
        (
            "`image.url`",
            f"an `https://` URL of at most {url_chars} characters, or a "
            f"`data:image/(png|jpeg|webp);base64,...` URI of at most {_size(MAX_IMAGE_BYTES)} decoded "
            "that holds a PNG, JPEG or WEBP image",
        ),
        (
            "`image.upload_id`",
            f"an upload from `POST /v1/uploads`: {_codes(UPLOAD_CONTENT_TYPES)}, "
            f"at most {_size(MAX_UPLOAD_BYTES)}",
        ),
        (
            "`reference_images`",
            _between(
                references["minItems"],
                references["maxItems"],
                f"`https://` URLs of at most {url_chars} characters",
            )
            + "; not with `image`",
        ),
        ("`user`", _between(user.get("minLength"), user["maxLength"], "characters")),
        (
            "`webhook_url`",
            f"an `https://` URL of a public address, at most {webhook_url['maxLength']} characters "
            "(the local stack also accepts `http://127.0.0.1`)",
        ),
        (
            "`webhook_events`",
            _between(events["minItems"], events["maxItems"], "of " + _codes(events["items"]["enum"])),
        ),
        (
            "`metadata`",
            f"a JSON object of at most {MAX_METADATA_KEYS} keys, {MAX_METADATA_BYTES} bytes of JSON "
            f"and {MAX_METADATA_DEPTH} levels of nesting",
        ),
        ("`provider`", _codes(field["provider"].get("enum") or _enum(body, field["provider"]))),
        (
            f"`{IDEMPOTENCY_KEY_HEADER}` (header)",
            _between(header.get("minLength"), header["maxLength"], "printable ASCII characters"),
        ),
    ]
    lines = ["| field | accepts |", "|---|---|", *(f"| {name} | {_cell(text)} |" for name, text in rows)]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A table cell's text: a `|` (also inside `code`) would end the cell."""
    return text.replace("|", "\\|")


def _enum(schema: dict[str, Any], prop: dict[str, Any]) -> list[Any]:
    """The values of an enum the schema keeps in `$defs` (a `$ref`)."""
    name = prop["$ref"].rsplit("/", 1)[-1]
    return list(schema["$defs"][name]["enum"])


def sandbox_table() -> str:
    from sandbox.faults import KNOBS

    lines = ["| directive | applies to | what it does |", "|---|---|---|"]
    for knob in KNOBS.values():
        applies_to = knob.applies_to.replace(",", ", ")
        lines.append(f"| `sandbox:{knob.key}=` | {applies_to} | {_cell(knob.summary)} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {"limits": limits_table, "sandbox-directives": sandbox_table}


def _section(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- begin {re.escape(name)} .*?-->\n)(.*?)(<!-- end {re.escape(name)} -->)", re.DOTALL
    )


def render(text: str) -> str:
    """README.md's text with every generated table replaced by its current rendering."""
    for name, table in TABLES.items():
        pattern = _section(name)
        if not pattern.search(text):
            raise ValueError(
                f"README.md lacks the markers `<!-- begin {name} ... -->`, `<!-- end {name} -->`"
            )
        text = pattern.sub(lambda match, table=table: match.group(1) + table() + "\n" + match.group(3), text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's tables are out of date")
    args = parser.parse_args(argv)
    return write_or_check(
        README,
        render(README.read_text()),
        check=args.check,
        out_of_date=f"{README}'s generated tables are out of date: run `{COMMAND}`",
    )


if __name__ == "__main__":
    raise SystemExit(main())
