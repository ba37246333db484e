"""Commits, dated and incremental (issue 17): the commit list of every repo of the family, read
newest first with `since`, resumed page by page, a refresh with no change free (304), the
e-mail addresses never stored, a derivative's inherited commits left to the repo they came from."""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlite_utils
from harvest_helpers import (
    assert_commits_match_world,
    canonical_dump,
    family_config,
    visible,
    write_config,
)
from test_crash_safety import ENV, ROOT, Killer, cli

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.publish.bundle import DROP_TABLES
from civicbot.publish.metadata import HIDDEN_TABLES
from civicbot.sandbox import World
from civicbot.sandbox.generate import DEMO_TOKEN, family_truth, generate_world_dict
from civicbot.store import MIGRATIONS, migrate, open_store, write, write_transaction
from civicbot.store.schema import add_commits

UPSTREAM = "Tokyo-Metro-Gov/covid19"
COMMITS_ONLY = ["repo", "forks", "commits"]  # the lists commits need; issues and the rest left out


def commits_config(world, sim, path: Path, per_page: int = 100, resources=COMMITS_ONLY):
    config = family_config(world, sim.url, path, per_page=per_page)
    return config.model_copy(update={"harvest": config.harvest.model_copy(update={"resources": resources})})


def run(config, **options):
    db = open_store(config.database.path)
    return harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None), **options), db


def commit_requests(sim, since: int = 0) -> list[dict]:
    """The commit-list requests (not the root commit's, nor discovery's) logged after `since`."""
    if str(ROOT) not in sys.path:  # `benchmarks` is a top-level directory, not an installed package
        sys.path.insert(0, str(ROOT))
    from benchmarks.harvest import is_commit_list

    return [r for r in sim.app.requests[since:] if is_commit_list(r)]


def upstream_of(world: dict) -> dict:
    return next(r for r in world["repos"] if f"{r['owner']}/{r['name']}" == UPSTREAM)


@pytest.fixture(scope="module")
def world():
    return generate_world_dict(seed=41, scale=0.1)


def test_noreply_addresses_give_their_login():
    assert write.noreply_login("12345+Taro-Yamada@users.noreply.github.com") == "Taro-Yamada"
    assert write.noreply_login(" hanako@users.noreply.github.com ") == "hanako"
    assert write.noreply_login("41898282+github-actions[bot]@users.noreply.github.com") == "github-actions[bot]"
    assert write.noreply_login("12345+x@USERS.NOREPLY.GITHUB.COM") == "x"
    for other in ("taro@example.com", "noreply@github.com", "a@b@users.noreply.github.com", "-x@users.noreply.github.com",
                  "x@users.noreply.github.com.example.com", "", None, 42):
        assert write.noreply_login(other) is None, other


def test_commits_match_the_world_and_inherited_ones_stay_with_the_upstream(world, sim_factory, tmp_path):
    sim = sim_factory(copy.deepcopy(world))
    config = commits_config(world, sim, tmp_path / "c.db")
    result, db = run(config)
    assert result.outcome == "complete" and not result.failed, result
    assert assert_commits_match_world(db, world) >= 50
    w, truth = World(world), family_truth(world)
    by_repo: dict[int, set[str]] = {}
    for sha, repo_id in db.execute("SELECT sha, repo_id FROM commits"):
        by_repo.setdefault(repo_id, set()).add(sha)
    ids = {r["id"] for r in visible(world)}
    forks = [r for r in visible(world) if r.get("fork_parent_id") in ids]
    assert len(forks) >= 5
    for fork in forks:  # a fork's commits are its own: its history less its parent's
        parent = next(r for r in world["repos"] if r["id"] == fork["fork_parent_id"])
        own = w.ancestors(fork.get("head")) - w.ancestors(parent.get("head"))
        assert by_repo.get(fork["id"], set()) == own, fork["name"]
    assert any(by_repo.get(f["id"]) for f in forks), "no fork with commits of its own: the test shows nothing"
    # A fork reads from its creation (less a margin), not its whole inherited history.
    fork_paths = {f"/repos/{f['owner']}/{f['name']}/commits" for f in forks}
    fork_requests = [r for r in commit_requests(sim) if r["path"] in fork_paths]
    assert fork_requests and all("since=" in r["query"] for r in fork_requests)
    # The empty derivative (409) is done, without a commit and without failing the run.
    (empty,) = truth["empty"]
    assert write.sync_state(db, empty, "commit_list")["complete"] == 1 and empty not in by_repo
    # Who wrote them: linked accounts, unlinked addresses, commit-only people.
    stats = db.execute("""SELECT count(*), count(author_id), count(author_noreply_login), count(author_email_hash),
                          count(DISTINCT author_email_hash) FROM commits""").fetchone()
    assert stats[0] > stats[1] > stats[2] > 0 and stats[3] == stats[0] and 1 < stats[4] < stats[0]
    openers = {i["user"].lower() for i in world["issues"]}
    commit_only = {login.lower() for (login,) in db.execute(
        "SELECT DISTINCT u.login FROM commits c JOIN users u ON u.id = c.author_id")} - openers
    assert commit_only, "no commit-only person in the world"


def test_no_e_mail_address_is_stored_in_clear(world, sim_factory, tmp_path):
    sim = sim_factory(copy.deepcopy(world))
    config = commits_config(world, sim, tmp_path / "e.db", resources=list(
        ("repo", "issues", "pulls", "comments", "events", "labels", "contributors", "forks", "commits")))
    result, db = run(config)
    assert result.outcome == "complete"
    addresses = {c["author_email"] for c in world["commits"]}
    assert len(addresses) >= 20
    found = []
    for table in db.table_names():
        for column in db[table].columns:
            for address in addresses:
                for form in {address, address.lower(), address.split("@")[0] + "@"}:
                    if db.execute(f"SELECT 1 FROM [{table}] WHERE instr(lower(CAST([{column.name}] AS TEXT)), ?) "
                                  "LIMIT 1", [form.lower()]).fetchone():
                        found.append((table, column.name, form))
    assert not found, found[:5]
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("e.db*")).lower()
    assert not [a for a in addresses if a.lower().encode() in raw]
    # the hash's salt is the store's own, never published nor shown
    assert db.execute("SELECT count(*) FROM store_secrets").fetchone()[0] == 1
    assert "store_secrets" in DROP_TABLES and "store_secrets" in HIDDEN_TABLES


def test_refresh_costs_nothing_without_a_push_and_reads_only_new_commits_after_one(world, sim_factory, tmp_path):
    sim = sim_factory(copy.deepcopy(world))
    config = commits_config(world, sim, tmp_path / "i.db")
    # The REST path's rule (batch detection would skip the repo before its object is read again).
    config = config.model_copy(update={"harvest": config.harvest.model_copy(
        update={"batch": config.harvest.batch.model_copy(update={"enabled": False})})})
    first, db = run(config)
    assert first.outcome == "complete"
    stored = db.execute("SELECT count(*) FROM commits").fetchone()[0]

    # Nothing changed: no quota at all.
    mark = len(sim.app.requests)
    again, db = run(config)
    assert again.outcome == "complete" and again.quota_used == 0
    assert sum(r["quota"] for r in sim.app.requests[mark:]) == 0

    # The upstream's repo object read again without a push (as after a star, a description
    # edited): its commit list is asked, and answers 304.
    upstream = upstream_of(world)
    with write_transaction(db):
        db.execute("UPDATE sync_state SET etag = NULL WHERE resource = 'repo' AND repo_id = ?", [upstream["id"]])
    mark = len(sim.app.requests)
    third, db = run(config)
    asked = [r for r in commit_requests(sim, mark) if r["path"] == f"/repos/{UPSTREAM}/commits"]
    assert third.outcome == "complete" and asked and {r["status"] for r in asked} == {304}
    assert sum(r["quota"] for r in commit_requests(sim, mark)) == 0

    # A push of three commits: a merge, an unlinked address, a commit-only person's own address.
    people = {u["login"]: u for u in world["users"]}
    head = upstream["head"]
    older = World(world).history(head)[5]["sha"]
    login = next(c["author"] for c in world["commits"] if c["author"])
    pushed = [
        {"sha": "%040x" % 1, "message": "Merge branch 'fix'", "author": login, "author_name": login,
         "author_email": f"{people[login]['id']}+{login}@users.noreply.github.com", "date": "2021-06-01T00:00:00Z",
         "parents": [head, older]},
        {"sha": "%040x" % 2, "message": "データ更新", "author": None, "author_name": "山田 太郎",
         "author_email": "Taro.Yamada@mail.example.jp", "date": "2021-06-02T00:00:00Z"},
        {"sha": "%040x" % 3, "message": "typo", "author": login, "author_name": "Someone",
         "author_email": "someone.new@example.com", "date": "2021-06-03T00:00:00Z"},
    ]
    sim.app._mutate({"repo": UPSTREAM, "action": "push", "commits": pushed})
    mark = len(sim.app.requests)
    pages: list[int] = []
    fourth, db = run(config, progress=lambda e: pages.append(e["items"]) if e.get("resource") == "commit_list" else None)
    assert fourth.outcome == "complete"
    assert_commits_match_world(db, sim.app.world.data)
    assert db.execute("SELECT count(*) FROM commits").fetchone()[0] == stored + 3
    rows = {r["sha"]: r for r in db.query("SELECT * FROM commits WHERE sha IN (?, ?, ?)", [p["sha"] for p in pushed])}
    assert rows[pushed[0]["sha"]]["is_merge"] == 1 and rows[pushed[0]["sha"]]["author_noreply_login"] == login
    assert rows[pushed[1]["sha"]]["author_id"] is None and rows[pushed[1]["sha"]]["author_email_hash"]
    asked = [r for r in commit_requests(sim, mark) if r["path"] == f"/repos/{UPSTREAM}/commits"]
    # the page, then its ETag for the next run (discovery's read of the upstream's history, to
    # place copies, is apart: not counted here)
    assert asked and all("since=" in r["query"] for r in asked) and sum(r["quota"] for r in asked) <= 2, asked
    upstream_history = len(World(world).history(head))
    assert sum(pages) < upstream_history, (pages, upstream_history)  # the new ones and a week's margin only
    print(f"\nafter a push of 3: {len(asked)} upstream commit-list requests, {sum(pages)} commits read "
          f"of {upstream_history + 3}")

    # ...and the refresh after it is free again.
    mark = len(sim.app.requests)
    fifth, db = run(config)
    assert fifth.quota_used == 0 and sum(r["quota"] for r in sim.app.requests[mark:]) == 0


def test_a_list_stopped_midway_resumes_at_its_next_page(world, sim_factory, tmp_path):
    """Stopped between two pages of the upstream's commits (small pages), the next run starts at
    the page after the last one written, and ends with the table an uninterrupted run makes."""
    ref_sim, sim = sim_factory(copy.deepcopy(world)), sim_factory(copy.deepcopy(world))
    ref_result, ref = run(commits_config(world, ref_sim, tmp_path / "ref.db", per_page=4))
    assert ref_result.outcome == "complete"
    config = commits_config(world, sim, tmp_path / "stop.db", per_page=4)
    stop, written = threading.Event(), []

    def progress(event):
        if event.get("resource") == "commit_list":
            written.append(event)
            if len(written) == 3:
                stop.set()

    first, db = run(config, progress=progress, stop=stop)
    assert first.outcome == "interrupted"
    upstream_id = upstream_of(world)["id"]
    state = write.sync_state(db, upstream_id, "commit_list")
    assert state["complete"] == 0 and "page=4" in state["next_url"]
    mark = len(sim.app.requests)
    second, db = run(config)
    assert second.outcome == "complete"
    asked = [r for r in commit_requests(sim, mark) if r["path"] == f"/repos/{UPSTREAM}/commits"]
    assert "page=4" in asked[0]["query"]  # not the first page again
    assert canonical_dump(db, sim.url)["commits"] == canonical_dump(ref, ref_sim.url)["commits"]
    assert_commits_match_world(db, world)


@pytest.mark.timeout(900)
def test_sigkill_during_the_commit_lists_then_resume(world, sim_factory, tmp_path):
    """Killed (SIGKILL) at seeded random commit-list requests, then run to the end: the same
    commits table as an uninterrupted harvest (tests/test_crash_safety.py's killer)."""
    ref_sim, sim = sim_factory(copy.deepcopy(world)), sim_factory(copy.deepcopy(world))
    ref_result, ref = run(commits_config(world, ref_sim, tmp_path / "ref.db", per_page=5))
    assert ref_result.outcome == "complete"
    yml = write_config(commits_config(world, sim, tmp_path / "kill.db", per_page=5), tmp_path / "kill.yml")
    killer = Killer(sim, random.Random(17), len(commit_requests(ref_sim)) / 6,
                    phase=lambda path: "commits" if path.endswith("/commits") else "other")
    killer.run_until(cli("harvest", "--quiet", "-c", str(yml)), 6)
    sim.app.observers.clear()
    done = subprocess.run(cli("harvest", "--quiet", "-c", str(yml)), env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    db = open_store(tmp_path / "kill.db")
    assert canonical_dump(db, sim.url)["commits"] == canonical_dump(ref, ref_sim.url)["commits"]
    assert_commits_match_world(db, world)
    assert any(phase == "commits" for phase, _, _ in killer.landed)


def test_a_store_from_before_keeps_its_root_commits(tmp_path):
    """The commits migration renames the root-commit lookup's sync state (`commits` before): a
    store from before asks for no root commit again."""
    number = next(m.number for m in MIGRATIONS if m.apply is add_commits)
    store = sqlite_utils.Database(tmp_path / "old.db")
    migrate(store, MIGRATIONS[:number - 1])  # the version before, with a root commit looked up then
    with write_transaction(store):
        store.execute("INSERT INTO repos (id, full_name, owner, name) VALUES (1, 'o/r', 'o', 'r')")
        store.execute("INSERT INTO sync_state (repo_id, resource, complete) VALUES (1, 'commits', 1)")
    migrate(store)
    assert store.execute("SELECT resource, complete FROM sync_state").fetchall() == [("root_commit", 1)]
    assert {"commits", "store_secrets"} <= set(store.table_names())
