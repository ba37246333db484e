"""A small hostile HTTP server for tests: a scripted handler on 127.0.0.1, every request recorded.

    def handler(req: Request) -> Reply:
        return Reply.json([{"id": 1}], headers={"Link": '<@127.0.0.1:9/x>; rel="next"'})

    @pytest.fixture
    def hostile():
        yield from hostile_servers()

    def test_x(hostile):
        github = hostile(handler)        # started on a free port; stopped at the test's end
        attacker = hostile(lambda req: Reply.json({}))
        ...                              # point the code under test at github.url
        assert attacker.requests == []   # nothing (no token) reached the other server

A handler maps a `Request` (method, path with query, headers, body) to a `Reply`, which can be
plain JSON, an HTML page, any status and headers, a body sent in chunks (optionally without end,
or with a pause between chunks: a trickle), or no answer at all (the connection dropped after the
request was read). Every loop is bounded: a body streams until the client goes away, the server
stops, or `Reply.max_seconds` pass.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["HostileServer", "Reply", "Request", "hostile_servers"]


@dataclass
class Request:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None  # the body, piece by piece
    pause: float = 0.0  # seconds between chunks
    drop: bool = False  # close the connection without answering
    chunked: bool = True  # chunks sent with Transfer-Encoding: chunked (False: as they are)
    raw: bool = False  # chunks are the whole answer, status line and headers included
    max_seconds: float = 120.0  # a streamed body ends after this, whatever the client does

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
                   json.dumps(data).encode())

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> Reply:
        return cls(status, {"Content-Type": content_type, **(headers or {})}, text.encode())

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Reply:
        return cls(status, {"Location": location, "Content-Type": "application/json"}, b'{"message": "Moved"}')

    @classmethod
    def endless(cls, chunk: bytes = b"[" + b"0," * 32767, **kwargs: Any) -> Reply:
        """A chunked JSON-looking body that never ends (until the client leaves or max_seconds)."""
        def forever() -> Iterator[bytes]:
            while True:
                yield chunk
        return cls(200, {"Content-Type": "application/json"}, chunks=forever(), **kwargs)

    @classmethod
    def trickle(cls, body: bytes = b'[{"id": 1}]' + b" " * 10_000, every: float = 0.5, **kwargs: Any) -> Reply:
        """`body` one byte every `every` seconds, with a Content-Length (each read gets a byte in time)."""
        return cls(200, {"Content-Type": "application/json", "Content-Length": str(len(body))},
                   chunks=(body[i:i + 1] for i in range(len(body))), pause=every, chunked=False, **kwargs)

    @classmethod
    def trickle_headers(cls, every: float = 0.5, **kwargs: Any) -> Reply:
        """A status line and a header that never end, one byte every `every` seconds."""
        head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60_000
        return cls(chunks=(head[i:i + 1] for i in range(len(head))), pause=every, chunked=False, raw=True, **kwargs)

    @classmethod
    def dropped(cls) -> Reply:
        return cls(drop=True)


Handler = Callable[[Request], Reply]


class HostileServer:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) in a thread, answering with `handler`."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"hostile-{self.port}")

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def paths(self, method: str | None = None) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests if method is None or r.method == method]

    def __enter__(self) -> Self:
        return self.start()  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_class(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one write (unbuffered, delayed ACKs cost 40 ms a request)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 10_000_000)) if length else b""
            request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            server.record(request)
            reply = server.handler(request)
            if reply.drop:
                self.close_connection = True
                return
            if reply.raw:
                try:
                    self._stream(reply, chunked=False)
                except OSError:
                    pass
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            chunked = reply.chunks is not None and reply.chunked
            if reply.chunks is None:
                self.send_header("Content-Length", str(len(reply.body)))
            elif chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if reply.chunks is None:
                    self.wfile.write(reply.body)
                else:
                    self._stream(reply, chunked)
            except OSError:  # the client went away: what a hostile stream waits for
                self.close_connection = True

        def _stream(self, reply: Reply, chunked: bool) -> None:
            deadline = time.monotonic() + reply.max_seconds
            for chunk in reply.chunks or ():
                if server.stopping.is_set() or time.monotonic() > deadline:
                    self.close_connection = True
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.wfile.flush()
                if reply.pause and server.stopping.wait(reply.pause):
                    self.close_connection = True
                    return
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _any

    return Handler


def hostile_servers() -> Iterator[Callable[[Handler], HostileServer]]:
    """The body of a `hostile` fixture: `hostile(handler)` starts a server; all stop at the end.

        @pytest.fixture
        def hostile():
            yield from hostile_servers()
    """
    servers: list[HostileServer] = []

    def make(handler: Handler) -> HostileServer:
        server = HostileServer(handler).start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
