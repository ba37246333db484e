"""The simulator as a WSGI application: GitHub's REST endpoints over a World.

The request path is: admin routes (`/_sim/...`, never counted) -> authentication -> injected
fault -> rate limit -> endpoint -> conditional answer (ETag / Last-Modified, 304 is free) ->
quota spent and headers set -> request logged. docs/simulator.md describes each piece.
The endpoints themselves are in repo_routes (under a repo) and account_routes (the others).
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from collections import OrderedDict
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Callable

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .account_routes import AccountRoutes
from .answers import (
    DOCS,
    GRAPHQL_PATH,
    Answer,
    ApiError,
    Caller,
    _api_path,
    _json_body,
    _json_response,
    _json_response_bytes,
    _link_header,
    _paging,
)
from .faults import FaultPlan, FaultPlanError
from .graphql import GraphQLEndpoint, SchemaMissing
from .quota import DEFAULT_LIMITS, UNAUTHENTICATED_LIMITS, Quota, user_id
from .render import Renderer, Urls
from .repo_routes import RepoRoutes
from .world import Repo, World, WorldError, parse_time

# What a fault returns for a connection reset (no response at all): the connection is cut
# once the request is logged.
RESET = Response()


def _repo_routes(prefix: str, kind: str) -> list[Rule]:
    subpaths = {
        "": "repo", "/issues": "issues", "/issues/<int:number>": "issue",
        "/pulls": "pulls", "/pulls/<int:number>": "pull",
        "/pulls/comments": "review_comments", "/pulls/<int:number>/reviews": "pull_reviews",
        "/issues/comments": "repo_comments", "/issues/<int:number>/comments": "issue_comments",
        "/issues/events": "repo_events", "/issues/events/<int:event_id>": "repo_event",
        "/issues/<int:number>/events": "issue_events",
        "/labels": "labels", "/issues/<int:number>/labels": "issue_labels",
        "/issues/<int:number>/labels/<path:label>": "issue_label",
        "/forks": "forks", "/contributors": "contributors", "/commits": "commits", "/languages": "languages",
        "/compare/<path:basehead>": "compare", "/contents/<path:path>": "contents",
    }
    return [Rule(prefix + sub, endpoint=(kind, name)) for sub, name in subpaths.items()]


URLS = Map(
    _repo_routes("/repos/<owner>/<repo>", "by_name")
    + _repo_routes("/repositories/<int:repo_id>", "by_id")
    + [
        Rule("/search/repositories", endpoint=("plain", "search_repositories")),
        Rule("/rate_limit", endpoint=("plain", "rate_limit")),
        Rule("/user", endpoint=("plain", "user")),
        Rule("/users/<username>", endpoint=("plain", "named_user")),
        Rule("/users/<username>/repos", endpoint=("plain", "user_repos")),
        Rule("/orgs/<org>/repos", endpoint=("plain", "org_repos")),
    ],
    strict_slashes=False,
    merge_slashes=False,
)


class Simulator(RepoRoutes, AccountRoutes):
    """WSGI app. Holds the world, the fault plan, the quota and the request log."""

    def __init__(self, world: World, *, faults: FaultPlan | None = None, log_path: str | None = None,
                 web_url: str | None = None, clock: Callable[[], float] = time.time, latency_ms: float = 0.0):
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be 0 or more, got {latency_ms}")
        self.world = world
        # Every API answer is held this long before it is sent: a network's round trip, so that
        # benchmarks can show what a client's request count costs on a real connection.
        self.latency_ms = latency_ms
        # Called with each request's log entry once its answer is decided (before it is sent):
        # tests use it to act at an exact request, e.g. to kill a client mid-harvest.
        self.observers: list[Callable[[dict], None]] = []
        self.faults = faults or FaultPlan()
        self.quota = Quota(clock)
        self.graphql = GraphQLEndpoint(self)
        self.web_url = web_url
        self.requests: list[dict] = []
        self._log_lock = threading.Lock()
        self._log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self._views: OrderedDict[tuple, list] = OrderedDict()
        self._views_lock = threading.Lock()

    # -- WSGI entry ----------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path
        if path.startswith("/_sim/"):
            return self._admin(request)(environ, start_response)
        path, prefix = _api_path(path)
        base = request.host_url.rstrip("/") + prefix
        renderer = Renderer(self.world, Urls(api=base, web=self.web_url or request.host_url.rstrip("/")))
        entry = {"method": request.method, "path": path, "query": request.query_string.decode("latin-1"),
                 "status": 0, "quota": 0, "points": 0, "login": None, "fault": None, "time": time.time()}
        # status 0 in the log means no HTTP answer was sent (an injected connection reset).
        try:
            response = self._handle(request, path, base, renderer, entry)
        finally:
            self._log(entry)
            for observer in list(self.observers):
                observer(entry)
        if response is RESET:
            # Only now, once logged: a client that sees the reset and asks for the log finds it there.
            request.get_data()  # a POST's unread body would otherwise be parsed as a next request
            _abort_connection(request.environ)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        return response(environ, start_response)

    def _handle(self, request: Request, path: str, base: str, renderer: Renderer, entry: dict) -> Response:
        resource = "search" if path.startswith("/search/") else "core"
        try:
            caller = self._caller(request)
        except ApiError as exc:
            entry["status"] = exc.status
            return _json_response(exc.body, exc.status, exc.headers)
        entry["login"] = caller.login
        bucket = self.quota.bucket(caller.identity, resource, caller.limits[resource])
        free = path == "/rate_limit"

        rule = self.faults.pick(request.method, path, request.args.get("page"))
        if rule is not None:
            entry["fault"] = rule.kind
            fault_response = self._fault(rule, request)
            if fault_response is RESET:
                return RESET  # no answer at all: the status stays 0
            if fault_response is not None:
                entry["status"] = fault_response.status_code
                return fault_response

        if path == GRAPHQL_PATH:
            return self._after_fault(rule, self._graphql(request, caller, entry, rule), entry)
        if not free and bucket.remaining == 0:
            entry["status"] = 403
            return _json_response(_rate_limit_body(caller, request), 403, bucket.headers(resource))

        try:
            answer = self._dispatch(request, path, base, renderer, caller)
        except ApiError as exc:
            answer = Answer(exc.body, exc.status, exc.headers)
        except (NotFound, MethodNotAllowed) as exc:
            answer = Answer({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, 404) \
                if isinstance(exc, NotFound) else Answer({"message": "Method Not Allowed", "status": "405"}, 405)

        response = self._conditional(request, answer)
        if response.status_code != 304 and not free:
            self.quota.spend(bucket)
            entry["quota"] = 1
        response.headers.update(bucket.headers(resource))
        return self._after_fault(rule, response, entry)

    @staticmethod
    def _after_fault(rule, response: Response, entry: dict) -> Response:
        """The answer as a fault that alters a normal answer leaves it (truncate, lost_answer)."""
        entry["status"] = response.status_code
        if rule is not None and rule.kind == "truncate" and response.status_code == 200:
            _truncate(response)
        if rule is not None and rule.kind == "lost_answer":
            entry["status"] = 0  # done, but no answer sent: the client cannot know a write happened
            return RESET
        return response

    def _graphql(self, request: Request, caller: Caller, entry: dict, rule) -> Response:
        if request.method != "POST":
            return _json_response({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, 404)
        try:
            status, body, headers = self.graphql.answer(_json_body(request), caller, entry,
                                                        partial=rule is not None and rule.kind == "partial")
        except ApiError as exc:
            return _json_response(exc.body, exc.status, exc.headers)
        except SchemaMissing as exc:
            return _json_response({"message": str(exc)}, 500)
        return _json_response(body, status, headers)

    # -- authentication, faults, conditional answers -------------------------------------

    def _caller(self, request: Request) -> Caller:
        header = request.headers.get("Authorization", "")
        if not header:
            return Caller(f"ip:{request.remote_addr}", None, dict(UNAUTHENTICATED_LIMITS), False)
        scheme, _, token = header.partition(" ")
        entry = self.world.tokens.get(token.strip()) if scheme.lower() in ("token", "bearer") else None
        if entry is None:
            raise ApiError(401, "Bad credentials", DOCS)
        limits = {res: entry.get(f"{res}_limit", DEFAULT_LIMITS[res]) for res in DEFAULT_LIMITS}
        return Caller(entry["login"], entry["login"], limits, entry.get("can_write", True))

    def _fault(self, rule, request: Request) -> Response | None:
        """The response for an injected fault; None when the fault alters a normal response."""
        kind = rule.kind
        if kind in ("500", "502", "503"):
            messages = {"500": "Server Error", "502": "Server Error", "503": "Service Unavailable"}
            return _json_response({"message": messages[kind]}, int(kind))
        if kind in ("secondary", "secondary_no_retry_after"):
            body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                               "If you reach out to GitHub Support for help, please include the request ID 0000:0000.",
                    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "403"}
            headers = {"Retry-After": str(rule.retry_after)} if kind == "secondary" else {}
            return _json_response(body, 403, headers)
        if kind == "404":
            return _json_response({"message": "Not Found", "documentation_url": DOCS, "status": "404"}, 404)
        if kind == "429":
            return _json_response({"message": "Too Many Requests", "documentation_url": DOCS, "status": "429"},
                                  429, {"Retry-After": str(rule.retry_after)})
        if kind == "reset":
            return RESET
        if kind == "stall":
            time.sleep(rule.stall_seconds)
        return None  # stall (after the pause), truncate and lost_answer go on to a normal answer

    def _conditional(self, request: Request, answer: Answer) -> Response:
        body = json.dumps(answer.body, ensure_ascii=False, separators=(",", ":")).encode() \
            if answer.body is not None else b""
        headers = dict(answer.headers)
        if request.method == "GET" and answer.status == 200:
            etag = 'W/"' + hashlib.sha1(body + headers.get("Link", "").encode()).hexdigest() + '"'
            headers["ETag"] = etag
            modified = parse_time(answer.last_modified) if answer.last_modified else None
            if modified is not None:
                headers["Last-Modified"] = format_datetime(modified, usegmt=True)
            if _etag_matches(request.headers.get("If-None-Match"), etag) or (
                "If-None-Match" not in request.headers and modified is not None
                and _not_modified_since(request.headers.get("If-Modified-Since"), modified)
            ):
                keep = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}
                return Response(b"", 304, headers=keep)
        if answer.status in (204, 304):
            return Response(b"", answer.status, headers=headers)
        return _json_response_bytes(body, answer.status, headers)

    # -- endpoints -------------------------------------------------------------------------

    def _dispatch(self, request: Request, path: str, base: str, renderer: Renderer, caller: Caller) -> Answer:
        adapter = URLS.bind("sim", "/")
        (kind, name), args = adapter.match(path)
        if kind == "plain":
            return getattr(self, f"get_{name}")(request, base, renderer, caller, **args)
        repo = self._resolve_repo(request, path, base, kind, args, caller)
        method = request.method.lower()
        handler = getattr(self, f"{method}_{name}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        for key in ("owner", "repo", "repo_id"):
            args.pop(key, None)
        return handler(request, base, renderer, caller, repo, **args)

    def _resolve_repo(self, request, path, base, kind, args, caller) -> Repo:
        if kind == "by_id":
            repo = self.world.repos.get(args["repo_id"])
        else:
            repo, moved = self.world.repo_by_name(args["owner"], args["repo"])
            if repo is not None and moved and repo.status == "active":
                rest = path.split("/", 4)[4] if path.count("/") >= 4 else ""
                location = f"{base}/repositories/{repo.id}" + (f"/{rest}" if rest else "")
                if request.query_string:
                    location += "?" + request.query_string.decode("latin-1")
                # GitHub answers 301 to reads and 307 to writes (so the method and body are kept).
                status = 301 if request.method in ("GET", "HEAD") else 307
                raise ApiError(status, "Moved Permanently", "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
                               headers={"Location": location}, url=location)
        if repo is None or repo.status == "deleted" or (
            repo.data.get("private") and (caller.login or "").lower() != repo.data["owner"].lower()
        ):
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/repos/repos#get-a-repository")
        if repo.status == "taken_down":
            raise ApiError(451, "Repository access blocked", DOCS, block={
                "reason": "dmca", "created_at": repo.data.get("updated_at", repo.data["created_at"]),
                "html_url": "https://github.com/github/dmca/blob/master/2020/00/2020-00-00-example.md"})
        return repo

    # -- helpers -----------------------------------------------------------------------

    def _check_write(self, caller: Caller, repo: Repo) -> None:
        if caller.login is None:
            raise ApiError(401, "Requires authentication", DOCS)
        if not caller.can_write:
            raise ApiError(403, "Resource not accessible by personal access token", DOCS)

    def _page(self, request: Request, base: str, rows: list, render, repo: Repo | None) -> Answer:
        per_page, page = _paging(request.args)
        window = rows[(page - 1) * per_page: page * per_page]
        headers = _link_header(request, base, _api_path(request.path)[0], page, per_page, len(rows))
        return Answer([render(x) for x in window], headers=headers, last_modified=repo.modified if repo else None)

    def _view(self, repo: Repo, key: tuple, build) -> list:
        """Filtered, sorted item lists, cached until the repo changes (pages of one list share it)."""
        # version too: `modified` stays put when an item already claims a later date (the year 9999)
        full_key = (repo.id, repo.modified, repo.version, len(repo.comments), len(repo.events),
                    len(repo.review_comments)) + key
        with self._views_lock:
            if full_key in self._views:
                self._views.move_to_end(full_key)
                return self._views[full_key]
        rows = build()
        with self._views_lock:
            self._views[full_key] = rows
            while len(self._views) > 64:
                self._views.popitem(last=False)
        return rows

    def _log(self, entry: dict) -> None:
        with self._log_lock:
            entry["seq"] = len(self.requests) + 1
            self.requests.append(entry)
            if self._log_file is not None:
                self._log_file.write(json.dumps(entry) + "\n")
                self._log_file.flush()

    # -- admin (loopback test hooks; never counted) --------------------------------------

    def _admin(self, request: Request) -> Response:
        try:
            return self._admin_route(request)
        except (FaultPlanError, WorldError, KeyError, ValueError, TypeError) as exc:
            return _json_response({"message": f"bad admin request: {exc}"}, 400)

    def _admin_route(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/_sim/health":
            return _json_response({"ok": True, "repos": len(self.world.repos), "requests": len(self.requests)})
        if path == "/_sim/requests" and method == "GET":
            after = int(request.args.get("after", 0))
            with self._log_lock:
                rows = self.requests[after:]
                graphql = [r for r in self.requests if r["path"] == GRAPHQL_PATH]
                count = len(self.requests)
            # quota_used is REST's (core and search); GraphQL spends points from a budget of its own.
            return _json_response({"count": count, "quota_used": sum(r["quota"] for r in self.requests),
                                   "graphql": len(graphql), "graphql_points": sum(r["points"] for r in graphql),
                                   "requests": rows})
        if path == "/_sim/requests" and method == "DELETE":
            with self._log_lock:
                self.requests.clear()
            return Response(b"", 204)
        if path == "/_sim/faults" and method == "GET":
            return _json_response(self.faults.to_json())
        if path == "/_sim/faults" and method == "PUT":
            self.faults = FaultPlan.from_json(_json_body(request))
            return _json_response(self.faults.to_json())
        if path == "/_sim/quota" and method == "POST":
            body = _json_body(request)
            login = body.get("login")
            token = self.world.tokens.get(body.get("token", ""))
            identity = token["login"] if token else login or f"ip:{body.get('ip', '127.0.0.1')}"
            resource = body.get("resource", "core")
            limits = dict(UNAUTHENTICATED_LIMITS) if identity.startswith("ip:") else {
                res: (token or {}).get(f"{res}_limit", DEFAULT_LIMITS[res]) for res in DEFAULT_LIMITS}
            bucket = self.quota.set(identity, resource, limits[resource], remaining=body.get("remaining"),
                                    reset_in=body.get("reset_in"))
            return _json_response({"identity": identity, "resource": resource, "limit": bucket.limit,
                                   "remaining": bucket.remaining, "reset": bucket.reset})
        if path == "/_sim/world" and method == "POST":
            return _json_response(self._mutate(_json_body(request)))
        return _json_response({"message": "Not Found"}, 404)

    def _mutate(self, body: dict) -> dict:
        """Change the world like activity on GitHub would: edit an item, push commits, rename, delete, take down."""
        owner, _, name = body["repo"].partition("/")
        repo, _ = self.world.repo_by_name(owner, name)
        if repo is None:
            raise KeyError(f"no repo {body['repo']}")
        action = body["action"]
        if action == "edit":
            item = repo.item(int(body["number"]))
            if item is None:
                raise KeyError(f"no item #{body['number']} in {body['repo']}")
            self.world.edit_item(repo, item, body["changes"])
        elif action == "comment":
            item = repo.item(int(body["number"]))
            if item is None:
                raise KeyError(f"no item #{body['number']} in {body['repo']}")
            self.world.add_comment(repo, item, body["body"], body["user"])
        elif action == "rename":
            new_owner, _, new_name = body["to"].partition("/")
            self.world.rename_repo(repo, new_owner, new_name)
        elif action == "status":
            self.world.set_status(repo, body["status"])
        elif action == "push":
            self.world.push(repo, body["commits"])
        else:
            raise ValueError(f"unknown action {action!r}")
        return {"ok": True, "repo": repo.full_name, "id": repo.id}


# -- small helpers ------------------------------------------------------------------------

def _rate_limit_body(caller: Caller, request: Request) -> dict:
    who = f"user ID {caller_id(caller)}" if caller.login else f"{request.remote_addr}"
    message = f"API rate limit exceeded for {who}."
    if caller.login is None:
        message += (" (But here's the good news: Authenticated requests get a higher rate limit. "
                    "Check out the documentation for more details.)")
    message += " If you reach out to GitHub Support for help, please include the request ID 0000:0000."
    return {"message": message,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            "status": "403"}


def caller_id(caller: Caller) -> int:
    return user_id(caller.login)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    strip = lambda t: t.strip().removeprefix("W/")  # noqa: E731 - weak comparison, as GitHub does
    return any(strip(t) == strip(etag) or t.strip() == "*" for t in header.split(","))


def _not_modified_since(header: str | None, modified: datetime) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    return modified.replace(microsecond=0) <= since


def _truncate(response: Response) -> None:
    """Send half the body while promising all of it, then close: the client sees a short read."""
    data = response.get_data()
    response.set_data(data[: len(data) // 2])
    response.headers["Content-Length"] = str(len(data))
    response.headers["Connection"] = "close"
    response.automatically_set_content_length = False


def _abort_connection(environ) -> None:
    """Drop the connection before any response byte.

    SO_LINGER 0 makes the final close send RST; shutting the socket down ends werkzeug's
    keep-alive loop; raising a ConnectionError makes werkzeug treat the request as dropped,
    so it writes nothing. The client sees the connection die with no response.
    """
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("injected fault: connection reset")
