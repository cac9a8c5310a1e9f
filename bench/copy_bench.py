"""Copy throughput and peak RSS growth: FinalizeVideo's streaming copy, the simplest correct
alternative (boto3's upload_fileobj of a hashing stream) and boto3 upload_file.

The sandbox provider serves the video over loopback HTTP; moto's S3 server on loopback
is the endpoint for all. Each transfer runs in a fresh process (bench.copy_worker),
the modes alternate, and each size is measured `repeats` times per mode; the table
gives the median throughput and the largest RSS growth of each. The sandbox renders the
video once, before the first run, and serves it with sendfile; another mode copies the
baseline's own file from a plain sendfile server, to show the sandbox costs no more.
"""

from __future__ import annotations

import statistics
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procs import bench_env, run_json, server

MiB = 1024 * 1024


@dataclass(frozen=True)
class CopyFigures:
    size: int
    copy_mib_s: float  # from the sandbox's video URL
    baseline_mib_s: float  # upload_file from the local file
    copy_rss_growth: int
    baseline_rss_growth: int
    runs: int
    # The same copy from a plain sendfile server of the baseline's file: no more than the
    # sandbox (which renders a video once, then serves it with sendfile) should cost.
    static_copy_mib_s: float = float("nan")
    # CPU seconds of the measured process per transfer (medians): what the copy costs besides
    # the wait for S3, steadier than throughput on cores that other work shares.
    copy_cpu_seconds: float = float("nan")
    baseline_cpu_seconds: float = float("nan")
    # The simplest correct alternative (bench.copy_worker.upload_fileobj), same source as `copy`.
    simple_mib_s: float = float("nan")
    simple_rss_growth: int = 0
    simple_cpu_seconds: float = float("nan")

    @property
    def ratio(self) -> float:
        return self.copy_mib_s / self.baseline_mib_s


def _sandbox_video(sandbox_url: str, size: int) -> tuple[str, str]:
    """A finished sandbox job of `size` bytes: (its id, its temporary video URL)."""
    answer = httpx.post(
        f"{sandbox_url}/v1/videos/generations",
        json={"prompt": f"bench {uuid.uuid4().hex} sandbox:bytes={size} sandbox:seconds=0", "duration": 1},
        headers={"Authorization": "Bearer bench"},
        timeout=30,
    )
    answer.raise_for_status()
    job_id = answer.json()["request_id"]
    url = f"{sandbox_url}/files/{job_id}.mp4"
    # The sandbox renders a video on its first download, then serves it with sendfile:
    # rendered here, before any run is timed (as the baseline's file is written before).
    httpx.get(url, headers={"Range": "bytes=0-0"}, timeout=300).raise_for_status()
    return job_id, url


def _write_file(path: Path, job_id: str, size: int) -> None:
    from sandbox import mp4

    with path.open("wb") as out:
        for chunk in mp4.iter_mp4(job_id, size, 4 * MiB):
            out.write(chunk)


def measure(sizes: tuple[int, ...], repeats: int | dict[int, int] = 3) -> list[CopyFigures]:
    """Per size: `repeats` runs of each mode (an int, or a count per size; 1 if absent)."""
    import boto3
    from botocore.config import Config

    results = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        server("moto") as s3_url,
        server("sandbox") as sandbox_url,
        server("files", tmp) as files_url,
    ):
        env = bench_env()
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )
        bucket = "bench-videos"
        s3.create_bucket(Bucket=bucket)
        for size in sizes:
            job_id, url = _sandbox_video(sandbox_url, size)
            path = Path(tmp) / f"{job_id}.mp4"
            _write_file(path, job_id, size)
            runs: dict[str, list[dict]] = {"copy": [], "upload_fileobj": [], "upload_file": [], "static": []}
            sources = {
                "copy": url,
                "upload_fileobj": url,
                "upload_file": str(path),
                "static": f"{files_url}/{path.name}",
            }
            count = repeats if isinstance(repeats, int) else repeats.get(size, 1)
            for attempt in range(count):
                order = ("upload_file", "copy", "upload_fileobj", "static")
                for mode in order if attempt % 2 == 0 else order[::-1]:
                    key = f"videos/bench/{mode}-{attempt}.mp4"
                    worker_mode = "copy" if mode == "static" else mode
                    figures = run_json(
                        "bench.copy_worker", worker_mode, sources[mode], s3_url, bucket, key, env=env
                    )
                    if figures["bytes"] != size:
                        raise RuntimeError(f"{mode} moved {figures['bytes']} bytes, not {size}")
                    runs[mode].append(figures)
                    s3.delete_object(Bucket=bucket, Key=key)  # moto holds objects in memory
            path.unlink()

            def speed(mode: str) -> float:
                return statistics.median(size / MiB / r["seconds"] for r in runs[mode])  # noqa: B023

            results.append(
                CopyFigures(
                    size=size,
                    copy_mib_s=speed("copy"),
                    baseline_mib_s=speed("upload_file"),
                    copy_rss_growth=max(r["rss_growth"] for r in runs["copy"]),
                    baseline_rss_growth=max(r["rss_growth"] for r in runs["upload_file"]),
                    runs=count,
                    static_copy_mib_s=speed("static"),
                    copy_cpu_seconds=statistics.median(r["cpu"] for r in runs["copy"]),
                    baseline_cpu_seconds=statistics.median(r["cpu"] for r in runs["upload_file"]),
                    simple_mib_s=speed("upload_fileobj"),
                    simple_rss_growth=max(r["rss_growth"] for r in runs["upload_fileobj"]),
                    simple_cpu_seconds=statistics.median(r["cpu"] for r in runs["upload_fileobj"]),
                )
            )
    return results
