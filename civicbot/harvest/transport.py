"""The wire under PyGithub: every request stays on base_url's origin, and every read is bounded.

PyGithub opens its connections through a connection class (`HTTPRequestsConnectionClass`); the
`Github` objects built by `client.make_github` get `GuardedConnection` instead, which:

- sends a request only to base_url's scheme, host and port: a path that does not start with
  "/" (e.g. `@other-host:1/x`, which PyGithub would glue onto `scheme://host:port` and send the
  token to other-host), a connection to another origin, and a redirect whose Location resolves
  to another origin are refused before anything is sent;
- counts redirects PyGithub follows (it follows a 301 by path, recursively, with no limit) and
  refuses past `github.max_redirects`;
- reads the body streamed, refusing past `github.max_body_mb` (and a Content-Length above it);
- gives each attempt `github.total_timeout` seconds from connecting to the last byte: a timer
  shuts the socket down when it runs out, so a body trickled a byte at a time (which a per-read
  `timeout` never catches) ends too. Waits between attempts (rate limits) are not counted.

A refusal raises `Refusal` (`kind` "origin" or "limit"); the client turns it into its own errors.
"""

from __future__ import annotations

import codecs
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
from github.Requester import Requester

__all__ = ["Guard", "GuardedConnection", "Limits", "Refusal", "describe", "install", "origin_of", "same_origin"]


class Refusal(Exception):
    """A request or answer refused here; `kind` is "origin" (another host) or "limit"."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    total_timeout: float
    max_redirects: int
    timeout: float  # connect and per-read timeout


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def same_origin(url: str, origin: tuple[str, str, int]) -> bool:
    """True when an absolute `url` is on `origin` and carries no credentials (user@host)."""
    try:
        parts = urlsplit(url)
        return "@" not in parts.netloc and origin_of(url) == origin
    except ValueError:  # a port that is not a number, a bad IPv6 literal
        return False


class Guard:
    """Per `Github` object: base_url's origin, the limits, and the state of the current request."""

    def __init__(self, base_url: str, limits: Limits):
        self.origin = origin_of(base_url)
        self.limits = limits
        self.tripped = False  # the current request's deadline ran out
        self.redirects = 0  # redirects followed in a row
        self.expected: str | None = None  # the path PyGithub asks next when it follows a redirect
        self.current: _Deadline | None = None

    def check_origin(self, scheme: str, host: str | None, port: int | None) -> None:
        port = port or (443 if scheme == "https" else 80)
        if (scheme, (host or "").lower(), port) != self.origin:
            raise Refusal("origin", f"a request to {scheme}://{host}:{port} refused: only "
                                    f"{_show(self.origin)} (github.base_url) is asked")


def _show(origin: tuple[str, str, int]) -> str:
    return f"{origin[0]}://{origin[1]}:{origin[2]}"


def describe(url: str) -> str:
    """Where a URL points, for a message: its origin (no path, query or credentials)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return _show(origin_of(url)) + (" with credentials" if "@" in parts.netloc else "") if host else repr(url[:80])
    except ValueError:
        return repr(url[:80])


# ---------------------------------------------------------------------------------------------
# The deadline of one attempt, enforced on the socket


class _Deadline:
    """A timer that, when it runs out, marks the guard tripped and shuts the connection's socket."""

    def __init__(self, guard: Guard, conn: urllib3.connection.HTTPConnection):
        self.guard, self.conn = guard, conn
        self.timer = threading.Timer(guard.limits.total_timeout, self._trip)
        self.timer.daemon = True
        self.timer.start()

    def _trip(self) -> None:
        if self.guard.current is not self:  # cancelled, or an earlier attempt's: not this request's
            return
        self.guard.tripped = True  # first: a connect that ends after this sees it (see connect)
        sock = getattr(self.conn, "sock", None)
        if isinstance(sock, socket.socket):
            try:  # socket.socket's own shutdown: SSLSocket's would unwrap under a reading thread
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self.timer.cancel()


class _GuardedMixin:
    """urllib3 connection: arms a deadline per attempt (connect or request, whichever is first)."""

    guard: Guard
    _deadline: _Deadline | None = None
    _in_request = False
    _armed_by_connect = False

    def _arm(self) -> None:
        if self.guard.tripped:  # urllib3 retrying after the deadline: do not
            raise Refusal("limit", _too_slow(self.guard))
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.guard.current = _Deadline(self.guard, self)  # type: ignore[arg-type]

    def connect(self) -> None:
        if not self._in_request:  # HTTPS pools connect before request()
            self._arm()
            self._armed_by_connect = True
        super().connect()  # type: ignore[misc]
        if self.guard.tripped:
            self.close()  # type: ignore[attr-defined]
            raise Refusal("limit", _too_slow(self.guard))

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if not self._armed_by_connect:
            self._arm()
        self._armed_by_connect = False
        self._in_request = True
        try:
            return super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._in_request = False


def _too_slow(guard: Guard) -> str:
    return f"no complete answer within github.total_timeout ({guard.limits.total_timeout:g} s)"


def _pool_classes(guard: Guard) -> dict[str, type]:
    class Conn(_GuardedMixin, urllib3.connection.HTTPConnection):
        pass

    class TLSConn(_GuardedMixin, urllib3.connection.HTTPSConnection):
        pass

    Conn.guard = TLSConn.guard = guard

    class Pool(urllib3.connectionpool.HTTPConnectionPool):
        ConnectionCls = Conn

    class TLSPool(urllib3.connectionpool.HTTPSConnectionPool):
        ConnectionCls = TLSConn

    return {"http": Pool, "https": TLSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    def __init__(self, guard: Guard, **kwargs: Any):
        self._pools = _pool_classes(guard)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager


# ---------------------------------------------------------------------------------------------
# PyGithub's connection


class _Answer:
    """What PyGithub reads from a connection's getresponse() (status, headers, read())."""

    def __init__(self, response: requests.Response, text: str):
        self.status = response.status_code
        self.headers = response.headers
        self.response = response
        self._text = text

    def getheaders(self) -> Any:
        return self.headers.items()

    def read(self) -> str:
        return self._text


class GuardedConnection:
    """PyGithub's connection interface (request, getresponse, close) over a guarded session."""

    def __init__(self, guard: Guard, scheme: str, host: str, port: int | None = None, *,
                 retry: Any = None, pool_size: int | None = None, verify: Any = True, **_: Any):
        guard.check_origin(scheme, host, port)
        self.guard, self.protocol, self.host = guard, scheme, host
        self.port = port or (443 if scheme == "https" else 80)
        self.verify = verify
        self.session = requests.Session()
        self.session.auth = Requester.noopAuth  # no ~/.netrc fallback (as PyGithub)
        size = pool_size or requests.adapters.DEFAULT_POOLSIZE
        adapter = _Adapter(guard, max_retries=retry if retry is not None else 0,
                           pool_connections=size, pool_maxsize=size)
        self.session.mount(f"{scheme}://", adapter)

    def request(self, verb: str, url: str, input: Any, headers: dict[str, str], stream: bool = False) -> None:
        self.verb, self.url, self.input, self.headers, self.stream = verb, url, input, headers, stream

    def _full_url(self) -> str:
        # "/..." only: anything else would change the authority once glued after host:port.
        if not self.url.startswith("/"):
            raise Refusal("origin", f"a request path not starting with '/' refused: {self.url[:80]!r}")
        return f"{self.protocol}://{self.host}:{self.port}{self.url}"

    def getresponse(self) -> _Answer:
        guard, limits = self.guard, self.guard.limits
        url = self._full_url()
        if self.url.split("?")[0] != guard.expected:
            guard.redirects = 0  # a new request, not PyGithub following a redirect
        guard.expected, guard.tripped = None, False
        try:
            r = self.session.request(self.verb, url, headers=self.headers, data=self.input,
                                     timeout=(limits.timeout, limits.timeout), verify=self.verify,
                                     allow_redirects=False, stream=True)
            try:
                self._check_redirect(url, r)
                text = self._read(r)
            finally:
                r.close()
        except Refusal:
            raise
        except Exception:
            if guard.tripped:
                raise Refusal("limit", _too_slow(guard)) from None
            raise
        finally:
            if guard.current is not None:
                guard.current.cancel()
                guard.current = None
        return _Answer(r, text)

    def _check_redirect(self, url: str, r: requests.Response) -> None:
        """Refuse a redirect off the origin; count the ones PyGithub follows (and its 202 re-asks)."""
        location = r.headers.get("location")
        if r.status_code == 202 and self.verb == "GET":
            target = url  # PyGithub asks again, without end
        elif 300 <= r.status_code < 400 and location is not None:
            target = urljoin(url, location.strip())
            if not same_origin(target, self.guard.origin):
                raise Refusal("origin", f"a redirect to {describe(target)} refused: only "
                                        f"{_show(self.guard.origin)} (github.base_url) is asked")
        else:
            return
        self.guard.redirects += 1
        if self.guard.redirects > self.guard.limits.max_redirects:
            raise Refusal("limit", f"more than github.max_redirects ({self.guard.limits.max_redirects}) "
                                   "redirects (or 202 'ask again' answers) in a row")
        self.guard.expected = urlsplit(target).path

    def _read(self, r: requests.Response) -> str:
        cap = self.guard.limits.max_body_bytes
        declared = r.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > cap:
            raise Refusal("limit", f"an answer of {int(declared)} bytes refused: above github.max_body_mb")
        body = bytearray()
        for chunk in r.iter_content(16384):  # decoded chunks: a gzip bomb is capped too
            body += chunk
            if len(body) > cap:
                raise Refusal("limit", f"an answer above github.max_body_mb ({cap} bytes) refused")
        encoding = r.encoding or "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = "utf-8"
        return body.decode(encoding, errors="replace")

    def close(self) -> None:
        self.session.close()


def install(github: Any, base_url: str, limits: Limits) -> Guard:
    """Make a `Github` object open only guarded connections to base_url's origin."""
    guard = Guard(base_url, limits)
    _guard_requester(github.requester, guard)
    return guard


_CLASSES = ("_Requester__connectionClass", "_Requester__httpConnectionClass", "_Requester__httpsConnectionClass")


def _guard_requester(requester: Any, guard: Guard) -> None:
    # Name-mangled attributes of PyGithub's Requester (2.x): the base connection's class and the
    # classes it uses for absolute URLs; an instance attribute overrides the class-wide default.
    if not all(hasattr(requester, name) for name in _CLASSES):  # fail loudly rather than run unguarded
        raise RuntimeError("this PyGithub version names its connection classes differently: civicbot "
                           "cannot guard its requests (see civicbot/harvest/transport.py)")

    def factory(scheme: str):
        return lambda host, port=None, **kw: GuardedConnection(guard, scheme, host, port, **kw)

    for name, scheme in zip(_CLASSES, (guard.origin[0], "http", "https")):
        setattr(requester, name, factory(scheme))
    # Copies made with withAuth/withLazy/withApiVersion are new Requesters: guard them too.
    for method in ("withAuth", "withLazy", "withApiVersion"):
        original = getattr(requester, method)

        def copy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            made = _original(*args, **kwargs)
            if made is not requester:
                _guard_requester(made, guard)
            return made

        setattr(requester, method, copy)
