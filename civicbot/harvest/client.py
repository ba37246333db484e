"""The harvester's HTTP side: one PyGithub `Github` per token, speaking only HTTP.

Like perceval's clients, `GitHubClient` knows nothing about what to fetch or the database: it
issues GETs, follows `Link: rel="next"` verbatim, asks the first page of a list conditionally
(`If-None-Match` with a stored ETag; a 304 costs no quota), keeps the rate-limit bookkeeping
and maps every failure onto a few exceptions (civicbot/harvest/errors.py). Tokens are used serially (GitHub
asks for no concurrency per token); nothing here ever puts a token into a message.

Who retries what:

- PyGithub's `GithubRetry` (built by `make_github` from `config.github.retry`) retries 5xx
  answers, connection errors (reset, refused) and read timeouts, with urllib3's exponential
  backoff (`backoff_factor * 2**(n-1)`), `total` times; when they run out the failure is
  `TransientError`.
- Rate-limit 403s are also GithubRetry's: a primary limit waits until `x-ratelimit-reset` + 1 s
  when that is within `retry.max_rate_limit_wait`, else `RateLimited` (carrying the reset time)
  is raised at once; a secondary 403 waits its `Retry-After` (or 60 s when there is none, and
  `RateLimited` when 60 s exceeds the max wait). Those waits are PyGithub's own real sleeps.
- urllib3 would also retry a 429 that carries `Retry-After` with a real, unbounded sleep; the
  `GithubRetry` subclass built here leaves every 429 to this module instead.
- What PyGithub does not cover is retried here, in an explicit loop whose sleeps go through
  the injectable `sleep` function, at most `retry.total` times:
  * 429 (never retried by GithubRetry): wait `Retry-After` seconds, or 60 s without it (GitHub's
    advice for secondary limits); a wait longer than `max_rate_limit_wait` raises `RateLimited`;
  * a truncated body (the connection closes before `Content-Length` bytes arrived): backoff
    `backoff_factor * 2**(n-1)` seconds, then `TransientError` when it persists;
  * a 5xx or rate-limit 403 that still reaches us (e.g. a Github built without retries) is
    treated the same way (5xx: backoff; 403 secondary: Retry-After or 60 s, bounded).
- A renamed repository's 301 is followed by PyGithub (to `/repositories/{id}/...`, the same
  repo). PyGithub follows the redirect's path only, dropping its query string, so a list asked
  under a former name loses its parameters: resolve names with `get_json` first and list under
  the canonical `full_name`. A 301 PyGithub refuses to follow (no Location, a relative one)
  raises `RepoMoved`; one to another origin raises `OriginRefused`.
- Only idempotent requests are ever retried by the transport: a POST/PATCH/PUT/DELETE whose
  answer is lost is not sent again (it may have been applied: a second comment).

What is refused (docs/harvest.md "Hostile or broken answers"): every request goes to base_url's
scheme, host and port only (Link headers, redirects; `transport.py` enforces it on the wire
too), and every read is bounded (`github.max_body_mb`, `total_timeout`, `max_pages`,
`max_redirects`, a `next` link seen before). A refusal raises `Refused` (a `TransientError`:
the harvester fails that repo and goes on); a 401 raises `TokenRefused`, which stops the run.

POST /graphql (batch change detection) is the GraphQL side's, civicbot/harvest/graphql_client.py.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait

from civicbot.config import Config

from . import transport
from .errors import (
    BadResponse,
    Gone,
    HarvestHTTPError,
    LimitExceeded,
    NotFound,
    OriginRefused,
    RateLimited,
    Refused,
    RepoMoved,
    TakenDown,
    TokenRefused,
    TransientError,
    Unanswered,
)
from .graphql_client import GraphQLRequests

__all__ = [
    "BadResponse", "GitHubClient", "Gone", "HarvestHTTPError", "LimitExceeded", "NotFound", "OriginRefused",
    "Page", "Quota", "RateLimited", "Refused", "RepoMoved", "TakenDown", "TokenRefused", "TransientError",
    "Unanswered", "make_github",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Pages and quota


@dataclass
class Page:
    """One answer. `items` for a list page, `body` for a single object; None on a 304."""

    status: int
    items: list[Any] | None = None
    body: Any = None
    etag: str | None = None
    last_modified: str | None = None
    next_url: str | None = None
    last_url: str | None = None
    rate_remaining: int | None = None
    rate_reset: int | None = None
    not_modified: bool = False


@dataclass
class Quota:
    """The primary quota as the last answer reported it (None until one was read)."""

    remaining: int | None = None
    reset: int | None = None
    limit: int | None = None


# The transport retries only requests that are safe to send twice: a POST whose answer was lost
# may have been applied (GithubRetry's default list adds POST).
IDEMPOTENT = frozenset({"GET", "HEAD"})


class _Retry(GithubRetry):
    """GithubRetry, except that no Retry-After is slept on inside urllib3, and only GET/HEAD retry.

    urllib3 would retry a 429 (or a 403 or 503) carrying Retry-After by sleeping that long for
    real, whatever `max_rate_limit_wait` says, and crash on a negative one; handing every 429 and
    every 403 with Retry-After to GitHubClient's own loop keeps that wait bounded by config and
    done through the injectable `sleep` (a 5xx backs off without reading Retry-After).
    """

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("allowed_methods", IDEMPOTENT)
        kwargs.setdefault("respect_retry_after_header", False)
        super().__init__(**kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 or (status_code == 403 and has_retry_after):
            return False
        return super().is_retry(method, status_code, has_retry_after)


def make_github(config: Config, token: str | None) -> Github:
    """A PyGithub client configured from `config.github` (lazy; throttle and retry from config),
    whose connections stay on base_url's origin and read within bounds (transport.py)."""
    gh = config.github
    retry = _Retry(total=gh.retry.total, backoff_factor=gh.retry.backoff_factor,
                   max_rate_limit_wait=gh.retry.max_rate_limit_wait, secondary_rate_wait=gh.retry.secondary_rate_wait)
    g = Github(auth=Auth.Token(token) if token else None, base_url=gh.base_url, per_page=gh.per_page,
               timeout=max(1, math.ceil(gh.timeout)),  # PyGithub asserts an int
               retry=retry,
               seconds_between_requests=gh.throttle.seconds_between_requests,
               seconds_between_writes=gh.throttle.seconds_between_writes, lazy=True)
    transport.install(g, gh.base_url, transport.Limits(
        max_body_bytes=int(gh.max_body_mb * 1_000_000), total_timeout=gh.total_timeout,
        max_redirects=gh.max_redirects, timeout=gh.timeout))
    return g


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: "1e999" is inf
        return None


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return fallback


def _next_link(link: str | None, rel: str = "next") -> str | None:
    """The URL of a Link header's `rel` (next by default), verbatim."""
    if not link:
        return None
    for part in link.split(","):
        url, _, params = part.partition(";")
        if f'rel="{rel}"' in params.replace(" ", ""):
            return url.strip().strip("<>")
    return None


def _is_rate_limit_message(message: str) -> bool:
    lowered = message.lower()
    return "rate limit" in lowered


# ---------------------------------------------------------------------------------------------
# The client


class GitHubClient(GraphQLRequests):
    """GETs against GitHub with one `Github` per token, used serially.

    `tokens`: zero or more tokens (none: unauthenticated). When a token's quota reaches the
    reserve and another token has more left, the next request switches to it. `sleep` is used for
    every wait this module does itself (tests inject a recorder).
    """

    def __init__(self, config: Config, tokens: list[str] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 github_factory: Callable[[Config, str | None], Github] = make_github):
        self.config = config
        self._sleep = sleep
        self._githubs = [github_factory(config, t) for t in (tokens or [None])]
        self.has_token = bool(tokens)
        self._quotas = [Quota() for _ in self._githubs]
        self._current = 0
        self.requests_made = 0
        self.answers = 0  # HTTP answers received (none yet and a connection error: base_url unreachable)
        self.quota_used = 0  # primary quota this client spent, from the rate-limit headers
        # GraphQL (batch change detection) has its own budget, in points: counted apart from REST.
        self.graphql_requests = 0
        self.graphql_points = 0
        self.graphql_quota = Quota()
        self.base_path = urlsplit(config.github.base_url).path.rstrip("/")
        self.origin = transport.origin_of(config.github.base_url)

    # -- bookkeeping ---------------------------------------------------------------------------

    @property
    def quota(self) -> Quota:
        return self._quotas[self._current]

    @property
    def reserve_reached(self) -> bool:
        """True when every token's known remaining quota is at or below github.rate_limit_reserve."""
        reserve = self.config.github.rate_limit_reserve
        return all(q.remaining is not None and q.remaining <= reserve for q in self._quotas)

    def _pick_token(self) -> None:
        reserve = self.config.github.rate_limit_reserve
        q = self._quotas[self._current]
        if q.remaining is not None and q.remaining <= reserve:
            for i, other in enumerate(self._quotas):
                if other.remaining is None or other.remaining > reserve:
                    self._current = i
                    return

    def _record(self, headers: dict[str, Any], status: int | None = None) -> tuple[int | None, int | None]:
        h = {k.lower(): v for k, v in (headers or {}).items()}
        remaining, reset, limit = (_int(h.get("x-ratelimit-remaining")), _int(h.get("x-ratelimit-reset")),
                                   _int(h.get("x-ratelimit-limit")))
        if h.get("x-ratelimit-resource") == "graphql" and remaining is not None:
            self._record_points(remaining, reset, limit)
        elif h.get("x-ratelimit-resource", "core") == "core" and remaining is not None:
            # Quota spent: the fall of `remaining` within one window; the first answer seen
            # counts 1 unless it was a free 304.
            before = self.quota
            if before.remaining is not None and before.reset == reset:
                self.quota_used += max(0, before.remaining - remaining)
            elif status not in (None, 304):
                self.quota_used += 1
            self.quota.remaining, self.quota.reset = remaining, reset
            if limit is not None:
                self.quota.limit = limit
        return remaining, reset

    # -- requests ------------------------------------------------------------------------------

    def _relative(self, url: str) -> str:
        """A Link URL as a path under base_url (PyGithub joins its own prefix to '/' paths).

        The link is resolved against base_url as a browser would; it must land on base_url's
        scheme, host and port, under its path prefix (GitHub Enterprise's /api/v3), without
        credentials or an '@' (PyGithub glues a path after host:port: `@host:1/x` would change
        the host). Anything else raises OriginRefused.
        """
        base, link = self.config.github.base_url, url.strip()
        try:
            target = urljoin(base, link)
            path, query = urlsplit(target).path, urlsplit(target).query
        except ValueError:  # e.g. a broken IPv6 literal
            target, path, query = "", "", ""
        if not target or not transport.same_origin(target, self.origin):
            why = f"it leads to {transport.describe(target) if target else 'an unreadable URL'}"
        elif "@" in link.split("?")[0] or not all(ch.isprintable() and not ch.isspace() and ch != "\\" for ch in link):
            why = "it holds an '@', a backslash or whitespace, which could change the host"
        elif self.base_path and not path.startswith(self.base_path + "/"):
            why = f"it leads outside the API root {self.base_path}"
        else:
            why = None
        if why:
            raise self._refused(OriginRefused(link[:100], 0, f"link refused: {why}; only {base} "
                                                             "(github.base_url) is asked"))
        return path[len(self.base_path):] + (f"?{query}" if query else "")

    @staticmethod
    def _refused(exc: Refused) -> Refused:
        log.warning("refused: %s", exc)  # messages carry paths and hosts, never a token
        return exc

    def _request(self, path: str, params: dict[str, Any] | None, headers: dict[str, str] | None,
                 body: Any = None) -> tuple[int, dict[str, Any], str]:
        """One GET (a POST of `body` to GraphQL when given) through PyGithub, with this module's
        retries; returns (status, headers, text)."""
        retry = self.config.github.retry
        attempt = 0
        while True:
            attempt += 1
            self._pick_token()
            g = self._githubs[self._current]
            try:
                if body is None:
                    self.requests_made += 1
                else:
                    self.graphql_requests += 1
                status, resp_headers, text = g.requester.requestJson(
                    "GET" if body is None else "POST", path, parameters=dict(params) if params else None,
                    headers=dict(headers or {}), input=body)
            except transport.Refusal as e:
                kind = OriginRefused if e.kind == "origin" else LimitExceeded
                raise self._refused(kind(path, 0, str(e))) from None
            except RateLimitExceededExceedsMaxWait as e:
                h = {k.lower(): v for k, v in (e.headers or {}).items()}
                self._record(h)
                raise RateLimited(path, e.status, _message(e.data, "rate limit exceeded"),
                                  reset=_int(h.get("x-ratelimit-reset")), wait=e.wait) from None
            except GithubException as e:  # GithubRetry could not read a 403's body
                raise TransientError(path, e.status, _message(e.data, type(e).__name__)) from None
            except requests.exceptions.RetryError as e:
                if any(f"too many {code} " in _reason(e) for code in (403, 429)):
                    raise RateLimited(path, 403, "rate limited and retries ran out", reset=self.quota.reset) from None
                raise TransientError(path, 0, f"retries ran out: {_reason(e)}") from None
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as e:
                if attempt > retry.total:
                    raise TransientError(path, 0, f"truncated body, {attempt} attempts: {type(e).__name__}") from None
                self._sleep(self._backoff(attempt))
                continue
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                raise Unanswered(path, 0, f"{type(e).__name__} after retries: {_reason(e)}") from None
            except RuntimeError as e:  # PyGithub refusing a redirect
                if str(e).startswith("Requested "):  # a 301 to the very path asked
                    raise self._refused(LimitExceeded(path, 301, "a redirect to itself (a loop)")) from None
                if "redirect" in str(e):
                    raise RepoMoved(path, 301, "redirect not followed (another host or scheme)") from None
                raise

            self.answers += 1
            self._record(resp_headers, status)
            if status == 401:
                raise TokenRefused(path, status, _message(_loads(text), "HTTP 401"))
            if status in (429, 403) or status >= 500:
                wait = self._wait_for(path, status, resp_headers, text, attempt)
                if wait is not None:
                    self._sleep(wait)
                    continue
            return status, resp_headers, text

    def _backoff(self, attempt: int) -> float:
        return self.config.github.retry.backoff_factor * (2 ** (attempt - 1))

    def _wait_for(self, path: str, status: int, headers: dict[str, Any], text: str, attempt: int) -> float | None:
        """How long to wait before retrying this answer, None to hand it on (raises RateLimited)."""
        retry = self.config.github.retry
        message = _message(_loads(text), f"HTTP {status}")
        if status >= 500:
            if attempt > retry.total:
                raise TransientError(path, status, f"{message} ({attempt} attempts)")
            return self._backoff(attempt)
        if status == 403 and not _is_rate_limit_message(message):
            return None  # a permission 403: handed on, raised by the caller
        remaining = _int(headers.get("x-ratelimit-remaining"))
        reset = _int(headers.get("x-ratelimit-reset"))
        retry_after = _int(headers.get("retry-after"))
        if retry_after is not None and retry_after < 0:
            raise BadResponse(path, status, f"Retry-After {str(headers.get('retry-after'))[:40]!r} is not "
                                            "a number of seconds to wait")
        if status == 403 and remaining == 0 and retry_after is None:  # primary
            wait = max((reset or 0) - time.time(), 0) + 1
        else:
            wait = float(retry_after) if retry_after is not None else retry.secondary_rate_wait
        if wait > retry.max_rate_limit_wait or attempt > retry.total:
            raise RateLimited(path, status, message, reset=reset if remaining == 0 else None, wait=wait)
        return wait

    def _raise_for(self, path: str, status: int, headers: dict[str, Any], text: str) -> None:
        body = _loads(text)
        message = _message(body, f"HTTP {status}")
        if status == 404:
            raise NotFound(path, status, message)
        if status == 410:
            raise Gone(path, status, message)
        if status == 451:
            raise TakenDown(path, status, message)
        if status == 401:
            raise TokenRefused(path, status, message)
        if status in (301, 302, 307, 308):
            raise RepoMoved(path, status, message, location=headers.get("location"))
        if status in (403, 429) and _is_rate_limit_message(message):
            raise RateLimited(path, status, message, reset=_int(headers.get("x-ratelimit-reset")))
        if status >= 500:
            raise TransientError(path, status, message)
        raise HarvestHTTPError(path, status, message)

    def _page(self, path: str, status: int, headers: dict[str, Any], text: str) -> Page:
        h = {k.lower(): v for k, v in headers.items()}
        return Page(status=status, etag=h.get("etag"), last_modified=h.get("last-modified"),
                    next_url=_next_link(h.get("link")), last_url=_next_link(h.get("link"), "last"),
                    rate_remaining=_int(h.get("x-ratelimit-remaining")),
                    rate_reset=_int(h.get("x-ratelimit-reset")))

    def _parse(self, path: str, text: str) -> Any:
        if not text:
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            what = ("JSON nested too deeply to read" if isinstance(e, RecursionError)
                    else "an HTML page, not JSON" if text.lstrip()[:1] == "<" else "not valid JSON")
            raise BadResponse(path, 200, f"the body is {what}") from None

    def get_json(self, path: str, params: dict[str, Any] | None = None, etag: str | None = None) -> Page:
        """GET a single object: `Page.body` holds it (a 304 when `etag` still matches: not_modified)."""
        headers = {"If-None-Match": etag} if etag else None
        status, resp_headers, text = self._request(path, params, headers)
        if status == 304:
            page = self._page(path, status, resp_headers, "")
            page.not_modified = True
            return page
        if not 200 <= status < 300:
            self._raise_for(path, status, resp_headers, text)
        page = self._page(path, status, resp_headers, text)
        page.body = self._parse(path, text)
        if status != 204 and not isinstance(page.body, dict):
            raise BadResponse(path, status, f"expected a JSON object, got {type(page.body).__name__}")
        return page

    def search_pages(self, path: str, params: dict[str, Any]) -> Iterator[Page]:
        """A search answer page by page (`{"total_count", "items"}`): `Page.items` holds the items."""
        params = {**params, "per_page": self.config.github.per_page}
        where: str | None = path
        first = True
        pages = _Pages(self, path)
        while where:
            page = self.get_json(where, params if first else None)
            items = (page.body or {}).get("items")
            if not isinstance(items, list):
                raise BadResponse(where, page.status, "a search answer without an 'items' list")
            page.items = items
            yield page
            where = pages.next(page.next_url)
            first = False

    def last_item(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The last item of a list in two requests at most: its first page, then rel="last".

        This is how a repo's root commit is found (`commits?per_page=1`). None for an empty list.
        """
        first = next(self.list_pages(path, params))
        items = first.items
        if first.last_url:
            where = self._relative(first.last_url)
            status, headers, text = self._request(where, None, None)
            if not 200 <= status < 300:
                self._raise_for(where, status, headers, text)
            items = self._parse(where, text)
            if not isinstance(items, list):
                raise BadResponse(where, status, f"expected a JSON list, got {type(items).__name__}")
        return items[-1] if items else None

    def list_pages(self, path: str, params: dict[str, Any] | None = None,
                   etag: str | None = None) -> Iterator[Page]:
        """GET a list, page by page, following Link rel="next" verbatim.

        The first page is asked with `If-None-Match: etag` when given: a 304 yields one
        `Page(status=304, not_modified=True)` and stops. A 204 (an empty contributors list)
        yields one page with no items. Store the first page's `etag` for the next run.
        """
        params = dict(params or {})
        params.setdefault("per_page", self.config.github.per_page)
        where: str | None = path
        first = True
        pages = _Pages(self, path)
        while where:
            headers = {"If-None-Match": etag} if first and etag else None
            status, resp_headers, text = self._request(where, params if first else None, headers)
            if status == 304 and first:
                page = self._page(where, status, resp_headers, "")
                page.not_modified = True
                yield page
                return
            if not 200 <= status < 300:
                self._raise_for(where, status, resp_headers, text)
            page = self._page(where, status, resp_headers, text)
            body = self._parse(where, text) if status != 204 else []
            if not isinstance(body, list):
                raise BadResponse(where, status, f"expected a JSON list, got {type(body).__name__}")
            page.items = body
            yield page
            where = pages.next(page.next_url)
            first = False


class _Pages:
    """The `next` links of one list: each checked (same origin), none seen before, at most max_pages."""

    def __init__(self, client: GitHubClient, path: str):
        self.client, self.path, self.count, self.seen = client, path, 1, set()

    def next(self, url: str | None) -> str | None:
        if not url:
            return None
        where = self.client._relative(url)
        limit = self.client.config.github.max_pages
        if where in self.seen:
            raise self.client._refused(LimitExceeded(self.path, 0, f"a Link loop: page {self.count + 1} "
                                                                   "points back to a page already read"))
        self.count += 1
        if self.count > limit:
            raise self.client._refused(LimitExceeded(self.path, 0, f"more than github.max_pages ({limit}) pages"))
        self.seen.add(where)
        return where


def _loads(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None


def _reason(exc: BaseException) -> str:
    """A one-line cause without URLs' credentials (there are none: tokens travel in headers)."""
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    return text.splitlines()[0][:200] if text else type(exc).__name__
