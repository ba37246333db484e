"""What the simulator's endpoints answer with: GitHub's error shape, an answer, the caller, and the
small readers of a request (paging, sorting, timestamps, JSON) shared by the app and its routes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from .world import Repo, World

DOCS = "https://docs.github.com/rest"
# GitHub Enterprise serves the API under /api/v3; accept it so the same client code is tested both ways.
ENTERPRISE_PREFIX = "/api/v3"
# GraphQL: api.github.com/graphql; GitHub Enterprise serves it at /api/graphql.
GRAPHQL_PATH, ENTERPRISE_GRAPHQL_PATH = "/graphql", "/api/graphql"


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
