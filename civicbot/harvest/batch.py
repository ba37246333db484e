"""Batch change detection: one GraphQL request tells, for up to 100 repos, whether anything
civicbot harvests changed since their last REST pass (docs/harvest.md "Batch change detection").

A repo is skipped (zero REST requests this run) only when all of these hold:

- its GraphQL answer came back whole: a node for its id, with its own id and database id, and
  no error on its path (a null node, an error, RATE_LIMITED, a 5xx after the retries: REST);
- the answer's fingerprint equals the one stored after its last complete REST pass;
- that REST pass was complete for every configured resource (sync states complete, no review
  left over for want of budget);
- that REST pass is younger than `harvest.batch.full_pass_hours`.

After a successful REST pass the fingerprint stored is the one answered BEFORE the pass: a change
made while REST was reading then shows as a difference next run, never as "already seen".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from civicbot.store import write
from civicbot.store.schema import from_utc_text, utc_text
from civicbot.store.transaction import write_transaction

from .client import HarvestHTTPError, NotFound, RateLimited, TokenRefused, _int
from .resources import REPO_STATES

# The one query civicbot sends (at most 100 ids: GitHub's limit for `nodes`). Each field is there
# because some stored table changes only if it changes (docs/harvest.md lists which proves what).
CHANGES_QUERY = """query CivicbotChanges($ids: [ID!]!) {
  rateLimit { limit cost remaining resetAt }
  nodes(ids: $ids) {
    id
    ... on Repository {
      databaseId
      nameWithOwner
      isPrivate
      updatedAt
      pushedAt
      forkCount
      stargazerCount
      defaultBranchRef { target { oid } }
      labels(first: 100) { totalCount nodes { name color description } }
      issues(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { number updatedAt } }
      pullRequests(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { number updatedAt } }
      newestIssue: issues(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { number } }
      newestPullRequest: pullRequests(first: 1, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { number } }
    }
  }
}"""


def fingerprint(node: dict) -> str:
    """What an answer says of a repo, as one comparable value (sha256 of its canonical JSON)."""
    return hashlib.sha256(json.dumps(node, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass
class Answer:
    """One GraphQL answer read: fingerprints of the repos it vouches for, and why it does not for the others."""

    fingerprints: dict[str, str] = field(default_factory=dict)  # node id -> fingerprint
    doubts: dict[str, str] = field(default_factory=dict)  # node id -> why REST must look
    rate_limit: dict | None = None  # {limit, cost, remaining, resetAt}
    rate_limited: bool = False


def read_answer(ids: list[str], body: Any, database_ids: dict[str, int] | None = None) -> Answer:
    """Read a CHANGES_QUERY answer for `ids`. Every id ends in `fingerprints` or in `doubts`;
    anything unexpected puts it in `doubts` (REST then looks), never silently in neither."""
    answer = Answer()

    def doubt_all(why: str) -> Answer:
        answer.fingerprints.clear()
        answer.doubts.update({i: why for i in ids})
        return answer

    if not isinstance(body, dict):
        return doubt_all("the GraphQL answer is not a JSON object")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    if isinstance(data.get("rateLimit"), dict):
        answer.rate_limit = data["rateLimit"]
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    if body.get("errors") is not None and not isinstance(body.get("errors"), list):
        return doubt_all("the GraphQL answer's errors are not a list")
    if any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors):
        answer.rate_limited = True
        return doubt_all("GraphQL rate limit exceeded")
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or len(nodes) != len(ids):
        first = next((e.get("message") for e in errors if isinstance(e, dict)), None)
        return doubt_all(f"GraphQL answered no usable nodes{f': {first}'[:200] if first else ''}")
    for error in errors:
        path = error.get("path") if isinstance(error, dict) else None
        if (isinstance(path, list) and len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int)
                and 0 <= path[1] < len(ids)):
            answer.doubts[ids[path[1]]] = f"GraphQL error {error.get('type') or ''}: {error.get('message')}"[:300]
        else:  # an error we cannot place: no node of this answer is trusted
            return doubt_all(f"GraphQL error: {error.get('message') if isinstance(error, dict) else error}"[:300])
    for node_id, node in zip(ids, nodes):
        if node_id in answer.doubts:
            continue
        if not isinstance(node, dict):
            answer.doubts[node_id] = "unknown to GraphQL (deleted, private or not a repository)"
        elif node.get("id") != node_id or not isinstance(node.get("databaseId"), int):
            answer.doubts[node_id] = "GraphQL answered another node"
        elif database_ids is not None and database_ids.get(node_id) != node["databaseId"]:
            answer.doubts[node_id] = "GraphQL answered another repository id"
        else:
            answer.fingerprints[node_id] = fingerprint(node)
    return answer


def count_points(client: Any, rate_limit: dict | None) -> None:
    """An answer's `rateLimit` (cost, remaining, resetAt) into the client's GraphQL bookkeeping."""
    if not isinstance(rate_limit, dict):
        return
    quota, cost, remaining = client.graphql_quota, _int(rate_limit.get("cost")), _int(rate_limit.get("remaining"))
    client.graphql_points += max(cost or 0, 0)
    quota.remaining = remaining if remaining is not None else quota.remaining
    quota.limit = _int(rate_limit.get("limit")) or quota.limit
    try:
        quota.reset = int(datetime.fromisoformat(str(rate_limit.get("resetAt")).replace("Z", "+00:00")).timestamp())
    except ValueError:
        pass


class BatchDetection:
    """The harvester's batch change detection: asks GraphQL ahead of the REST passes, per batch."""

    def __init__(self, harvester: Any):
        self.h = harvester
        settings = harvester.config.harvest.batch
        self.settings = settings
        # GraphQL answers no one without a token (REST still does, 60 requests an hour): no token, no batch.
        self.on = settings.enabled and not harvester.full and harvester.client.has_token
        self.asked: set[int] = set()  # repo ids asked (or given up on) this run
        self.answers: dict[int, str] = {}  # repo id -> fingerprint answered this run
        self.failures = 0  # GraphQL requests in a row that answered nothing usable
        self.vouched: set[int] = set()  # repos an answer of this run let skip (the conditions above)
        self.skipped_ids: set[int] = set()  # repos skipped this run

    # -- asking --------------------------------------------------------------------------------

    def _usable(self) -> bool:
        client = self.h.client
        left = client.graphql_quota.remaining
        return self.on and self.failures < 3 and (left is None or left > self.settings.graphql_reserve)

    def _node_ids(self, repo_ids: list[int]) -> dict[int, str]:
        if not repo_ids:
            return {}
        marks = ",".join("?" * len(repo_ids))
        return {rid: nid for rid, nid in self.h.db.execute(
            f"SELECT id, node_id FROM repos WHERE id IN ({marks}) AND node_id IS NOT NULL AND node_id != ''", repo_ids)}

    def ask(self, repo_id: int, upcoming: list[int]) -> None:
        """Make sure `repo_id` was asked this run, asking with it as many `upcoming` repos as fit."""
        if repo_id in self.asked or not self._usable():
            return
        wanted = [repo_id] + [r for r in dict.fromkeys(upcoming) if r not in self.asked and r != repo_id]
        candidates = wanted[: self.settings.batch_size * 4]
        node_ids = self._node_ids(candidates)
        self.asked.add(repo_id)  # no node id: REST, nothing to ask
        batch = [r for r in candidates if r in node_ids][: self.settings.batch_size]
        if not batch:
            return
        self.asked.update(batch)
        ids = [node_ids[r] for r in batch]
        try:
            body = self.h.client.graphql(CHANGES_QUERY, {"ids": ids})
        except TokenRefused:
            raise  # the run's, as on REST
        except (RateLimited, NotFound) as exc:  # NotFound: a server without GraphQL (an old GHE)
            self.on = False
            self.h.result.batch_notes.append(f"batch change detection off for this run: {exc}")
            return
        except HarvestHTTPError as exc:  # 5xx after retries, timeouts, a bad body: these repos go REST
            self.failures += 1
            self.h.result.batch_notes.append(f"batch change detection: {len(ids)} repos asked REST instead: {exc}")
            return
        by_node = {node_ids[r]: r for r in batch}
        answer = read_answer(ids, body, by_node)
        count_points(self.h.client, answer.rate_limit)
        if answer.rate_limited:
            self.on = False
            self.h.result.batch_notes.append("batch change detection off for this run: GraphQL rate limit exceeded")
            return
        self.failures = 0 if answer.fingerprints else self.failures + 1
        self.answers.update({by_node[n]: fp for n, fp in answer.fingerprints.items()})
        self._vouch([by_node[n] for n in answer.fingerprints])

    # -- deciding ------------------------------------------------------------------------------

    def _vouch(self, repo_ids: list[int]) -> None:
        """Decide, as of this answer, which of its repos need no REST pass, and record them in one write
        (not one per skipped repo: 3,000 commits in a no-change refresh of 3,000 forks). What it records,
        an answer matched them at this time, stays true if the run dies before their turn comes."""
        vouched = [r for r in repo_ids if self._matches_a_recent_complete_pass(r)]
        if not vouched:
            return
        now = utc_text()
        with write_transaction(self.h.db):
            self.h.db.conn.executemany("UPDATE repo_fingerprints SET checked_at = ? WHERE repo_id = ?",
                                       [(now, r) for r in vouched])
        self.vouched.update(vouched)

    def unchanged(self, repo_id: int | None, upcoming: list[int]) -> bool:
        """True when the repo can be skipped this run: an answer vouched for it (see `_vouch`)."""
        if repo_id is None or not self.on:
            return False
        self.ask(repo_id, upcoming)
        if repo_id not in self.vouched:
            return False
        self.skipped_ids.add(repo_id)
        return True

    def _matches_a_recent_complete_pass(self, repo_id: int) -> bool:
        row = self.h.db.execute("SELECT fingerprint, rest_pass_at FROM repo_fingerprints WHERE repo_id = ?",
                                [repo_id]).fetchone()
        if row is None or row[0] != self.answers.get(repo_id) or not row[1]:
            return False
        age = datetime.now(timezone.utc) - from_utc_text(row[1])
        return age < timedelta(hours=self.settings.full_pass_hours) and self._pass_complete(repo_id)

    def _pass_complete(self, repo_id: int) -> bool:
        # reviews are checked apart, below: they have a state only once a PR was read
        wanted = {s.name for r in self.h.resources if r != "reviews" for s in REPO_STATES.get(r, ())}
        if "forks" in wanted and not self.h.config.discovery.forks.enabled:
            wanted.discard("forks")
        complete = {r for r, c in self.h.db.execute("SELECT resource, complete FROM sync_state WHERE repo_id = ?",
                                                    [repo_id]) if c}
        if not wanted <= complete:
            return False
        if "reviews" in self.h.resources:  # a PR whose reviews the budget left for later
            done_at, _, number = (write.sync_state(self.h.db, repo_id, "reviews")["cursor"] or "").partition("#")
            left = self.h.db.execute(
                "SELECT 1 FROM items WHERE repo_id = ? AND is_pull_request = 1 AND (updated_at > ? OR "
                "(updated_at = ? AND number > ?)) LIMIT 1",
                [repo_id, done_at, done_at, int(number) if number.isdigit() else 0]).fetchone()
            if left:
                return False
        return True

    def passed(self, repo_id: int) -> None:
        """A complete REST pass of the repo ended: keep the answer taken before it, if there was one."""
        answered = self.answers.get(repo_id)
        if answered is None:
            return  # no answer vouches for what REST read: the next run asks again, and looks again
        with write_transaction(self.h.db):
            self.h.db.execute(
                "INSERT INTO repo_fingerprints (repo_id, fingerprint, checked_at, rest_pass_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (repo_id) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "checked_at = excluded.checked_at, rest_pass_at = excluded.rest_pass_at",
                [repo_id, answered, utc_text(), utc_text()])
