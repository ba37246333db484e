"""Finding derivatives beyond the fork graph, and where each one started.

The `Discovery` mixin of the harvester (civicbot/harvest/run.py): copies found by the upstream's
root commit (`shared_root`), derivatives the upstream lists itself (`site_list`: its
FORKED_SITES.md, read through the contents API), and for each derivative its first divergence
(where it started) and last sync (the newest upstream commit it holds), with ahead/behind
(docs/diffusion.md; request costs in docs/harvest.md).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from civicbot.names import full_name_problem, is_branch, is_owner, shown
from civicbot.regions import match_region
from civicbot.store import write
from civicbot.store.schema import utc_text
from civicbot.store.transaction import write_transaction

from .client import Gone, HarvestHTTPError, NotFound, RateLimited, TokenRefused
from .site_list import parse_site_list

COMPARE_PAGE = 100  # commits per compare page: page 1 holds a derivative's oldest own commits


@dataclass
class _Target:
    full_name: str
    depth: int  # 0 for the upstream and listed repos, n for an n-th generation fork
    repo_id: int | None = None
    unchanged: bool = False  # its parent's fork list shows it as it was: no need to GET it again
    method: str = "listed"  # how it was found: upstream, listed, fork, shared_root (docs/discovery.md)
    parent_id: int | None = None  # its parent in the family tree
    evidence: str = "listed in config"


class Discovery:
    """Discovery and divergence steps of `Harvester` (it provides db, client, config, prov...)."""

    # -- derivatives beyond the fork graph ------------------------------------------------------

    def _upstream_root(self) -> str | None:
        upstream_id = getattr(self, "upstream_id", None)
        if upstream_id is None:
            return None
        return self.db["repos"].get(upstream_id)["root_commit_sha"]

    def _shared_root_evidence(self, repo_id: int, target: _Target) -> None:
        """A repo listed (in the config or by the upstream) whose root commit is the upstream's: say so too."""
        root = self._upstream_root()
        if root is None or target.method in ("upstream", "shared_root") or repo_id == getattr(self, "upstream_id", None):
            return
        mine = self.db["repos"].get(repo_id)["root_commit_sha"]
        if mine == root and target.method in ("listed", "site_list"):
            with write_transaction(self.db):
                write.record_discovery(self.db, repo_id, "shared_root", self.upstream_id,
                                       f"root commit {root} equals the upstream's", self.prov)

    def _candidate_sources(self) -> list[tuple[str, str, dict, int | None]]:
        """(label, path, params, fork id for an owner's list) of every configured candidate source."""
        shared = self.config.discovery.shared_root
        sources = [(f"search: {q}", "/search/repositories", {"q": q}, None) for q in shared.search_queries]
        sources += [(f"topic: {t}", "/search/repositories", {"q": f"topic:{t}"}, None) for t in shared.topics]
        if shared.owners_other_repos:
            owners = self.db.execute(
                """SELECT r.owner, min(r.id) FROM discoveries d JOIN repos r ON r.id = d.repo_id
                   WHERE d.method = 'fork' GROUP BY lower(r.owner) ORDER BY lower(r.owner)""").fetchall()
            # An owner whose fork GraphQL vouched for this run waits for that fork's next REST pass
            # (at most harvest.batch.full_pass_hours): a request per quiet owner would undo the batch.
            vouched = self.batch.skipped_ids
            sources += [(f"owner: {o}", f"/users/{o}/repos", {"type": "owner"}, fork_id)
                        for o, fork_id in owners if is_owner(o) and fork_id not in vouched]
        return sources

    def _discover_shared_roots(self, seen: set[str]) -> list[_Target]:
        """Candidates from searches, topics and fork owners' other repos, each checked once for
        the upstream's root commit (two requests), at most `max_candidates` per run."""
        shared = self.config.discovery.shared_root
        root = self._upstream_root()
        if not shared.enabled or root is None:
            return []
        found = self._new_shared_roots(root, seen)
        # Derivatives found this way on earlier runs are visited again, as known forks are: the
        # source that found them (an unchanged owner's list, a search) need not list them again.
        names = seen | {t.full_name.lower() for t in found}
        for full_name, repo_id, evidence in self.db.execute(
                """SELECT r.full_name, r.id, d.evidence FROM discoveries d JOIN repos r ON r.id = d.repo_id
                   WHERE d.method = 'shared_root' AND r.status IN ('active', 'renamed') ORDER BY r.id"""):
            if full_name.lower() not in names:
                found.append(_Target(full_name, 0, repo_id, method="shared_root", parent_id=self.upstream_id,
                                     evidence=evidence))
        return found

    def _new_shared_roots(self, root: str, seen: set[str]) -> list[_Target]:
        """Candidates not checked before, from every source, checked for the upstream's root commit."""
        shared = self.config.discovery.shared_root
        found, checked = [], 0
        for label, path, params, fork_id in self._candidate_sources():
            self.progress({"kind": "discovery", "source": label})
            # An owner's repo list is asked conditionally (its ETag kept under the fork's id):
            # unchanged owners cost nothing on later runs.
            etag = write.sync_state(self.db, fork_id, "owner_repos")["etag"] if fork_id and not self.full else None
            try:
                pages = self.client.search_pages(path, params) if fork_id is None \
                    else self.client.list_pages(path, params, etag=etag)
                for index, page in enumerate(pages):
                    if page.not_modified:
                        break
                    self._check_reserve()
                    for candidate in page.items:
                        if checked >= shared.max_candidates:
                            return found
                        target = self._check_candidate(candidate, label, root, seen)
                        checked += target is not False
                        if target:
                            found.append(target)
                    if fork_id and index == 0:
                        with write_transaction(self.db):
                            write.save_sync_state(self.db, fork_id, "owner_repos", self.prov.run_id,
                                                  etag=page.etag, complete=1)
            except (NotFound, Gone) as exc:
                self.result.skipped.append(f"discovery {label}: {exc}")
            except (TokenRefused, RateLimited):
                raise  # the run's, not this source's
            except HarvestHTTPError as exc:  # a reset, an odd answer: this source fails, the run goes on
                self.result.failed[f"discovery {label}"] = str(exc)
        return found

    def _check_candidate(self, candidate: Any, label: str, root: str, seen: set[str]) -> _Target | None | bool:
        """A new shared-root derivative, None when not one, False when nothing was asked."""
        if not isinstance(candidate, dict) or not isinstance(candidate.get("full_name"), str):
            return False
        name = candidate["full_name"]
        if name.lower() in seen:
            return False
        if full_name_problem(name):  # it would become /repos/{name}/commits
            self.result.skipped.append(f"discovery {label}: candidate refused: {full_name_problem(name)}")
            return False
        known = self.db.execute("SELECT outcome FROM candidates WHERE full_name = ?", [name]).fetchone()
        if known and not self.full:
            return False
        if candidate.get("fork"):
            outcome, sha = "fork", None  # forks belong to the fork graph
        else:
            try:
                commit = self.client.last_item(f"/repos/{name}/commits", {"per_page": 1})
                sha = commit.get("sha") if isinstance(commit, dict) else None
                outcome = "shared_root" if sha == root else "different_root" if sha else "empty"
            except NotFound:
                outcome, sha = "gone", None
            except HarvestHTTPError as exc:
                if exc.status != 409:
                    raise
                outcome, sha = "empty", None
        with write_transaction(self.db):
            self.db["candidates"].upsert({"full_name": name, "repo_id": candidate.get("id"), "source": label,
                                          "root_commit_sha": sha, "outcome": outcome, "checked_at": utc_text(),
                                          "run_id": self.prov.run_id}, pk="full_name")
        if outcome != "shared_root":
            return None
        return _Target(name, 0, candidate.get("id"), method="shared_root", parent_id=self.upstream_id,
                       evidence=f"root commit {root} equals the upstream's (candidate from {label})")

    # -- the upstream's own list of derived sites ------------------------------------------------

    def _site_list_targets(self, upstream_id: int) -> list[_Target]:
        """Every repo the upstream's site list links, as a derivative candidate.

        The file is read through the contents API, conditionally (its ETag kept): a 304 costs no
        quota. It can change only with a push, so while the upstream's `pushed_at` is the one
        seen when it was last read, it is not asked at all. Entries are kept in `listed_sites`.
        """
        settings = self.config.discovery.site_list
        if not settings.enabled:
            return []
        upstream = self.db["repos"].get(upstream_id)
        source = f"{upstream['full_name']} {settings.path}"
        state = write.sync_state(self.db, upstream_id, "site_list")
        seen_at = f"{upstream['pushed_at']} {settings.path}"
        changed = False
        if self.full or state["cursor"] != seen_at:
            changed = self._read_site_list(upstream_id, upstream["full_name"], settings.path, source, seen_at, state)
        # A listed repo GitHub does not serve is asked again only once the list changed.
        missing = set() if changed or self.full else {row[0].lower() for row in self.db.execute(
            "SELECT full_name FROM candidates WHERE source = 'site_list' AND outcome = 'gone'")}
        targets = []
        for row in self.db.query("SELECT repo_full_name, region FROM listed_sites WHERE listed_in = ? "
                                 "AND repo_full_name IS NOT NULL ORDER BY rowid", [source]):
            name = row["repo_full_name"]
            if name.lower() == upstream["full_name"].lower() or name.lower() in missing:
                continue
            known = self.db.execute("SELECT id, full_name FROM repos WHERE full_name = ? COLLATE NOCASE",
                                    [name]).fetchone()
            targets.append(_Target(known[1] if known else name, 0, known[0] if known else None, method="site_list",
                                   parent_id=upstream_id, evidence=_listing_evidence(source, row["region"])))
        return targets

    def _read_site_list(self, upstream_id: int, full_name: str, path: str, source: str, seen_at: str,
                        state: dict) -> bool:
        """Read the list into listed_sites; True when it changed (a 200)."""
        etag = None if self.full or not (state["cursor"] or "").endswith(f" {path}") else state["etag"]
        self._check_reserve()
        try:
            page = self.client.get_json(f"/repos/{full_name}/contents/{quote(path)}", etag=etag)
        except NotFound:
            self.result.skipped.append(f"site list {source}: not found")
            with write_transaction(self.db):
                write.save_sync_state(self.db, upstream_id, "site_list", self.prov.run_id, cursor=seen_at,
                                      etag=None, complete=1)
            return False
        entries = None if page.not_modified else _decode(page.body)
        with write_transaction(self.db):
            if entries is not None:
                # The list is the upstream's current document: its rows are replaced as a whole.
                self.db.execute("DELETE FROM listed_sites WHERE listed_in = ?", [source])
                for entry in parse_site_list(entries):
                    match = match_region("", "", entry.region) if entry.region else None
                    self.db["listed_sites"].upsert({
                        "entry": entry.entry, "site_url": entry.site_url, "repo_full_name": entry.repo,
                        "region": entry.region, "operator": entry.operator,
                        "pref_code": match.pref_code if match else None,
                        "muni_code": match.municipality_code if match else None,
                        "listed_in": source, **self.prov.columns()}, pk="entry")
            write.save_sync_state(self.db, upstream_id, "site_list", self.prov.run_id, cursor=seen_at,
                                  etag=page.etag if not page.not_modified else etag, complete=1)
        return entries is not None

    def _listed_repo_missing(self, target: _Target) -> None:
        """A repo the upstream lists that GitHub does not serve: noted, not asked again until the list changes."""
        if target.method != "site_list" or target.repo_id is not None:
            return
        with write_transaction(self.db):
            self.db["candidates"].upsert({"full_name": target.full_name, "repo_id": None, "source": "site_list",
                                          "root_commit_sha": None, "outcome": "gone", "checked_at": utc_text(),
                                          "run_id": self.prov.run_id}, pk="full_name")

    def _site_listing_evidence(self, repo_id: int, target: _Target) -> None:
        """A repo found another way (listed in config, a fork) that the upstream lists too: say so."""
        if target.method in ("upstream", "site_list") or not self.config.discovery.site_list.enabled:
            return
        upstream_id = getattr(self, "upstream_id", None)
        if upstream_id is None:
            return
        full_name = self.db["repos"].get(repo_id)["full_name"]
        source = f"{self.db['repos'].get(upstream_id)['full_name']} {self.config.discovery.site_list.path}"
        row = self.db.execute("SELECT region FROM listed_sites WHERE listed_in = ? AND repo_full_name = ? "
                              "COLLATE NOCASE", [source, full_name]).fetchone()
        if row is not None:
            with write_transaction(self.db):
                write.record_discovery(self.db, repo_id, "site_list", upstream_id,
                                       _listing_evidence(source, row[0]), self.prov)

    # -- first divergence and last sync ----------------------------------------------------------

    def _divergence(self, repo_id: int) -> None:
        """Where a derivative started (first divergence: its oldest own commit's upstream parent)
        and the newest upstream commit it holds (last sync: the merge base), with ahead/behind.

        A fork costs one compare request (conditional); a copy that shares the upstream's root
        commit, which GitHub will not compare across networks, is placed through its own history
        against the upstream's commit list (docs/harvest.md). A restarted history has no common
        commit: both stay unknown.
        """
        upstream_id = getattr(self, "upstream_id", None)
        if upstream_id is None or repo_id == upstream_id:
            return
        repo = self.db["repos"].get(repo_id)
        if repo["fork"] and "forks" in self.resources:
            self._divergence_of_fork(upstream_id, repo)
        elif "commits" in self.resources and repo["root_commit_sha"] and repo["root_commit_sha"] == self._upstream_root():
            self._divergence_of_copy(upstream_id, repo)

    def _compare(self, repo_id: int, path: str) -> dict | None:
        """A compare answer's first page (oldest commits first), None when unchanged or impossible."""
        state = write.sync_state(self.db, repo_id, "compare")
        try:
            page = self.client.get_json(path, {"per_page": COMPARE_PAGE}, etag=None if self.full else state["etag"])
        except (NotFound, Gone) as exc:  # no common history (or the branch is gone)
            self.result.skipped.append(f"compare {path}: {exc.github_message}")
            return None
        if page.not_modified:
            return None
        body = page.body or {}
        body["_etag"] = page.etag
        return body

    def _divergence_of_fork(self, upstream_id: int, fork: dict) -> None:
        upstream = self.db["repos"].get(upstream_id)
        branches = (_branch(upstream), _branch(fork))
        if not all(map(is_branch, branches)):  # they become the compare path
            self.result.skipped.append(f"compare {fork['full_name']}: branch refused: {shown(branches)}")
            return
        body = self._compare(fork["id"], f"/repos/{upstream['full_name']}/compare/{_branch(upstream)}..."
                                         f"{fork['owner']}:{_branch(fork)}")
        if body is None:
            return
        first = _oldest_parent(body.get("commits") or [])
        base = body.get("merge_base_commit") or {}
        self._save_divergence(fork["id"], upstream_id, "compare", body, first, base.get("sha"), _date(base),
                              body.get("ahead_by"), body.get("behind_by"))

    def _divergence_of_copy(self, upstream_id: int, copy: dict) -> None:
        upstream_commits = self._upstream_commits(upstream_id)
        state = write.sync_state(self.db, copy["id"], "history")
        stored = self.db.execute("SELECT merge_base_sha, ahead_by FROM repo_compare WHERE repo_id = ?",
                                 [copy["id"]]).fetchone()
        last_sync, etag = None, None
        page = next(self.client.list_pages(f"/repos/{copy['full_name']}/commits", {"per_page": 100},
                                           etag=None if self.full or not stored else state["etag"]))
        if page.not_modified:  # its history did not move: only how far behind it is may have
            last_sync = stored[0]
        else:
            etag = page.etag
            last_sync = next((c.get("sha") for c in page.items if isinstance(c, dict)
                              and c.get("sha") in upstream_commits), None) or self._newest_held(copy, upstream_commits)
        if last_sync is None:
            self.result.skipped.append(f"divergence {copy['full_name']}: it holds no upstream commit")
            return
        behind = _behind(upstream_commits, last_sync)
        if etag is not None or stored is None:
            # Every commit a copy has that is not an ancestor of its last sync is its own.
            body = self._compare(copy["id"], f"/repos/{copy['full_name']}/compare/{last_sync}...{_branch(copy)}")
            if body is not None:
                self._save_divergence(copy["id"], upstream_id, "history", body, _oldest_parent(body.get("commits") or []),
                                      last_sync, upstream_commits[last_sync][0], body.get("ahead_by"), behind)
        with write_transaction(self.db):
            self.db.execute("UPDATE repo_compare SET behind_by = ? WHERE repo_id = ?", [behind, copy["id"]])
            if etag is not None:
                write.save_sync_state(self.db, copy["id"], "history", self.prov.run_id, etag=etag, complete=1)

    def _newest_held(self, copy: dict, history: dict[str, tuple[str | None, list[str]]]) -> str | None:
        """The newest commit of the upstream's first-parent line that the copy holds, when its
        newest 100 commits hold none: a binary search, one `commits?sha=SHA&per_page=1` each
        (log2 of the upstream's length: 11 requests for 2,000 commits). Holding a commit means
        holding its ancestors, so the answers are ordered."""
        line, sha = [], max(history, key=lambda s: history[s][0] or "", default=None)
        while sha in history and len(line) <= len(history):
            line.append(sha)
            sha = history[sha][1][0] if history[sha][1] else None
        lo, hi = 0, len(line) - 1  # line[-1] is the root, which the copy shares
        while lo < hi:
            mid = (lo + hi) // 2
            self._check_reserve()
            try:
                next(self.client.list_pages(f"/repos/{copy['full_name']}/commits", {"sha": line[mid], "per_page": 1}))
                hi = mid
            except HarvestHTTPError as exc:
                if exc.status not in (404, 422):
                    raise
                lo = mid + 1
        return line[lo] if line else None

    def _save_divergence(self, repo_id: int, upstream_id: int, method: str, body: dict, first: str | None,
                         last_sync: str | None, last_sync_date: str | None, ahead: int | None,
                         behind: int | None) -> None:
        first_date = self._upstream_commit_date(upstream_id, repo_id, first) if first else None
        status = body.get("status") if method == "compare" else (
            "identical" if not ahead and not behind else "ahead" if not behind else "behind" if not ahead
            else "diverged")
        with write_transaction(self.db):
            self.db["repo_compare"].upsert({
                "repo_id": repo_id, "base_repo_id": upstream_id, "status": status, "method": method,
                "ahead_by": ahead, "behind_by": behind, "merge_base_sha": last_sync, "merge_base_date": last_sync_date,
                "first_divergence_sha": first, "first_divergence_date": first_date,
                "checked_at": self.prov.harvested_at, **self.prov.columns()}, pk="repo_id")
            write.save_sync_state(self.db, repo_id, "compare", self.prov.run_id, etag=body.get("_etag"), complete=1)

    def _upstream_commit_date(self, upstream_id: int, repo_id: int, sha: str) -> str | None:
        """An upstream commit's date: from the stored upstream history, from an earlier answer,
        else one request (`commits?sha=SHA&per_page=1`), once per derivative."""
        row = self.db.execute("SELECT committed_at FROM upstream_commits WHERE sha = ?", [sha]).fetchone() \
            or self.db.execute("SELECT first_divergence_date FROM repo_compare WHERE repo_id = ? AND "
                               "first_divergence_sha = ?", [repo_id, sha]).fetchone()
        if row and row[0]:
            return row[0]
        upstream = self.db["repos"].get(upstream_id)
        try:
            page = next(self.client.list_pages(f"/repos/{upstream['full_name']}/commits", {"sha": sha, "per_page": 1}))
        except (NotFound, HarvestHTTPError):
            return None
        return _date(page.items[0]) if page.items else None

    def _upstream_commits(self, upstream_id: int) -> dict[str, tuple[str | None, list[str]]]:
        """The upstream's default-branch history, sha -> (date, parents), kept in upstream_commits.

        Read in full once; later, newest first until a commit already stored, the first page
        asked conditionally: an upstream that did not move costs nothing. At most once per run.
        """
        cached = getattr(self, "_upstream_history", None)
        if cached is not None:
            return cached
        upstream = self.db["repos"].get(upstream_id)
        state = write.sync_state(self.db, upstream_id, "upstream_commits")
        complete = bool(state["complete"]) and not self.full
        known = {row[0] for row in self.db.execute("SELECT sha FROM upstream_commits WHERE repo_id = ?",
                                                   [upstream_id])} if complete else set()
        first_etag = state["etag"]
        for index, page in enumerate(self.client.list_pages(f"/repos/{upstream['full_name']}/commits",
                                                            {"per_page": 100}, etag=state["etag"] if complete else None)):
            if page.not_modified:
                break
            first_etag = page.etag if index == 0 else first_etag
            shas = [c["sha"] for c in page.items if isinstance(c, dict) and isinstance(c.get("sha"), str)]
            with write_transaction(self.db):
                if index == 0:  # a read cut short must start again from the top, not stop at these
                    write.save_sync_state(self.db, upstream_id, "upstream_commits", self.prov.run_id, etag=None,
                                          complete=0)
                for c in page.items:
                    if isinstance(c, dict) and isinstance(c.get("sha"), str):
                        self.db["upstream_commits"].upsert({
                            "sha": c["sha"], "repo_id": upstream_id, "committed_at": _date(c),
                            "parents": " ".join(p.get("sha", "") for p in c.get("parents") or [])}, pk="sha")
            if known.intersection(shas):  # older pages were read before: commits never change
                break
            self._check_reserve()
        with write_transaction(self.db):
            write.save_sync_state(self.db, upstream_id, "upstream_commits", self.prov.run_id, etag=first_etag,
                                  complete=1)
        self._upstream_history = {sha: (date, (parents or "").split()) for sha, date, parents in self.db.execute(
            "SELECT sha, committed_at, parents FROM upstream_commits WHERE repo_id = ?", [upstream_id])}
        return self._upstream_history


def _listing_evidence(source: str, region: str | None) -> str:
    return f"listed in {source}" + (f": {region}" if region else "")


def _decode(body: Any) -> str | None:
    """The text of a contents-API file object (base64), None when it is not a file."""
    if not isinstance(body, dict) or body.get("type", "file") != "file" or not isinstance(body.get("content"), str):
        return None
    try:
        return base64.b64decode(body["content"]).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


def _branch(repo: dict) -> str:
    return repo["default_branch"] or "main"


def _date(commit: dict) -> str | None:
    # git's date, which a committer may set to anything: kept when it parses, never refused as implausible
    return write.utc_or_none(((commit.get("commit") or {}).get("committer") or {}).get("date"), plausible=False)


def _oldest_parent(commits: list[dict]) -> str | None:
    """The first divergence: the parent of the oldest own commit that is not itself own.

    A compare lists the commits only the head has, oldest first (page 1 holds the oldest)."""
    own = {c.get("sha") for c in commits if isinstance(c, dict)}
    for commit in commits:
        parents = [p.get("sha") for p in (commit.get("parents") or []) if isinstance(p, dict)]
        outside = [p for p in parents if p not in own]
        if outside:
            return outside[0]
    return None


def _behind(history: dict[str, tuple[str | None, list[str]]], last_sync: str) -> int:
    """Upstream commits that are not ancestors of the last sync."""
    seen, stack = set(), [last_sync]
    while stack:
        sha = stack.pop()
        if sha in seen or sha not in history:
            continue
        seen.add(sha)
        stack.extend(history[sha][1])
    return len(history) - len(seen)
