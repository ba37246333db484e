"""The harvest as a person (or the scheduler) sees it: progress, the closing summary, status."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from civicbot.config import Config, ConfigError, resolve_tokens
from civicbot.store import open_store

from .client import GitHubClient
from .run import HarvestResult, harvest


def run_harvest(config: Config, *, repos: list[str] | None = None, full: bool = False, quiet: bool = False,
                json_log: bool = False) -> int:
    """Run one harvest with the chosen display; returns the exit status."""
    console = Console(stderr=True)
    try:
        tokens = resolve_tokens(config)
    except ConfigError as exc:
        console.print(f"civicbot: {exc}", markup=False, soft_wrap=True)  # one line, whatever the width
        return 2
    if not tokens and not quiet:
        console.print("civicbot: no token found (github.token_env / token_file): harvesting unauthenticated, "
                      "with GitHub's 60 requests an hour", markup=False)
    db = open_store(config.database.path)
    client = GitHubClient(config, tokens)

    if json_log:
        def progress(event: dict) -> None:
            print(json.dumps(event, ensure_ascii=False), flush=True)
        result = harvest(config, db, client, full=full, only=repos, progress=progress)
    elif quiet:
        result = harvest(config, db, client, full=full, only=repos)
    else:
        with console.status("harvesting...") as status:
            counts = {"repos": 0, "pages": 0, "items": 0}

            def progress(event: dict) -> None:
                if event["kind"] == "repo":
                    counts["repos"] += 1
                    counts["repo"] = event["repo"]
                elif event["kind"] == "page":
                    counts["pages"] += 1
                    counts["items"] += event["items"]
                status.update(f"repo {counts['repos']}: {counts.get('repo', '')}  pages {counts['pages']}  "
                              f"items {counts['items']}  quota left {client.quota.remaining}")

            result = harvest(config, db, client, full=full, only=repos, progress=progress)
    _summary(config, result, client, console, json_log)
    return result.exit_code


def _summary(config: Config, result: HarvestResult, client: GitHubClient, console: Console, json_log: bool) -> None:
    if json_log:
        print(json.dumps({"kind": "summary", "run_id": result.run_id, "outcome": result.outcome,
                          "repos": result.repos, "requests": result.requests_made, "quota_used": result.quota_used,
                          "items_written": result.items_written, "failed": result.failed,
                          "skipped": len(result.skipped), "quota_left": client.quota.remaining,
                          "error": result.error}, ensure_ascii=False), flush=True)
        return
    console.print(f"harvest run {result.run_id}: {result.outcome} - {result.repos} repos, {result.requests_made} "
                  f"requests, {result.quota_used} quota used, {result.items_written} rows written, "
                  f"quota left {client.quota.remaining} -> {Path(config.database.path)}", markup=False)
    for name, reason in result.failed.items():
        console.print(f"  failed: {name}: {reason}", markup=False)
    for line in result.skipped[:20]:
        console.print(f"  skipped: {line}", markup=False)
    if len(result.skipped) > 20:
        console.print(f"  ... and {len(result.skipped) - 20} more skipped", markup=False)
    if result.outcome == "rate_limited":
        console.print(f"  stopped: {result.error}. Run again after the reset; the harvest resumes where it stopped.",
                      markup=False)


def show_status(config: Config, *, as_json: bool = False) -> int:
    path = Path(config.database.path)
    if not path.exists():
        print(f"civicbot: no database yet at {path}; run `civicbot harvest -c ...` first", file=sys.stderr)
        return 1
    db = open_store(path)
    runs = list(db.query("SELECT id, started_at, ended_at, outcome, requests_made, quota_used, items_written, error "
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
    console = Console()
    table = Table(title="harvest runs / 収集の実行")
    for column in ("run", "started", "ended", "outcome", "requests", "quota", "rows", "error"):
        table.add_column(column)
    for run in runs:
        table.add_row(*(str(run[k]) if run[k] is not None else "" for k in run))
    console.print(table)
    table = Table(title="repos / リポジトリ")
    for column in ("repo", "status", "resources synced", "last sync"):
        table.add_column(column)
    for repo in repos:
        table.add_row(repo["full_name"], repo["status"], f"{repo['complete'] or 0}/{repo['resources']}",
                      repo["synced_at"] or "")
    console.print(table)
    table = Table(title="scheduled jobs / 定期ジョブ (civicbot run)")
    for column in ("job", "last start", "last end", "outcome", "error", "last success", "next run"):
        table.add_column(column)
    for job in jobs:
        table.add_row(*(str(job[k]) if job[k] is not None else "" for k in
                        ("job", "started_at", "ended_at", "outcome", "error", "last_success_at", "next_run")))
    console.print(table)
    beat = (f"heartbeat: pid {heartbeat['pid']} on {heartbeat['host']}, {heartbeat['state']}, last beat "
            f"{heartbeat['beat_at']} (started {heartbeat['started_at']})") if heartbeat else "heartbeat: no daemon has run"
    console.print(beat, markup=False)
    console.print(f"quota left: {quota['remaining'] if quota['remaining'] is not None else 'unknown'}"
                  f" (as of {quota['as_of'] or 'never'}, resets at {quota['reset'] or 'unknown'})", markup=False)
    return 0


def _daemon_status(config: Config, db) -> tuple[list[dict], dict | None, dict]:
    """Each scheduled job's last run and next run, the daemon's heartbeat, the last known quota."""
    from civicbot.daemon import JOBS, next_runs

    upcoming = next_runs(config)
    jobs = []
    for job in JOBS:
        last = next(iter(db.query("SELECT started_at, ended_at, outcome, error, exit_code FROM job_runs "
                                  "WHERE job = ? ORDER BY id DESC LIMIT 1", [job])), None) or {}
        success = db.execute("SELECT max(started_at) FROM job_runs WHERE job = ? AND outcome IN ('complete', 'partial')",
                             [job]).fetchone()[0]
        jobs.append({"job": job, "started_at": last.get("started_at"), "ended_at": last.get("ended_at"),
                     "outcome": last.get("outcome"), "error": last.get("error"), "exit_code": last.get("exit_code"),
                     "last_success_at": success, "next_run": upcoming.get(job)})
    heartbeat = next(iter(db.query("SELECT pid, host, started_at, beat_at, state FROM heartbeat WHERE id = 1")), None)
    row = db.execute("SELECT ended_at, json_extract(details, '$.quota_left'), json_extract(details, '$.quota_reset') "
                     "FROM job_runs WHERE job = 'harvest' AND json_extract(details, '$.quota_left') IS NOT NULL "
                     "ORDER BY id DESC LIMIT 1").fetchone()
    quota = {"remaining": row[1], "reset": row[2], "as_of": row[0]} if row else {"remaining": None, "reset": None,
                                                                                  "as_of": None}
    return jobs, heartbeat, quota
