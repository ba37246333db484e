"""`civicbot run` (the scheduled daemon), `civicbot status` for its jobs, and `civicbot doctor`.

The daemon runs as a subprocess against the simulator with a second-level schedule (6-field cron
lines, seconds first), so a few cycles take seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from civicbot.store import MIGRATIONS, open_store
from conftest import ROOT
from harvest_helpers import assert_store_equals_world, expected_rows, family_config
from worlds import TOKEN, tiny_world

SECRET = "ghp_" + "RecognisableDaemonToken0123456789"  # built, so no token-like literal is tracked  # must never appear in a log line


def world_with_secret() -> dict:
    world = tiny_world()
    world["tokens"].append({"token": SECRET, "login": "civicbot-demo"})
    return world


def write_config(tmp_path: Path, world: dict, url: str, **schedule) -> Path:
    data = family_config(world, url, tmp_path / "bot.db").model_dump(mode="json")
    data["schedule"] = {"heartbeat_seconds": 0.5, "triage": None, "label": None, "publish": None, **schedule}
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


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen, limit: float = 10) -> float:
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the daemon did not exit within {limit} s of SIGTERM") from None
    assert code == 0
    return time.monotonic() - began


def test_cycles_in_order_no_overlap_and_a_failing_job_does_not_stop_the_others(sim_factory, tmp_path):
    world = world_with_secret()
    # The first two requests stall 2.5 s each: the first harvest outlasts its 4 s slot.
    sim = sim_factory(world, faults={"seed": 1, "rules": [
        {"kind": "stall", "path": "/repos/*", "stall_seconds": 2.5, "times": 2}]})
    (tmp_path / "a-file").write_text("not a folder")
    config = write_config(tmp_path, world, sim.url, harvest="*/4 * * * * *", triage="1/4 * * * * *",
                          label="2/4 * * * * *", publish="3/4 * * * * *",
                          publish_dir=str(tmp_path / "a-file" / "publish"))  # unwritable: publish fails
    log = tmp_path / "daemon.log"
    proc = start(config, log, "json")
    db_path = tmp_path / "bot.db"
    try:
        def three_cycles():
            runs = job_runs(db_path)
            harvests = [r for r in runs if r["job"] == "harvest" and r["outcome"] == "complete"]
            return len(harvests) >= 3 and any(r["job"] == "publish" and r["outcome"] != "running"
                                              and r["id"] > harvests[2]["id"] for r in runs)
        wait_for(three_cycles, 45, "three harvest cycles")
        status = subprocess.run([sys.executable, "-m", "civicbot.cli", "status", "-c", str(config), "--json"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=30)
    finally:
        stop(proc)
    runs = [r for r in job_runs(db_path) if r["outcome"] != "running"]

    # No two jobs overlap (one global lock), harvests included; the stalled harvest was slow.
    timed = sorted(runs, key=lambda r: r["details"]["started_epoch"])
    for before, after in zip(timed, timed[1:]):
        assert after["details"]["started_epoch"] >= before["details"]["ended_epoch"], (before, after)
    harvests = [r for r in runs if r["job"] == "harvest"]
    assert harvests[0]["details"]["ended_epoch"] - harvests[0]["details"]["started_epoch"] >= 4.5
    assert all(r["outcome"] == "complete" for r in harvests)

    # Metrics right after each successful harvest; then triage, label, publish in their slots.
    order = [r["job"] for r in runs]
    for index, row in enumerate(runs):
        if row["job"] == "harvest":
            assert order[index + 1] == "metrics" and runs[index + 1]["outcome"] == "complete"
    second = [i for i, r in enumerate(runs) if r["job"] == "harvest"][1]
    assert order[second:second + 5] == ["harvest", "metrics", "triage", "label", "publish"], order
    assert all(r["outcome"] == "complete" for r in runs if r["job"] in ("triage", "label"))

    # The publish job fails every time, is recorded with its cause, and the scheduler goes on.
    publishes = [r for r in runs if r["job"] == "publish"]
    assert len(publishes) >= 2 and all(r["outcome"] == "failed" and r["exit_code"] == 1 for r in publishes)
    assert "Error" in publishes[0]["error"]
    assert max(r["id"] for r in harvests) > publishes[0]["id"]

    # status --json: the old keys, and each job's last run, next run, heartbeat and quota.
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert {"runs", "repos", "jobs", "heartbeat", "quota"} <= set(shown)
    jobs = {j["job"]: j for j in shown["jobs"]}
    assert jobs["publish"]["outcome"] == "failed" and jobs["publish"]["error"]
    assert jobs["harvest"]["last_success_at"] and jobs["harvest"]["next_run"]
    assert jobs["metrics"]["next_run"] == "after harvest"
    assert shown["heartbeat"]["pid"] == proc.pid and shown["quota"]["remaining"] is not None

    db = open_store(db_path)
    assert_store_equals_world(db, world)
    assert db.execute("SELECT state FROM heartbeat").fetchone()[0] == "stopped"

    text = log.read_text(encoding="utf-8")
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(line.get("job") == "publish" and line.get("outcome") == "failed" and line.get("error")
               for line in lines)


def test_sigterm_during_a_harvest_then_a_restart_finishes_it(sim_factory, tmp_path):
    world = world_with_secret()
    sim = sim_factory(world, faults={"seed": 1, "rules": [
        {"kind": "stall", "path": "/repos/*", "stall_seconds": 1.0, "times": 12}]})
    config = write_config(tmp_path, world, sim.url, harvest="*/2 * * * * *")
    db_path, log = tmp_path / "bot.db", tmp_path / "daemon.log"

    proc = start(config, log)
    try:
        wait_for(lambda: any(r["job"] == "harvest" for r in job_runs(db_path)), 15, "a harvest to start")
        time.sleep(2.5)  # a few pages in
    finally:
        took = stop(proc)
    assert took < 10
    runs = job_runs(db_path)
    assert [r["outcome"] for r in runs if r["job"] == "harvest"] == ["interrupted"]
    db = open_store(db_path)
    assert db.execute("SELECT outcome FROM harvest_runs ORDER BY id DESC").fetchone()[0] == "interrupted"
    assert db.execute("SELECT COUNT(*) FROM sync_state").fetchone()[0] > 0  # pages saved
    db.conn.close()

    proc = start(config, log)  # catches up at once: the last harvest did not finish
    try:
        wait_for(lambda: any(r["job"] == "harvest" and r["outcome"] == "complete" for r in job_runs(db_path)),
                 30, "the restarted harvest to complete")
    finally:
        stop(proc)
    db = open_store(db_path)
    counts = assert_store_equals_world(db, world)
    for table in ("items", "comments", "issue_events", "labels"):  # nothing duplicated
        assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == counts[table]
    assert SECRET not in log.read_text(encoding="utf-8")


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
