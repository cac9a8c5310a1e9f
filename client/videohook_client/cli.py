"""The `videohook` command: submit, status, list, cancel and download videohook jobs."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, TextIO

from videohook_client.client import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, VideohookClient
from videohook_client.errors import (
    VideohookClientError,
    VideohookConfigError,
    VideohookConnectionError,
    VideohookError,
    VideohookInputError,
    VideohookServerError,
    VideohookTimeout,
    VideoIntegrityError,
    VideoNotReadyError,
)
from videohook_client.models import Job, JobStatus

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_SERVER = 4
EXIT_TIMEOUT = 5
EXIT_INTEGRITY = 6
EXIT_INTERRUPTED = 130

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


# ---- output --------------------------------------------------------------------


def job_line(job: Job) -> str:
    """One line per job: id, status, progress, created_at (and the error of a failed job)."""
    created = job.raw.get("created_at") or (job.created_at.isoformat() if job.created_at else "-")
    line = f"{job.id}  {job.status.value:<9}  {job.progress:>3}%  {created}"
    if job.error is not None:
        line += f"  {job.error.code}: {job.error.message}"
    return line


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


class Progress:
    """Progress of a job (and of its download) on stderr.

    On a terminal: one bar redrawn in place. Otherwise (a log, a pipe, CI): a plain
    status line whenever the status changes, and at most every `interval` seconds
    in between.
    """

    WIDTH = 30

    def __init__(self, stream: TextIO, *, interval: float = 10.0, clock=time.monotonic) -> None:
        self._stream = stream
        isatty = getattr(stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_line = float("-inf")
        self._last_status: str | None = None
        self._drawn = False
        self._last_draw = float("-inf")

    def _bar(self, fraction: float) -> str:
        filled = int(round(max(0.0, min(fraction, 1.0)) * self.WIDTH))
        return "[" + "#" * filled + "-" * (self.WIDTH - filled) + "]"

    def _draw(self, text: str, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._stream.write("\r" + text + "\x1b[K")
        self._stream.flush()
        self._drawn = True

    def job(self, job: Job) -> None:
        elapsed = self._clock() - self._started
        status = job.status.value
        if self._tty:
            changed = status != self._last_status
            self._last_status = status
            bar = self._bar(job.progress / 100)
            text = f"{bar} {job.progress:>3}%  {status:<9}  {job.id}  {elapsed:.0f}s"
            self._draw(text, force=changed or job.is_terminal)
            return
        now = self._clock()
        if status != self._last_status or now - self._last_line >= self._interval:
            self._last_status = status
            self._last_line = now
            self._stream.write(f"{job.id}: {status} {job.progress}% ({elapsed:.0f}s)\n")
            self._stream.flush()

    def download(self, received: int, total: int | None) -> None:
        if not self._tty:
            return
        mib = received / 2**20
        if total:
            text = f"{self._bar(received / total)} {100 * received // total:>3}%  downloading {mib:.1f}"
            text += f"/{total / 2**20:.1f} MiB"
        else:
            text = f"downloading {mib:.1f} MiB"
        self._draw(text, force=total is not None and received >= total)

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a fresh one."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


# ---- argument parsing ----------------------------------------------------------


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

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    submit = command("submit", "start a video job (and optionally wait for it and download the video)")
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
    submit.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up waiting after this long (exit 5; default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    submit.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help=f"first interval between polls, growing to 10 s (default {DEFAULT_POLL_INTERVAL:g})",
    )
    submit.add_argument("--out", metavar="FILE", help="download the video here on success (implies --wait)")
    submit.add_argument("--json", action="store_true", help="print the job as JSON")
    submit.set_defaults(handler=_submit)

    status = command("status", "show a job")
    status.add_argument("id", metavar="ID")
    status.add_argument("--json", action="store_true", help="print the job as JSON")
    status.set_defaults(handler=_status)

    listing = command("list", "list jobs, newest first")
    listing.add_argument("--status", choices=[s.value for s in JobStatus], help="only jobs in this status")
    listing.add_argument("--limit", type=int, metavar="N", help="jobs per page")
    listing.add_argument("--cursor", metavar="C", help="continue from a previous page's next_cursor")
    listing.add_argument("--all", action="store_true", help="follow the cursors through every page")
    listing.add_argument("--json", action="store_true", help="print the page as JSON: {data, next_cursor}")
    listing.set_defaults(handler=_list)

    cancel = command("cancel", "cancel a queued or running job")
    cancel.add_argument("id", metavar="ID")
    cancel.add_argument("--json", action="store_true", help="print the canceled job as JSON")
    cancel.set_defaults(handler=_cancel)

    download = command("download", "download a succeeded job's video (size and SHA-256 verified)")
    download.add_argument("id", metavar="ID")
    download.add_argument("--out", required=True, metavar="FILE", help="destination file (or directory)")
    download.set_defaults(handler=_download)
    return parser


# ---- commands ------------------------------------------------------------------


class _Io:
    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr

    def out(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def err(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def job(self, job: Job, as_json: bool) -> None:
        self.out(_dump(job.raw) if as_json else job_line(job))


def _check_out_path(parser: argparse.ArgumentParser, out: str | None) -> None:
    """Refuse an unusable --out before anything is submitted or downloaded."""
    if out is None:
        return
    path = Path(out)
    if path.is_dir():
        return
    if not path.parent.is_dir():
        parser.error(f"--out {out}: directory {path.parent} does not exist")


def _wrote(io: _Io, path: Path, job: Job) -> None:
    video = job.video
    detail = f"{video.bytes} bytes, sha256 {video.sha256}" if video and video.sha256 else "size verified"
    io.err(f"wrote {path} ({detail})")


def _submit(client: VideohookClient, args: argparse.Namespace, io: _Io) -> int:
    job = client.create_video(
        args.prompt,
        model=args.model,
        duration=args.duration,
        resolution=args.resolution,
        aspect_ratio=args.aspect_ratio,
        image=args.image,
        webhook_url=args.webhook_url,
        metadata=args.metadata,
        provider=args.provider,
        # A key per invocation makes the client's own retries after a lost answer safe.
        idempotency_key=args.idempotency_key or f"cli-{uuid.uuid4()}",
    )
    if not (args.wait or args.out):
        io.job(job, args.json)
        return EXIT_OK

    io.err(f"submitted {job.id}")
    progress = Progress(io.stderr)
    try:
        try:
            final = client.wait(
                job, timeout=args.timeout, poll_interval=args.poll_interval, on_progress=progress.job
            )
        finally:
            progress.close()
    except KeyboardInterrupt:
        io.err(f"interrupted: job {job.id} keeps running (videohook status/cancel {job.id})")
        return EXIT_INTERRUPTED
    except VideohookTimeout as error:
        io.err(f"error: timed out: {error}")
        io.err(f"the job keeps running: videohook status {job.id}")
        return EXIT_TIMEOUT

    io.job(final, args.json)
    if not final.succeeded:
        reason = f": {final.error.code}: {final.error.message}" if final.error else ""
        io.err(f"error: job {final.id} ended {final.status.value}{reason}")
        return EXIT_JOB_FAILED
    if args.out:
        try:
            path = client.download(final, args.out, on_progress=progress.download)
        finally:
            progress.close()
        _wrote(io, path, final)
    return EXIT_OK


def _status(client: VideohookClient, args: argparse.Namespace, io: _Io) -> int:
    io.job(client.get_video(args.id), args.json)
    return EXIT_OK


def _list(client: VideohookClient, args: argparse.Namespace, io: _Io) -> int:
    if not args.all:
        page = client.list_videos(status=args.status, limit=args.limit, cursor=args.cursor)
        if args.json:
            io.out(_dump(page.raw))
            return EXIT_OK
        for job in page.data:
            io.out(job_line(job))
        if page.next_cursor:
            again = ["videohook list"]
            if args.status:
                again.append(f"--status {args.status}")
            if args.limit is not None:
                again.append(f"--limit {args.limit}")
            io.err(f"more: {' '.join(again)} --cursor {page.next_cursor}")
        return EXIT_OK
    jobs = client.iter_videos(status=args.status, page_size=args.limit)
    if args.json:
        io.out(_dump({"data": [job.raw for job in jobs], "next_cursor": None}))
        return EXIT_OK
    for job in jobs:
        io.out(job_line(job))
    return EXIT_OK


def _cancel(client: VideohookClient, args: argparse.Namespace, io: _Io) -> int:
    io.job(client.cancel_video(args.id), args.json)
    return EXIT_OK


def _download(client: VideohookClient, args: argparse.Namespace, io: _Io) -> int:
    job = client.get_video(args.id)
    progress = Progress(io.stderr)
    try:
        path = client.download(job, args.out, on_progress=progress.download)
    finally:
        progress.close()
    _wrote(io, path, job)
    return EXIT_OK


# ---- entry point ---------------------------------------------------------------


def main(
    argv: Sequence[str] | None = None,
    *,
    client: VideohookClient | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line `argv` and return its exit code (see `videohook --help`).

    `client` replaces the one built from VIDEOHOOK_URL / VIDEOHOOK_API_KEY (it is not closed).
    """
    io = _Io(stdout or sys.stdout, stderr or sys.stderr)
    parser = build_parser()
    try:
        with redirect_stdout(io.stdout), redirect_stderr(io.stderr):
            args = parser.parse_args(argv)
            _check_out_path(parser, getattr(args, "out", None))
    except SystemExit as exit_:  # argparse: --help, --version (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE

    try:
        own = client is None
        active = client if client is not None else VideohookClient()
        try:
            return args.handler(active, args, io)
        finally:
            if own:
                active.close()
    except (VideohookConfigError, VideohookInputError) as error:
        io.err(f"error: {error}")
        return EXIT_USAGE
    except VideohookClientError as error:
        io.err(f"error: {error.describe()}")
        if error.status in (401, 403) and error.code in ("forbidden", "unauthorized"):
            io.err("hint: check VIDEOHOOK_API_KEY and VIDEOHOOK_URL")
        return EXIT_REFUSED
    except VideohookServerError as error:
        io.err(f"error: {error.describe()} (HTTP {error.status})")
        return EXIT_SERVER
    except VideohookConnectionError as error:
        io.err(f"error: {error}")
        return EXIT_SERVER
    except VideohookTimeout as error:
        io.err(f"error: timed out: {error}")
        return EXIT_TIMEOUT
    except VideoIntegrityError as error:
        io.err(f"error: integrity check failed: {error}; nothing was written")
        return EXIT_INTEGRITY
    except VideoNotReadyError as error:
        io.err(f"error: {error}")
        return EXIT_JOB_FAILED
    except VideohookError as error:
        io.err(f"error: {error}")
        return EXIT_SERVER
    except OSError as error:  # a local file: --out not writable, disk full, ...
        where = f"{error.filename}: " if error.filename else ""
        io.err(f"error: {where}{error.strerror or error}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        io.err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
