"""The `videohook` command line: its subcommands, their options and the help text."""

from __future__ import annotations

import argparse
import json
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from videohook_client import cli_commands
from videohook_client.models import JobStatus
from videohook_client.waiting import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT

EPILOG = """\
environment:
  VIDEOHOOK_URL       base URL of the API, e.g. http://127.0.0.1:8787
  VIDEOHOOK_API_KEY   the API key, sent as x-api-key (never printed)

exit codes:
  0    success
  1    the job ended failed, expired or canceled (submit --wait), or has no video to download
  2    usage error, missing configuration, or a local file that cannot be read or written
  3    the API refused the request (4xx); stderr: error: <code>: <message> (field: <field>)
  4    server or network error (5xx, connection failed)
  5    timed out waiting (submit --wait --timeout)
  6    the download failed its size or SHA-256 check; nothing was written
  130  interrupted; a submitted job keeps running

examples:
  videohook submit "A candle flickers on a wooden table." --duration 2 --wait --out candle.mp4
  videohook submit "Animate the clouds." --image first-frame.png --json | jq -r .id
  videohook list --status running --all
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"order\": 42}'")
    return value


def _version() -> str:
    try:
        return importlib_metadata.version("videohook")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videohook",
        description="Submit and follow videohook video jobs (Grok Imagine behind a webhook-style API).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, handler: cli_commands.Command) -> argparse.ArgumentParser:
        parser = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(handler=handler)
        return parser

    submit = command(
        "submit",
        "start a video job (and optionally wait for it and download the video)",
        cli_commands.run_submit,
    )
    submit.add_argument("prompt", metavar="PROMPT")
    submit.add_argument(
        "--image",
        metavar="FILE|URL",
        help="first frame: an https:// URL or a local PNG/JPEG/WEBP file (inlined below 3 MiB)",
    )
    submit.add_argument("--duration", type=int, metavar="N", help="seconds of video")
    submit.add_argument("--resolution", metavar="R", help="480p, 720p or 1080p")
    submit.add_argument("--aspect-ratio", metavar="A", help="e.g. 16:9, 9:16, 1:1")
    submit.add_argument("--model", metavar="M")
    submit.add_argument("--provider", metavar="P", help="cometapi, xai, aimlapi or sandbox")
    submit.add_argument("--webhook-url", metavar="U", help="https URL that receives the signed webhook")
    submit.add_argument("--metadata", type=_json_object, metavar="JSON", help="a JSON object kept on the job")
    submit.add_argument(
        "--idempotency-key",
        metavar="K",
        help="retrying with the same key returns the same job (default: a fresh key per invocation)",
    )
    submit.add_argument("--wait", action="store_true", help="wait for the job to end; progress on stderr")
    for flag, default, help_text in (
        ("--timeout", DEFAULT_WAIT_TIMEOUT, "give up waiting after this long (exit 5; default {:g})"),
        (
            "--poll-interval",
            DEFAULT_POLL_INTERVAL,
            "first interval between polls, growing to 10 s (default {:g})",
        ),
    ):
        submit.add_argument(
            flag, type=_positive_float, default=default, metavar="SECONDS", help=help_text.format(default)
        )
    submit.add_argument("--out", metavar="FILE", help="download the video here on success (implies --wait)")
    submit.add_argument("--json", action="store_true", help="print the job as JSON")

    status = command("status", "show a job", cli_commands.run_status)
    status.add_argument("id", metavar="ID")
    status.add_argument("--json", action="store_true", help="print the job as JSON")

    listing = command("list", "list jobs, newest first", cli_commands.run_list)
    listing.add_argument("--status", choices=[s.value for s in JobStatus], help="only jobs in this status")
    listing.add_argument("--limit", type=int, metavar="N", help="jobs per page")
    listing.add_argument("--cursor", metavar="C", help="continue from a previous page's next_cursor")
    listing.add_argument("--all", action="store_true", help="follow the cursors through every page")
    listing.add_argument("--json", action="store_true", help="print the page as JSON: {data, next_cursor}")

    cancel = command("cancel", "cancel a queued or running job", cli_commands.run_cancel)
    cancel.add_argument("id", metavar="ID")
    cancel.add_argument("--json", action="store_true", help="print the canceled job as JSON")

    download = command(
        "download", "download a succeeded job's video (size and SHA-256 verified)", cli_commands.run_download
    )
    download.add_argument("id", metavar="ID")
    download.add_argument("--out", required=True, metavar="FILE", help="destination file (or directory)")
    return parser


def check_out_path(parser: argparse.ArgumentParser, out: str | None) -> None:
    """Refuse an unusable --out before anything is submitted or downloaded."""
    if out is None:
        return
    path = Path(out)
    if path.is_dir():
        return
    if not path.parent.is_dir():
        parser.error(f"--out {out}: directory {path.parent} does not exist")
