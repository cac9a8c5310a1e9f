"""`python -m bench.servers moto|sandbox|files DIR`: one loopback server, its URL on the first stdout line.

Each runs in its own process so that the measured process holds nothing but the
client side (its peak RSS and CPU are its own). `files` serves the files of DIR
(`GET /<name>`) with sendfile: a source that costs next to no CPU.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main(kind: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if kind == "moto":
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        print(f"http://{host}:{port}", flush=True)
        stop.wait()
        server.stop()
    elif kind == "sandbox":
        from sandbox.server import SandboxServer

        sandbox = SandboxServer(time_factor=0.0).start()
        print(sandbox.url, flush=True)
        stop.wait()
        sandbox.stop()
    elif kind == "files":
        server = _file_server(Path(sys.argv[2]))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
        stop.wait()
        server.shutdown()
    else:
        raise SystemExit(f"unknown server {kind!r}")


def _file_server(root: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = root / self.path.lstrip("/")
            if "/" in self.path.lstrip("/") or not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with path.open("rb") as source:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(path.stat().st_size))
                self.end_headers()
                self.wfile.flush()
                self.connection.sendfile(source)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


if __name__ == "__main__":
    main(sys.argv[1])
