"""Several writers on one store, one harvest at a time, interrupts, and the messages that say what to do.

- Write transactions start with BEGIN IMMEDIATE, so a second writer waits (busy_timeout) instead
  of failing with "database is locked"; a full harvest beside a heartbeat every 100 ms, a labeller
  and a second process, under CPU load, meets no lock error and stores the world.
- One harvest per store: a second `harvest`, `run` or `label --apply` exits 75 naming the holder; a dead holder's
  lock and `running` rows are taken over.
- SIGINT/SIGTERM end a harvest between pages: exit 130, "nothing lost", the rerun completes.
- No token, an unreachable base_url, a rate limit and `civicbot status` say what to do, with
  times in the project's zone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from harvest_helpers import assert_store_equals_world, family_config, write_config
from sizes import CONCURRENCY_SCALE
from worlds import TOKEN, tiny_world

from civicbot.daemon import Daemon
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store, write_transaction
from civicbot.store.lock import StoreLock
from civicbot.triage.policy import run_label_policy

EPOCH = re.compile(r"(?<!\d)1[0-9]{9}(?!\d)")  # a raw Unix time, never shown to a person


def cli(*args: str, token: str | None = TOKEN, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CIVICBOT_TEST_TOKEN"}
    if token:
        env["CIVICBOT_TEST_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "civicbot.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **popen)


def start_cli(*args: str, token: str | None = TOKEN) -> subprocess.Popen:
    env = {**os.environ, "CIVICBOT_TEST_TOKEN": token or ""}
    return subprocess.Popen([sys.executable, "-m", "civicbot.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@contextmanager
def cpu_load(processes: int = 2):
    """Busy-loop processes beside the test, as on a shared CI machine; always stopped."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------------------------------------
# Transactions


def test_a_writer_that_read_first_waits_for_another_writer_instead_of_failing(tmp_path):
    path = tmp_path / "t.db"
    first, second = open_store(path), open_store(path)
    first.execute("CREATE TABLE t (x INTEGER)")

    # What sqlite-utils' atomic() and `with conn:` do: a deferred BEGIN that reads, then writes
    # after another connection committed. SQLite answers at once, whatever busy_timeout says.
    first.execute("BEGIN")
    first.execute("SELECT COUNT(*) FROM t").fetchone()
    second.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        first.execute("INSERT INTO t VALUES (2)")
    first.conn.rollback()

    # write_transaction takes the write lock first: the other writer waits for it, then goes on.
    errors: list[BaseException] = []
    with write_transaction(first):
        first.execute("SELECT COUNT(*) FROM t").fetchone()

        def other() -> None:
            other_db = open_store(path)  # a connection belongs to its thread
            try:
                with write_transaction(other_db):
                    other_db.execute("INSERT INTO t VALUES (3)")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                other_db.conn.close()

        thread = threading.Thread(target=other)
        thread.start()
        first.execute("INSERT INTO t VALUES (2)")
    thread.join(60)
    assert not errors and not thread.is_alive()
    assert sorted(r[0] for r in first.execute("SELECT x FROM t")) == [1, 2, 3]


def test_a_nested_write_transaction_undoes_only_its_own_writes(tmp_path):
    db = open_store(tmp_path / "t.db")
    db.execute("CREATE TABLE t (x INTEGER)")
    with write_transaction(db):
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ValueError), write_transaction(db):
            db.execute("INSERT INTO t VALUES (2)")
            raise ValueError("a bad item")
        db.execute("INSERT INTO t VALUES (3)")
    assert [r[0] for r in db.execute("SELECT x FROM t ORDER BY x")] == [1, 3]
    assert not db.conn.in_transaction


def test_a_full_harvest_beside_a_heartbeat_a_labeller_and_a_second_process_under_load(sim_factory, tmp_path):
    world = generate_world_dict(seed=31, scale=CONCURRENCY_SCALE)
    sim = sim_factory(world)
    path = tmp_path / "busy.db"
    config = family_config(world, sim.url, path)
    yml = write_config(config, tmp_path / "busy.yml")
    open_store(path).conn.close()
    daemon = Daemon(config, [DEMO_TOKEN])
    stop, errors, counts = threading.Event(), [], {"beats": 0, "label runs": 0, "metrics runs": 0}

    def heartbeat() -> None:  # the daemon's own beat, every 100 ms
        while not stop.wait(0.1):
            try:
                daemon.beat()
                counts["beats"] += 1
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"heartbeat: {exc!r}")

    def labeller() -> None:  # dry-run labelling writes its decisions to label_audit
        db = open_store(path)
        try:
            while not stop.is_set():
                try:
                    run_label_policy(db, config, writer=None, apply=False, repos=[])
                    counts["label runs"] += 1
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"labeller: {exc!r}")
                stop.wait(0.05)
        finally:
            db.conn.close()

    def second_process() -> None:  # `civicbot metrics`, which drops and creates its tables
        while not stop.is_set():
            done = cli("metrics", "-c", str(yml))
            if done.returncode != 0:
                errors.append(f"metrics exit {done.returncode}: {done.stderr[-500:]}")
            counts["metrics runs"] += 1

    threads = [threading.Thread(target=f, daemon=True) for f in (heartbeat, labeller, second_process)]
    db = open_store(path)
    with cpu_load():
        for thread in threads:
            thread.start()
        try:
            result = harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None))
            # Every writer ran while the harvest wrote (however slowly this machine goes).
            deadline = time.monotonic() + 300
            while min(counts.values()) < 1 and time.monotonic() < deadline and not errors:
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(300)
    assert not errors, errors[:5]
    assert min(counts.values()) >= 1, counts
    assert result.outcome == "complete", (result.error, result.failed)
    log = " ".join([result.error or "", *result.skipped, *result.failed.values()])
    assert "locked" not in log.lower(), log[:500]
    assert_store_equals_world(db, world)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------------------------------------
# One harvest per store


@pytest.fixture
def family(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world, latency_ms=0)
    config = family_config(world, sim.url, tmp_path / "family.db")
    return world, sim, config, write_config(config, tmp_path / "family.yml")


def hold_lock(database: Path) -> subprocess.Popen:
    """Another process holding the store's lock, as a running harvest does."""
    code = ("import sys, time; from civicbot.store.lock import StoreLock; "
            "lock = StoreLock(sys.argv[1], 'harvest').acquire(); print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(database)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_harvest_or_daemon_meets_the_lock_then_takes_over_a_dead_holders(family):
    world, _, config, yml = family
    database = Path(config.database.path)
    holder = hold_lock(database)
    try:
        for args in (("harvest", "-c", str(yml)), ("run", "-c", str(yml)), ("label", "-c", str(yml), "--apply")):
            done = cli(*args)
            assert done.returncode == 75, done.stderr
            assert "Traceback" not in done.stderr
            assert f"(pid {holder.pid}, started " in done.stderr and str(database) in done.stderr, done.stderr
    finally:
        holder.kill()
        holder.wait()
    done = cli("harvest", "-c", str(yml))  # the dead holder's lock file is simply taken over
    assert done.returncode == 0, done.stderr
    assert_store_equals_world(open_store(database), world)


def test_a_run_left_running_by_a_dead_process_is_settled_by_the_next_run(family):
    _, _, config, yml = family
    database = Path(config.database.path)
    db = open_store(database)
    with write_transaction(db):
        db.execute("INSERT INTO harvest_runs (outcome, pid) VALUES ('running', ?)", [dead_pid()])
        db.execute("INSERT INTO job_runs (job, outcome, pid) VALUES ('harvest', 'running', ?)", [dead_pid()])
    db.conn.close()
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 0, done.stderr
    assert rows(database, "SELECT outcome FROM harvest_runs ORDER BY id") == [("interrupted",), ("complete",)]
    assert rows(database, "SELECT count(*) FROM harvest_runs WHERE outcome = 'interrupted' AND error LIKE "
                          "'its process ended%'") == [(1,)]
    assert rows(database, "SELECT count(*) FROM job_runs WHERE outcome = 'running'") == [(0,)]


def test_a_lock_taken_but_not_yet_named_still_gives_the_holders_name(tmp_path):
    """The instant between a holder's flock and its writing its name (CI once printed "another process")."""
    import fcntl
    import json

    from civicbot.store.lock import StoreBusy, lock_path

    database = tmp_path / "store.db"
    handle = open(lock_path(database), "a+", encoding="utf-8")  # noqa: SIM115
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held, still blank

    def name_the_holder():
        time.sleep(0.3)
        handle.write(json.dumps({"pid": 4242, "command": "harvest", "started_at": "2020-03-03T00:00:00Z"}))
        handle.flush()

    namer = threading.Thread(target=name_the_holder)
    namer.start()
    try:
        with pytest.raises(StoreBusy) as busy:
            StoreLock(database, "harvest").acquire()
        assert "another harvest (pid 4242" in str(busy.value)
    finally:
        namer.join()
        handle.close()


def test_concurrent_harvests_each_finish_or_step_aside_with_one_line(family):
    world, _, config, yml = family
    procs = [start_cli("harvest", "-c", str(yml)) for _ in range(4)]
    outcomes = [(p.wait(300), p.stderr.read()) for p in procs]
    for code, stderr in outcomes:
        assert code in (0, 75), stderr
        assert "Traceback" not in stderr
        if code == 75:
            assert "another harvest (pid " in stderr
    assert any(code == 0 for code, _ in outcomes)
    database = Path(config.database.path)
    assert rows(database, "SELECT count(*) FROM harvest_runs WHERE outcome = 'running'") == [(0,)]
    assert_store_equals_world(open_store(database), world)


# ---------------------------------------------------------------------------------------------
# Interrupts


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_harvest_says_nothing_was_lost_and_the_rerun_completes(sim_factory, tmp_path, signum):
    world = tiny_world()
    sim = sim_factory(world, latency_ms=300)  # slow enough that the run is mid-way when the signal comes
    config = family_config(world, sim.url, tmp_path / "int.db")
    yml = write_config(config, tmp_path / "int.yml")
    database = Path(config.database.path)
    proc = start_cli("harvest", "-c", str(yml))
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if database.exists() and rows(database, "SELECT count(*) FROM sqlite_master WHERE name = 'sync_state'") \
                    == [(1,)] and rows(database, "SELECT count(*) FROM sync_state")[0][0] > 0:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the harvest ended before it could be interrupted"
        proc.send_signal(signum)
        code = proc.wait(300)
    finally:
        proc.kill()
    stderr = proc.stderr.read()
    assert code == 130, stderr
    assert "interrupted: nothing lost; run the same command again to resume" in stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert rows(database, "SELECT outcome FROM harvest_runs") == [("interrupted",)]
    assert rows(database, "SELECT job, outcome, started_by FROM job_runs") == [("harvest", "interrupted", "command")]
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 0, done.stderr
    assert_store_equals_world(open_store(database), world)


# ---------------------------------------------------------------------------------------------
# Messages that say what to do


def test_without_a_token_the_harvest_says_a_token_is_needed_and_creates_nothing(family, tmp_path):
    _, _, config, yml = family
    done = cli("harvest", "-c", str(yml), token=None)
    assert done.returncode == 2, done.stderr
    assert "without a token GitHub allows 60 requests an hour" in done.stderr
    assert "set the environment variable CIVICBOT_TEST_TOKEN" in done.stderr
    assert not EPOCH.search(done.stderr) and "Traceback" not in done.stderr
    assert not Path(config.database.path).exists()
    # With a store already there, the same advice (the anonymous quota never covers the reserve).
    assert cli("harvest", "-c", str(yml)).returncode == 0
    done = cli("harvest", "-c", str(yml), token=None)
    assert done.returncode == 2 and "set the environment variable CIVICBOT_TEST_TOKEN" in done.stderr, done.stderr
    assert not EPOCH.search(done.stderr)


def test_a_rate_limited_harvest_names_the_reset_in_the_projects_time_zone(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "rl.db", rate_limit_reserve=4995)
    data = config.model_dump(mode="json")
    data["timezone"] = "Asia/Tokyo"
    yml = tmp_path / "rl.yml"
    import yaml
    yml.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 75, done.stderr
    assert "rate-limit reserve of 4995 reached" in done.stderr
    assert re.search(r"Run the same command again after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST", done.stderr), done.stderr
    assert not EPOCH.search(done.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_base_url_stops_at_once_with_doctors_advice_and_creates_nothing(tmp_path):
    world = tiny_world()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = family_config(world, url, tmp_path / "nowhere.db")
    yml = write_config(config, tmp_path / "nowhere.yml")
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 2, done.stderr
    assert f"{url} is unreachable" in done.stderr and "civicbot doctor" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path(config.database.path).exists()
    # With a store already there: the run stops after the first repo's retries, recorded failed.
    open_store(config.database.path).conn.close()
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 2, done.stderr
    assert f"{url} is unreachable" in done.stderr
    assert rows(Path(config.database.path), "SELECT outcome, requests_made FROM harvest_runs") == [("failed", 1)]


def test_status_shows_the_quota_and_the_job_the_last_manual_run_left_with_whole_timestamps(family):
    _, _, config, yml = family
    done = cli("harvest", "-c", str(yml))
    assert done.returncode == 0, done.stderr
    left = re.search(r"quota left (\d+)", done.stderr).group(1)
    status = cli("status", "-c", str(yml))  # no terminal: a pipe, as under cron
    assert status.returncode == 0, status.stderr
    assert f"quota left: {left} (as of " in status.stdout
    assert "unknown" not in status.stdout.split("quota left:")[1]
    harvest_row = next(line for line in status.stdout.splitlines() if line.startswith("│ harvest "))
    assert "command" in harvest_row and "complete" in harvest_row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", harvest_row), harvest_row
    assert "…" not in status.stdout and not EPOCH.search(status.stdout)
