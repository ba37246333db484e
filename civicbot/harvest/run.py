"""What to fetch, and in which order: one harvest run of a project family into the store.

For each repo of the family (the upstream, the listed derivatives, and forks found on the
way) every configured resource is read incrementally and written page by page, each page in
one transaction together with its sync state, so a run killed at any moment resumes where it
stopped and re-running never duplicates a row (docs/harvest.md).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from civicbot import __version__
from civicbot.config import Config
from civicbot.names import full_name_problem
from civicbot.store import write
from civicbot.store.runs import settle_abandoned_runs
from civicbot.store.schema import utc_text
from civicbot.store.transaction import write_transaction

from .batch import BatchDetection
from .client import (
    GitHubClient,
    Gone,
    HarvestHTTPError,
    NotFound,
    RateLimited,
    TakenDown,
    TokenRefused,
    TransientError,
    Unanswered,
)
from .discovery import Discovery, _Target
from .profiles import Profiles
from .resources import ITEM_ERRORS, REPO_STATES, Resources

# Exit statuses of `civicbot harvest` (documented in docs/harvest.md).
EXIT_COMPLETE = 0
EXIT_FAILED = 1  # an unexpected error
EXIT_SETUP = 2  # bad configuration, no usable token, or base_url unreachable: fix, then run again
EXIT_PARTIAL = 3  # some repos failed this run; the others were harvested
EXIT_BUSY = 75  # another civicbot process holds the store (civicbot.store.lock)
EXIT_RATE_LIMITED = 75  # quota (or its reserve) ran out: state saved, run again after the reset
EXIT_TOKEN_REFUSED = 77  # GitHub answered 401 (like EX_NOPERM): fix the token, then run again
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: stopped between pages, state saved, run again to resume

Progress = Callable[[dict], None]


@dataclass
class HarvestResult:
    run_id: int
    outcome: str
    requests_made: int = 0
    quota_used: int | None = None
    graphql_requests: int = 0  # batch change detection (docs/harvest.md), apart from the REST requests
    graphql_points: int = 0
    unchanged: int = 0  # repos GraphQL vouched for: no REST request this run
    batch_notes: list[str] = field(default_factory=list)  # why batch detection sent repos to REST
    items_written: int = 0
    repos: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # full_name -> reason
    skipped: list[str] = field(default_factory=list)  # payload items skipped, with reasons
    error: str | None = None

    setup_error: bool = False  # the run cannot succeed until the user fixes something (token, base_url)
    token_refused: bool = False  # GitHub answered 401: the run stopped at once
    quota_reset: int | None = None  # epoch of the quota's reset, when the run stopped on it

    @property
    def exit_code(self) -> int:
        if self.setup_error:
            return EXIT_SETUP
        if self.token_refused:
            return EXIT_TOKEN_REFUSED
        return {"complete": EXIT_COMPLETE, "partial": EXIT_PARTIAL, "rate_limited": EXIT_RATE_LIMITED,
                "interrupted": EXIT_INTERRUPTED}.get(self.outcome, EXIT_FAILED)


class StopHarvest(Exception):
    """The quota reserve is reached: stop cleanly, state is saved."""

    def __init__(self, message: str, *, reset: int | None = None, needs_token: bool = False):
        super().__init__(message)
        self.reset, self.needs_token = reset, needs_token


class HarvestInterrupted(StopHarvest):
    """The caller's stop flag was set (SIGTERM/SIGINT): stop between pages, state saved."""


class Unreachable(Exception):
    """Not one HTTP answer came back: base_url is wrong, or the network or a proxy is down."""


class Harvester(Discovery, Resources, Profiles):
    def __init__(self, config: Config, db: sqlite_utils.Database, client: GitHubClient, *,
                 full: bool = False, only: list[str] | None = None, progress: Progress | None = None,
                 stop: threading.Event | None = None):
        self.config = config
        self.stop = stop  # checked between pages (where the reserve is): set it to end the run cleanly
        self.db = db
        self.client = client
        self.full = full
        self.only = {name.lower() for name in only} if only else None
        self.progress = progress or (lambda event: None)
        self.resources = set(config.harvest.resources)
        self.review_budget = config.harvest.review_budget  # requests left this run for /pulls/{n}/reviews
        patterns = [re.compile(p, re.IGNORECASE) for p in config.bots.patterns]
        logins = {x.lower() for x in config.bots.logins}
        self.bot_rule = lambda login: ("config login" if login.lower() in logins
                                       else "config pattern" if any(p.search(login) for p in patterns) else None)
        self.result: HarvestResult | None = None
        self.batch = BatchDetection(self)
        self.upstream_moved = False  # the upstream's REST pass saw a push

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> HarvestResult:
        settle_abandoned_runs(self.db)  # a killed run's row is never left `running`
        run_id = write.start_run(self.db, config_name=self.config.name, api_url=self.config.github.base_url,
                                 civicbot_version=__version__, pid=os.getpid())
        self.result = result = HarvestResult(run_id=run_id, outcome="running")
        self.prov = write.Provenance(run_id, utc_text())
        start_requests, start_quota = self.client.requests_made, self.client.quota_used
        start_graphql = self.client.graphql_requests, self.client.graphql_points
        queue = [_Target(self.config.upstream, 0, method="upstream", evidence="the configured upstream")]
        queue += [_Target(d.repo, 0) for d in self.config.discovery.listed]
        seen: set[str] = set()
        searched = False
        try:
            while queue or not searched:
                if not queue:  # the fork tree is done: look for copies that share the upstream's history
                    searched = True
                    queue = self._discover_shared_roots(seen)
                    continue
                target = queue.pop(0)
                if target.full_name.lower() in seen:
                    continue
                seen.add(target.full_name.lower())
                if self.only is not None and target.full_name.lower() not in self.only:
                    continue
                self.progress({"kind": "repo", "repo": target.full_name, "done": len(seen) - 1,
                               "queued": len(queue), "quota": self.client.quota.remaining})
                try:
                    forks = self.harvest_repo(target, queue)
                except (TokenRefused, RateLimited):
                    raise  # the run's, not the repo's: no other repo could do better
                except HarvestHTTPError as exc:  # anything else GitHub answered fails this repo only
                    if isinstance(exc, Unanswered) and self.client.answers == 0:
                        raise Unreachable(str(exc)) from None
                    result.failed[target.full_name] = str(exc)
                    continue
                result.repos += 1
                for fork in forks:
                    if fork.full_name.lower() not in seen:
                        queue.append(fork)
            if "profiles" in self.resources:  # the people the repos brought
                self._profiles()
            result.outcome = "partial" if result.failed else "complete"
        except HarvestInterrupted as exc:
            result.outcome, result.error = "interrupted", str(exc)
        except StopHarvest as exc:
            result.outcome, result.error, result.quota_reset = "rate_limited", str(exc), exc.reset
            result.setup_error = exc.needs_token
        except RateLimited as exc:
            result.outcome, result.error, result.quota_reset = "rate_limited", str(exc), exc.reset
        except TokenRefused as exc:
            result.outcome, result.error, result.token_refused = "failed", str(exc), True
        except Unreachable as exc:
            result.outcome, result.setup_error = "failed", True
            result.error = (f"{self.config.github.base_url} is unreachable ({exc}); check github.base_url, "
                            "the network and any proxy (`civicbot doctor -c ...` checks them)")
        except KeyboardInterrupt:
            result.outcome, result.error = "interrupted", "interrupted by the user"
            raise
        except BaseException as exc:
            result.outcome, result.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            result.requests_made = self.client.requests_made - start_requests
            result.quota_used = self.client.quota_used - start_quota
            result.graphql_requests = self.client.graphql_requests - start_graphql[0]
            result.graphql_points = self.client.graphql_points - start_graphql[1]
            result.unchanged = len(self.batch.skipped_ids)
            error = result.error or ("; ".join(f"{k}: {v}" for k, v in result.failed.items()) or None)
            quota, points = self.client.quota, self.client.graphql_quota
            write.finish_run(self.db, run_id, outcome=result.outcome, requests_made=result.requests_made,
                             quota_used=result.quota_used, items_written=result.items_written, error=error,
                             quota_left=quota.remaining, quota_reset_at=_utc(quota.reset),
                             graphql_requests=result.graphql_requests, graphql_points=result.graphql_points,
                             graphql_left=points.remaining, graphql_reset_at=_utc(points.reset))
        return result

    def _check_reserve(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise HarvestInterrupted("stopped on request between pages; the next run resumes here")
        if self.client.reserve_reached:
            raise reserve_reached(self.config, self.client)

    # -- one repo ----------------------------------------------------------------------------

    def harvest_repo(self, target: _Target, queue: list[_Target] = ()) -> list[_Target]:
        known = self._known_id(target)
        upcoming = [self._known_id(t) for t in queue[:self.batch.settings.batch_size]]  # asked in the same batch
        if self.batch.unchanged(known, upcoming):
            return self._unchanged_repo(known, target)
        pushed_before = self._pushed_at(known)
        repo_id, repo_changed = self._repo(target)
        if repo_id is None:
            self._listed_repo_missing(target)
            return []
        if target.method == "upstream":
            # Its branch moved (a push): a skipped fork's compare with it may have changed.
            self.upstream_id, self.upstream_moved = repo_id, self._pushed_at(repo_id) != pushed_before
        parent_id = target.parent_id if target.method != "listed" else getattr(self, "upstream_id", None)
        with write_transaction(self.db):
            write.record_discovery(self.db, repo_id, target.method, parent_id, target.evidence, self.prov)
        full_name = self.db["repos"].get(repo_id)["full_name"]
        if full_name_problem(full_name):  # stored by an older civicbot: never let it into a path
            raise TransientError(f"/repositories/{repo_id}", 0, f"stored name refused: {full_name_problem(full_name)}")
        path = f"/repos/{full_name}"
        readers = self._readers()  # forks are read after the repo's own lists, below
        for resource, state in ((r, s) for r, states in REPO_STATES.items() for s in states if r != "forks"):
            if resource not in self.resources:
                continue
            if (state.push_only and not repo_changed and not self.full
                    and write.sync_state(self.db, repo_id, state.name)["complete"]):
                # commits (their authors, the code's languages) change only with a push, which changes the repo
                continue
            self._check_reserve()
            try:
                readers[state.name](repo_id, path)
            except TakenDown:
                self._lost(repo_id, "taken_down", _Target(full_name, 0))
                return []
            except NotFound as exc:
                # Gone only when the repo itself answers 404 (deleted while we read it); a stray 404
                # inside a list, say on page 2, fails the repo for this run and the next retries.
                try:
                    self.client.get_json(f"/repositories/{repo_id}")
                except (NotFound, Gone) as lost:
                    self._lost(repo_id, "taken_down" if isinstance(lost, TakenDown) else "gone", _Target(full_name, 0))
                    return []
                raise TransientError(exc.path, 404, f"{exc.github_message} in {resource}, though the repo "
                                                    "answers: retried next run") from None
            except Gone as exc:  # 410: e.g. issues disabled, as on most forks
                self.result.skipped.append(f"{full_name} {resource}: {exc.github_message}")
                with write_transaction(self.db):
                    write.save_sync_state(self.db, repo_id, resource, self.prov.run_id, complete=1)
        with write_transaction(self.db):
            write.link_items(self.db, repo_id)
        self._shared_root_evidence(repo_id, target)
        self._site_listing_evidence(repo_id, target)
        self._divergence(repo_id)
        forks: list[_Target] = []
        if "forks" in self.resources:
            forks = self._forks(repo_id, path, target.depth)
        if target.method == "upstream":  # after the forks: a listed fork is found as a fork first
            forks += self._site_list_targets(repo_id)
        self.batch.passed(repo_id)
        return forks

    def _pushed_at(self, repo_id: int | None) -> str | None:
        row = self.db.execute("SELECT pushed_at FROM repos WHERE id = ?", [repo_id]).fetchone() if repo_id else None
        return row[0] if row else None

    def _known_id(self, target: _Target) -> int | None:
        """The repo's id when it was stored before: by id once known, so a renamed repo is still found."""
        if target.repo_id:
            return target.repo_id
        known = self.db.execute("SELECT repo_id FROM repo_names WHERE full_name = ? ORDER BY last_seen_at DESC",
                                [target.full_name]).fetchone()
        return known[0] if known else None

    def _unchanged_repo(self, repo_id: int, target: _Target) -> list[_Target]:
        """A repo GraphQL vouched for: no REST request, except what its upstream's change asks
        (a fork's compare with a moved upstream); its known forks are visited (asked in batches)."""
        if target.method == "upstream":
            self.upstream_id = repo_id
        parent_id = target.parent_id if target.method != "listed" else getattr(self, "upstream_id", None)
        with write_transaction(self.db):
            write.record_discovery(self.db, repo_id, target.method, parent_id, target.evidence, self.prov)
        self._shared_root_evidence(repo_id, target)
        self._site_listing_evidence(repo_id, target)
        if self.upstream_moved:
            self._check_reserve()
            self._divergence(repo_id)
        forks: list[_Target] = []
        if "forks" in self.resources and self.config.discovery.forks.enabled:
            forks = self._fork_targets(repo_id, f"/repos/{self.db['repos'].get(repo_id)['full_name']}",
                                       target.depth, [], set())
        if target.method == "upstream":
            forks += self._site_list_targets(repo_id)
        return forks

    def _repo(self, target: _Target) -> tuple[int | None, bool]:
        """Fetch the repo object: (id, whether it changed); id None when GitHub no longer serves it."""
        repo_id = self._known_id(target)
        # A store from before batch detection lacks the GraphQL id: the repo object (asked whole,
        # once, since a 304 has no body) brings it.
        refill = bool(repo_id) and self.batch.on and self.db.execute(
            "SELECT node_id IS NULL FROM repos WHERE id = ?", [repo_id]).fetchone() == (1,)
        if (target.unchanged and repo_id and not self.full and not refill
                and write.sync_state(self.db, repo_id, "repo")["complete"]):
            # A fork's full object embeds its parent, so it changes whenever the upstream does;
            # the fork list already told us the fork itself did not.
            return repo_id, False
        # By id once known: a renamed repo is then still found, and keeps its rows.
        path = f"/repositories/{repo_id}" if repo_id else f"/repos/{target.full_name}"
        state = write.sync_state(self.db, repo_id, "repo") if repo_id else {"etag": None}
        self._check_reserve()
        try:
            page = self.client.get_json(path, etag=None if self.full or refill else state["etag"])
        except NotFound:
            return self._lost(repo_id, "gone", target), False
        except (TakenDown, Gone) as exc:
            return self._lost(repo_id, "taken_down" if isinstance(exc, TakenDown) else "gone", target), False
        if page.not_modified:
            return repo_id, False
        if page.body.get("private") is True or page.body.get("visibility") in ("private", "internal"):
            # civicbot harvests the public record only: a token that can see a private repo
            # must not carry it into a store that gets published.
            self.result.skipped.append(f"{target.full_name}: private repo, not harvested")
            return None, False
        try:
            with write_transaction(self.db):
                repo_id = write.upsert_repo(self.db, page.body, self.prov, self.bot_rule)
                if page.body["full_name"].lower() != target.full_name.lower() and not target.repo_id:
                    write.record_former_name(self.db, repo_id, target.full_name, self.prov)
                write.save_sync_state(self.db, repo_id, "repo", self.prov.run_id, etag=page.etag,
                                      last_modified=page.last_modified, complete=1)
        except ITEM_ERRORS as exc:  # e.g. renamed to "../x": the repo fails this run, nothing stored
            raise TransientError(path, 0, f"repo object refused: {exc}") from None
        self.result.items_written += 1
        return repo_id, True

    def _lost(self, repo_id: int | None, status: str, target: _Target) -> None:
        if repo_id is not None:
            with write_transaction(self.db):
                write.mark_repo(self.db, repo_id, status, self.prov.harvested_at)
        self.result.skipped.append(f"{target.full_name}: {status}")
        self.progress({"kind": "lost", "repo": target.full_name, "status": status})
        return None

    def _forks(self, repo_id: int, path: str, depth: int) -> list[_Target]:
        discovery = self.config.discovery.forks
        if not discovery.enabled:
            return []

        changed: set[int] = set()

        def store_fork(db, parent_id, fork, prov, rule):
            if isinstance(fork, dict) and fork.get("private") is True:
                return  # the public record only
            before = db.execute("SELECT full_name, updated_at, pushed_at FROM repos WHERE id = ?",
                                [fork.get("id")]).fetchone()
            fork_id = write.upsert_repo(db, fork, prov, rule, minimal=True)
            write.set_fork_parent(db, fork_id, parent_id)
            if before != (fork.get("full_name"), write.utc(fork.get("updated_at")), write.utc(fork.get("pushed_at"))):
                changed.add(fork_id)

        listed = self._whole_list(repo_id, path, "forks", "forks", store_fork)
        return self._fork_targets(repo_id, path, depth, listed, changed)

    def _fork_targets(self, repo_id: int, path: str, depth: int, listed: list, changed: set[int]) -> list[_Target]:
        discovery = self.config.discovery.forks
        # Forks seen before are visited again even when GitHub stopped listing them (or the
        # list was unchanged): that is how a deleted fork gets its status.
        known = [{"full_name": r["full_name"], "id": r["id"]} for r in self.db.query(
            "SELECT id, full_name FROM repos WHERE parent_id = ? AND status IN ('active', 'renamed') ORDER BY id",
            [repo_id])]
        max_depth = discovery.max_depth if discovery.recursive else 1
        if depth + 1 > max_depth:
            return []
        listed_ids = {f.get("id") for f in listed if isinstance(f, dict)}
        targets, seen = [], set()
        for fork in [*listed, *known]:
            # A refused name was logged by store_fork's write; it is never asked.
            if isinstance(fork, dict) and not full_name_problem(fork.get("full_name")) and fork.get("id") not in seen:
                seen.add(fork.get("id"))
                # Unchanged: listed as before, or the whole list unchanged (304: nothing listed).
                unchanged = fork["id"] not in changed and (fork["id"] in listed_ids or not listed)
                targets.append(_Target(fork["full_name"], depth + 1, fork.get("id"), unchanged, method="fork",
                                       parent_id=repo_id, evidence=f"fork of {path.removeprefix('/repos/')}"))
        return targets


def _utc(epoch: int | None) -> str | None:
    return utc_text(datetime.fromtimestamp(epoch, timezone.utc)) if epoch else None


def reserve_reached(config: Config, client: GitHubClient) -> StopHarvest:
    """Why the harvest stops at the reserve, and whether waiting can ever help."""
    quota, reserve = client.quota, config.github.rate_limit_reserve
    if quota.limit is not None and quota.limit <= reserve:
        # GitHub's anonymous 60 an hour (or a small token's limit) never rises above the reserve.
        who = "without a token" if not client.has_token else "with this token"
        return StopHarvest(f"{who} GitHub allows {quota.limit} requests an hour, not more than the rate-limit "
                           f"reserve of {reserve}, so no harvest can run: {token_advice(config)}",
                           reset=quota.reset, needs_token=True)
    return StopHarvest(f"rate-limit reserve of {reserve} reached ({quota.remaining} requests left)",
                       reset=quota.reset)


def token_advice(config: Config) -> str:
    """How to give civicbot a token (read-only access to public repos is enough)."""
    sources = " or ".join(f"the environment variable {name}" for name in config.github.token_env)
    return (f"set {sources or 'github.token_env'} (or github.token_file) to a GitHub token; a fine-grained "
            "token with read-only access to public repositories is enough")


def harvest(config: Config, db: sqlite_utils.Database, client: GitHubClient, **options: Any) -> HarvestResult:
    """Harvest the family once (what `civicbot harvest` and the scheduler call)."""
    return Harvester(config, db, client, **options).run()
