"""The simulator's world: the JSON file loaded into indexes, and the writes clients make.

A world is plain data (see world.schema.json and docs/simulator.md). This module keeps it
indexed for the request handlers and applies the few writes the GitHub API allows civicbot
(labels and comments), recording them as events so later reads show them.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("world.schema.json")
FORMAT = "civicbot-sandbox-world/1"


class WorldError(ValueError):
    """The world file is not a valid world; the message names the problem."""


def utcnow_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@lru_cache(maxsize=1)
def world_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_world(data: Any) -> None:
    """Check a world against the schema and the references between its parts."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(world_schema())
    error = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise WorldError(f"world does not match the schema at {where}: {error.message}")
    logins = {u["login"] for u in data["users"]}
    repo_ids = {r["id"] for r in data["repos"]}
    for key in ("users", "repos", "issues", "comments", "events"):
        ids = [x["id"] for x in data[key]]
        if len(ids) != len(set(ids)):
            raise WorldError(f"{key}: ids are not unique")
    if len({u["login"].lower() for u in data["users"]}) != len(logins):
        raise WorldError("users: logins are not unique (case-insensitively)")
    for repo in data["repos"]:
        if repo["owner"] not in logins:
            raise WorldError(f"repos[{repo['id']}]: owner {repo['owner']!r} is not a user")
        parent = repo.get("fork_parent_id")
        if parent is not None and parent not in repo_ids:
            raise WorldError(f"repos[{repo['id']}]: fork_parent_id {parent} is not a repo")
    numbers: set[tuple[int, int]] = set()
    for item in data["issues"]:
        key = (item["repo_id"], item["number"])
        if item["repo_id"] not in repo_ids:
            raise WorldError(f"issues[{item['id']}]: repo_id {item['repo_id']} is not a repo")
        if key in numbers:
            raise WorldError(f"issues: number {item['number']} appears twice in repo {item['repo_id']}")
        numbers.add(key)
        if item["user"] not in logins:
            raise WorldError(f"issues[{item['id']}]: user {item['user']!r} is not a user")
    for kind, login_key in (("comments", "user"), ("events", "actor")):
        for row in data[kind]:
            if (row["repo_id"], row["issue_number"]) not in numbers:
                raise WorldError(f"{kind}[{row['id']}]: no issue #{row['issue_number']} in repo {row['repo_id']}")
            if row.get(login_key) is not None and row[login_key] not in logins:
                raise WorldError(f"{kind}[{row['id']}]: {login_key} {row[login_key]!r} is not a user")
    pulls = {(i["repo_id"], i["number"]) for i in data["issues"] if i.get("pull_request") is not None}
    for kind in ("reviews", "review_comments"):
        rows = data.get(kind, [])
        if len({x["id"] for x in rows}) != len(rows):
            raise WorldError(f"{kind}: ids are not unique")
        for row in rows:
            if (row["repo_id"], row["pull_number"]) not in pulls:
                raise WorldError(f"{kind}[{row['id']}]: no pull request #{row['pull_number']} in repo {row['repo_id']}")
            if row["user"] is not None and row["user"] not in logins:
                raise WorldError(f"{kind}[{row['id']}]: user {row['user']!r} is not a user")


@dataclass
class Repo:
    """A repo with its items; lists are kept sorted the way handlers read them."""

    data: dict
    items: list[dict] = field(default_factory=list)  # by number
    comments: list[dict] = field(default_factory=list)  # by id (= creation order)
    events: list[dict] = field(default_factory=list)  # by id
    reviews: list[dict] = field(default_factory=list)  # by id (= submission order)
    review_comments: list[dict] = field(default_factory=list)  # by id
    forks: list["Repo"] = field(default_factory=list)
    modified: str = ""  # newest change anywhere in the repo, for Last-Modified
    version: int = 0  # counts writes to its items, so derived figures can be cached between writes
    _open_issues: tuple[int, int, int] | None = field(default=None, repr=False)

    def open_issues_count(self) -> int:
        """Open issues (not PRs), as GitHub's open_issues_count; cached until the next write, since
        every PR embeds its repo and counting per answer made large worlds quadratic to serve."""
        key = (self.version, len(self.items))
        if self._open_issues is None or self._open_issues[:2] != key:
            count = sum(1 for i in self.items if i["state"] == "open" and not i.get("pull_request"))
            self._open_issues = (*key, count)
        return self._open_issues[2]

    @property
    def id(self) -> int:
        return self.data["id"]

    @property
    def full_name(self) -> str:
        return f"{self.data['owner']}/{self.data['name']}"

    @property
    def status(self) -> str:
        return self.data.get("status", "active")

    def item(self, number: int) -> dict | None:
        i = bisect.bisect_left(self.items, number, key=lambda x: x["number"])
        if i < len(self.items) and self.items[i]["number"] == number:
            return self.items[i]
        return None


class World:
    """Indexes over a world, and the writes the simulated API accepts. Thread-safe."""

    def __init__(self, data: dict, *, validate: bool = True):
        if validate:
            validate_world(data)
        self.data = data
        self.lock = threading.RLock()
        self.users = {u["login"].lower(): u for u in data["users"]}
        self.users_by_id = {u["id"]: u for u in data["users"]}
        self.commits = {c["sha"]: c for c in data.get("commits", [])}
        self.repos: dict[int, Repo] = {r["id"]: Repo(r) for r in data["repos"]}
        self.tokens = {t["token"]: t for t in data.get("tokens", [])}
        self._by_name: dict[str, Repo] = {}
        self._former: dict[str, Repo] = {}
        for repo in self.repos.values():
            self._by_name[repo.full_name.lower()] = repo
            for old in repo.data.get("former_names", []):
                self._former[old.lower()] = repo
            parent = repo.data.get("fork_parent_id")
            if parent is not None:
                self.repos[parent].forks.append(repo)
            repo.modified = repo.data.get("updated_at") or repo.data["created_at"]
        for item in data["issues"]:
            self.repos[item["repo_id"]].items.append(item)
        for kind in ("comments", "events", "reviews", "review_comments"):
            for row in data.get(kind, []):
                getattr(self.repos[row["repo_id"]], kind).append(row)
        for repo in self.repos.values():
            repo.items.sort(key=lambda x: x["number"])
            for kind in ("comments", "events", "reviews", "review_comments"):
                getattr(repo, kind).sort(key=lambda x: x["id"])
            for item in repo.items:
                repo.modified = max(repo.modified, item["updated_at"])
        self._history_cache: dict[str | None, tuple[str, ...]] = {}
        # Filled by the renderer: (members, contributors) logins per repo id, for author_association.
        self.roles: dict[int, tuple[set[str], set[str]]] = {}
        self._comment_counts: dict[tuple[int, int], int] = {}
        for row in data["comments"]:
            key = (row["repo_id"], row["issue_number"])
            self._comment_counts[key] = self._comment_counts.get(key, 0) + 1
        self._next_id = 1 + max(
            [0] + [x["id"] for k in ("issues", "comments", "events", "users") for x in data[k]]
            + [x["id"] for k in ("reviews", "review_comments") for x in data.get(k, [])]
            + [label["id"] for r in data["repos"] for label in r.get("labels", [])]
        )

    @classmethod
    def load(cls, path: str | Path, *, validate: bool = True) -> "World":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WorldError(f"{path}: no such world file") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WorldError(f"{path}: not a JSON world file ({exc})") from None
        try:
            return cls(data, validate=validate)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    # -- reads -------------------------------------------------------------------------

    def user(self, login: str | None) -> dict | None:
        return None if login is None else self.users.get(login.lower())

    def repo_by_name(self, owner: str, name: str) -> tuple[Repo | None, bool]:
        """The repo called owner/name, and whether that is a former name (GitHub answers 301)."""
        key = f"{owner}/{name}".lower()
        if key in self._by_name:
            return self._by_name[key], False
        if key in self._former:
            return self._former[key], True
        return None, False

    def comment_count(self, repo_id: int, number: int) -> int:
        return self._comment_counts.get((repo_id, number), 0)

    def history(self, head: str | None) -> list[dict]:
        """Commits reachable from head, newest first (GitHub's default order for /commits)."""
        return [self.commits[sha] for sha in _history(self, head)]

    def ancestors(self, head: str | None) -> set[str]:
        return set(_history(self, head))

    # -- writes (the only ones the simulated API allows) ------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _touch(self, repo: Repo, item: dict, now: str) -> None:
        repo.version += 1
        item["updated_at"] = now
        repo.modified = max(repo.modified, now)

    def add_labels(self, repo: Repo, item: dict, names: list[str], actor: str) -> None:
        """Add labels to an item, creating unknown ones in the repo like GitHub does."""
        with self.lock:
            now = utcnow_iso()
            labels = repo.data.setdefault("labels", [])
            known = {label["name"].lower(): label for label in labels}
            current = {n.lower() for n in item.setdefault("labels", [])}
            for name in names:
                if name.lower() not in known:
                    label = {"id": self._new_id(), "name": name, "color": "ededed", "description": None, "default": False}
                    labels.append(label)
                    known[name.lower()] = label
                if name.lower() in current:
                    continue
                item["labels"].append(known[name.lower()]["name"])
                current.add(name.lower())
                self._add_event(repo, item, "labeled", actor, now, label=known[name.lower()]["name"])
            self._touch(repo, item, now)

    def remove_label(self, repo: Repo, item: dict, name: str, actor: str) -> bool:
        with self.lock:
            for existing in item.get("labels", []):
                if existing.lower() == name.lower():
                    now = utcnow_iso()
                    item["labels"].remove(existing)
                    self._add_event(repo, item, "unlabeled", actor, now, label=existing)
                    self._touch(repo, item, now)
                    return True
            return False

    def add_comment(self, repo: Repo, item: dict, body: str, actor: str) -> dict:
        with self.lock:
            now = utcnow_iso()
            comment = {
                "id": self._new_id(), "repo_id": repo.id, "issue_number": item["number"],
                "user": actor, "body": body, "created_at": now, "updated_at": now,
            }
            repo.comments.append(comment)
            self.data["comments"].append(comment)
            key = (repo.id, item["number"])
            self._comment_counts[key] = self._comment_counts.get(key, 0) + 1
            self._touch(repo, item, now)
            return comment

    def edit_item(self, repo: Repo, item: dict, changes: dict) -> None:
        """Test hook: change fields of an issue or PR (title, body, state...) as if edited on GitHub."""
        with self.lock:
            now = utcnow_iso()
            for key, value in changes.items():
                if key in {"id", "repo_id", "number"}:
                    raise WorldError(f"cannot change {key}")
                item[key] = value
            self._touch(repo, item, now)

    def label_for_item(self, repo: Repo, name: str) -> dict | None:
        for label in repo.data.get("labels", []):
            if label["name"].lower() == name.lower():
                return label
        return None

    def _add_event(self, repo: Repo, item: dict, kind: str, actor: str, now: str, **extra: Any) -> None:
        event = {"id": self._new_id(), "repo_id": repo.id, "issue_number": item["number"],
                 "event": kind, "actor": actor, "created_at": now, **extra}
        repo.events.append(event)
        self.data["events"].append(event)

    # -- repo lifecycle (test hooks through the admin API) -----------------------------

    def rename_repo(self, repo: Repo, owner: str, name: str) -> None:
        with self.lock:
            old = repo.full_name
            del self._by_name[old.lower()]
            repo.data.setdefault("former_names", []).append(old)
            self._former[old.lower()] = repo
            repo.data["owner"], repo.data["name"] = owner, name
            self._by_name[repo.full_name.lower()] = repo
            self._former.pop(repo.full_name.lower(), None)
            repo.data["updated_at"] = utcnow_iso()
            repo.modified = max(repo.modified, repo.data["updated_at"])

    def push(self, repo: Repo, commits: list[dict]) -> None:
        """Test hook: commits pushed to the default branch, oldest first; each without `parents`
        follows the one before (the first, the branch's head)."""
        with self.lock:
            head = repo.data.get("head")
            for commit in commits:
                commit = {"parents": [head] if head else [], **commit}
                if commit["sha"] in self.commits:
                    raise WorldError(f"commit {commit['sha']} exists already")
                self.commits[commit["sha"]] = commit
                self.data.setdefault("commits", []).append(commit)
                head = commit["sha"]
            now = utcnow_iso()
            repo.data["head"], repo.data["pushed_at"], repo.data["updated_at"] = head, now, now
            repo.modified = max(repo.modified, now)

    def set_status(self, repo: Repo, status: str) -> None:
        if status not in {"active", "deleted", "taken_down"}:
            raise WorldError(f"unknown repo status {status!r}")
        with self.lock:
            repo.data["status"] = status


def _history(world: World, head: str | None) -> tuple[str, ...]:
    # Cached per head: histories are shared by forks and asked for on every commits page.
    cache = world._history_cache
    if head in cache:
        return cache[head]
    seen: set[str] = set()
    stack = [head] if head else []
    while stack:
        sha = stack.pop()
        if sha in seen or sha not in world.commits:
            continue
        seen.add(sha)
        stack.extend(world.commits[sha].get("parents", []))
    ordered = tuple(sorted(seen, key=lambda s: (world.commits[s]["date"], s), reverse=True))
    cache[head] = ordered
    return ordered
