"""The few writes civicbot makes on GitHub: add a label, post a comment; and the reads they need.

Writes go through the harvester's `GitHubClient` (its PyGithub requester), so the token, the
retry policy and `github.throttle.seconds_between_writes` (PyGithub waits that long between two
writes) are the harvester's. Labelling may spend `github.rate_limit_reserve`, the part of the
quota the harvester leaves for it; it stops only when the quota is out (`QuotaExhausted`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from civicbot.harvest.client import GitHubClient


class QuotaExhausted(RuntimeError):
    """No request left in the hour: labelling stops and resumes on the next run."""


class OutsideAllowlist(PermissionError):
    """A write to a repo not in `triage.allowlist`: refused before any request is sent."""


class GitHubWriter:
    """Writes only to the repos of `allowlist`, copied when the writer is made: a config edited
    while a run goes on cannot widen what that run may write to."""

    def __init__(self, client: GitHubClient, allowlist: Iterable[str]):
        self.client = client
        self.allowlist = frozenset(name.lower() for name in allowlist)
        self._login: str | None = None

    def login(self) -> str:
        """The token's login (asked once)."""
        if self._login is None:
            self._login = self.client.get_json("/user").body["login"]
        return self._login

    def issue(self, full_name: str, number: int) -> dict[str, Any]:
        """The issue as GitHub has it now (labels, assignees, state), checked just before a write."""
        return self.client.get_json(f"/repos/{full_name}/issues/{number}").body

    def comment_bodies(self, full_name: str, number: int) -> list[str]:
        """The bodies of the issue's comments (to find whether civicbot's comment was posted)."""
        return [c.get("body") or "" for page in self.client.list_pages(f"/repos/{full_name}/issues/{number}/comments")
                for c in page.items or []]

    def add_label(self, full_name: str, number: int, label: str) -> list[str]:
        data = self.post_json(f"/repos/{full_name}/issues/{number}/labels", {"labels": [label]})
        return [x["name"] for x in data] if isinstance(data, list) else []

    def comment(self, full_name: str, number: int, body: str) -> None:
        self.post_json(f"/repos/{full_name}/issues/{number}/comments", {"body": body})

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return self._write("POST", path, body)

    def delete(self, path: str) -> Any:
        return self._write("DELETE", path, None)

    def _write(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        parts = path.split("/")
        repo = "/".join(parts[2:4]).lower() if len(parts) > 4 and parts[1] == "repos" else None
        if repo not in self.allowlist:
            raise OutsideAllowlist(f"{method} {path}: {repo or 'this path'} is not in triage.allowlist; nothing sent")
        quota = self.client.quota
        if quota.remaining is not None and quota.remaining < 1:
            raise QuotaExhausted(f"{method} {path}: no request left until the rate-limit reset")
        requester = self.client._githubs[self.client._current].requester
        self.client.requests_made += 1
        headers, data = requester.requestJsonAndCheck(method, path, input=body)
        self.client._record(headers, 200)
        return data
