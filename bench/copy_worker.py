"""One measured transfer in a fresh process; prints {"seconds", "bytes", "rss_growth", "cpu"} as JSON.

    python -m bench.copy_worker copy <source url> <s3 endpoint> <bucket> <key>
    python -m bench.copy_worker upload_file <local path> <s3 endpoint> <bucket> <key>

`copy` is what FinalizeVideo does (videohook.s3_copier.copy_url_to_s3 with its
defaults); `upload_file` is the baseline: boto3's managed upload of a local file with
its default TransferConfig. Both use the same client configuration, and both are timed
and measured from after the imports and client creation: the peak-RSS mark is reset
just before the transfer, so the growth is what the transfer itself needed; "cpu" is the
process's CPU seconds (all threads) over the transfer.
"""

from __future__ import annotations

import json
import sys
import time


def main(mode: str, source: str, endpoint: str, bucket: str, key: str) -> None:
    import boto3
    from botocore.config import Config

    from bench.procs import peak_rss, reset_peak_rss
    from videohook.s3_copier import copy_url_to_s3

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(retries={"mode": "adaptive", "max_attempts": 8}, s3={"addressing_style": "path"}),
    )
    s3.head_bucket(Bucket=bucket)  # the connection pool and the service model are warm for both modes
    before = reset_peak_rss()
    cpu_before = time.process_time()
    started = time.perf_counter()
    if mode == "copy":
        size = copy_url_to_s3(source_url=source, bucket=bucket, key=key, s3_client=s3).bytes
    elif mode == "upload_file":
        import os

        size = os.path.getsize(source)
        s3.upload_file(source, bucket, key)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_before
    growth = peak_rss() - before
    print(json.dumps({"seconds": seconds, "bytes": size, "rss_growth": growth, "cpu": round(cpu_seconds, 3)}))


if __name__ == "__main__":
    main(*sys.argv[1:6])
