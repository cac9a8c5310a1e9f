"""The `videohook` subcommands: each takes the client, the parsed arguments and the output."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable

from videohook_client.cli_output import Io, Progress, dump, job_line, wrote
from videohook_client.client import VideohookClient
from videohook_client.errors import VideohookTimeout
from videohook_client.models import Job

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_SERVER = 4
EXIT_TIMEOUT = 5
EXIT_INTEGRITY = 6
EXIT_INTERRUPTED = 130

# A subcommand: runs with the client, the parsed arguments and the output, returns the exit code.
Command = Callable[[VideohookClient, argparse.Namespace, Io], int]


def run_submit(client: VideohookClient, args: argparse.Namespace, io: Io) -> int:
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
        _download(client, final, args.out, io, progress)
    return EXIT_OK


def run_status(client: VideohookClient, args: argparse.Namespace, io: Io) -> int:
    io.job(client.get_video(args.id), args.json)
    return EXIT_OK


def run_list(client: VideohookClient, args: argparse.Namespace, io: Io) -> int:
    if not args.all:
        page = client.list_videos(status=args.status, limit=args.limit, cursor=args.cursor)
        if args.json:
            io.out(dump(page.raw))
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
        io.out(dump({"data": [job.raw for job in jobs], "next_cursor": None}))
        return EXIT_OK
    for job in jobs:
        io.out(job_line(job))
    return EXIT_OK


def run_cancel(client: VideohookClient, args: argparse.Namespace, io: Io) -> int:
    io.job(client.cancel_video(args.id), args.json)
    return EXIT_OK


def run_download(client: VideohookClient, args: argparse.Namespace, io: Io) -> int:
    _download(client, client.get_video(args.id), args.out, io, Progress(io.stderr))
    return EXIT_OK


def _download(client: VideohookClient, job: Job, out: str, io: Io, progress: Progress) -> None:
    try:
        path = client.download(job, out, on_progress=progress.download)
    finally:
        progress.close()
    wrote(io, path, job)
