"""Sane data from a hostile API: implausible timestamps, names that would leave the API path,
a stray 404 inside a list, and config or paths that are not regular files (issue 15, 9 and 10)."""

from __future__ import annotations

import requests

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics import write_all_metrics
from civicbot.store import open_store
from civicbot.store.schema import is_plausible
from civicbot.triage.score import score_family
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

FAR_FUTURE = "9999-12-31T23:59:59Z"


def run(world, sim, tmp_path, **github):
    config = family_config(world, sim.url, tmp_path / "h.db", **github)
    db = open_store(config.database.path)
    return harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)), db, config


def sim_log(sim) -> list[dict]:
    return requests.get(f"{sim.url}/_sim/requests").json()["requests"]


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
