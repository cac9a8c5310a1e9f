"""copy_url_to_s3 against a real S3 API (moto's server) and a real loopback HTTP source."""

from __future__ import annotations

import functools
import hashlib
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from videohook.s3_copier import (
    BodyReader,
    CopyResult,
    MiB,
    PartBody,
    VideoCopyError,
    VideoDownloadFailed,
    VideoDownloadIncomplete,
    VideoNotMp4,
    copy_url_to_s3,
    verify_uploaded_video,
)

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
PART = 5 * MiB


@functools.lru_cache(maxsize=8)
def make_body(size: int, mp4: bool = True) -> bytes:
    head = MP4_HEAD if mp4 else b"<!doctype html><title>nope</title>"
    return (head + random.Random(size).randbytes(max(size - len(head), 0)))[:size]


# ---- the source: a loopback HTTP server -------------------------------------------------


class _SourceHandler(BaseHTTPRequestHandler):
    """GET /video?size=N[&mp4=0][&status=404][&truncate=M][&stall=M]

    truncate=M: announce Content-Length N, send M bytes, close the connection.
    stall=M: announce Content-Length N, send M bytes, then go silent.
    """

    protocol_version = "HTTP/1.1"
    server: _SourceServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        status = int(q.get("status", "200"))
        if status != 200:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = int(q["size"])
        body = make_body(size, q.get("mp4", "1") == "1")
        cut = int(q.get("truncate", q.get("stall", size)))
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            view = memoryview(body)
            for start in range(0, cut, 64 * 1024):
                self.wfile.write(view[start : min(start + 64 * 1024, cut)])
            self.wfile.flush()
            if "stall" in q:
                self.server.release.wait(10)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class _SourceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SourceHandler)
        self.release = threading.Event()


@pytest.fixture(scope="module")
def source() -> Iterator[str]:
    server = _SourceServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.release.set()
    server.shutdown()
    server.server_close()


def video_url(base: str, **params: object) -> str:
    return f"{base}/video?{urlencode(params)}"


# ---- S3: moto's server on loopback -------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    yield client
    client.close()


@pytest.fixture
def bucket(s3) -> str:
    name = f"videos-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_calls(s3) -> dict[str, object]:
    """Counts S3 operations and records the size of every uploaded part."""
    calls: Counter[str] = Counter()
    part_sizes: dict[int, int] = {}
    lock = threading.Lock()

    def on_call(params, model, **_):
        with lock:
            calls[model.name] += 1
            if model.name == "UploadPart":
                part_sizes[params["PartNumber"]] = len(params["Body"])

    s3.meta.events.register("provide-client-params.s3.*", on_call)
    return {"calls": calls, "part_sizes": part_sizes}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def assert_nothing_left(s3, bucket: str, key: str) -> None:
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key=key)
    assert info.value.response["Error"]["Code"] in ("404", "NoSuchKey")


# ---- tests --------------------------------------------------------------------------------


def test_large_body_is_copied_in_full_sized_parts(s3, bucket, s3_calls, source, http):
    size = 20 * MiB + 123
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/big.mp4",
        s3_client=s3,
        http_client=http,
        part_size=PART,
        max_concurrency=4,
    )
    expected_sha = hashlib.sha256(make_body(size)).hexdigest()
    assert result == CopyResult(
        bucket=bucket,
        key="videos/big.mp4",
        bytes=size,
        sha256=expected_sha,
        content_type="video/mp4",
        transfer="copy",
        bytes_copied=size,
    )
    # Every part but the last is exactly part_size: the reader fills each read.
    assert s3_calls["calls"]["UploadPart"] == 5
    assert s3_calls["part_sizes"] == {1: PART, 2: PART, 3: PART, 4: PART, 5: 123}
    assert s3_calls["calls"]["CompleteMultipartUpload"] == 1

    head = s3.head_object(Bucket=bucket, Key="videos/big.mp4", PartNumber=1)
    assert head["PartsCount"] == 5
    obj = s3.get_object(Bucket=bucket, Key="videos/big.mp4")
    assert obj["ContentType"] == "video/mp4"
    assert obj["ContentLength"] == size
    assert hashlib.sha256(obj["Body"].read()).hexdigest() == expected_sha


def test_small_body_is_a_single_put(s3, bucket, s3_calls, source, http):
    size = 1 * MiB + 7
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="small.mp4",
        s3_client=s3,
        http_client=http,
        part_size=PART,
    )
    assert result.bytes == size
    assert result.sha256 == hashlib.sha256(make_body(size)).hexdigest()
    assert s3_calls["calls"]["PutObject"] == 1
    assert s3_calls["calls"]["CreateMultipartUpload"] == 0
    body = s3.get_object(Bucket=bucket, Key="small.mp4")["Body"].read()
    assert body == make_body(size)


def test_truncated_body_aborts_the_multipart_upload(s3, bucket, s3_calls, source, http):
    key = "videos/truncated.mp4"
    with pytest.raises(VideoDownloadIncomplete) as info:
        copy_url_to_s3(
            source_url=video_url(source, size=12 * MiB, truncate=7 * MiB),
            bucket=bucket,
            key=key,
            s3_client=s3,
            http_client=http,
            part_size=PART,
        )
    assert info.value.code == "download_incomplete"
    assert isinstance(info.value, VideoCopyError) and info.value.retryable
    # The upload had really started (one full part was sent) and was then aborted.
    assert s3_calls["calls"]["CreateMultipartUpload"] == 1
    assert s3_calls["calls"]["AbortMultipartUpload"] == 1
    assert s3_calls["calls"]["CompleteMultipartUpload"] == 0
    assert_nothing_left(s3, bucket, key)


def test_stalled_body_times_out_and_aborts(s3, bucket, s3_calls, source, http):
    key = "videos/stalled.mp4"
    with pytest.raises(VideoDownloadIncomplete, match="stalled"):
        copy_url_to_s3(
            source_url=video_url(source, size=12 * MiB, stall=6 * MiB),
            bucket=bucket,
            key=key,
            s3_client=s3,
            http_client=http,
            part_size=PART,
            read_timeout=0.5,
        )
    assert s3_calls["calls"]["AbortMultipartUpload"] == 1
    assert_nothing_left(s3, bucket, key)


@pytest.mark.parametrize(("status", "retryable"), [(404, False), (403, False), (503, True)])
def test_non_2xx_source_is_download_failed(s3, bucket, s3_calls, source, http, status, retryable):
    with pytest.raises(VideoDownloadFailed) as info:
        copy_url_to_s3(
            source_url=video_url(source, status=status),
            bucket=bucket,
            key="missing.mp4",
            s3_client=s3,
            http_client=http,
        )
    assert info.value.code == "download_failed"
    assert info.value.status_code == status
    assert str(status) in info.value.message
    assert info.value.retryable is retryable
    assert sum(s3_calls["calls"].values()) == 0
    assert_nothing_left(s3, bucket, "missing.mp4")


def test_non_mp4_body_is_refused_before_any_upload(s3, bucket, s3_calls, source, http):
    with pytest.raises(VideoNotMp4) as info:
        copy_url_to_s3(
            source_url=video_url(source, size=6 * MiB, mp4=0),
            bucket=bucket,
            key="page.mp4",
            s3_client=s3,
            http_client=http,
            part_size=PART,
        )
    assert info.value.code == "not_mp4"
    assert sum(s3_calls["calls"].values()) == 0
    assert_nothing_left(s3, bucket, "page.mp4")


def test_tiny_body_is_not_mp4(s3, bucket, source, http):
    with pytest.raises(VideoNotMp4):
        copy_url_to_s3(
            source_url=video_url(source, size=5),
            bucket=bucket,
            key="tiny.mp4",
            s3_client=s3,
            http_client=http,
        )


def test_unreachable_source_is_download_incomplete(s3, bucket, http):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    with pytest.raises(VideoDownloadIncomplete):
        copy_url_to_s3(
            source_url=f"http://127.0.0.1:{port}/video",
            bucket=bucket,
            key="x.mp4",
            s3_client=s3,
            http_client=http,
            connect_timeout=2,
        )


def test_part_size_below_s3_minimum_is_refused(s3, http):
    with pytest.raises(ValueError, match="part_size"):
        copy_url_to_s3(
            source_url="http://127.0.0.1:9/never",
            bucket="b",
            key="k",
            s3_client=s3,
            http_client=http,
            part_size=1 * MiB,
        )


# ---- the reader and the part body alone ---------------------------------------------------


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _read_parts(reader: BodyReader, size: int) -> list[bytes]:
    parts = []
    while True:
        buffer = bytearray(size)
        count = reader.readinto(buffer)
        if not count:
            return parts
        parts.append(bytes(buffer[:count]))


def test_reader_fills_every_buffer_from_short_chunks():
    data = random.Random(1).randbytes(10_500)
    reader = BodyReader(_chunks(data, 1000))
    parts = _read_parts(reader, 4096)
    assert [len(b) for b in parts] == [4096, 4096, 2308]
    assert b"".join(parts) == data
    assert reader.bytes_read == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.at_eof
    assert reader.readinto(bytearray(10)) == 0


def test_reader_handles_chunks_larger_than_the_buffer_and_empty_chunks():
    data = random.Random(2).randbytes(10_000)
    reader = BodyReader(iter([b"", data[:7000], b"", data[7000:]]))
    parts = _read_parts(reader, 3000)
    assert [len(b) for b in parts] == [3000, 3000, 3000, 1000]
    assert b"".join(parts) == data
    assert reader.sha256 == hashlib.sha256(data).hexdigest()


def test_reader_peek_does_not_consume():
    data = MP4_HEAD + b"x" * 5000
    reader = BodyReader(_chunks(data, 3))
    assert reader.peek(12) == data[:12]
    assert reader.peek(12) == data[:12]
    assert b"".join(_read_parts(reader, 1000)) == data


def test_reader_checks_length_at_eof():
    seen: list[int] = []

    def on_eof(total: int) -> None:
        seen.append(total)
        if total != 3000:
            raise VideoDownloadIncomplete(f"received {total} of 3000 bytes")

    reader = BodyReader(_chunks(b"a" * 2500, 1000), on_eof=on_eof)
    assert reader.readinto(bytearray(2000)) == 2000
    with pytest.raises(VideoDownloadIncomplete, match="2500 of 3000"):
        reader.readinto(bytearray(2000))
    assert seen == [2500]


def test_part_body_is_a_seekable_view_of_the_filled_bytes():
    buffer = bytearray(b"0123456789" + b"\0" * 6)
    body = PartBody(buffer, 10)
    assert len(body) == 10 and body.readable() and body.seekable()
    assert body.read(4) == b"0123" and body.tell() == 4
    assert body.read() == b"456789" and body.read(3) == b""
    assert body.seek(0) == 0 and body.read(-1) == b"0123456789"
    body.seek(-2, 2)
    target = bytearray(5)
    assert body.readinto(target) == 2 and target[:2] == b"89"


def test_memory_is_a_fixed_pool_of_part_buffers(s3, bucket, source, http, monkeypatch):
    """However many parts, at most max_concurrency + 1 part buffers are ever made."""
    from videohook import s3_copier

    made: list[int] = []
    real = s3_copier._BufferPool.take

    def counting_take(self):
        buffer = real(self)
        if all(buffer is not seen for seen in made_buffers):
            made_buffers.append(buffer)
            made.append(len(buffer))
        return buffer

    made_buffers: list[bytearray] = []
    monkeypatch.setattr(s3_copier._BufferPool, "take", counting_take)
    size = 9 * PART + 17
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/pool.mp4",
        s3_client=s3,
        http_client=http,
        part_size=PART,
        max_concurrency=2,
    )
    assert result.bytes == size
    assert result.sha256 == hashlib.sha256(make_body(size)).hexdigest()
    assert made == [PART] * len(made) and len(made) <= 3


@pytest.mark.parametrize("parts", [1, 2])
def test_bodies_of_whole_parts_end_cleanly(s3, bucket, s3_calls, source, http, parts):
    size = parts * PART
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/whole.mp4",
        s3_client=s3,
        http_client=http,
        part_size=PART,
    )
    assert (result.bytes, result.sha256) == (size, hashlib.sha256(make_body(size)).hexdigest())
    assert s3_calls["part_sizes"] == dict.fromkeys(range(1, parts + 1), PART)
    assert s3.get_object(Bucket=bucket, Key="videos/whole.mp4")["Body"].read() == make_body(size)


# ---- zero-copy: verifying what the provider uploaded ---------------------------------------------


def _provider_put(s3, bucket: str, key: str, body: bytes, content_type: str = "video/mp4") -> None:
    """What a provider does with output.upload_url: one PUT of the whole video."""
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    answer = httpx.put(url, content=body, headers={"Content-Type": content_type})
    assert answer.status_code == 200, answer.text


def test_a_provider_upload_is_verified_without_moving_it(s3, bucket, s3_calls):
    body = make_body(3 * MiB + 5)
    _provider_put(s3, bucket, "videos/t/vid_1.mp4", body, content_type="application/octet-stream")
    s3_calls["calls"].clear()
    result = verify_uploaded_video(bucket=bucket, key="videos/t/vid_1.mp4", s3_client=s3)
    assert result == CopyResult(
        bucket=bucket,
        key="videos/t/vid_1.mp4",
        bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type="video/mp4",
        transfer="provider_upload",
        bytes_copied=0,
        bytes_read_to_verify=12,
    )
    # HEAD, a 12-byte ranged GET, and S3 hashing the object itself (a copy onto itself).
    assert dict(s3_calls["calls"]) == {"HeadObject": 1, "GetObject": 1, "CopyObject": 1}
    stored = s3.get_object(Bucket=bucket, Key="videos/t/vid_1.mp4")
    assert stored["ContentType"] == "video/mp4"  # whatever the provider's PUT said
    assert stored["Body"].read() == body


def test_an_existing_sha256_checksum_is_used_as_is(s3, bucket, s3_calls):
    body = make_body(1 * MiB)
    s3.put_object(Bucket=bucket, Key="k.mp4", Body=body, ChecksumAlgorithm="SHA256")
    s3_calls["calls"].clear()
    result = verify_uploaded_video(bucket=bucket, key="k.mp4", s3_client=s3)
    assert result is not None and result.sha256 == hashlib.sha256(body).hexdigest()
    assert s3_calls["calls"]["CopyObject"] == 0


def test_a_missing_upload_means_copy_instead(s3, bucket):
    assert verify_uploaded_video(bucket=bucket, key="videos/none.mp4", s3_client=s3) is None


@pytest.mark.parametrize("body", [b"", make_body(4096, mp4=False)])
def test_an_empty_or_foreign_upload_means_copy_instead(s3, bucket, body):
    _provider_put(s3, bucket, "videos/bad.mp4", body)
    assert verify_uploaded_video(bucket=bucket, key="videos/bad.mp4", s3_client=s3) is None
