"""The video's source: one GET of the provider's URL, read straight into the caller's buffers.

`open_url` follows redirects (provider URLs may point at a CDN) and answers the response
with its body unread; `BodyReader` fills buffers from it, hashing (SHA-256) and counting
as it goes, with transport errors turned into `VideoDownloadIncomplete`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit

from videohook.copy_errors import VideoCopyError, VideoDownloadFailed, VideoDownloadIncomplete

# Bytes of a video's start that tell an MP4: the first box's size and type (`ftyp`).
SNIFF_BYTES = 12


class BodyReader:
    """Fills part buffers from a source's `readinto` (the HTTP response's: socket -> buffer).

    `readinto(buffer)` fills the whole buffer unless the stream ends first: every part
    but the last is exactly part-sized (a socket returns whatever arrived, often 64 KiB or
    less, and S3 rejects parts under 5 MiB). The bytes land in the buffer straight from
    the source, with no intermediate object; each filled buffer is hashed and counted in
    one call. At the end of the stream (the source's `readinto` returns 0)
    `on_eof(total_bytes)` is called, once, and may raise (the length check).
    """

    def __init__(
        self, source: Callable[[memoryview], int], *, on_eof: Callable[[int], None] | None = None
    ) -> None:
        self._source = source
        self._on_eof = on_eof
        self._eof = False
        self._hash = hashlib.sha256()
        self.bytes_read = 0  # bytes pulled from the source so far

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    @property
    def at_eof(self) -> bool:
        return self._eof

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill `buffer` from the stream; fewer bytes only at its end. Returns the count."""
        target = memoryview(buffer)
        filled = 0
        while filled < len(target) and not self._eof:
            count = self._source(target[filled:])
            if count:
                filled += count
            else:
                self._eof = True
        self._hash.update(target[:filled])
        self.bytes_read += filled
        if self._eof and self._on_eof is not None:
            on_eof, self._on_eof = self._on_eof, None
            on_eof(self.bytes_read)
        return filled


def looks_like_mp4(head: bytes) -> bool:
    """ISO base media files start with a box header: 4-byte size, then the type `ftyp`."""
    return len(head) >= 8 and head[4:8] == b"ftyp"


_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_REDIRECTS = 10


def _connection(url: str, connect_timeout: float) -> tuple[http.client.HTTPConnection, str]:
    """An unconnected connection to `url`'s origin, and the request target (path and query)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VideoCopyError("the video URL is not an http(s) URL")
    if parts.scheme == "https":
        # Here, not at module level: only an https source needs it (cold start). Its TLS
        # context: certifi's CA bundle, as for every other request.
        import httpx

        context = httpx.create_ssl_context()
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=connect_timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=connect_timeout)
    return connection, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@contextlib.contextmanager
def open_url(url: str, *, connect_timeout: float, read_timeout: float) -> Iterator[http.client.HTTPResponse]:
    """GET `url`, following redirects; the response, its body not read yet.

    The standard library's client rather than httpx: its `readinto` puts the body straight
    from the socket into the part buffers, where httpx (httpcore, h11) hands it over in 64
    KiB `bytes` objects, copied twice on the way (measured: about 1.5 s more CPU per GiB,
    taken from the upload threads). `read_timeout` is set on the socket once connected:
    the longest silence tolerated in any read.
    """
    for _ in range(_MAX_REDIRECTS + 1):
        connection, target = _connection(url, connect_timeout)
        try:
            connection.connect()
            connection.sock.settimeout(read_timeout)
            # identity: the bytes are stored as served and checked against Content-Length.
            connection.request(
                "GET", target, headers={"Accept-Encoding": "identity", "User-Agent": "videohook"}
            )
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status not in _REDIRECTS or not location:
                yield response
                return
            url = urljoin(url, location)
        finally:
            connection.close()
    raise VideoDownloadFailed(f"more than {_MAX_REDIRECTS} redirects", status_code=response.status)


def response_reader(response: http.client.HTTPResponse, read_timeout: float) -> Callable[[memoryview], int]:
    """The response's `readinto`, with transport errors turned into VideoDownloadIncomplete."""

    def readinto(target: memoryview) -> int:
        try:
            return response.readinto(target)
        except TimeoutError as exc:
            raise VideoDownloadIncomplete(f"download stalled: no data for {read_timeout:g}s") from exc
        except (OSError, http.client.HTTPException) as exc:
            # ConnectionResetError, IncompleteRead (a chunked body cut short), ...
            raise VideoDownloadIncomplete(f"download interrupted: {type(exc).__name__}") from exc

    return readinto
