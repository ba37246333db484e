"""The harvest as a person (or the scheduler) sees it: progress, the closing summary, status."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from civicbot.config import Config, ConfigError, resolve_tokens
from civicbot.store import UTC_FORMAT, open_store
from civicbot.store.lock import StoreBusy, StoreLock
from civicbot.store.runs import end_job, start_job

from .client import GitHubClient, HarvestHTTPError, TokenRefused, Unanswered
from .run import EXIT_BUSY, EXIT_INTERRUPTED, EXIT_SETUP, EXIT_TOKEN_REFUSED, HarvestResult, harvest, token_advice


def run_harvest(config: Config, *, repos: list[str] | None = None, full: bool = False, quiet: bool = False,
                json_log: bool = False) -> int:
    """Run one harvest with the chosen display; returns the exit status (docs/harvest.md)."""
    console = Console(stderr=True)
    say = lambda text: console.print(f"civicbot: {text}", markup=False, soft_wrap=True)  # noqa: E731
    try:
        tokens = resolve_tokens(config)
    except ConfigError as exc:
        say(str(exc))
        return EXIT_SETUP
    client = GitHubClient(config, tokens)
    database = Path(config.database.path)
    if not database.exists():
        # Before anything is created: a first run that cannot work leaves no empty database.
        if console.is_terminal and not quiet:
            with console.status(f"checking {config.github.base_url} ..."):
                problem = preflight(config, client)
        else:
            problem = preflight(config, client)
        if problem:
            message, status = problem
            say(message)
            return status
    if not tokens and not quiet:
        say(f"no token found: harvesting unauthenticated, with GitHub's 60 requests an hour ({token_advice(config)})")
    try:
        lock = StoreLock(database, "harvest").acquire()
    except StoreBusy as exc:
        say(str(exc))
        return EXIT_BUSY
    try:
        db = open_store(database)
        with _stop_on_signals(console, quiet or json_log) as stop:
            job_id = start_job(db, "harvest", started_by="command")
            result = _run(config, db, client, console, stop, repos=repos, full=full, quiet=quiet, json_log=json_log)
            end_job(db, job_id, result.outcome, result.exit_code, result.error,
                    {"run_id": result.run_id, "repos": result.repos, "requests": result.requests_made,
                     "quota_used": result.quota_used, "items_written": result.items_written,
                     "quota_left": client.quota.remaining, "quota_reset": client.quota.reset, "failed": result.failed})
    except KeyboardInterrupt:  # a second Ctrl-C: stopped mid-page; the page's transaction was rolled back
        say(INTERRUPTED)
        return EXIT_INTERRUPTED
    finally:
        lock.release()
    _summary(config, result, client, console, json_log)
    return result.exit_code


INTERRUPTED = "interrupted: nothing lost; run the same command again to resume"


def preflight(config: Config, client: GitHubClient) -> tuple[str, int] | None:
    """What stops any harvest from working (base_url unreachable, the token refused, a quota below
    the reserve), with the exit status to give; None when nothing does.

    One GET /rate_limit, which costs no quota (GitHub Enterprise without rate limits answers 404).
    """
    try:
        page = client.get_json("/rate_limit")
    except Unanswered as exc:
        if client.answers == 0:
            return (f"{config.github.base_url} is unreachable ({exc.github_message}); check github.base_url, "
                    "the network and any proxy (`civicbot doctor -c ...` checks them)"), EXIT_SETUP
        return None
    except TokenRefused as exc:
        return exc.github_message, EXIT_TOKEN_REFUSED
    except HarvestHTTPError:
        return None  # not served here (no rate limit): the harvest will say more
    core = ((page.body or {}).get("resources") or {}).get("core") or (page.body or {}).get("rate") or {}
    limit = core.get("limit")
    if isinstance(limit, int) and limit <= config.github.rate_limit_reserve:
        who = "without a token" if not client.has_token else "with this token"
        return (f"{who} GitHub allows {limit} requests an hour, not more than the rate-limit reserve of "
                f"{config.github.rate_limit_reserve}, so no harvest can run: {token_advice(config)}"), EXIT_SETUP
    return None


@contextmanager
def _stop_on_signals(console: Console, quiet: bool) -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the harvest's stop flag (it ends after the current page, state saved);
    a second SIGINT stops at once (KeyboardInterrupt). Handlers are restored afterwards."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        if not quiet:
            console.print("civicbot: stopping after the current page (press Ctrl-C again to stop at once)",
                          markup=False)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run(config: Config, db, client: GitHubClient, console: Console, stop: threading.Event, *,
         repos: list[str] | None, full: bool, quiet: bool, json_log: bool) -> HarvestResult:
    options: dict[str, Any] = {"full": full, "only": repos, "stop": stop}
    if json_log:
        def progress(event: dict) -> None:
            print(json.dumps(event, ensure_ascii=False), flush=True)
        return harvest(config, db, client, progress=progress, **options)
    if quiet or not console.is_terminal:
        return harvest(config, db, client, **options)
    columns = (SpinnerColumn(), TextColumn("[bold]harvest[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("repos  {task.fields[requests]} requests  quota left {task.fields[quota]}  "
                          "{task.fields[repo]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("harvest", total=None, requests=0, quota="?", repo="")

        def progress(event: dict) -> None:
            fields = {"requests": client.requests_made,
                      "quota": client.quota.remaining if client.quota.remaining is not None else "?"}
            if event["kind"] == "repo":
                fields["repo"] = event["repo"]
                bar.update(task, completed=event["done"], total=event["done"] + event["queued"] + 1, **fields)
            else:
                bar.update(task, **fields)

        result = harvest(config, db, client, progress=progress, **options)
        if result.outcome in ("complete", "partial"):  # an interrupted run keeps what was still queued
            bar.update(task, completed=result.repos + len(result.failed), total=result.repos + len(result.failed))
    return result


def _summary(config: Config, result: HarvestResult, client: GitHubClient, console: Console, json_log: bool) -> None:
    if json_log:
        print(json.dumps({"kind": "summary", "run_id": result.run_id, "outcome": result.outcome,
                          "repos": result.repos, "requests": result.requests_made, "quota_used": result.quota_used,
                          "graphql_requests": result.graphql_requests, "graphql_points": result.graphql_points,
                          "unchanged": result.unchanged, "graphql_left": client.graphql_quota.remaining,
                          "items_written": result.items_written, "failed": result.failed,
                          "skipped": len(result.skipped), "quota_left": client.quota.remaining,
                          "error": result.error, "exit_code": result.exit_code}, ensure_ascii=False), flush=True)
        return
    quota = client.quota.remaining if client.quota.remaining is not None else "unknown"
    graphql = (f" (GraphQL: {result.graphql_requests} requests, {result.graphql_points} points, "
               f"{result.unchanged} repos unchanged)" if result.graphql_requests else "")
    console.print(f"harvest run {result.run_id}: {result.outcome} - {result.repos} repos, {result.requests_made} "
                  f"requests{graphql}, {result.quota_used} quota used, {result.items_written} rows written, "
                  f"quota left {quota} -> {Path(config.database.path)}", markup=False, soft_wrap=True)
    for name, reason in result.failed.items():
        console.print(f"  failed: {name}: {reason}", markup=False, soft_wrap=True)
    for line in result.skipped[:20]:
        console.print(f"  skipped: {line}", markup=False, soft_wrap=True)
    for line in result.batch_notes[:5]:
        console.print(f"  {line}", markup=False, soft_wrap=True)
    if len(result.skipped) > 20:
        console.print(f"  ... and {len(result.skipped) - 20} more skipped", markup=False)
    if result.outcome == "interrupted":
        console.print(f"civicbot: {INTERRUPTED}", markup=False, soft_wrap=True)
    elif result.setup_error or result.token_refused:
        console.print(f"civicbot: {result.error}", markup=False, soft_wrap=True)
    elif result.outcome == "rate_limited":
        when = shown_time(result.quota_reset, config.zone) if result.quota_reset else "the quota's reset"
        console.print(f"  stopped: {result.error}. Run the same command again after {when}; the harvest resumes "
                      "where it stopped.", markup=False, soft_wrap=True)


def shown_time(value: int | float | str | None, zone) -> str:
    """An epoch, a stored UTC timestamp or an ISO time, shown in the project's time zone
    (`2026-12-06 19:40:00 JST`); any other text is shown as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            moment = datetime.strptime(value, UTC_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value  # e.g. "after harvest"
            if moment.tzinfo is None:
                return value
    else:
        moment = datetime.fromtimestamp(value, timezone.utc)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def show_status(config: Config, *, as_json: bool = False) -> int:
    path = Path(config.database.path)
    if not path.exists():
        print(f"civicbot: no database yet at {path}; run `civicbot harvest -c ...` first", file=sys.stderr)
        return 1
    db = open_store(path)
    runs = list(db.query("SELECT id, started_at, ended_at, outcome, requests_made, quota_used, graphql_requests, "
                         "graphql_points, items_written, error "
                         "FROM harvest_runs ORDER BY id DESC LIMIT 5"))
    repos = list(db.query("""SELECT r.full_name, r.status, COUNT(s.resource) AS resources,
                             SUM(s.complete) AS complete, MAX(s.updated_at) AS synced_at
                             FROM repos r LEFT JOIN sync_state s ON s.repo_id = r.id
                             GROUP BY r.id ORDER BY r.full_name"""))
    jobs, heartbeat, quota = _daemon_status(config, db)
    if as_json:
        print(json.dumps({"runs": runs, "repos": repos, "jobs": jobs, "heartbeat": heartbeat, "quota": quota},
                         ensure_ascii=False, indent=2))
        return 0
    # Without a terminal (a pipe, cron's mail) rich would fit 80 columns and cut timestamps short.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    zone = config.zone
    when = lambda value: shown_time(value, zone)  # noqa: E731

    table = Table(title="harvest runs / 収集の実行")
    for column in ("run", "started", "ended", "outcome", "requests", "quota", "rows", "error"):
        table.add_column(column, no_wrap=column in ("started", "ended"))
    for run in runs:
        table.add_row(str(run["id"]), when(run["started_at"]), when(run["ended_at"]), run["outcome"],
                      *(str(run[k]) if run[k] is not None else "" for k in ("requests_made", "quota_used",
                                                                             "items_written", "error")))
    console.print(table)
    table = Table(title="repos / リポジトリ")
    for column in ("repo", "status", "resources synced", "last sync"):
        table.add_column(column, no_wrap=column == "last sync")
    for repo in repos:
        table.add_row(repo["full_name"], repo["status"], f"{repo['complete'] or 0}/{repo['resources']}",
                      when(repo["synced_at"]))
    console.print(table)
    table = Table(title="jobs / ジョブ (civicbot run, and the commands)")
    for column in ("job", "last start", "last end", "started by", "outcome", "error", "last success", "next run"):
        table.add_column(column, no_wrap=column in ("last start", "last end", "last success", "next run"))
    for job in jobs:
        table.add_row(job["job"], when(job["started_at"]), when(job["ended_at"]), job["started_by"] or "",
                      job["outcome"] or "", job["error"] or "", when(job["last_success_at"]), when(job["next_run"]))
    console.print(table)
    beat = (f"heartbeat: pid {heartbeat['pid']} on {heartbeat['host']}, {heartbeat['state']}, last beat "
            f"{when(heartbeat['beat_at'])} (started {when(heartbeat['started_at'])})") if heartbeat \
        else "heartbeat: no daemon has run"
    console.print(beat, markup=False, soft_wrap=True)
    if quota["remaining"] is None:
        console.print("quota left: unknown (no harvest has recorded it yet)", markup=False)
    else:
        console.print(f"quota left: {quota['remaining']} (as of {when(quota['as_of'])}, resets at "
                      f"{when(quota['reset']) or 'unknown'})", markup=False, soft_wrap=True)
    points = quota["graphql"]
    if points["remaining"] is not None:
        console.print(f"GraphQL points left: {points['remaining']} (as of {when(points['as_of'])}, resets at "
                      f"{when(points['reset']) or 'unknown'})", markup=False, soft_wrap=True)
    return 0


def _daemon_status(config: Config, db) -> tuple[list[dict], dict | None, dict]:
    """Each job's last run (scheduled or started by a command) and next run, the daemon's heartbeat,
    the quota the last harvest left."""
    from civicbot.daemon import JOBS, next_runs

    upcoming = next_runs(config)
    jobs = []
    for job in JOBS:
        last = next(iter(db.query("SELECT started_at, ended_at, outcome, error, exit_code, started_by FROM job_runs "
                                  "WHERE job = ? ORDER BY id DESC LIMIT 1", [job])), None) or {}
        success = db.execute("SELECT max(started_at) FROM job_runs WHERE job = ? AND outcome IN ('complete', 'partial')",
                             [job]).fetchone()[0]
        jobs.append({"job": job, "started_at": last.get("started_at"), "ended_at": last.get("ended_at"),
                     "outcome": last.get("outcome"), "error": last.get("error"), "exit_code": last.get("exit_code"),
                     "started_by": last.get("started_by"), "last_success_at": success, "next_run": upcoming.get(job)})
    heartbeat = next(iter(db.query("SELECT pid, host, started_at, beat_at, state FROM heartbeat WHERE id = 1")), None)
    row = db.execute("SELECT ended_at, quota_left, quota_reset_at FROM harvest_runs "
                     "WHERE quota_left IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    quota = {"remaining": row[1], "reset": row[2], "as_of": row[0]} if row else {"remaining": None, "reset": None,
                                                                                  "as_of": None}
    row = db.execute("SELECT ended_at, graphql_left, graphql_reset_at FROM harvest_runs "
                     "WHERE graphql_left IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    quota["graphql"] = dict(zip(("as_of", "remaining", "reset"), row or (None, None, None)))
    return jobs, heartbeat, quota
