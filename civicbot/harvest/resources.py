"""What the harvester reads of each repo: the `Resources` mixin of civicbot/harvest/run.py.

Three ways to read a list incrementally, chosen by what GitHub's endpoint allows (docs/harvest.md):
`_since_list` (oldest change first with `since`, cursor = newest change stored), `_newest_first_list`
(no `since`: read from the top down to the last run's cursor) and `_whole_list` (short lists, read
again only when their first page's ETag changed). Every page is written in one transaction with
its sync state, so a run killed at any moment resumes where it stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from civicbot.store import write
from civicbot.store.schema import is_plausible
from civicbot.store.transaction import write_transaction

from .client import Gone, HarvestHTTPError, NotFound, Page


@dataclass(frozen=True)
class SyncState:
    """One `sync_state` row a repo's REST pass reads towards and leaves behind."""

    name: str
    push_only: bool = False  # its list changes only with a push (which changes the repo object): read only then


# Configured resource -> its sync states, in reading order. Batch detection wants them all complete
# before skipping a repo, except reviews (a state only once a PR was read: checked apart).
REPO_STATES: dict[str, tuple[SyncState, ...]] = {
    "labels": (SyncState("labels"),), "issues": (SyncState("issues"),), "pulls": (SyncState("pulls"),),
    "comments": (SyncState("comments"),), "events": (SyncState("events"),),
    "review_comments": (SyncState("review_comments"),), "reviews": (SyncState("reviews"),),
    "contributors": (SyncState("contributors", push_only=True),),
    "commits": (SyncState("root_commit"), SyncState("commit_list", push_only=True)),
    "languages": (SyncState("languages", push_only=True),),
    "forks": (SyncState("forks"),),  # read after the repo's own lists (civicbot/harvest/run.py)
}

# How far before the newest stored commit date the commit list is read again (docs/harvest.md).
COMMIT_MARGIN = timedelta(days=7)
# What makes one item of a page unusable (logged and skipped; the rest of the page is kept).
ITEM_ERRORS = (write.PayloadError, sqlite3.IntegrityError, KeyError, TypeError, AttributeError)


class Resources:
    """Per-repo lists. Needs the harvester's db, client, prov, result, full, progress, bot_rule, _check_reserve."""

    def _readers(self) -> dict[str, Callable[[int, str], None]]:
        """The method that reads each list of REPO_STATES (forks apart), by its sync state."""
        return {"labels": self._labels, "issues": self._issues, "pulls": self._pulls, "comments": self._comments,
                "events": self._events, "review_comments": self._review_comments, "reviews": self._reviews,
                "contributors": self._contributors, "root_commit": self._root_commit, "commit_list": self._commits,
                "languages": self._languages}

    # -- lists -------------------------------------------------------------------------------

    def _write_page(self, repo_id: int, resource: str, page: Page, writer,
                    state: dict[str, Any] | Callable[[list], dict[str, Any]]) -> list:
        """Write a page's items and its sync state (or a function of the items written) at once."""
        accepted = []
        with write_transaction(self.db):
            for item in page.items or []:
                try:
                    with write_transaction(self.db):  # a savepoint: a bad item is skipped, the page stays
                        writer(self.db, repo_id, item, self.prov, self.bot_rule)
                    accepted.append(item)
                except ITEM_ERRORS as exc:
                    self.result.skipped.append(f"{resource} in repo {repo_id}: {exc}")
            write.save_sync_state(self.db, repo_id, resource, self.prov.run_id,
                                  **(state(accepted) if callable(state) else state))
        self.result.items_written += len(accepted)
        self.progress({"kind": "page", "resource": resource, "items": len(accepted), "quota": self.client.quota.remaining})
        return accepted

    def _stored_cursor(self, repo_id: int, resource: str, state: dict[str, Any]) -> str | None:
        """The cursor, or None when it is an implausible time (left by an older civicbot): read again."""
        cursor = None if self.full else state["cursor"]
        if cursor and write.is_timestamp(cursor) and not is_plausible(cursor):
            self.result.skipped.append(f"{resource} in repo {repo_id}: stored cursor {cursor[:40]} is implausible "
                                       "(more than a day ahead or before 2008); reading the list from the start")
            return None
        return cursor

    def _since_list(self, repo_id: int, path: str, resource: str, endpoint: str, params: dict, writer, *,
                    key: Callable[[Any], str | None] = lambda i: write.utc_or_none(i.get("updated_at")),
                    since_of: Callable[[str | None], str | None] = lambda cursor: cursor,
                    newest_first: bool = False) -> None:
        """A list read with `since` = since_of(cursor), the cursor being the newest `key` stored.

        Oldest change first (issues, comments), the cursor advances with every page. Newest first
        (commits), it moves only once the list is read to its end; meanwhile the next page's link
        is kept, and a run stopped midway resumes there (upserts make a page read twice harmless).
        The ETag is kept for the exact request the next run will send, so a refresh with no
        change answers 304 and costs nothing.
        """
        state = write.sync_state(self.db, repo_id, resource)
        cursor = self._stored_cursor(repo_id, resource, state)

        def request_for(at: str | None) -> dict:
            since = since_of(at)
            return {**params, **({"since": since} if since else {})}

        request = first_request = request_for(cursor)
        etag = state["etag"] if state["complete"] and not self.full and cursor == state["cursor"] else None
        where = f"{path}/{endpoint}"
        if newest_first and state["next_url"] and not state["complete"] and not self.full:
            where, _, query = state["next_url"].partition("?")  # resume a list read midway
            request, first_request = dict(parse_qsl(query)), None
        first_etag, changed, newest, page = None, False, cursor, None

        def advance(accepted: list) -> dict[str, Any]:
            # Only items written move the cursor: a refused one (say, updated in the year 9999)
            # would otherwise make every later run ask for changes after it, and see none.
            nonlocal cursor, newest
            newest = max(filter(None, [newest, *(key(i) for i in accepted)]), default=None)
            if newest_first:
                return {"cursor": state["cursor"] if not self.full else None, "etag": None, "complete": 0,
                        "next_url": self.client._relative(page.next_url) if page.next_url else None}
            cursor = newest
            return {"cursor": cursor, "etag": None, "complete": 0}

        for page in self.client.list_pages(where, request, etag=etag):
            if page.not_modified:
                return
            self._check_reserve()
            first_etag = first_etag or page.etag
            self._write_page(repo_id, resource, page, writer, advance)
            changed = True
        cursor = newest
        request = request_for(cursor)
        if request == first_request:  # the cursor did not move: this run's first ETag is the next run's
            with write_transaction(self.db):
                write.save_sync_state(self.db, repo_id, resource, self.prov.run_id, cursor=cursor,
                                      etag=first_etag, complete=1, next_url=None)
        elif changed or not state["complete"]:
            # One request to learn the ETag of the next run's request (only after a change).
            first = next(self.client.list_pages(f"{path}/{endpoint}", request))
            self._write_page(repo_id, resource, first, writer,
                             {"cursor": cursor, "etag": first.etag, "complete": 1, "next_url": None})

    def _issues(self, repo_id: int, path: str) -> None:
        self._since_list(repo_id, path, "issues", "issues",
                         {"state": "all", "sort": "updated", "direction": "asc"}, write.write_issue)

    def _comments(self, repo_id: int, path: str) -> None:
        self._since_list(repo_id, path, "comments", "issues/comments",
                         {"sort": "updated", "direction": "asc"}, write.write_comment)

    def _review_comments(self, repo_id: int, path: str) -> None:
        self._since_list(repo_id, path, "review_comments", "pulls/comments",
                         {"sort": "updated", "direction": "asc"}, write.write_review_comment)

    def _reviews(self, repo_id: int, path: str) -> None:
        """The reviews of each PR updated since the last pass, oldest first, within the run's budget.

        GitHub lists reviews only per PR, so this costs a request per changed PR: at most
        `harvest.review_budget` a run (`self.review_budget` counts down), the rest next run. The
        cursor is the last PR done, as `updated_at#number` (a tie on updated_at stays in order);
        a PR updated again later comes back after it. No PR changed: no request at all.
        """
        state = write.sync_state(self.db, repo_id, "reviews")
        cursor = None if self.full else state["cursor"]
        done_at, _, done_number = (cursor or "").partition("#")
        pending = self.db.execute(
            "SELECT number, updated_at FROM items WHERE repo_id = ? AND is_pull_request = 1 "
            "AND (updated_at > ? OR (updated_at = ? AND number > ?)) ORDER BY updated_at, number",
            [repo_id, done_at, done_at, int(done_number) if done_number.isdigit() else 0]).fetchall()
        for number, updated_at in pending:
            if self.review_budget <= 0:
                return
            done = {"cursor": f"{updated_at}#{number:010d}", "complete": 1}
            kept = {"cursor": state["cursor"], "complete": 0}
            try:
                pages = self.client.list_pages(f"{path}/pulls/{number}/reviews", {})
                while True:
                    self._check_reserve()
                    self.review_budget -= 1
                    page = next(pages)
                    last = page.next_url is None
                    self._write_page(repo_id, "reviews", page, write.write_review, done if last else kept)
                    if last:
                        break
                    if self.review_budget <= 0:
                        return  # this PR is read again, whole, next run (upserts make that harmless)
            except (NotFound, Gone) as exc:  # a PR GitHub removed (spam): nothing to read, move on
                self.result.skipped.append(f"reviews of PR {number} in repo {repo_id}: {exc}")
                with write_transaction(self.db):
                    write.save_sync_state(self.db, repo_id, "reviews", self.prov.run_id, **done)
            state["cursor"] = done["cursor"]

    def _newest_first_list(self, repo_id: int, path: str, resource: str, endpoint: str, params: dict,
                           writer, key: Callable[[dict], Any]) -> None:
        """A list read newest first, stopping at the last run's cursor (pulls have no `since`).

        The cursor moves only when the list has been read down to it, so an interrupted read is
        simply read again from the top next time (upserts make that harmless).
        """
        state = write.sync_state(self.db, repo_id, resource)
        cursor = self._stored_cursor(repo_id, resource, state)
        etag = None if self.full or cursor != state["cursor"] else state["etag"]
        newest, first_etag = None, None
        for index, page in enumerate(self.client.list_pages(f"{path}/{endpoint}", params, etag=etag)):
            if page.not_modified:
                return
            self._check_reserve()
            if index == 0:
                first_etag = page.etag
            keys = [key(i) for i in page.items if isinstance(i, dict) and key(i) is not None]
            fresh = [i for i in page.items if not isinstance(i, dict) or cursor is None or key(i) is None
                     or key(i) >= cursor]
            page.items = fresh
            accepted = self._write_page(repo_id, resource, page, writer,
                                        {"cursor": state["cursor"], "etag": state["etag"], "complete": 0})
            newest = max(filter(None, [newest, *(key(i) for i in accepted)]), default=None)  # refused ones move nothing
            if cursor is not None and len(fresh) < len(keys):
                break  # reached what the last run had already stored
        new_cursor = max(filter(lambda k: k is not None, [cursor, newest]), default=None)
        with write_transaction(self.db):
            write.save_sync_state(self.db, repo_id, resource, self.prov.run_id, cursor=new_cursor,
                                  etag=first_etag, complete=1)

    def _pulls(self, repo_id: int, path: str) -> None:
        def write_pull(db, rid: int, pull: dict, prov: write.Provenance, rule) -> int:
            try:
                return write.write_pull(db, rid, pull, prov, rule)
            except write.IssueSideMissing as missing:
                # Opened after the issues list was read: one request for its issue side (its
                # own id, comment count), which the next run's issues list would bring anyway.
                try:
                    issue = self.client.get_json(f"{path}/issues/{missing.number}").body
                except (NotFound, Gone) as exc:  # deleted or moved meanwhile: not the repo's fault
                    raise write.PayloadError(f"{missing}, and GitHub no longer serves it ({exc})") from None
                write.write_issue(db, rid, issue, prov, rule)
                return write.write_pull(db, rid, pull, prov, rule)

        self._newest_first_list(repo_id, path, "pulls", "pulls", {"state": "all", "sort": "updated", "direction": "desc"},
                                write_pull, lambda p: write.utc_or_none(p.get("updated_at")))

    def _events(self, repo_id: int, path: str) -> None:
        # Events never change once made: their id is the cursor. Stored as text, compared as text:
        # pad it so that string order is number order.
        self._newest_first_list(repo_id, path, "events", "issues/events", {}, write.write_event,
                                lambda e: f"{e['id']:020d}" if isinstance(e.get("id"), int) else None)

    def _whole_list(self, repo_id: int, path: str, resource: str, endpoint: str, writer) -> list[Any]:
        """A short list read whole when its first page changed (labels, contributors, forks)."""
        state = write.sync_state(self.db, repo_id, resource)
        items: list[Any] = []
        first_etag = None
        for index, page in enumerate(self.client.list_pages(f"{path}/{endpoint}", {},
                                                            etag=None if self.full else state["etag"])):
            if page.not_modified:
                return []
            self._check_reserve()
            first_etag = first_etag or page.etag
            items.extend(page.items)
            self._write_page(repo_id, resource, page, writer, {"etag": None, "complete": 0})
        with write_transaction(self.db):
            write.save_sync_state(self.db, repo_id, resource, self.prov.run_id, etag=first_etag, complete=1)
        return items

    def _labels(self, repo_id: int, path: str) -> None:
        self._whole_list(repo_id, path, "labels", "labels",
                         lambda db, rid, label, prov, rule: write.write_labels(db, rid, [label], prov))

    def _contributors(self, repo_id: int, path: str) -> None:
        self._whole_list(repo_id, path, "contributors", "contributors",
                         lambda db, rid, row, prov, rule: write.write_contributors(db, rid, [row], prov, rule))

    def _languages(self, repo_id: int, path: str) -> None:
        """Bytes of code per language: one object, asked again with its ETag (304: no quota)."""
        state = write.sync_state(self.db, repo_id, "languages")
        page = self.client.get_json(f"{path}/languages", etag=None if self.full else state["etag"])
        if page.not_modified:
            return
        with write_transaction(self.db):
            try:
                with write_transaction(self.db):
                    count = write.write_languages(self.db, repo_id, page.body, self.prov)
            except write.PayloadError as exc:
                self.result.skipped.append(str(exc))
                count = 0
            write.save_sync_state(self.db, repo_id, "languages", self.prov.run_id, etag=page.etag, complete=1)
        self.result.items_written += count

    def _root_commit(self, repo_id: int, path: str) -> None:
        """The repo's first commit (shared roots reveal copies): two requests, once per repo."""
        if write.sync_state(self.db, repo_id, "root_commit")["complete"] and not self.full:
            return
        try:
            commit = self.client.last_item(f"{path}/commits", {"per_page": 1})
        except HarvestHTTPError as exc:
            if exc.status != 409:  # 409: an empty repository has no commits
                raise
            commit = None
        with write_transaction(self.db):
            write.set_root_commit(self.db, repo_id, commit.get("sha") if isinstance(commit, dict) else None)
            write.save_sync_state(self.db, repo_id, "root_commit", self.prov.run_id, complete=1)

    def _commits(self, repo_id: int, path: str) -> None:
        """The default branch's commits, newest first, with `since` (docs/harvest.md: commits).

        `since` is the day of the newest stored commit date less COMMIT_MARGIN: a branch merged
        with a merge commit brings commits dated before the merge. A derivative starts from where
        its own commits can start (its first divergence, or a fork's creation, less the margin),
        which skips the upstream's commits it holds, already stored as the upstream's.
        """
        floor = self._own_commits_from(repo_id)

        def since_of(cursor: str | None) -> str | None:
            start = max(filter(None, [cursor, floor]), default=None)
            if start is None:
                return None
            return f"{(datetime.fromisoformat(start[:10]) - COMMIT_MARGIN).date().isoformat()}T00:00:00Z"

        # The branch named, not implied: the request says what it reads (and tells it apart in logs).
        branch = self.db.execute("SELECT default_branch FROM repos WHERE id = ?", [repo_id]).fetchone()[0]
        try:
            self._since_list(repo_id, path, "commit_list", "commits", {"sha": branch} if branch else {},
                             write.write_commit, key=write.committed_at, since_of=since_of, newest_first=True)
        except HarvestHTTPError as exc:
            if exc.status != 409:  # 409: an empty repository has no commits
                raise
            with write_transaction(self.db):
                write.save_sync_state(self.db, repo_id, "commit_list", self.prov.run_id, cursor=None, etag=None,
                                      complete=1, next_url=None)

    def _own_commits_from(self, repo_id: int) -> str | None:
        """The earliest date a derivative's own commits can bear: its first divergence when known
        (its oldest own commit's upstream parent), else a fork's creation; None for the upstream
        and for a copy not yet placed (its whole history is read)."""
        if repo_id == getattr(self, "upstream_id", None):
            return None
        row = self.db.execute("SELECT r.fork, r.created_at, c.first_divergence_date FROM repos r "
                              "LEFT JOIN repo_compare c ON c.repo_id = r.id WHERE r.id = ?", [repo_id]).fetchone()
        if row is None:
            return None
        fork, created_at, divergence = row
        return divergence or (created_at if fork else None)
