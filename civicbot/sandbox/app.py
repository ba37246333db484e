"""The simulator as a WSGI application: GitHub's REST endpoints over a World.

The request path is: admin routes (`/_sim/...`, never counted) -> authentication -> injected
fault -> rate limit -> endpoint -> conditional answer (ETag / Last-Modified, 304 is free) ->
quota spent and headers set -> request logged. docs/simulator.md describes each piece.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import quote, urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .faults import FaultPlan, FaultPlanError
from .graphql import GraphQLEndpoint, SchemaMissing
from .quota import DEFAULT_LIMITS, UNAUTHENTICATED_LIMITS, Quota, user_id
from .render import Renderer, Urls
from .world import Repo, World, WorldError, parse_time

DOCS = "https://docs.github.com/rest"
MAX_SEARCH_RESULTS = 1000
# GitHub Enterprise serves the API under /api/v3; accept it so the same client code is tested both ways.
ENTERPRISE_PREFIX = "/api/v3"
# GraphQL: api.github.com/graphql; GitHub Enterprise serves it at /api/graphql.
GRAPHQL_PATH, ENTERPRISE_GRAPHQL_PATH = "/graphql", "/api/graphql"
# What a fault returns for a connection reset (no response at all): the connection is cut
# once the request is logged.
RESET = Response()


class ApiError(Exception):
    """An error answer with GitHub's JSON body: message, documentation_url and status."""

    def __init__(self, status: int, message: str, doc: str = DOCS, headers: dict | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "documentation_url": doc, "status": str(status), **extra}
        self.headers = headers or {}


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: str | None = None  # ISO time of the newest change the answer reflects


@dataclass
class Caller:
    identity: str  # login, or "ip:ADDRESS" when anonymous
    login: str | None
    limits: dict[str, int]
    can_write: bool


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


class Simulator:
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

    def get_repo(self, request, base, renderer, caller, repo: Repo) -> Answer:
        return Answer(renderer.repo(repo, full=True), last_modified=repo.data.get("updated_at", repo.data["created_at"]))

    def get_issues(self, request, base, renderer, caller, repo: Repo) -> Answer:
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "open")
        sort = _choice(args, "sort", ("created", "updated", "comments"), "created")
        direction = _choice(args, "direction", ("asc", "desc"), "desc")
        since = _since(args)
        labels = [x.strip().lower() for x in args.get("labels", "").split(",") if x.strip()]

        def build():
            rows = [i for i in repo.items if (state == "all" or i["state"] == state)
                    and (since is None or i["updated_at"] >= since)
                    and all(x in {n.lower() for n in i.get("labels", [])} for x in labels)]
            return _sorted(rows, sort, direction, self.world)

        rows = self._view(repo, ("issues", state, sort, direction, since, tuple(labels)), build)
        return self._page(request, base, rows, lambda i: renderer.issue(repo, i), repo)

    def get_issue(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        return Answer(renderer.issue(repo, item), last_modified=item["updated_at"])

    def get_pulls(self, request, base, renderer, caller, repo: Repo) -> Answer:
        args = request.args
        state = _choice(args, "state", ("open", "closed", "all"), "open")
        sort = _choice(args, "sort", ("created", "updated", "popularity", "long-running"), "created")
        # GitHub: direction defaults to desc for sort=created (or no sort), asc otherwise.
        direction = _choice(args, "direction", ("asc", "desc"), "desc" if sort == "created" else "asc")
        base_ref = args.get("base")

        def build():
            rows = [i for i in repo.items if i.get("pull_request") is not None
                    and (state == "all" or i["state"] == state)
                    and (base_ref is None or i["pull_request"]["base_ref"] == base_ref)]
            return _sorted(rows, {"popularity": "comments", "long-running": "created"}.get(sort, sort), direction, self.world)

        rows = self._view(repo, ("pulls", state, sort, direction, base_ref), build)
        return self._page(request, base, rows, lambda i: renderer.pull(repo, i), repo)

    def get_pull(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        if item.get("pull_request") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
        return Answer(renderer.pull(repo, item, full=True), last_modified=item["updated_at"])

    def get_review_comments(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._comment_list(request, repo, "review_comments", ("created", "updated", "created_at"))
        return self._page(request, base, rows, lambda c: renderer.review_comment(repo, c), repo)

    def get_pull_reviews(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        if item.get("pull_request") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/pulls/reviews#list-reviews-for-a-pull-request")
        rows = [r for r in repo.reviews if r["pull_number"] == number]  # oldest first, as GitHub lists them
        return self._page(request, base, rows, lambda r: renderer.review(repo, r), repo)

    def get_repo_comments(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._comment_list(request, repo, "comments", ("created", "updated"))
        return self._page(request, base, rows, lambda c: renderer.comment(repo, c), repo)

    def _comment_list(self, request, repo: Repo, kind: str, sorts: tuple[str, ...]) -> list[dict]:
        """A repository-wide comment list (`kind`: comments, review_comments), filtered and ordered
        by `since`, `sort` and `direction` as GitHub does (created: id order)."""
        args = request.args
        sort = _choice(args, "sort", sorts, "created")
        direction = _choice(args, "direction", ("asc", "desc"), "asc")
        since = _since(args)

        def build():
            rows = [c for c in getattr(repo, kind) if since is None or c["updated_at"] >= since]
            if sort == "updated":
                rows.sort(key=lambda c: (c["updated_at"], c["id"]))
            return rows[::-1] if direction == "desc" else rows

        return self._view(repo, (kind, sort, direction, since), build)

    def get_issue_comments(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        _item(repo, number)
        since = _since(request.args)
        rows = [c for c in repo.comments if c["issue_number"] == number and (since is None or c["updated_at"] >= since)]
        return self._page(request, base, rows, lambda c: renderer.comment(repo, c), repo)

    def get_repo_events(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = self._view(repo, ("events",), lambda: repo.events[::-1])  # newest first, like GitHub
        return self._page(request, base, rows, lambda e: renderer.event(repo, e), repo)

    def get_repo_event(self, request, base, renderer, caller, repo: Repo, event_id: int) -> Answer:
        row = next((e for e in repo.events if e["id"] == event_id), None)
        if row is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/issues/events#get-an-issue-event")
        return Answer(renderer.event(repo, row), last_modified=row["created_at"])

    def get_issue_events(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        _item(repo, number)
        rows = [e for e in repo.events if e["issue_number"] == number]
        return self._page(request, base, rows, lambda e: renderer.event(repo, e, with_issue=False), repo)

    def get_labels(self, request, base, renderer, caller, repo: Repo) -> Answer:
        return self._page(request, base, list(repo.data.get("labels", [])), lambda x: renderer.label(repo, x), repo)

    def get_issue_labels(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        item = _item(repo, number)
        rows = renderer._item_labels(repo, item)
        return self._page(request, base, rows, lambda x: x, repo)

    def post_issue_labels(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        payload = _json_body(request)
        names = payload.get("labels") if isinstance(payload, dict) else payload
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ApiError(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an array.",
                           "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue")
        self.world.add_labels(repo, item, [n.strip() for n in names], caller.login)
        return Answer(renderer._item_labels(repo, item))

    def delete_issue_label(self, request, base, renderer, caller, repo: Repo, number: int, label: str) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        if not self.world.remove_label(repo, item, label, caller.login):
            raise ApiError(404, "Label does not exist", "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue")
        return Answer(renderer._item_labels(repo, item))

    def post_issue_comments(self, request, base, renderer, caller, repo: Repo, number: int) -> Answer:
        self._check_write(caller, repo)
        item = _item(repo, number)
        payload = _json_body(request)
        body = payload.get("body") if isinstance(payload, dict) else None
        if not isinstance(body, str) or not body.strip():
            raise ApiError(422, "Invalid request.\n\n\"body\" wasn't supplied.",
                           "https://docs.github.com/rest/issues/comments#create-an-issue-comment")
        comment = self.world.add_comment(repo, item, body, caller.login)
        rendered = renderer.comment(repo, comment)
        return Answer(rendered, 201, {"Location": rendered["url"]})

    def get_forks(self, request, base, renderer, caller, repo: Repo) -> Answer:
        sort = _choice(request.args, "sort", ("newest", "oldest", "stargazers", "watchers"), "newest", status=400)
        rows = [f for f in repo.forks if f.status == "active" and not f.data.get("private")]
        if sort in ("newest", "oldest"):
            rows.sort(key=lambda f: (f.data["created_at"], f.id), reverse=sort == "newest")
        else:
            rows.sort(key=lambda f: (-f.data.get("stargazers_count", 0), f.id))
        return self._page(request, base, rows, lambda f: renderer.repo(f, minimal=True), repo)

    def get_contributors(self, request, base, renderer, caller, repo: Repo) -> Answer:
        rows = sorted(repo.data.get("contributors", []), key=lambda c: -c["contributions"])
        if not rows:
            return Answer(None, 204)
        rows = [r for r in rows if self.world.user(r["login"]) is not None][:500]  # GitHub lists the top 500
        return self._page(request, base, rows, renderer.contributor, repo)

    def get_languages(self, request, base, renderer, caller, repo: Repo) -> Answer:
        # One object, not a list: language -> bytes, largest first (an empty repo: {}).
        languages = repo.data.get("languages", {})
        return Answer(dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))))

    def get_commits(self, request, base, renderer, caller, repo: Repo) -> Answer:
        head = repo.data.get("head")
        if head is None:
            raise ApiError(409, "Git Repository is empty.", "https://docs.github.com/rest/commits/commits#list-commits")
        ref = request.args.get("sha")
        if ref and ref != repo.data.get("default_branch", "main"):
            if ref not in self.world.commits or ref not in self.world.ancestors(head):
                raise ApiError(404, "No commit found for SHA: " + ref, "https://docs.github.com/rest/commits/commits#list-commits")
            head = ref
        since, until = _since(request.args), _since(request.args, "until")
        rows = [c for c in self.world.history(head)
                if (since is None or c["date"] >= since) and (until is None or c["date"] <= until)]
        return self._page(request, base, rows, lambda c: renderer.commit(repo, c), repo)

    def get_compare(self, request, base, renderer, caller, repo: Repo, basehead: str) -> Answer:
        if "..." not in basehead:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")
        base_ref, head_ref = basehead.split("...", 1)
        base_sha, head_sha = self._ref(repo, base_ref), self._ref(repo, head_ref)
        base_anc, head_anc = self.world.ancestors(base_sha), self.world.ancestors(head_sha)
        common = base_anc & head_anc
        if not common:
            raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.",
                           "https://docs.github.com/rest/commits/commits#compare-two-commits")
        ahead = [c for c in self.world.history(head_sha) if c["sha"] not in base_anc]
        behind = [c for c in self.world.history(base_sha) if c["sha"] not in head_anc]
        merge_base = next(c for c in self.world.history(head_sha) if c["sha"] in common)
        status = ("identical" if not ahead and not behind else "ahead" if not behind
                  else "behind" if not ahead else "diverged")
        r, web = renderer.urls.repo(repo.full_name), f"{renderer.urls.web}/{repo.full_name}"
        body = {
            "url": f"{r}/compare/{basehead}", "html_url": f"{web}/compare/{basehead}",
            "permalink_url": f"{web}/compare/{base_sha}...{head_sha}",
            "diff_url": f"{web}/compare/{basehead}.diff", "patch_url": f"{web}/compare/{basehead}.patch",
            "base_commit": renderer.commit(repo, self.world.commits[base_sha]),
            "merge_base_commit": renderer.commit(repo, merge_base),
            "status": status, "ahead_by": len(ahead), "behind_by": len(behind), "total_commits": len(ahead),
            "commits": [renderer.commit(repo, c) for c in reversed(ahead[:250])], "files": [],
        }
        headers = {}
        if "per_page" in request.args or "page" in request.args:
            # Paginated, GitHub lists the commits in chronological order: page 1 holds the oldest.
            per_page, page = _paging(request.args)
            oldest_first = list(reversed(ahead))
            body["commits"] = [renderer.commit(repo, c) for c in oldest_first[(page - 1) * per_page: page * per_page]]
            headers = _link_header(request, base, _api_path(request.path)[0], page, per_page, len(ahead))
        return Answer(body, headers=headers, last_modified=repo.modified)

    def get_contents(self, request, base, renderer, caller, repo: Repo, path: str) -> Answer:
        """A file of the default branch, as GitHub's JSON with base64 content (the default media type)."""
        text = (repo.data.get("files") or {}).get(path)
        if text is None or repo.data.get("head") is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/repos/contents#get-repository-content")
        return Answer(renderer.file(repo, path, text.encode("utf-8")))

    def _ref(self, repo: Repo, ref: str) -> str:
        """A compare side: a sha, a branch of this repo, or OWNER:branch of a repo in its network."""
        not_found = ApiError(404, "Not Found", "https://docs.github.com/rest/commits/commits#compare-two-commits")
        if ":" in ref:
            owner, _, branch = ref.partition(":")
            if ":" in branch:  # owner:repo:branch
                name, _, branch = branch.partition(":")
                target, _ = self.world.repo_by_name(owner, name)
            else:
                network = _network_root(self.world, repo)
                target = next((r for r in self.world.repos.values() if r.data["owner"].lower() == owner.lower()
                               and _network_root(self.world, r) is network), None)
            if target is None or target.status != "active" or target.data.get("head") is None:
                raise not_found
            if branch != target.data.get("default_branch", "main"):
                raise not_found
            return target.data["head"]
        if ref == repo.data.get("default_branch", "main") and repo.data.get("head"):
            return repo.data["head"]
        if ref in self.world.commits:
            return ref
        raise not_found

    def get_search_repositories(self, request, base, renderer, caller) -> Answer:
        q = request.args.get("q", "").strip()
        if not q:
            raise ApiError(422, "Validation Failed", "https://docs.github.com/v3/search",
                           errors=[{"resource": "Search", "field": "q", "code": "missing"}])
        matches = search_repositories(self.world, q)
        per_page, page = _paging(request.args)
        if (page - 1) * per_page >= MAX_SEARCH_RESULTS:
            raise ApiError(422, "Only the first 1000 search results are available", "https://docs.github.com/v3/search/")
        total = len(matches)
        matches = matches[:MAX_SEARCH_RESULTS]
        window = matches[(page - 1) * per_page: page * per_page]
        items = [renderer.search_repo(r, score) for r, score in window]
        body = {"total_count": total, "incomplete_results": False, "items": items}
        return Answer(body, headers=_link_header(request, base, "/search/repositories", page, per_page, len(matches)))

    def get_rate_limit(self, request, base, renderer, caller) -> Answer:
        buckets = {res: self.quota.bucket(caller.identity, res, caller.limits[res]) for res in DEFAULT_LIMITS}
        shaped = {res: {"limit": b.limit, "remaining": b.remaining, "reset": b.reset, "used": b.used}
                  for res, b in buckets.items()}
        return Answer({"resources": shaped, "rate": shaped["core"]})

    def get_user(self, request, base, renderer, caller) -> Answer:
        if caller.login is None:
            raise ApiError(401, "Requires authentication", "https://docs.github.com/rest/users/users#get-the-authenticated-user")
        return Answer(renderer.authenticated_user(caller.login))

    def get_named_user(self, request, base, renderer, caller, username: str) -> Answer:
        """GitHub's public-user shape (PyGithub's `get_user(login)` fetches it before anything else)."""
        account = self.world.user(username)
        if account is None:
            raise ApiError(404, "Not Found", "https://docs.github.com/rest/users/users#get-a-user")
        created = account.get("created_at", "2020-01-01T00:00:00Z")
        public = sum(1 for r in self.world.repos.values() if r.data["owner"].lower() == account["login"].lower()
                     and r.status == "active" and not r.data.get("private"))
        return Answer({
            **renderer.user(account["login"]), "name": account.get("name"), "company": account.get("company"),
            "blog": "", "location": account.get("location"), "email": None, "hireable": None, "bio": None,
            "twitter_username": None, "public_repos": public, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": created, "updated_at": created,
        })

    def get_user_repos(self, request, base, renderer, caller, username: str) -> Answer:
        # GitHub answers for any account here, organizations included.
        doc = "https://docs.github.com/rest/repos/repos#list-repositories-for-a-user"
        account = self.world.user(username)
        if account is None:
            raise ApiError(404, "Not Found", doc)
        args = request.args
        kind = _choice(args, "type", ("owner", "all", "member"), "owner")
        rows = self._account_repos(account["login"], renderer, caller,
                                   owned=kind in ("owner", "all"), member=kind in ("member", "all"))
        return self._repo_list(request, base, renderer, rows, "full_name")

    def get_org_repos(self, request, base, renderer, caller, org: str) -> Answer:
        doc = "https://docs.github.com/rest/repos/repos#list-organization-repositories"
        account = self.world.user(org)
        if account is None or account.get("type") != "Organization":
            raise ApiError(404, "Not Found", doc)
        args = request.args
        kind = _choice(args, "type", ("all", "public", "private", "forks", "sources", "member"), "all")
        rows = self._account_repos(account["login"], renderer, caller, owned=True, member=False)
        if kind == "member":  # the org's repos the caller is a member of (simulated: merged a PR there)
            login = (caller.login or "").lower()
            rows = [r for r in rows if login and login in renderer._associations(r)[0]]
        elif kind != "all":
            keep = {"public": lambda r: not r.data.get("private"), "private": lambda r: bool(r.data.get("private")),
                    "forks": lambda r: r.data.get("fork_parent_id") is not None,
                    "sources": lambda r: r.data.get("fork_parent_id") is None}[kind]
            rows = [r for r in rows if keep(r)]
        return self._repo_list(request, base, renderer, rows, "created")

    def _account_repos(self, login: str, renderer, caller, *, owned: bool, member: bool) -> list[Repo]:
        """An account's repos (owned, and/or where it is a member), as the caller may see them:
        deleted and taken-down repos left out, private ones only for their owner's token."""
        key, me = login.lower(), (caller.login or "").lower()
        out = []
        for repo in self.world.repos.values():
            if repo.status != "active" or (repo.data.get("private") and me != repo.data["owner"].lower()):
                continue
            mine = repo.data["owner"].lower() == key
            if (owned and mine) or (member and not mine and key in renderer._associations(repo)[0]):
                out.append(repo)
        return out

    def _repo_list(self, request, base, renderer, rows: list[Repo], default_sort: str) -> Answer:
        args = request.args
        sort = _choice(args, "sort", ("created", "updated", "pushed", "full_name"), default_sort)
        # GitHub: direction defaults to asc for full_name, desc otherwise.
        direction = _choice(args, "direction", ("asc", "desc"), "asc" if sort == "full_name" else "desc")
        if sort == "full_name":
            rows.sort(key=lambda r: (r.full_name.lower(), r.id))
        else:
            field_name = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at"}[sort]
            rows.sort(key=lambda r: (r.data.get(field_name) or r.data["created_at"], r.id))
        if direction == "desc":
            rows.reverse()
        return self._page(request, base, rows, lambda r: renderer.repo(r, minimal=True), None)

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


# -- search -------------------------------------------------------------------------------

def search_repositories(world: World, q: str) -> list[tuple[Repo, float]]:
    """The documented subset of GitHub's repository search: words, fork:, topic:, in:, user:/org:, archived:."""
    words, fork, topics, fields, owners, archived = [], "false", [], ["name", "description"], [], None
    for token in q.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key == "fork":
            fork = value.lower()
        elif sep and key == "topic":
            topics.append(value.lower())
        elif sep and key == "in":
            fields = [f.strip().lower() for f in value.split(",") if f.strip()]
        elif sep and key in ("user", "org"):
            owners.append(value.lower())
        elif sep and key == "archived":
            archived = value.lower() == "true"
        else:
            words.append(token.strip('"').lower())
    out = []
    for repo in world.repos.values():
        d = repo.data
        if repo.status != "active" or d.get("private"):
            continue
        is_fork = d.get("fork_parent_id") is not None
        if (fork == "false" and is_fork) or (fork == "only" and not is_fork):
            continue
        if topics and not set(topics) <= {t.lower() for t in d.get("topics", [])}:
            continue
        if owners and d["owner"].lower() not in owners:
            continue
        if archived is not None and d.get("archived", False) != archived:
            continue
        texts = {"name": d["name"], "description": d.get("description") or "", "readme": d.get("readme") or ""}
        haystack = " ".join(texts.get(f, "") for f in fields).lower()
        hits = [haystack.count(w) for w in words]
        if all(hits):
            out.append((repo, float(sum(hits)) + 1.0))
    out.sort(key=lambda x: (-x[1], -x[0].data.get("stargazers_count", 0), x[0].id))
    return out


# -- small helpers ------------------------------------------------------------------------

def _api_path(path: str) -> tuple[str, str]:
    """The API path without an Enterprise-style /api/v3 prefix, and the prefix found."""
    if path == ENTERPRISE_GRAPHQL_PATH:
        return GRAPHQL_PATH, ""
    if path.startswith(ENTERPRISE_PREFIX + "/"):
        return path[len(ENTERPRISE_PREFIX):], ENTERPRISE_PREFIX
    return path, ""


def _network_root(world: World, repo: Repo) -> Repo:
    while repo.data.get("fork_parent_id") is not None:
        repo = world.repos[repo.data["fork_parent_id"]]
    return repo


def _item(repo: Repo, number: int) -> dict:
    item = repo.item(number)
    if item is None:
        raise ApiError(404, "Not Found", "https://docs.github.com/rest/issues/issues#get-an-issue")
    return item


def _sorted(rows: list[dict], sort: str, direction: str, world: World) -> list[dict]:
    if sort == "updated":
        rows.sort(key=lambda i: (i["updated_at"], i["number"]))
    elif sort == "comments":
        rows.sort(key=lambda i: (world.comment_count(i["repo_id"], i["number"]), i["number"]))
    else:  # created: number order is creation order
        rows.sort(key=lambda i: i["number"])
    return rows[::-1] if direction == "desc" else rows


def _choice(args, name: str, allowed: tuple[str, ...], default: str, status: int = 422) -> str:
    value = args.get(name, default)
    if value not in allowed:
        raise ApiError(status, "Validation Failed", DOCS,
                       errors=[{"resource": "Issue", "field": name, "code": "invalid", "value": value}])
    return value


def _since(args, name: str = "since") -> str | None:
    """A timestamp parameter normalised to the world's UTC 'Z' form, for string comparison."""
    raw = args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, "Validation Failed", DOCS,
                       errors=[{"resource": "Issue", "field": name, "code": "invalid", "value": raw}]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paging(args) -> tuple[int, int]:
    # GitHub caps per_page at 100 and treats junk as the default, never as an error.
    try:
        per_page = int(args.get("per_page", 30))
    except ValueError:
        per_page = 30
    try:
        page = int(args.get("page", 1))
    except ValueError:
        page = 1
    return max(1, min(per_page, 100)), max(1, page)


def _link_header(request: Request, base: str, path: str, page: int, per_page: int, total: int) -> dict[str, str]:
    last = max(1, -(-total // per_page))
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]

    def url(n: int) -> str:
        return f"{base}{quote(path)}?" + urlencode(params + [("page", str(n))])

    links = []
    if page > 1:
        links += [f'<{url(min(page - 1, last))}>; rel="prev"']
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"']
    return {"Link": ", ".join(links)} if links else {}


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


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError:
        raise ApiError(400, "Problems parsing JSON", DOCS) from None


def _json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return _json_response_bytes(json.dumps(body, ensure_ascii=False).encode(), status, headers or {})


def _json_response_bytes(body: bytes, status: int, headers: dict) -> Response:
    response = Response(body, status, content_type="application/json; charset=utf-8")
    response.headers.update(headers)
    return response


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
