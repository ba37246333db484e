"""`civicbot run`: the scheduled bot, unattended for months (docs/deploy.md).

An APScheduler 3.x BlockingScheduler runs the jobs of `schedule` (config) in the project's time
zone: harvest (then metrics, after each successful harvest), triage, label (dry run unless
`schedule.label_apply`) and publish. One global lock serialises the jobs on the store, each job
has max_instances=1, coalesce=True and `schedule.misfire_grace_seconds`: a slow harvest delays
what comes after it and never overlaps another. Every job is a `job_runs` row; a job that raises is
logged with its cause, recorded as failed, and simply runs again at its next time. SIGTERM/SIGINT
stop the scheduling; a running harvest stops between two pages (state saved, outcome
`interrupted`) and the process exits. A heartbeat row is rewritten every few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

import click

from civicbot.cli import CONFIG_OPTION, _load
from civicbot.config import Config, cron_trigger
from civicbot.store.runs import end_job, settle_abandoned_runs, start_job
from civicbot.store.schema import utc_text
from civicbot.store.transaction import write_transaction

log = logging.getLogger("civicbot.daemon")

# Another civicbot process holds the store (civicbot.store.lock): as for `civicbot harvest`.
EXIT_STORE_BUSY = 75

JOBS = ("harvest", "metrics", "triage", "label", "publish")
SCHEDULED = ("harvest", "triage", "label", "publish")  # metrics follows the harvest


# ---------------------------------------------------------------------------------------------
# Schedule helpers (also used by `civicbot status` and `civicbot doctor`)


def job_crons(config: Config) -> dict[str, str]:
    """{job: cron line} of the jobs that run on their own schedule (null ones left out)."""
    s = config.schedule
    return {job: line for job, line in (("harvest", s.harvest), ("triage", s.triage), ("label", s.label),
                                        ("publish", s.publish)) if line}


def next_runs(config: Config, now: datetime | None = None) -> dict[str, str | None]:
    """{job: next fire time, ISO in the project's zone} per job; metrics: 'after harvest' or None."""
    now = now or datetime.now(config.zone)
    out: dict[str, str | None] = {}
    for job, line in job_crons(config).items():
        when = cron_trigger(line, config.timezone).get_next_fire_time(None, now)
        out[job] = when.isoformat() if when else None
    out["metrics"] = "after harvest" if config.schedule.metrics_after_harvest else None
    return out


# ---------------------------------------------------------------------------------------------
# Logging: text or JSON lines, tokens redacted from every line


class _Redacting(logging.Formatter):
    def __init__(self, secrets: list[str], as_json: bool):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]
        self.as_json = as_json

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def format(self, record: logging.LogRecord) -> str:
        if not self.as_json:
            return self._clean(super().format(record))
        entry: dict[str, Any] = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
                                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key in ("job", "outcome", "run_id", "error"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return self._clean(json.dumps(entry, ensure_ascii=False, default=str))


def setup_logging(log_format: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Redacting(secrets, log_format == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("urllib3", "github"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    def __init__(self, config: Config, tokens: list[str]):
        self.config = config
        self.tokens = tokens
        self.stop = threading.Event()
        self.lock = threading.Lock()  # one job on the store at a time
        self.state = "starting"
        self.started_at = utc_text()
        self.scheduler = None
        self.current_job: tuple[str, float] | None = None  # (job, time.monotonic() at its start)
        self._job_warnings = 0

    # -- the store ----------------------------------------------------------------------------

    def _db(self):
        from civicbot.store import open_store

        return open_store(self.config.database.path)

    def _record_start(self, job: str) -> int:
        db = self._db()
        try:
            return start_job(db, job)
        finally:
            db.conn.close()

    def _record_end(self, run_id: int, outcome: str, exit_code: int | None, error: str | None,
                    details: dict) -> None:
        db = self._db()
        try:
            end_job(db, run_id, outcome, exit_code, error, details)
        finally:
            db.conn.close()

    def beat(self) -> None:
        db = self._db()
        try:
            with write_transaction(db):
                db.execute("INSERT INTO heartbeat (id, pid, host, started_at, beat_at, state) VALUES (1, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
                           "started_at = excluded.started_at, beat_at = excluded.beat_at, state = excluded.state",
                           [os.getpid(), socket.gethostname(), self.started_at, utc_text(), self.state])
        finally:
            db.conn.close()

    def _heartbeat_loop(self) -> None:
        while not self.stop.wait(self.config.schedule.heartbeat_seconds):
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the daemon
                log.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)
            self.warn_long_job()

    def warn_long_job(self, now: float | None = None) -> None:
        """Log "job NAME has run for N s" once the running job passes each multiple of
        `schedule.job_warn_seconds` (called by the heartbeat thread; `now` is time.monotonic())."""
        current, limit = self.current_job, self.config.schedule.job_warn_seconds
        if current is None:
            return
        job, since = current
        elapsed = (time.monotonic() if now is None else now) - since
        if elapsed >= limit * (self._job_warnings + 1):
            self._job_warnings = int(elapsed // limit)
            log.warning("job %s has run for %d s (schedule.job_warn_seconds: %g)", job, elapsed, limit,
                        extra={"job": job})

    # -- jobs ---------------------------------------------------------------------------------

    def run_job(self, job: str) -> None:
        """What the scheduler calls: the lock, the job_runs row, logging; never raises."""
        with self.lock:
            if self.stop.is_set():
                return
            self._run_one(job)
            if job == "harvest" and self._last_outcome in ("complete", "partial") \
                    and self.config.schedule.metrics_after_harvest and not self.stop.is_set():
                self._run_one("metrics")
            self.state = "idle"

    def _run_one(self, job: str) -> None:
        self.state = f"running {job}"
        self._last_outcome = None
        started = time.time()
        try:
            run_id = self._record_start(job)
        except Exception as exc:  # noqa: BLE001
            log.error("job %s: cannot record its start: %s: %s", job, type(exc).__name__, exc,
                      extra={"job": job, "outcome": "failed"})
            return
        log.info("job %s started", job, extra={"job": job, "run_id": run_id})
        details: dict[str, Any] = {}
        self._job_warnings, self.current_job = 0, (job, time.monotonic())
        try:
            outcome, exit_code, error = getattr(self, f"_job_{job}")(details)
        except Exception as exc:  # noqa: BLE001 - logged, recorded, retried at the next time
            outcome, exit_code, error = "failed", 1, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            log.error("job %s failed: %s", job, error, exc_info=True,
                      extra={"job": job, "outcome": outcome, "run_id": run_id, "error": error})
        finally:
            self.current_job = None
        details.update(started_epoch=started, ended_epoch=time.time())
        try:
            self._record_end(run_id, outcome, exit_code, error, details)
        except Exception as exc:  # noqa: BLE001
            log.error("job %s: cannot record its end: %s: %s", job, type(exc).__name__, exc)
        self._last_outcome = outcome
        if outcome != "failed":
            log.info("job %s ended: %s", job, outcome, extra={"job": job, "outcome": outcome, "run_id": run_id})

    def _job_harvest(self, details: dict) -> tuple[str, int, str | None]:
        from civicbot.harvest.client import GitHubClient
        from civicbot.harvest.run import harvest

        db = self._db()
        try:
            client = GitHubClient(self.config, self.tokens)
            result = harvest(self.config, db, client, stop=self.stop)
        finally:
            db.conn.close()
        details.update(run_id=result.run_id, repos=result.repos, requests=result.requests_made,
                       quota_used=result.quota_used, items_written=result.items_written,
                       quota_left=client.quota.remaining, quota_reset=client.quota.reset,
                       failed=result.failed)
        return result.outcome, result.exit_code, result.error

    def _job_metrics(self, details: dict) -> tuple[str, int, str | None]:
        from civicbot.metrics import write_all_metrics

        db = self._db()
        try:
            counts = write_all_metrics(db, self.config)
        finally:
            db.conn.close()
        details["rows"] = counts
        return "complete", 0, None

    def _job_triage(self, details: dict) -> tuple[str, int, str | None]:
        from civicbot.triage.score import TriageInterrupted, score_family

        db = self._db()
        try:
            result = score_family(db, self.config, repos=[], extra_bot_logins=None, stop=self.stop)
        except TriageInterrupted as exc:  # SIGTERM/SIGINT mid-scoring: nothing was written
            return "interrupted", 1, str(exc)
        finally:
            db.conn.close()
        details.update(candidates=len(result.candidates), model=result.model)
        return "complete", 0, None

    def _job_label(self, details: dict) -> tuple[str, int, str | None]:
        from civicbot.triage.policy import run_label_policy
        from civicbot.triage.score import TriageInterrupted

        apply = self.config.schedule.label_apply
        writer = None
        if self.tokens and apply:  # a dry run needs no API: no writer, no request
            from civicbot.harvest.client import GitHubClient
            from civicbot.triage.writer import GitHubWriter

            writer = GitHubWriter(GitHubClient(self.config, self.tokens), self.config.triage.allowlist)
        elif apply:
            raise RuntimeError("schedule.label_apply needs a token (github.token_env or github.token_file)")
        db = self._db()
        try:
            result = run_label_policy(db, self.config, writer=writer, apply=apply, repos=[], stop=self.stop)
        except TriageInterrupted as exc:  # SIGTERM/SIGINT while scoring: no decision was made
            return "interrupted", 1, str(exc)
        finally:
            db.conn.close()
        details.update(apply=apply, decisions=len(result.decisions), run_key=result.run_key)
        return "complete", 0, None

    def _job_publish(self, details: dict) -> tuple[str, int, str | None]:
        from civicbot.publish.bundle import build_bundle

        target = build_bundle(self.config, self.config.schedule.publish_dir)
        details["bundle"] = str(target)
        return "complete", 0, None

    # -- scheduling ---------------------------------------------------------------------------

    def _catch_up(self, job: str, trigger) -> datetime | None:
        """Run now when the last success is older than the job's previous slot (missed while down)."""
        db = self._db()
        try:
            row = db.execute("SELECT max(started_at) FROM job_runs WHERE job = ? AND outcome IN ('complete', 'partial')",
                             [job]).fetchone()
            last_harvest = db.execute("SELECT outcome FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 1",
                                      [job]).fetchone()
        finally:
            db.conn.close()
        now = datetime.now(self.config.zone)
        if job == "harvest" and last_harvest and last_harvest[0] in ("interrupted", "rate_limited", "running"):
            return now  # finish what the last run started
        if row[0] is None:
            return None  # never ran: wait for its first time
        last = datetime.strptime(row[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        missed = trigger.get_next_fire_time(None, last.astimezone(self.config.zone))
        return now if missed and missed < now - _seconds(1) else None

    def build_scheduler(self):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        s = self.config.schedule
        scheduler = BlockingScheduler(
            timezone=self.config.timezone,
            executors={"default": ThreadPoolExecutor(max_workers=len(SCHEDULED))},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": s.misfire_grace_seconds})
        for job, line in job_crons(self.config).items():
            trigger = cron_trigger(line, self.config.timezone)
            options: dict[str, Any] = {}
            when = self._catch_up(job, trigger)
            if when is not None:
                options["next_run_time"] = when
                log.info("job %s: catching up (its last run did not finish, or a time was missed)", job,
                         extra={"job": job})
            scheduler.add_job(self.run_job, trigger, args=[job], id=job, name=job, **options)
        self.scheduler = scheduler
        return scheduler

    def request_stop(self, signum: int | None = None, frame: Any = None) -> None:
        if self.stop.is_set():
            return
        name = signal.Signals(signum).name if signum else "request"
        log.info("%s received: no new jobs; a running harvest stops after its current page, a triage "
                 "between two issues", name)
        self.stop.set()
        self.state = "stopping"
        if self.scheduler is not None:
            # Not from inside the signal handler: shutdown takes the scheduler's locks.
            threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": False}, daemon=True).start()

    def serve(self) -> int:
        """Run until SIGTERM/SIGINT; 0 when stopped cleanly, 75 when another process holds the store."""
        from civicbot.store.lock import StoreBusy, StoreLock

        lock = StoreLock(self.config.database.path, "civicbot run")
        try:
            lock.acquire()
        except StoreBusy as exc:
            log.error("%s", exc)
            return EXIT_STORE_BUSY
        try:
            return self._serve()
        finally:
            lock.release()

    def _serve(self) -> int:
        from civicbot.store import open_store

        open_store(self.config.database.path).conn.close()  # create / migrate before anything
        db = self._db()
        try:
            stale = settle_abandoned_runs(db)
        finally:
            db.conn.close()
        if stale:
            log.warning("%d run(s) left running by a process that ended were marked interrupted", stale)
        scheduler = self.build_scheduler()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.state = "idle"
        self.beat()
        beater = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beater.start()
        for job, when in next_runs(self.config).items():
            log.info("job %s: next run %s", job, when, extra={"job": job})
        log.info("civicbot daemon started (pid %d, database %s, time zone %s)", os.getpid(),
                 self.config.database.path, self.config.timezone)
        try:
            scheduler.start()
        finally:
            self.stop.set()
            with self.lock:  # the running job (if any) has ended
                pass
            self.state = "stopped"
            try:
                self.beat()
            except Exception:  # noqa: BLE001
                pass
            log.info("civicbot daemon stopped")
        return 0


def _seconds(n: float):
    from datetime import timedelta

    return timedelta(seconds=n)


@click.command()
@CONFIG_OPTION
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Human-readable lines, or JSON lines (one object per line) for a log collector.")
def run(config_path: str, log_format: str) -> None:
    """Run the scheduled bot: harvest, metrics, triage, label and publish on `schedule` (config).

    Stops cleanly on SIGTERM or SIGINT (a running harvest ends after its current page, state
    saved). Exit status: 0 stopped cleanly, 2 bad configuration or token source, 75 another civicbot
    process (a harvest, another daemon) is using the database.
    """
    from civicbot.config import ConfigError, resolve_tokens

    config = _load(config_path)
    try:
        tokens = resolve_tokens(config)
    except ConfigError as exc:
        click.echo(f"civicbot: {exc}", err=True)
        raise SystemExit(2) from None
    setup_logging(log_format, tokens)
    if not tokens:
        log.warning("no token found (github.token_env / token_file): harvesting unauthenticated")
    raise SystemExit(Daemon(config, tokens).serve())

