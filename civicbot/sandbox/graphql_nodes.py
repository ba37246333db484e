"""World rows as GitHub GraphQL objects, for the simulator's /graphql endpoint (graphql.py).

Each class answers the fields of one GraphQL type: a plain attribute for a scalar, a method
`(info, **arguments)` for a field with arguments. graphql.py's resolver raises an error naming
any field a class does not answer, so a query never gets an invented value. Values come from
the same world rows the REST renderer reads, so both APIs agree (tests/test_sandbox_graphql.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

from .render import node_id, pull_request_id
from .world import Repo, World

NODE_ID = re.compile(r"0:([A-Za-z]+)(\d+)")


def not_found(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"type": "NOT_FOUND"})


def decode_node_id(value: str) -> tuple[str, int] | None:
    """(kind, number) of an id made by render.node_id, or None for anything else."""
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = NODE_ID.fullmatch(text)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass
class Context:
    """What resolvers of one request need: the world and who asks."""

    world: World
    login: str | None
    rate_limit: "RateLimit"
    _items: dict[int, tuple[Repo, dict]] | None = None

    def visible(self, repo: Repo | None) -> bool:
        # As REST: deleted and taken-down repos are gone, a private one shows only to its owner.
        return repo is not None and repo.status == "active" and (
            not repo.data.get("private") or (self.login or "").lower() == repo.data["owner"].lower())

    def node(self, ident: Any) -> Any:
        """The object behind a global id, or a NOT_FOUND error (returned: a list entry becomes null)."""
        decoded = decode_node_id(ident) if isinstance(ident, str) else None
        found = None
        if decoded is not None:
            kind, number = decoded
            if kind == "Repository":
                repo = self.world.repos.get(number)
                found = RepositoryNode(self, repo) if self.visible(repo) else None
            elif kind in ("Issue", "PullRequest"):
                found = self._item(kind, number)
        return found or not_found(f"Could not resolve to a node with the global id of '{ident}'")

    def _item(self, kind: str, number: int) -> Any:
        if self._items is None:  # built once per request that asks for an issue or PR by id
            self._items = {item["id"]: (repo, item) for repo in self.world.repos.values() for item in repo.items}
        repo, item = self._items.get(number - (pull_request_id(0) if kind == "PullRequest" else 0), (None, None))
        # An Issue id of a PR (REST's issue lists show one) is that PR, as issue and PR are one on GitHub.
        if item is None or not self.visible(repo) or (kind == "PullRequest" and item.get("pull_request") is None):
            return None
        return ItemNode(self, repo, item)


class Root:
    """The Query type's fields civicbot uses."""

    def __init__(self, context: Context):
        self.context = context

    def nodes(self, info, ids: list[str]) -> list:
        return [self.context.node(i) for i in ids]

    def node(self, info, id: str) -> Any:  # noqa: A002 - the GraphQL argument's name
        return self.context.node(id)

    def repository(self, info, owner: str, name: str, followRenames: bool = True) -> Any:  # noqa: N803
        repo, moved = self.context.world.repo_by_name(owner, name)
        if self.context.visible(repo) and (followRenames or not moved):
            return RepositoryNode(self.context, repo)
        return not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")

    def rateLimit(self, info, dryRun: bool = False) -> "RateLimit":  # noqa: N802, N803
        return self.context.rate_limit


@dataclass
class RateLimit:
    limit: int
    cost: int
    remaining: int
    resetAt: str  # noqa: N815 - GraphQL field names
    used: int
    nodeCount: int  # noqa: N815


@dataclass
class Commit:
    oid: str
    committedDate: str  # noqa: N815
    typename: str = "Commit"


@dataclass
class Ref:
    name: str
    target: Commit
    typename: str = "Ref"


class Connection:
    """A connection over an ordered list: first/last with after/before cursors (offsets)."""

    def __init__(self, rows: list, wrap, *, first=None, last=None, after=None, before=None):
        self.totalCount = len(rows)
        start, end = 0, len(rows)
        if after is not None:
            start = max(start, _offset(after) + 1)
        if before is not None:
            end = min(end, _offset(before))
        if first is not None:
            end = min(end, start + first)
        if last is not None:
            start = max(start, end - last)
        self._window = [(i, rows[i]) for i in range(start, max(start, end))]
        self._wrap = wrap
        self.pageInfo = PageInfo(hasPreviousPage=start > 0, hasNextPage=end < len(rows),
                                 startCursor=_cursor(start) if self._window else None,
                                 endCursor=_cursor(end - 1) if self._window else None)

    @property
    def nodes(self) -> list:
        return [self._wrap(row) for _, row in self._window]

    @property
    def edges(self) -> list:
        return [Edge(_cursor(i), self._wrap(row)) for i, row in self._window]


@dataclass
class Edge:
    cursor: str
    node: Any


@dataclass
class PageInfo:
    hasPreviousPage: bool  # noqa: N815
    hasNextPage: bool  # noqa: N815
    startCursor: str | None  # noqa: N815
    endCursor: str | None  # noqa: N815


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:v2:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError):
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.",
                           extensions={"type": "INVALID_CURSOR_ARGUMENTS"}) from None


def _ordered_items(world: World, rows: list[dict], order: dict | None) -> list[dict]:
    """Issues or PRs in GraphQL's IssueOrder, ties broken by number as REST's sort does."""
    field, direction = (order or {}).get("field", "CREATED_AT"), (order or {}).get("direction", "ASC")
    if field == "UPDATED_AT":
        rows = sorted(rows, key=lambda i: (i["updated_at"], i["number"]))
    elif field == "COMMENTS":
        rows = sorted(rows, key=lambda i: (world.comment_count(i["repo_id"], i["number"]), i["number"]))
    else:  # CREATED_AT: number order is creation order
        rows = sorted(rows, key=lambda i: i["number"])
    return rows[::-1] if direction == "DESC" else rows


def _with_labels(rows: list[dict], labels: list[str] | None) -> list[dict]:
    if not labels:
        return rows
    wanted = {x.lower() for x in labels}
    return [i for i in rows if wanted & {n.lower() for n in i.get("labels", [])}]


class RepositoryNode:
    typename = "Repository"

    def __init__(self, context: Context, repo: Repo):
        self._context, self._repo = context, repo
        d = repo.data
        self.id = node_id("Repository", repo.id)
        self.databaseId = repo.id
        self.fullDatabaseId = str(repo.id)
        self.name = d["name"]
        self.nameWithOwner = repo.full_name
        self.description = d.get("description")
        self.isPrivate = bool(d.get("private", False))
        self.isFork = d.get("fork_parent_id") is not None
        self.isArchived = bool(d.get("archived", False))
        self.createdAt = d["created_at"]
        self.updatedAt = d.get("updated_at", d["created_at"])
        self.pushedAt = d.get("pushed_at", d["created_at"])
        self.forkCount = len(repo.forks)  # as REST's forks_count
        self.stargazerCount = d.get("stargazers_count", 0)

    @property
    def defaultBranchRef(self) -> Ref | None:  # noqa: N802
        # The commit REST's /commits?sha=<default branch> lists first; none for an empty repo.
        history = self._context.world.history(self._repo.data.get("head"))
        if not history:
            return None
        return Ref(self._repo.data.get("default_branch", "main"), Commit(history[0]["sha"], history[0]["date"]))

    def labels(self, info, first=None, last=None, after=None, before=None, orderBy=None, query=None):  # noqa: N803
        rows = list(self._repo.data.get("labels", []))
        if query:
            rows = [x for x in rows if query.lower() in x["name"].lower()]
        order = orderBy or {"field": "NAME", "direction": "ASC"}
        rows.sort(key=(lambda x: x["id"]) if order["field"] == "CREATED_AT" else (lambda x: x["name"].lower()))
        if order["direction"] == "DESC":
            rows.reverse()
        return Connection(rows, Label, first=first, last=last, after=after, before=before)

    def issues(self, info, first=None, last=None, after=None, before=None, orderBy=None,  # noqa: N803
               states=None, labels=None, filterBy=None):  # noqa: N803
        if filterBy:
            raise GraphQLError("The simulator does not serve issues(filterBy:).")
        rows = [i for i in self._repo.items if i.get("pull_request") is None
                and (not states or i["state"].upper() in states)]
        rows = _ordered_items(self._context.world, _with_labels(rows, labels), orderBy)
        return Connection(rows, self._item, first=first, last=last, after=after, before=before)

    def pullRequests(self, info, first=None, last=None, after=None, before=None, orderBy=None,  # noqa: N802, N803
                     states=None, labels=None, headRefName=None, baseRefName=None):  # noqa: N803
        rows = [i for i in self._repo.items if i.get("pull_request") is not None
                and (not states or _pull_state(i) in states)
                and (headRefName is None or i["pull_request"].get("head_ref") == headRefName)
                and (baseRefName is None or i["pull_request"].get("base_ref") == baseRefName)]
        rows = _ordered_items(self._context.world, _with_labels(rows, labels), orderBy)
        return Connection(rows, self._item, first=first, last=last, after=after, before=before)

    def _item(self, item: dict) -> "ItemNode":
        return ItemNode(self._context, self._repo, item)


def _pull_state(item: dict) -> str:
    if item["pull_request"].get("merged_at") is not None:
        return "MERGED"
    return item["state"].upper()


class Label:
    typename = "Label"

    def __init__(self, row: dict):
        self.id = node_id("Label", row["id"])
        self.name = row["name"]
        self.color = row.get("color", "ededed")  # as REST's label object
        self.description = row.get("description")
        self.isDefault = row.get("default", False)


class ItemNode:
    """An issue or a pull request (GraphQL's Issue and PullRequest types)."""

    def __init__(self, context: Context, repo: Repo, item: dict):
        pull = item.get("pull_request")
        self.typename = "PullRequest" if pull is not None else "Issue"
        self.id = node_id("PullRequest", pull_request_id(item["id"])) if pull is not None else node_id("Issue", item["id"])
        # A PR's REST id is past 2^31 here: databaseId (Int) then fails as GitHub's does for large ids;
        # fullDatabaseId (BigInt, a string) holds it.
        self.databaseId = pull_request_id(item["id"]) if pull is not None else item["id"]
        self.fullDatabaseId = str(self.databaseId)
        self.number = item["number"]
        self.title = item["title"]
        self.body = item.get("body") or ""
        self.state = _pull_state(item) if pull is not None else item["state"].upper()
        self.createdAt, self.updatedAt, self.closedAt = item["created_at"], item["updated_at"], item.get("closed_at")
        self.closed = item["state"] == "closed"
        if pull is not None:
            self.merged = pull.get("merged_at") is not None
            self.mergedAt = pull.get("merged_at")
        self.repository = RepositoryNode(context, repo)
