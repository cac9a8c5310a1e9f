"""copy_url_to_s3 and the zero-copy checks against moto's S3 server and a loopback HTTP source."""

from __future__ import annotations

import functools
import hashlib
import io
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from videohook.copy_errors import VideoCopyError, VideoDownloadFailed, VideoDownloadIncomplete, VideoNotMp4
from videohook.multipart_upload import BufferPool, PartBody
from videohook.s3_copier import CopyResult, MiB, copy_url_to_s3
from videohook.uploaded_video import move_uploaded_video, verify_uploaded_video
from videohook.video_source import BodyReader

MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
PART = 5 * MiB


@functools.lru_cache(maxsize=8)
def make_body(size: int, mp4: bool = True) -> bytes:
    head = MP4_HEAD if mp4 else b"<!doctype html><title>nope</title>"
    return (head + random.Random(size).randbytes(max(size - len(head), 0)))[:size]


# ---- the source: a loopback HTTP server -------------------------------------------------


class _SourceHandler(BaseHTTPRequestHandler):
    """GET /video?size=N[&mp4=0][&status=404][&truncate=M][&stall=M][&redirects=R][&chunked=1]

    truncate=M: announce Content-Length N, send M bytes, close the connection.
    stall=M: announce Content-Length N, send M bytes, then go silent.
    redirects=R: answer 302 to the same query with R - 1 (a relative Location).
    chunked=1: no Content-Length, Transfer-Encoding: chunked.
    """

    protocol_version = "HTTP/1.1"
    server: _SourceServer

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        redirects = int(q.pop("redirects", "0"))
        if redirects:
            self.send_response(302)
            self.send_header("Location", "video?" + urlencode({**q, "redirects": redirects - 1}))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "chunked" in q:
            body = make_body(int(q["size"]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            view = memoryview(body)
            for start in range(0, len(body), 1_000_003):  # chunk sizes unrelated to the part size
                piece = view[start : start + 1_000_003]
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
            return
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
    part_bodies: dict[int, type] = {}
    lock = threading.Lock()

    def on_call(params, model, **_):
        with lock:
            calls[model.name] += 1
            if model.name == "UploadPart":
                part_sizes[params["PartNumber"]] = len(params["Body"])
                part_bodies[params["PartNumber"]] = type(params["Body"])

    s3.meta.events.register("provide-client-params.s3.*", on_call)
    return {"calls": calls, "part_sizes": part_sizes, "part_bodies": part_bodies}


def assert_nothing_left(s3, bucket: str, key: str) -> None:
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key=key)
    assert info.value.response["Error"]["Code"] in ("404", "NoSuchKey")


# ---- tests --------------------------------------------------------------------------------


def test_large_body_is_copied_in_full_sized_parts(s3, bucket, s3_calls, source):
    size = 20 * MiB + 123
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/big.mp4",
        s3_client=s3,
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
    # A full part is sent as its buffer (no copy); only the short last one as a file-like view.
    assert s3_calls["part_bodies"] == {1: bytearray, 2: bytearray, 3: bytearray, 4: bytearray, 5: PartBody}
    assert s3_calls["calls"]["CompleteMultipartUpload"] == 1

    head = s3.head_object(Bucket=bucket, Key="videos/big.mp4", PartNumber=1)
    assert head["PartsCount"] == 5
    obj = s3.get_object(Bucket=bucket, Key="videos/big.mp4")
    assert obj["ContentType"] == "video/mp4"
    assert obj["ContentLength"] == size
    assert hashlib.sha256(obj["Body"].read()).hexdigest() == expected_sha


def test_uploads_an_earlier_attempt_left_open_are_aborted_first(s3, bucket, s3_calls, source):
    """A killed attempt (no cleanup ran) left an upload with a part; the next attempt removes it."""
    key = "videos/t/retried.mp4"
    stale = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=stale, PartNumber=1, Body=b"x" * PART)
    other = s3.create_multipart_upload(Bucket=bucket, Key=key + ".other")["UploadId"]  # same prefix
    s3_calls["calls"].clear()

    size = 2 * PART + 1
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key=key,
        s3_client=s3,
        part_size=PART,
    )
    assert result.sha256 == hashlib.sha256(make_body(size)).hexdigest()
    assert s3_calls["calls"]["ListMultipartUploads"] == 1
    assert s3_calls["calls"]["AbortMultipartUpload"] == 1
    open_uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in open_uploads] == [(key + ".other", other)]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == make_body(size)


def test_redirects_are_followed_and_bounded(s3, bucket, source):
    size = PART + 10
    result = copy_url_to_s3(
        source_url=video_url(source, size=size, redirects=3),
        bucket=bucket,
        key="videos/redirected.mp4",
        s3_client=s3,
        part_size=PART,
    )
    assert (result.bytes, result.sha256) == (size, hashlib.sha256(make_body(size)).hexdigest())
    with pytest.raises(VideoDownloadFailed, match="redirects") as info:
        copy_url_to_s3(
            source_url=video_url(source, size=size, redirects=11),
            bucket=bucket,
            key="videos/looping.mp4",
            s3_client=s3,
        )
    assert not info.value.retryable
    assert_nothing_left(s3, bucket, "videos/looping.mp4")


def test_a_chunked_body_without_length_is_copied(s3, bucket, s3_calls, source):
    size = 3 * PART + 4321
    result = copy_url_to_s3(
        source_url=video_url(source, size=size, chunked=1),
        bucket=bucket,
        key="videos/chunked.mp4",
        s3_client=s3,
        part_size=PART,
        max_concurrency=2,
    )
    assert (result.bytes, result.sha256) == (size, hashlib.sha256(make_body(size)).hexdigest())
    assert s3_calls["part_sizes"] == {1: PART, 2: PART, 3: PART, 4: 4321}
    assert s3.get_object(Bucket=bucket, Key="videos/chunked.mp4")["Body"].read() == make_body(size)


def test_small_body_is_a_single_put(s3, bucket, s3_calls, source):
    size = 1 * MiB + 7
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="small.mp4",
        s3_client=s3,
        part_size=PART,
    )
    assert result.bytes == size
    assert result.sha256 == hashlib.sha256(make_body(size)).hexdigest()
    assert s3_calls["calls"]["PutObject"] == 1
    assert s3_calls["calls"]["CreateMultipartUpload"] == 0
    body = s3.get_object(Bucket=bucket, Key="small.mp4")["Body"].read()
    assert body == make_body(size)


def test_truncated_body_aborts_the_multipart_upload(s3, bucket, s3_calls, source):
    key = "videos/truncated.mp4"
    with pytest.raises(VideoDownloadIncomplete) as info:
        copy_url_to_s3(
            source_url=video_url(source, size=12 * MiB, truncate=7 * MiB),
            bucket=bucket,
            key=key,
            s3_client=s3,
            part_size=PART,
        )
    assert info.value.code == "download_incomplete"
    assert isinstance(info.value, VideoCopyError) and info.value.retryable
    # The upload had really started (one full part was sent) and was then aborted.
    assert s3_calls["calls"]["CreateMultipartUpload"] == 1
    assert s3_calls["calls"]["AbortMultipartUpload"] == 1
    assert s3_calls["calls"]["CompleteMultipartUpload"] == 0
    assert_nothing_left(s3, bucket, key)


def test_stalled_body_times_out_and_aborts(s3, bucket, s3_calls, source):
    key = "videos/stalled.mp4"
    with pytest.raises(VideoDownloadIncomplete, match="stalled"):
        copy_url_to_s3(
            source_url=video_url(source, size=12 * MiB, stall=6 * MiB),
            bucket=bucket,
            key=key,
            s3_client=s3,
            part_size=PART,
            read_timeout=0.5,
        )
    assert s3_calls["calls"]["AbortMultipartUpload"] == 1
    assert_nothing_left(s3, bucket, key)


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, True), (403, False), (410, False), (429, True), (503, True)]
)
def test_non_2xx_source_is_download_failed(s3, bucket, s3_calls, source, status, retryable):
    with pytest.raises(VideoDownloadFailed) as info:
        copy_url_to_s3(
            source_url=video_url(source, status=status),
            bucket=bucket,
            key="missing.mp4",
            s3_client=s3,
        )
    assert info.value.code == "download_failed"
    assert info.value.status_code == status
    assert str(status) in info.value.message
    assert info.value.retryable is retryable
    assert sum(s3_calls["calls"].values()) == 0
    assert_nothing_left(s3, bucket, "missing.mp4")


def test_non_mp4_body_is_refused_before_any_upload(s3, bucket, s3_calls, source):
    with pytest.raises(VideoNotMp4) as info:
        copy_url_to_s3(
            source_url=video_url(source, size=6 * MiB, mp4=0),
            bucket=bucket,
            key="page.mp4",
            s3_client=s3,
            part_size=PART,
        )
    assert info.value.code == "not_mp4"
    assert sum(s3_calls["calls"].values()) == 0
    assert_nothing_left(s3, bucket, "page.mp4")


def test_tiny_body_is_not_mp4(s3, bucket, source):
    with pytest.raises(VideoNotMp4):
        copy_url_to_s3(
            source_url=video_url(source, size=5),
            bucket=bucket,
            key="tiny.mp4",
            s3_client=s3,
        )


def test_unreachable_source_is_download_incomplete(s3, bucket):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    with pytest.raises(VideoDownloadIncomplete):
        copy_url_to_s3(
            source_url=f"http://127.0.0.1:{port}/video",
            bucket=bucket,
            key="x.mp4",
            s3_client=s3,
            connect_timeout=2,
        )


@pytest.mark.parametrize("url", ["", "ftp://127.0.0.1/video.mp4", "http:///video.mp4"])
def test_a_url_that_is_not_http_is_refused_for_good(s3, bucket, url):
    with pytest.raises(VideoCopyError) as info:
        copy_url_to_s3(source_url=url, bucket=bucket, key="x.mp4", s3_client=s3)
    assert (info.value.code, info.value.retryable) == ("video_copy_failed", False)


def test_part_size_below_s3_minimum_is_refused(s3):
    with pytest.raises(ValueError, match="part_size"):
        copy_url_to_s3(
            source_url="http://127.0.0.1:9/never",
            bucket="b",
            key="k",
            s3_client=s3,
            part_size=1 * MiB,
        )


# ---- the reader and the part body alone ---------------------------------------------------


def _source(data: bytes, chunk: int) -> Callable[[memoryview], int]:
    """A `readinto` that returns at most `chunk` bytes per call, as a socket does."""
    stream = io.BytesIO(data)
    return lambda target: stream.readinto(target[:chunk])


def _read_parts(reader: BodyReader, size: int) -> list[bytes]:
    parts = []
    while True:
        buffer = bytearray(size)
        count = reader.readinto(buffer)
        if not count:
            return parts
        parts.append(bytes(buffer[:count]))


def test_reader_fills_every_buffer_from_short_reads():
    data = random.Random(1).randbytes(10_500)
    reader = BodyReader(_source(data, 1000))
    parts = _read_parts(reader, 4096)
    assert [len(b) for b in parts] == [4096, 4096, 2308]
    assert b"".join(parts) == data
    assert reader.bytes_read == len(data)
    assert reader.sha256 == hashlib.sha256(data).hexdigest()
    assert reader.at_eof
    assert reader.readinto(bytearray(10)) == 0


def test_reader_handles_reads_larger_than_the_buffer():
    data = random.Random(2).randbytes(10_000)
    reader = BodyReader(_source(data, 7000))
    parts = _read_parts(reader, 3000)
    assert [len(b) for b in parts] == [3000, 3000, 3000, 1000]
    assert b"".join(parts) == data
    assert reader.sha256 == hashlib.sha256(data).hexdigest()


def test_reader_checks_length_at_eof_once():
    seen: list[int] = []

    def on_eof(total: int) -> None:
        seen.append(total)
        if total != 3000:
            raise VideoDownloadIncomplete(f"received {total} of 3000 bytes")

    reader = BodyReader(_source(b"a" * 2500, 1000), on_eof=on_eof)
    assert reader.readinto(bytearray(2000)) == 2000
    with pytest.raises(VideoDownloadIncomplete, match="2500 of 3000"):
        reader.readinto(bytearray(2000))
    assert reader.readinto(bytearray(2000)) == 0
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


def test_memory_is_a_fixed_pool_of_part_buffers(s3, bucket, source, monkeypatch):
    """However many parts, at most max_concurrency + 1 part buffers are ever made."""
    made: list[int] = []
    real = BufferPool.take

    def counting_take(self):
        buffer = real(self)
        if all(buffer is not seen for seen in made_buffers):
            made_buffers.append(buffer)
            made.append(len(buffer))
        return buffer

    made_buffers: list[bytearray] = []
    monkeypatch.setattr(BufferPool, "take", counting_take)
    size = 9 * PART + 17
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/pool.mp4",
        s3_client=s3,
        part_size=PART,
        max_concurrency=2,
    )
    assert result.bytes == size
    assert result.sha256 == hashlib.sha256(make_body(size)).hexdigest()
    assert made == [PART] * len(made) and len(made) <= 3


@pytest.mark.parametrize("parts", [1, 2])
def test_bodies_of_whole_parts_end_cleanly(s3, bucket, s3_calls, source, parts):
    size = parts * PART
    result = copy_url_to_s3(
        source_url=video_url(source, size=size),
        bucket=bucket,
        key="videos/whole.mp4",
        s3_client=s3,
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


def provider_upload_result(bucket: str, key: str, body: bytes) -> CopyResult:
    """What verifying (or moving) a provider's upload of `body` answers for the video at `key`:
    an MP4 read 12 bytes deep, not a byte copied."""
    return CopyResult(
        bucket=bucket,
        key=key,
        bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type="video/mp4",
        transfer="provider_upload",
        bytes_copied=0,
        bytes_read_to_verify=12,
    )


def test_a_provider_upload_is_verified_without_moving_it(s3, bucket, s3_calls):
    body = make_body(3 * MiB + 5)
    _provider_put(s3, bucket, "videos/t/vid_1.mp4", body, content_type="application/octet-stream")
    s3_calls["calls"].clear()
    result = verify_uploaded_video(bucket=bucket, key="videos/t/vid_1.mp4", s3_client=s3)
    assert result == provider_upload_result(bucket, "videos/t/vid_1.mp4", body)
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


def test_a_provider_upload_is_moved_from_incoming_to_the_video_key_server_side(s3, bucket, s3_calls):
    body = make_body(2 * MiB + 3)
    _provider_put(s3, bucket, "incoming/t/vid_2.mp4", body, content_type="application/octet-stream")
    s3_calls["calls"].clear()
    result = move_uploaded_video(
        bucket=bucket, source_key="incoming/t/vid_2.mp4", key="videos/t/vid_2.mp4", s3_client=s3
    )
    assert result == provider_upload_result(bucket, "videos/t/vid_2.mp4", body)
    # HEAD, a 12-byte ranged GET, S3's copy (with its SHA-256), the source's delete: no body read.
    assert dict(s3_calls["calls"]) == {"HeadObject": 1, "GetObject": 1, "CopyObject": 1, "DeleteObject": 1}
    stored = s3.get_object(Bucket=bucket, Key="videos/t/vid_2.mp4")
    assert stored["ContentType"] == "video/mp4" and stored["Body"].read() == body
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="incoming/t/vid_2.mp4")


@pytest.mark.parametrize("body", [None, b"", make_body(4096, mp4=False)])
def test_a_missing_empty_or_foreign_upload_is_not_moved(s3, bucket, body):
    if body is not None:
        _provider_put(s3, bucket, "incoming/t/bad.mp4", body)
    moved = move_uploaded_video(
        bucket=bucket, source_key="incoming/t/bad.mp4", key="videos/t/bad.mp4", s3_client=s3
    )
    assert moved is None
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="videos/t/bad.mp4")
