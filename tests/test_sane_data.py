"""Sane data from a hostile API: implausible timestamps, names that would leave the API path,
a stray 404 inside a list, and config or paths that are not regular files (issue 15, 9 and 10)."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys

import pytest
import requests
from conftest import ROOT
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

from civicbot.config import Config, ConfigError, load_config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics import write_all_metrics
from civicbot.sandbox import World
from civicbot.store import StoreError, open_store
from civicbot.store.schema import is_plausible
from civicbot.triage.score import score_family

FAR_FUTURE = "9999-12-31T23:59:59Z"


def run(world, sim, tmp_path, discovery: dict | None = None, **github):
    config = family_config(world, sim.url, tmp_path / "h.db", **github)
    if discovery:
        data = config.model_dump(mode="json")
        data["discovery"]["shared_root"].update(discovery)
        config = Config.model_validate(data)
    db = open_store(config.database.path)
    return harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)), db, config


def sim_log(sim) -> list[dict]:
    return requests.get(f"{sim.url}/_sim/requests").json()["requests"]


def escaped(sim) -> list[str]:
    """Paths asked outside the API's own: with `..` (or after urllib3 resolved one away)."""
    api = ("/repos/", "/repositories/", "/search/", "/users/", "/orgs/", "/rate_limit", "/user")
    return [r["path"] for r in sim_log(sim)
            if "/.." in r["path"] or not (r["path"].startswith(api) or r["path"] == "/graphql")]


def edit(sim, number: int, **changes) -> None:
    requests.post(f"{sim.url}/_sim/world", json={"repo": "Tokyo-Metro-Gov/covid19", "action": "edit",
                                                "number": number, "changes": changes}).raise_for_status()


def cursors(db) -> dict[tuple[int, str], str]:
    return {(r["repo_id"], r["resource"]): r["cursor"] for r in db.query(
        "SELECT repo_id, resource, cursor FROM sync_state WHERE resource IN ('issues', 'comments', 'pulls') "
        "AND cursor IS NOT NULL")}


# -- timestamps ---------------------------------------------------------------------------------

def test_an_item_from_the_year_9999_is_refused_and_moves_no_cursor(sim_factory, tmp_path):
    world = tiny_world()
    poisoned = next(i for i in world["issues"] if i["repo_id"] == 10 and i["number"] == 3)
    poisoned["updated_at"] = FAR_FUTURE
    comment = next(c for c in world["comments"] if c["id"] == 2003)
    comment["updated_at"] = FAR_FUTURE
    sim = sim_factory(world)
    result, db, config = run(world, sim, tmp_path)
    assert result.outcome == "complete"
    refused = [s for s in result.skipped if "implausible timestamp 9999-12-31T23:59:59Z" in s]
    assert any(s.startswith("issues in repo 10: field 'updated_at'") for s in refused), result.skipped
    assert any(s.startswith("comments in repo 10: field 'updated_at'") for s in refused), result.skipped
    assert db["items"].count_where("id = ?", [poisoned["id"]]) == 0
    assert db["items"].count_where("repo_id = 10") == 3  # the rest of the page is kept
    assert cursors(db) and all(is_plausible(c) for c in cursors(db).values()), cursors(db)

    # A later edit of another issue is seen by the next run (a cursor of 9999 would hide it).
    edit(sim, 1, title="グラフの色を修正 (edited)")
    again, db, _ = run(world, sim, tmp_path)
    assert again.outcome == "complete"
    assert db.execute("SELECT title FROM items WHERE id = 1001").fetchone()[0] == "グラフの色を修正 (edited)"
    asked = [r["query"] for r in sim_log(sim) if r["path"].endswith("/issues")]
    assert asked and not any("9999" in q for q in asked), asked
    write_all_metrics(db, config)
    score_family(db, config)


def test_a_pull_from_the_year_9999_moves_no_cursor(sim_factory, tmp_path):
    world = tiny_world()
    pull = next(i for i in world["issues"] if i["repo_id"] == 10 and i["number"] == 4)
    pull["updated_at"] = FAR_FUTURE
    sim = sim_factory(world)
    result, db, _ = run(world, sim, tmp_path)
    assert any("implausible timestamp" in s for s in result.skipped), result.skipped
    assert all(is_plausible(c) for c in cursors(db).values()), cursors(db)


def test_a_stored_cursor_in_the_future_is_ignored_and_heals(sim_factory, tmp_path):
    sim = sim_factory()
    first, db, _ = run(tiny_world(), sim, tmp_path)
    assert first.outcome == "complete"
    with db.conn:  # what an earlier version left behind after an item from the year 9999
        db.execute("UPDATE sync_state SET cursor = ? WHERE repo_id = 10 AND resource IN ('issues', 'pulls')",
                   [FAR_FUTURE])
    edit(sim, 1, title="edited after the poisoning")
    again, db, _ = run(tiny_world(), sim, tmp_path)
    assert again.outcome == "complete"
    assert db.execute("SELECT title FROM items WHERE id = 1001").fetchone()[0] == "edited after the poisoning"
    assert any("stored cursor 9999-12-31T23:59:59Z is implausible" in s for s in again.skipped), again.skipped
    assert all(is_plausible(c) for c in cursors(db).values()), cursors(db)


def test_metrics_and_triage_ignore_implausible_rows_already_stored(sim_factory, tmp_path):
    sim = sim_factory()
    _, db, config = run(tiny_world(), sim, tmp_path)
    with db.conn:  # rows an earlier version stored: metrics overflowed, triage raised on every run
        db.execute("UPDATE items SET created_at = ?, updated_at = ? WHERE id = 1003", [FAR_FUTURE, FAR_FUTURE])
        db.execute("UPDATE items SET closed_at = ? WHERE id = 1001", [FAR_FUTURE])
        db.execute("UPDATE comments SET created_at = ? WHERE id = 2002", [FAR_FUTURE])
        db.execute("UPDATE issue_events SET created_at = ? WHERE id = 3006", [FAR_FUTURE])
    counts = write_all_metrics(db, config)
    assert counts["activity"] > 0
    assert db.execute("SELECT count(*) FROM metrics_periodic WHERE period_start LIKE '9999%'").fetchone()[0] == 0
    score_family(db, config)


# -- names before paths ---------------------------------------------------------------------------

def hostile_names_world() -> World:
    """The tiny world plus repos whose full_name would climb out of /repos/: a fork, a search
    hit and a fork owner's other repo (the world schema refuses such names, so unvalidated)."""
    world = tiny_world()
    world["users"].append({"id": 98, "login": "..", "type": "User"})
    template = {"created_at": "2020-03-01T00:00:00Z", "updated_at": "2020-03-20T00:00:00Z",
                "pushed_at": "2020-03-20T00:00:00Z", "default_branch": "development", "homepage": None,
                "labels": [], "contributors": [], "head": None}
    world["repos"] += [
        {**template, "id": 98, "owner": "..", "name": "../etc/passwd", "fork_parent_id": 10,
         "description": "a fork"},
        {**template, "id": 97, "owner": "..", "name": "../etc/shadow", "description": "hostile civic copy"},
        {**template, "id": 96, "owner": "hokkaido-dev", "name": "../../../etc/group", "description": "other repo"},
    ]
    return World(world, validate=False)


def test_names_that_would_leave_the_api_path_are_refused_and_never_asked(sim_factory, tmp_path):
    sim = sim_factory(hostile_names_world())
    result, db, _ = run(tiny_world(), sim, tmp_path, discovery={"search_queries": ["hostile civic"]})
    assert result.outcome == "complete", (result.failed, result.error)
    paths = [r["path"] for r in sim_log(sim)]
    assert "/search/repositories" in paths and "/users/hokkaido-dev/repos" in paths  # the sources were read
    assert not escaped(sim), escaped(sim)
    skipped = "\n".join(result.skipped)
    assert "forks in repo 10: repo 98: field 'full_name': owner '..' is not a GitHub account name" in skipped
    assert "discovery search: hostile civic: candidate refused: owner '..'" in skipped
    assert "discovery owner: hokkaido-dev: candidate refused: repo name '../../../etc/group'" in skipped
    assert db.execute("SELECT count(*) FROM repos WHERE full_name LIKE '%..%'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM candidates WHERE full_name LIKE '%..%'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM repos").fetchone()[0] >= 5  # the family is still harvested


def test_a_repo_renamed_to_a_hostile_name_fails_without_a_request_to_it(sim_factory, tmp_path):
    sim = sim_factory()
    first, db, _ = run(tiny_world(), sim, tmp_path)
    assert first.outcome == "complete"
    copy = next(r for r in sim.app.world.repos.values() if r.id == 13)  # copycat/covid19-city
    copy.data["name"] = "../../x"
    copy.data["updated_at"] = copy.modified = "2020-04-01T00:00:00Z"  # a changed repo object
    requests.delete(f"{sim.url}/_sim/requests")
    again, db, _ = run(tiny_world(), sim, tmp_path)
    assert again.outcome == "partial" and "copycat/covid19-city" in again.failed, again.failed
    assert "repo name '../../x' is not a GitHub repo name" in again.failed["copycat/covid19-city"]
    assert not escaped(sim), escaped(sim)
    assert db.execute("SELECT full_name FROM repos WHERE id = 13").fetchone()[0] == "copycat/covid19-city"


# -- a 404 inside a list ---------------------------------------------------------------------------

ISSUES_PAGE_2 = {"kind": "404", "path": "/repos/Tokyo-Metro-Gov/covid19/issues", "page": 2, "times": 1}


def test_a_stray_404_on_page_2_fails_the_repo_for_this_run_only(sim_factory, tmp_path):
    sim = sim_factory(faults={"rules": [ISSUES_PAGE_2]})
    result, db, _ = run(tiny_world(), sim, tmp_path, per_page=1)
    assert result.outcome == "partial" and result.exit_code == 3
    assert "in issues, though the repo answers" in result.failed["Tokyo-Metro-Gov/covid19"], result.failed
    assert db.execute("SELECT status FROM repos WHERE id = 10").fetchone()[0] == "active"
    assert "/repositories/10" in [r["path"] for r in sim_log(sim)]  # the repo itself was asked

    again, db, _ = run(tiny_world(), sim, tmp_path, per_page=1)  # the fault is spent: all is read
    assert again.outcome == "complete", again.failed
    assert db.execute("SELECT status FROM repos WHERE id = 10").fetchone()[0] == "active"
    assert db["items"].count_where("repo_id = 10") == 4


def test_a_404_in_a_list_and_from_the_repo_itself_marks_it_gone(sim_factory, tmp_path):
    deleted = {"kind": "404", "path": "/repositories/10"}
    sim = sim_factory(faults={"rules": [ISSUES_PAGE_2, deleted]})
    result, db, _ = run(tiny_world(), sim, tmp_path, per_page=1)
    assert "Tokyo-Metro-Gov/covid19: gone" in result.skipped and not result.failed, (result.skipped, result.failed)
    assert db.execute("SELECT status FROM repos WHERE id = 10").fetchone()[0] == "gone"


# -- config and paths -------------------------------------------------------------------------------

MINIMAL = "name: x\nupstream: a/b\ngithub: {token_env: []}\n"


def civicbot_cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """`civicbot ARGS` in tmp_path, its memory capped: without the size caps, /dev/zero would be
    read until the cap ends it (a failure, not a hung test machine)."""
    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "civicbot.cli", *args], cwd=tmp_path, env=env, timeout=120,
                          capture_output=True, text=True, preexec_fn=cap_memory)


def assert_refused(tmp_path, proc, *expected: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr[-2000:])
    assert all(e in lines[0] for e in expected), lines[0]
    assert not list(tmp_path.glob("**/*.db")) and not (tmp_path / "var").exists()  # nothing written


@pytest.fixture
def odd_paths(tmp_path) -> dict[str, str]:
    (tmp_path / "adir").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    return {"/dev/zero": "is a device or other special file, not a regular file",
            str(tmp_path / "adir"): "is a directory, not a file", str(tmp_path / "loop"): "is a symlink loop"}


def test_a_database_path_that_is_no_regular_file_is_refused_in_one_line(tmp_path, odd_paths):
    for n, (path, reason) in enumerate(odd_paths.items()):
        config = tmp_path / f"db{n}.yml"
        config.write_text(MINIMAL + f"database: {{path: '{path}'}}\n", encoding="utf-8")
        assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", str(config)), "database.path", reason)
        with pytest.raises(StoreError, match=reason):  # the library refuses it too
            open_store(path)


def test_a_token_file_that_is_no_regular_file_or_too_large_is_refused_in_one_line(tmp_path, odd_paths):
    (tmp_path / "huge").write_text("ghp_" + "a" * 36 + "\n" + "#" * 100_000 + "\n", encoding="utf-8")
    cases = {**odd_paths, str(tmp_path / "huge"): "is larger than 64,000 bytes"}
    for n, (path, reason) in enumerate(cases.items()):
        config = tmp_path / f"token{n}.yml"
        config.write_text(MINIMAL.replace("token_env: []", f"token_env: [], token_file: '{path}'"), encoding="utf-8")
        assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", str(config)), reason)


def test_a_config_file_that_is_no_regular_file_too_large_or_too_deep_is_refused_in_one_line(tmp_path):
    assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", "/dev/zero"), "/dev/zero: is a device")
    large = tmp_path / "large.yml"
    large.write_text(MINIMAL + "# " + "x" * 1_100_000 + "\n", encoding="utf-8")
    assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", str(large)), "is larger than 1,000,000 bytes")
    deep = tmp_path / "deep.yml"
    deep.write_text(MINIMAL + "title: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", str(deep)), "nested deeper than 50 levels")
    total = tmp_path / "total.yml"
    total.write_text(MINIMAL.replace("token_env: []", "token_env: [], retry: {total: " + "1" + "0" * 30 + "}"),
                     encoding="utf-8")
    assert_refused(tmp_path, civicbot_cli(tmp_path, "harvest", "-c", str(total)),
                   "github.retry.total: Input should be less than or equal to 20")


@pytest.mark.parametrize("setting, value", [
    ("github.retry.backoff_factor", 1e9), ("github.retry.max_rate_limit_wait", 1e12),
    ("github.retry.secondary_rate_wait", 1e12), ("github.throttle.seconds_between_requests", 1e6),
    ("github.throttle.seconds_between_writes", 1e6), ("github.timeout", 1e9),
    ("github.rate_limit_reserve", 10 ** 30), ("discovery.forks.max_depth", 10 ** 6),
    ("discovery.shared_root.max_candidates", 10 ** 12), ("triage.max_per_repo_per_run", 10 ** 12),
    ("triage.max_per_repo_per_week", 10 ** 12), ("triage.min_history", 10 ** 12),
    ("schedule.misfire_grace_seconds", 10 ** 12), ("schedule.heartbeat_seconds", 1e12),
])
def test_every_numeric_setting_is_bounded(tmp_path, setting, value):
    *parents, key = setting.split(".")
    text = MINIMAL if parents[0] != "github" else "name: x\nupstream: a/b\n"
    inner: object = {key: value}
    for parent in reversed(parents[1:]):
        inner = {parent: inner}
    path = tmp_path / "c.yml"
    path.write_text(f"{text}{parents[0]}: {json.dumps(inner)}\n", encoding="utf-8")  # JSON is YAML
    with pytest.raises(ConfigError, match=re.escape(f"{setting}: Input should be less than or equal to")):
        load_config(path)
