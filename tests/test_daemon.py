"""`civicbot run` (the scheduled daemon), `civicbot status` for its jobs, and `civicbot doctor`.

The daemon's promises are tested without assuming that a job meets its slot: a busy machine (CI
included) starts jobs late. Most tests run `Daemon.serve()` in this process, as `civicbot run`
does, with every cron line far away (NEVER) and misfire grace large; a driver thread fires jobs by
moving their next run time to now, then waits for what the store records. Every wait bounds a
hang (WAIT), never a speed. One smoke test runs the real process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from harvest_helpers import assert_store_equals_world, expected_rows, family_config
from worlds import TOKEN, tiny_world

from civicbot.config import load_config
from civicbot.daemon import Daemon, setup_logging
from civicbot.sandbox.faults import FaultPlan
from civicbot.store import MIGRATIONS, open_store

SECRET = "ghp_" + "RecognisableDaemonToken0123456789"  # built, so no token-like literal is tracked  # must never appear in a log line
NEVER = "0 0 1 1 *"  # once a year: a job runs when the test fires it (or catches up), not on its own
WAIT = 300  # bounds a hang; a loaded machine may be slow, never wrong
daemon_test = pytest.mark.timeout(1200)  # several WAITs in one test


def world_with_secret() -> dict:
    world = tiny_world()
    world["tokens"].append({"token": SECRET, "login": "civicbot-demo"})
    return world


def write_config(tmp_path: Path, world: dict, url: str, **schedule) -> Path:
    data = family_config(world, url, tmp_path / "bot.db").model_dump(mode="json")
    # A late job still runs: the grace is longer than any wait here.
    data["schedule"] = {"heartbeat_seconds": 0.5, "misfire_grace_seconds": 3600, "harvest": NEVER,
                        "triage": None, "label": None, "publish": None, **schedule}
    path = tmp_path / "bot.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def start(config: Path, log: Path, log_format: str = "text", token: str = SECRET) -> subprocess.Popen:
    env = {**os.environ, "CIVICBOT_TEST_TOKEN": token}
    return subprocess.Popen([sys.executable, "-m", "civicbot.cli", "run", "-c", str(config), "--log-format", log_format],
                            cwd=config.parent, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def job_runs(db_path: Path) -> list[dict]:
    if not db_path.exists():
        return []
    conn = sqlite3.connect(db_path, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r, details=json.loads(r["details"]) if r["details"] else {})
                for r in conn.execute("SELECT * FROM job_runs ORDER BY id")]
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def ended(db_path: Path, job: str, after: int = 0) -> list[dict]:
    """The runs of `job` with an id above `after` that have ended (any outcome)."""
    return [r for r in job_runs(db_path) if r["job"] == job and r["id"] > after and r["outcome"] != "running"]


def wait_for(predicate, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s")


def stop(proc: subprocess.Popen, limit: float = WAIT) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the daemon did not exit within {limit} s of SIGTERM") from None
    assert code == 0


def fire(daemon: Daemon, job: str) -> None:
    """Make the scheduler run `job` now, as its cron slot would."""
    daemon.scheduler.modify_job(job, next_run_time=datetime.now(daemon.config.zone))


def serve(config_path: Path, log: Path, driver, tokens=(SECRET,)) -> Daemon:
    """`Daemon.serve()` in this (the main) thread, as `civicbot run` runs it, JSON log lines to `log`,
    while `driver(daemon)` runs in a thread once the scheduler runs; the daemon stops after it."""
    daemon = Daemon(load_config(config_path), list(tokens))
    errors: list[BaseException] = []

    def skipped(event):
        # Fired while its last run was still ending (max_instances=1): the scheduler drops that
        # time, so fire it again shortly, as the next slot would.
        daemon.scheduler.modify_job(event.job_id, next_run_time=datetime.now(daemon.config.zone) + timedelta(seconds=0.5))

    def drive():
        try:
            wait_for(lambda: daemon.scheduler is not None and daemon.scheduler.running, "running scheduler")
            daemon.scheduler.add_listener(skipped, EVENT_JOB_MAX_INSTANCES)
            driver(daemon)
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            errors.append(exc)
        finally:
            daemon.request_stop()  # a no-op when the driver sent SIGTERM

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    on_term, on_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with log.open("a", encoding="utf-8") as stream:
        with contextlib.redirect_stderr(stream):
            setup_logging("json", list(tokens))
        driver_thread = threading.Thread(target=drive, name="driver", daemon=True)
        driver_thread.start()
        try:
            assert daemon.serve() == 0
        finally:  # pytest's own handlers back
            root.handlers[:] = handlers
            root.setLevel(level)
            signal.signal(signal.SIGTERM, on_term)
            signal.signal(signal.SIGINT, on_int)
        driver_thread.join(WAIT)
    if errors:
        raise errors[0]
    return daemon


def assert_no_overlap(runs: list[dict]) -> None:
    timed = sorted(runs, key=lambda r: r["details"]["started_epoch"])
    for before, after in pairwise(timed):
        assert after["details"]["started_epoch"] >= before["details"]["ended_epoch"], (before, after)


def assert_metrics_follow_each_harvest(runs: list[dict]) -> None:
    """The next run recorded after a successful harvest is its metrics run, complete."""
    for index, row in enumerate(runs):
        if row["job"] == "harvest" and row["outcome"] in ("complete", "partial"):
            if index + 1 == len(runs):  # the stop came while it ran: a stopping daemon starts nothing more
                continue
            after = runs[index + 1]
            assert after["job"] == "metrics" and after["outcome"] == "complete", (row, after)
            assert after["details"]["started_epoch"] >= row["details"]["ended_epoch"]


@daemon_test
def test_jobs_never_overlap_metrics_follow_each_harvest_and_a_failing_job_does_not_stop_the_others(
        sim_factory, tmp_path):
    world = world_with_secret()
    # The first request stalls: the other jobs are fired while the harvest holds the lock.
    sim = sim_factory(world, faults={"seed": 1, "rules": [
        {"kind": "stall", "path": "/repos/*", "stall_seconds": 2, "times": 1}]})
    (tmp_path / "a-file").write_text("not a folder")
    config = write_config(tmp_path, world, sim.url, triage=NEVER, label=NEVER, publish=NEVER,
                          publish_dir=str(tmp_path / "a-file" / "publish"))  # unwritable: publish fails
    db_path, log = tmp_path / "bot.db", tmp_path / "daemon.log"
    shown: dict = {}

    def driver(daemon: Daemon):
        fire(daemon, "harvest")
        wait_for(lambda: any(r["job"] == "harvest" for r in job_runs(db_path)), "harvest start")
        for job in ("triage", "label", "publish", "harvest"):  # queued behind it (harvest: once it ended)
            fire(daemon, job)
        for job in ("triage", "label", "publish"):
            wait_for(lambda job=job: ended(db_path, job), f"{job} run")
        first_publish = ended(db_path, "publish")[0]["id"]
        fire(daemon, "harvest")  # the failed publish stopped nothing
        wait_for(lambda: ended(db_path, "metrics", first_publish), "harvest and metrics after the failed publish")
        fire(daemon, "publish")
        wait_for(lambda: len(ended(db_path, "publish")) >= 2, "second publish")
        status = subprocess.run([sys.executable, "-m", "civicbot.cli", "status", "-c", str(config), "--json"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=WAIT)
        assert status.returncode == 0, status.stderr
        shown.update(json.loads(status.stdout))

    serve(config, log, driver)
    runs = job_runs(db_path)
    assert all(r["outcome"] != "running" for r in runs)

    # One job at a time (one global lock), harvests included; metrics right after each harvest.
    assert_no_overlap(runs)
    assert_metrics_follow_each_harvest(runs)
    harvests = [r for r in runs if r["job"] == "harvest"]
    assert len(harvests) >= 2 and all(r["outcome"] == "complete" for r in harvests)
    # triage, label and publish waited for the lock in an order the lock does not promise: none asserted.
    assert all(r["outcome"] == "complete" for r in runs if r["job"] in ("triage", "label"))

    # The publish job fails every time, is recorded with its cause, and the scheduler goes on.
    publishes = [r for r in runs if r["job"] == "publish"]
    assert len(publishes) >= 2 and all(r["outcome"] == "failed" and r["exit_code"] == 1 for r in publishes)
    assert "Error" in publishes[0]["error"]
    assert max(r["id"] for r in harvests) > publishes[0]["id"]

    # status --json: the old keys, and each job's last run, next run, heartbeat and quota.
    assert {"runs", "repos", "jobs", "heartbeat", "quota"} <= set(shown)
    jobs = {j["job"]: j for j in shown["jobs"]}
    assert jobs["publish"]["outcome"] == "failed" and jobs["publish"]["error"]
    assert jobs["harvest"]["last_success_at"] and jobs["harvest"]["next_run"]
    assert jobs["metrics"]["next_run"] == "after harvest"
    assert shown["heartbeat"]["pid"] == os.getpid() and shown["quota"]["remaining"] is not None

    db = open_store(db_path)
    assert_store_equals_world(db, world)
    assert db.execute("SELECT state FROM heartbeat").fetchone()[0] == "stopped"
    db.conn.close()

    text = log.read_text(encoding="utf-8")
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(line.get("job") == "publish" and line.get("outcome") == "failed" and line.get("error")
               for line in lines)


@daemon_test
def test_jobs_started_together_in_threads_run_one_at_a_time(sim, tmp_path):
    world = tiny_world()
    config = load_config(write_config(tmp_path, world, sim.url, publish_dir=str(tmp_path / "pub")))
    open_store(config.database.path).conn.close()
    daemon = Daemon(config, [TOKEN])
    jobs = ["harvest", "harvest", "triage", "label", "publish", "metrics"]
    ready = threading.Barrier(len(jobs))

    def run(job):
        ready.wait(WAIT)
        daemon.run_job(job)

    threads = [threading.Thread(target=run, args=[job]) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)

    runs = job_runs(config.database.path)
    assert sorted(r["job"] for r in runs) == sorted(jobs + ["metrics", "metrics"])  # a metrics per harvest
    assert all(r["outcome"] == "complete" for r in runs), runs
    assert_no_overlap(runs)
    assert_metrics_follow_each_harvest(runs)
    assert daemon.state == "idle"


@daemon_test
def test_sigterm_during_a_harvest_then_a_restart_finishes_it(sim_factory, tmp_path):
    world = world_with_secret()
    # Every request stalls: the harvest is still running when SIGTERM comes, whatever the load.
    sim = sim_factory(world, faults={"seed": 1, "rules": [
        {"kind": "stall", "path": "/repos/*", "stall_seconds": 1.0, "times": 10_000}]})
    config = write_config(tmp_path, world, sim.url)
    db_path, log = tmp_path / "bot.db", tmp_path / "daemon.log"

    def pages_saved() -> bool:
        with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as conn:
            return conn.execute("SELECT COUNT(*) FROM sync_state").fetchone()[0] > 0

    def interrupt(daemon: Daemon):
        fire(daemon, "harvest")
        wait_for(pages_saved, "a saved page")
        os.kill(os.getpid(), signal.SIGTERM)  # to serve()'s handler in the main thread
        wait_for(daemon.stop.is_set, "the SIGTERM handler")  # before serve()'s driver stops it otherwise

    serve(config, log, interrupt)
    runs = job_runs(db_path)
    assert [r["outcome"] for r in runs if r["job"] == "harvest"] == ["interrupted"]
    assert not [r for r in runs if r["job"] == "metrics"]  # no metrics after an interrupted harvest
    db = open_store(db_path)
    assert db.execute("SELECT outcome FROM harvest_runs ORDER BY id DESC").fetchone()[0] == "interrupted"
    assert db.execute("SELECT state FROM heartbeat").fetchone()[0] == "stopped"
    db.conn.close()

    sim.app.faults = FaultPlan()
    # The restart catches up at once (the last harvest did not finish): nothing is fired here.
    serve(config, log, lambda daemon: wait_for(lambda: ended(db_path, "metrics"), "caught-up harvest and metrics"))
    runs = job_runs(db_path)
    assert [r["outcome"] for r in runs if r["job"] == "harvest"] == ["interrupted", "complete"]
    db = open_store(db_path)
    counts = assert_store_equals_world(db, world)
    for table in ("items", "comments", "issue_events", "labels"):  # nothing duplicated
        assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == counts[table]
    db.conn.close()
    text = log.read_text(encoding="utf-8")
    assert SECRET not in text and "SIGTERM received" in text


@daemon_test
def test_a_slot_missed_while_down_is_caught_up_at_start(sim, tmp_path):
    world = tiny_world()
    config = write_config(tmp_path, world, sim.url, triage=NEVER, label=NEVER)
    db_path = tmp_path / "bot.db"
    db = open_store(db_path)
    with db.conn:  # last successes long before the last slot; label never ran
        db.execute("INSERT INTO job_runs (job, started_at, ended_at, outcome) VALUES "
                   "('harvest', '2020-01-01T00:00:00Z', '2020-01-01T00:01:00Z', 'complete'), "
                   "('triage', '2020-01-01T00:02:00Z', '2020-01-01T00:03:00Z', 'complete')")
    db.conn.close()

    def caught_up(daemon: Daemon):
        wait_for(lambda: ended(db_path, "metrics") and ended(db_path, "triage", 2), "caught-up harvest and triage")

    serve(config, tmp_path / "daemon.log", caught_up, tokens=(TOKEN,))
    runs = job_runs(db_path)
    assert [r["outcome"] for r in runs if r["job"] == "harvest"] == ["complete", "complete"]
    assert [r["outcome"] for r in runs if r["job"] == "triage"] == ["complete", "complete"]
    assert not [r for r in runs if r["job"] == "label"]  # never ran: it waits for its first time
    assert "catching up" in (tmp_path / "daemon.log").read_text(encoding="utf-8")


@daemon_test
def test_the_real_process_harvests_on_its_schedule_and_stops_on_sigterm(sim_factory, tmp_path):
    world = world_with_secret()
    sim = sim_factory(world)
    config = write_config(tmp_path, world, sim.url, harvest="*/2 * * * * *")
    db_path, log = tmp_path / "bot.db", tmp_path / "daemon.log"
    proc = start(config, log)
    try:
        wait_for(lambda: ended(db_path, "metrics"), "a harvest cycle (harvest, then metrics)")
    finally:
        stop(proc)
    runs = job_runs(db_path)
    assert "complete" in [r["outcome"] for r in runs if r["job"] == "harvest"]
    assert all(r["outcome"] != "running" for r in runs)
    db = open_store(db_path)
    assert db.execute("SELECT state, pid FROM heartbeat").fetchone() == ("stopped", proc.pid)
    db.conn.close()
    text = log.read_text(encoding="utf-8")
    assert SECRET not in text and "civicbot daemon stopped" in text


# --- doctor -------------------------------------------------------------------------------------


@pytest.fixture
def doctor_setup(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    config = write_config(tmp_path, world, sim.url, publish_dir=str(tmp_path / "pub"))
    open_store(tmp_path / "bot.db").conn.close()
    return world, sim, config


def failing(config: Path, environ: dict) -> dict[str, str]:
    from civicbot.doctor import run_checks

    return {c.name: c.detail for c in run_checks(str(config), environ) if not c.ok}


def edit(config: Path, **changes) -> None:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        node = data
        *parents, key = dotted.split("__")
        for part in parents:
            node = node[part]
        node[key] = value
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_doctor_all_ok_exits_0(doctor_setup):
    _, _, config = doctor_setup
    result = subprocess.run([sys.executable, "-m", "civicbot.cli", "doctor", "-c", str(config)], cwd=config.parent,
                            env={**os.environ, "CIVICBOT_TEST_TOKEN": TOKEN}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout.replace("0 FAIL", "") and result.stdout.count("OK ") >= 10
    assert TOKEN not in result.stdout


def test_doctor_reports_each_misconfiguration(doctor_setup, tmp_path, monkeypatch):
    _, _, config = doctor_setup
    env = {"CIVICBOT_TEST_TOKEN": TOKEN}
    db_path = tmp_path / "bot.db"
    seen = 0

    def expect(check: str, environ=env, text: str = ""):
        nonlocal seen
        fails = failing(config, environ)
        assert check in fails, fails
        assert text in fails[check]
        assert TOKEN not in json.dumps(fails) and "bad-token-xyz" not in json.dumps(fails)
        seen += 1

    original = config.read_text(encoding="utf-8")

    def reset():
        config.write_text(original, encoding="utf-8")

    assert failing(config, env) == {}

    edit(config, schedule__harvest="61 * * * *")
    expect("schedule", text="schedule.harvest")  # 1 bad cron
    reset()
    edit(config, github__colour="blue")
    expect("config", text="unknown key")  # 2 unknown key
    reset()
    expect("token", environ={}, text="no token")  # 3 no token
    expect("token valid", environ={"CIVICBOT_TEST_TOKEN": "bad-token-xyz"}, text="401")  # 4 bad token
    edit(config, github__token_file=str(tmp_path / "missing-tokens.txt"))
    expect("token", text="no such file")  # 5 token file missing
    reset()
    edit(config, github__base_url=f"http://127.0.0.1:{closed_port()}")
    expect("api", text="unreachable")  # 6 unreachable API
    reset()
    edit(config, github__rate_limit_reserve=100_000)
    expect("quota", text="reserve")  # 7 quota at or below the reserve
    reset()
    edit(config, schedule__publish_dir=str(config / "pub"))
    expect("publish dir", text="is a file")  # 8 publish_dir under a file
    reset()

    real_find_spec = __import__("importlib.util").util.find_spec
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: None if name == "datasette_dashboards" else real_find_spec(name, *a))
    expect("datasette", text="datasette_dashboards")  # 9 plugin not importable
    monkeypatch.undo()

    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    expect("wal", text="journal_mode delete")  # 10 no WAL

    db_path.unlink()
    old = open_store(db_path, migrations=MIGRATIONS[:3])
    old.conn.close()
    expect("schema", text="schema version 3")  # 11 old schema
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', '2099-01-01T00:00:00Z', NULL)")
    conn.close()
    expect("schema", text="upgrade civicbot")  # 12 schema from a newer civicbot

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    expect("database", text="no database")  # 13 missing database
    assert seen >= 10


def test_the_daemon_refuses_a_bad_schedule_in_one_line(tmp_path):
    config = tmp_path / "c.yml"
    config.write_text("name: x\nupstream: a/b\nschedule:\n  triage: every day\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "civicbot.cli", "run", "-c", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "schedule.triage" in result.stderr


def test_the_harvester_stops_between_pages_when_asked(sim, tmp_path):
    from civicbot.harvest.client import GitHubClient
    from civicbot.harvest.run import harvest

    world = tiny_world()
    config = family_config(world, sim.url, tmp_path / "h.db")
    db = open_store(config.database.path)
    flag = threading.Event()
    pages = []

    def progress(event):
        if event["kind"] == "page":
            pages.append(event)
            flag.set()  # stop after the first page

    result = harvest(config, db, GitHubClient(config, [TOKEN]), stop=flag, progress=progress)
    assert result.outcome == "interrupted" and result.exit_code == 130 and len(pages) == 1
    assert db.execute("SELECT outcome FROM harvest_runs").fetchone()[0] == "interrupted"
    again = harvest(config, db, GitHubClient(config, [TOKEN]))
    assert again.outcome == "complete"
    assert_store_equals_world(db, world)
    assert {t: len(r) for t, r in expected_rows(world).items()}["items"] == db.execute(
        "SELECT COUNT(*) FROM items").fetchone()[0]
