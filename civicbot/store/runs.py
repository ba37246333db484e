"""Bookkeeping of runs: `job_runs` (every stage run, scheduled or started by a command), and the
`running` rows that a dead process left in it and in `harvest_runs`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from .schema import utc_text
from .transaction import write_transaction

ABANDONED = "its process ended before the run finished (killed, or the machine stopped); nothing stored was lost"


def start_job(db: sqlite_utils.Database, job: str, started_by: str = "schedule") -> int:
    """A `job_runs` row for a job that starts now (outcome 'running'); returns its id."""
    with write_transaction(db):
        return db.execute("INSERT INTO job_runs (job, started_at, outcome, started_by, pid) "
                          "VALUES (?, ?, 'running', ?, ?)", [job, utc_text(), started_by, os.getpid()]).lastrowid


def end_job(db: sqlite_utils.Database, run_id: int, outcome: str, exit_code: int | None, error: str | None,
            details: dict[str, Any]) -> None:
    with write_transaction(db):
        db.execute("UPDATE job_runs SET ended_at = ?, outcome = ?, exit_code = ?, error = ?, details = ? WHERE id = ?",
                   [utc_text(), outcome, exit_code, error, json.dumps(details, default=str), run_id])


@contextmanager
def command_job(db: sqlite_utils.Database, job: str) -> Iterator[dict[str, Any]]:
    """A job run by hand (`civicbot metrics`...), recorded in `job_runs` like a scheduled one, so that
    `civicbot status` shows it. The block fills the details dict it is given."""
    run_id = start_job(db, job, started_by="command")
    details: dict[str, Any] = {}
    try:
        yield details
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        end_job(db, run_id, "interrupted" if interrupted else "failed", None if interrupted else 1,
                f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500], details)
        raise
    end_job(db, run_id, "complete", 0, None, details)


def settle_abandoned_runs(db: sqlite_utils.Database, error: str = ABANDONED) -> int:
    """Mark `interrupted` the `running` rows of both run tables whose process is gone (or unknown,
    from before pids were kept); returns how many. The store is a local file, so a pid is this
    machine's."""
    now = utc_text()
    settled = 0
    with write_transaction(db):
        for table in ("harvest_runs", "job_runs"):
            rows = db.execute(f"SELECT id, pid FROM {table} WHERE outcome = 'running'").fetchall()
            dead = [run_id for run_id, pid in rows if pid != os.getpid() and not _alive(pid)]
            for run_id in dead:
                db.execute(f"UPDATE {table} SET outcome = 'interrupted', ended_at = ?, error = ? WHERE id = ?",
                           [now, error, run_id])
            settled += len(dead)
    return settled


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
