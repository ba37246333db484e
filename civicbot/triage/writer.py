"""The few writes civicbot makes on GitHub: add a label, post a comment; and the reads they need.

Writes go through the harvester's `GitHubClient` (its PyGithub requester), so the token, the
retry policy and `github.throttle.seconds_between_writes` (PyGithub waits that long between two
writes) are the harvester's. Labelling may spend `github.rate_limit_reserve`, the part of the
quota the harvester leaves for it; it stops only when the quota is out (`QuotaExhausted`).

Repos are identified by GitHub's numeric id, not by name: a name can move to another repo (the
allowlisted upstream renamed away, a fork renamed or transferred into its name). `pin` fixes the
allowlist to the ids the store harvested under those names; every issue is read and every write
sent under `/repositories/{id}/...`, and each read checks that the repo still carries its
allowlisted name (`RepoMismatch` otherwise). A write is refused unless the repo passed that check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from civicbot.harvest.client import BadResponse, GitHubClient, HarvestHTTPError


class QuotaExhausted(RuntimeError):
    """No request left in the hour: labelling stops and resumes on the next run."""


class OutsideAllowlist(PermissionError):
    """A write to a repo not in `triage.allowlist`: refused before any request is sent."""


class RepoMismatch(OutsideAllowlist):
    """The repo id pinned for an allowlisted name no longer carries that name (renamed, or the
    name taken over by another repo): refused, nothing written."""


def allowlist_ids(db, names: Iterable[str]) -> dict[str, int]:
    """The repo id the store knows under each allowlisted name (its current name first, then the
    name it was last seen under); names the store never harvested are left out."""
    found: dict[str, int] = {}
    for name in names:
        row = db.execute("SELECT id FROM repos WHERE lower(full_name) = lower(?)", [name]).fetchone() or \
            db.execute("SELECT repo_id FROM repo_names WHERE full_name = ? ORDER BY last_seen_at DESC LIMIT 1",
                       [name]).fetchone()
        if row:
            found[name] = row[0]
    return found


class GitHubWriter:
    """Writes only to the repos of `allowlist`, copied when the writer is made and pinned to repo
    ids once (`pin`): a config edited while a run goes on cannot widen what that run may write to,
    and a name that moved to another repo does not take the writes with it."""

    def __init__(self, client: GitHubClient, allowlist: Iterable[str]):
        self.client = client
        self.allowlist = frozenset(name.lower() for name in allowlist)
        self._login: str | None = None
        self._pinned: dict[int, str] | None = None  # repo id -> allowlisted name (lower case)
        self._checked: set[int] = set()  # ids whose name GitHub confirmed in this run

    def login(self) -> str:
        """The token's login (asked once)."""
        if self._login is None:
            login = self.client.get_json("/user").body.get("login")
            if not isinstance(login, str) or not login:
                raise BadResponse("/user", 200, "an answer without the token's login")
            self._login = login
        return self._login

    def pin(self, ids: Mapping[str, int]) -> dict[int, str]:
        """Fix the allowlist to repo ids; the first call wins, names outside the allowlist are ignored."""
        if self._pinned is None:
            self._pinned = {int(i): n.lower() for n, i in ids.items() if n.lower() in self.allowlist}
        return dict(self._pinned)

    def issue(self, repo_id: int, number: int) -> dict[str, Any]:
        """The issue as GitHub has it now (labels, assignees, state), read by repo id just before a
        write; raises `RepoMismatch` when the repo is no longer called by its allowlisted name."""
        name = self._name(repo_id, "GET", f"/repositories/{repo_id}/issues/{number}")
        self._checked.discard(repo_id)
        data = self.client.get_json(f"/repositories/{repo_id}/issues/{number}").body
        now = _repo_name(data.get("repository_url"))
        if now != name:
            raise RepoMismatch(f"repo id {repo_id} is called {now or 'nothing readable'} on GitHub now, not the "
                               f"allowlisted {name}{self._holder(name, repo_id)}: renamed or taken over; "
                               "refused, nothing written (harvest, then check triage.allowlist)")
        self._checked.add(repo_id)
        return data

    def comments(self, repo_id: int, number: int) -> list[dict[str, Any]]:
        return [c for page in self.client.list_pages(f"/repositories/{repo_id}/issues/{number}/comments")
                for c in page.items or [] if isinstance(c, dict)]

    def has_comment(self, repo_id: int, number: int, marks: Iterable[str]) -> bool:
        """Whether civicbot's comment (a body holding one of `marks`, by civicbot when its login is
        known) is on the issue."""
        marks = tuple(marks)
        return any(any(m in (c.get("body") or "") for m in marks)
                   and (self._login is None or ((c.get("user") or {}).get("login") or "").lower() == self._login.lower())
                   for c in self.comments(repo_id, number))

    def add_label(self, repo_id: int, number: int, label: str) -> list[str]:
        data = self.post_json(f"/repositories/{repo_id}/issues/{number}/labels", {"labels": [label]})
        return [x["name"] for x in data] if isinstance(data, list) else []

    def comment(self, repo_id: int, number: int, body: str) -> None:
        self.post_json(f"/repositories/{repo_id}/issues/{number}/comments", {"body": body})

    def comment_once(self, repo_id: int, number: int, body: str, mark: str, attempts: int = 2) -> str | None:
        """Post `body` (which holds `mark`) unless the issue already has it; None when it is there.

        A POST whose answer is lost may have been done: before any second try, the issue's
        comments are listed and the POST is sent again only when no comment holds `mark`. On
        failure, the last error in words (the caller records it; a later run completes it).
        """
        error = "not tried"
        for attempt in range(attempts):
            try:
                if attempt and self.has_comment(repo_id, number, [mark]):
                    return None
                self.comment(repo_id, number, body)
                return None
            except (OutsideAllowlist, QuotaExhausted):
                raise
            except Exception as exc:  # noqa: BLE001 - uncertain: checked before trying again
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
        try:
            return None if self.has_comment(repo_id, number, [mark]) else error
        except HarvestHTTPError:
            return error

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._write("POST", path, body)

    def delete(self, path: str) -> Any:
        return self._write("DELETE", path, None)

    def _name(self, repo_id: int, method: str, path: str) -> str:
        name = (self._pinned or {}).get(repo_id)
        if name is None:
            raise OutsideAllowlist(f"{method} {path}: repo id {repo_id} is not an allowlisted repo "
                                   "(triage.allowlist, resolved to ids at start); nothing sent")
        return name

    def _holder(self, name: str, repo_id: int) -> str:
        """Who has the allowlisted name now, for the refusal's message (best effort)."""
        try:
            other = self.client.get_json(f"/repos/{name}").body.get("id")
        except HarvestHTTPError:
            return ""
        return f", and {name} is now repo id {other}" if other not in (None, repo_id) else ""

    def _write(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        parts = path.split("/")
        repo_id = int(parts[2]) if len(parts) > 3 and parts[1] == "repositories" and parts[2].isdigit() else None
        if repo_id is None or repo_id not in (self._pinned or {}):
            raise OutsideAllowlist(f"{method} {path}: not an allowlisted repo addressed by id "
                                   "(triage.allowlist, resolved to ids at start); nothing sent")
        if repo_id not in self._checked:
            raise OutsideAllowlist(f"{method} {path}: repo id {repo_id} was not checked against GitHub "
                                   "in this run (read the issue first); nothing sent")
        quota = self.client.quota
        if quota.remaining is not None and quota.remaining < 1:
            raise QuotaExhausted(f"{method} {path}: no request left until the rate-limit reset")
        requester = self.client._githubs[self.client._current].requester
        self.client.requests_made += 1
        headers, data = requester.requestJsonAndCheck(method, path, input=body)
        self.client._record(headers, 200)
        return data


def _repo_name(url: Any) -> str | None:
    """`owner/name` (lower case) from an issue's `repository_url` (`.../repos/{owner}/{name}`)."""
    if not isinstance(url, str):
        return None
    path = urlsplit(url).path
    _, sep, rest = path.rpartition("/repos/")
    parts = rest.strip("/").split("/")
    return f"{parts[0]}/{parts[1]}".lower() if sep and len(parts) == 2 and all(parts) else None
