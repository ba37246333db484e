"""Code review (issue 17): review comments read incrementally, reviews within a per-run request
budget, both crash-safe, and the review metrics on a hand-made world with known answers."""

from __future__ import annotations

import pytest
import requests
from harvest_helpers import canonical_dump, family_config, visible
from test_metrics_contribution import ALICE, BOB, CAROL, check, metrics_world, period, rows
from worlds import TOKEN, tiny_world

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.contribution import write_contribution_metrics
from civicbot.metrics.people import reviewers
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store, write

UPSTREAM = "/repos/Tokyo-Metro-Gov/covid19"


def run(world, sim, db_path, token=TOKEN, review_budget=0, **options):
    config = family_config(world, sim.url, db_path, review_budget=review_budget)
    db = open_store(config.database.path)
    return harvest(config, db, GitHubClient(config, [token], sleep=lambda s: None), **options), db, config


def log(sim) -> list[dict]:
    return requests.get(f"{sim.url}/_sim/requests").json()["requests"]


def clear_log(sim) -> None:
    requests.delete(f"{sim.url}/_sim/requests")


def stored_reviews(db) -> set[tuple]:
    return {tuple(r) for r in db.execute("""SELECT r.id, r.repo_id, r.pull_number, u.login, r.state, r.submitted_at
                                            FROM reviews r LEFT JOIN users u ON u.id = r.user_id""")}


def world_reviews(world) -> set[tuple]:
    ids = {r["id"] for r in visible(world)}
    return {(r["id"], r["repo_id"], r["pull_number"], r["user"], r["state"], r["submitted_at"])
            for r in world.get("reviews", []) if r["repo_id"] in ids}


# -- review comments: incremental ----------------------------------------------------------------


def test_review_comments_are_read_with_since_and_a_refresh_without_change_costs_nothing(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    first, db, _ = run(world, sim, tmp_path / "r.db")
    assert first.outcome == "complete"
    assert {tuple(r) for r in db.execute("SELECT id, pull_number, in_reply_to_id FROM review_comments")} == {
        (5001, 2, None), (5002, 2, 5001)}
    assert write.sync_state(db, 10, "review_comments")["cursor"] == "2020-03-03T06:30:00Z"

    clear_log(sim)
    again, db, _ = run(world, sim, tmp_path / "r.db")
    asked = [r for r in log(sim) if r["path"] == UPSTREAM + "/pulls/comments"]
    assert len(asked) == 1 and "since=2020-03-03T06%3A30%3A00Z" in asked[0]["query"] and asked[0]["status"] == 304
    # (the tiny world's deleted and blocked repos answer 404 and 451 each run: those are not ours)
    assert sum(r["quota"] for r in log(sim) if "/pulls/" in r["path"]) == 0

    # A new reply and an edit on GitHub: the next run asks since the cursor and gets both.
    repo = sim.app.world.repos[10]
    edited = dict(repo.review_comments[0], updated_at="2020-03-05T00:00:00Z", body="ここも（追記）")
    reply = dict(repo.review_comments[1], id=5003, in_reply_to_id=5001, user="maintainer",
                 created_at="2020-03-05T01:00:00Z", updated_at="2020-03-05T01:00:00Z")
    repo.review_comments[0] = edited
    repo.review_comments.append(reply)
    repo.version += 1
    clear_log(sim)
    third, db, _ = run(world, sim, tmp_path / "r.db")
    asked = [r for r in log(sim) if r["path"] == UPSTREAM + "/pulls/comments"]
    assert "since=2020-03-03T06%3A30%3A00Z" in asked[0]["query"] and asked[0]["status"] == 200
    assert sum(r["quota"] for r in asked) <= 2  # the changes, then the next run's ETag
    assert db.execute("SELECT updated_at FROM review_comments WHERE id = 5001").fetchone()[0] == "2020-03-05T00:00:00Z"
    assert db.execute("SELECT in_reply_to_id FROM review_comments WHERE id = 5003").fetchone()[0] == 5001
    assert db.execute("SELECT count(*) FROM review_comments").fetchone()[0] == 3


# -- reviews: the budget -------------------------------------------------------------------------


def review_requests(sim) -> list[dict]:
    return [r for r in log(sim) if r["path"].endswith("/reviews")]


def test_a_budget_of_n_makes_at_most_n_review_requests_and_the_rest_comes_next_runs(sim_factory, tmp_path):
    world = generate_world_dict(seed=41, scale=0.03)
    ids = {r["id"] for r in visible(world)}
    prs = [i for i in world["issues"] if i["repo_id"] in ids and i.get("pull_request")]
    budget = 40
    assert len(prs) > 3 * budget and world_reviews(world)
    sim = sim_factory(world)
    runs, asked = 0, []
    while True:
        clear_log(sim)
        result, db, _ = run(world, sim, tmp_path / "b.db", token=DEMO_TOKEN, review_budget=budget)
        assert result.outcome == "complete", result.error
        made = review_requests(sim)
        assert len(made) <= budget
        runs += 1
        if not made:
            break
        asked += [r["path"] for r in made]
        assert runs < 20
    assert runs == -(-len(prs) // budget) + 1  # every PR once, `budget` a run, then a run with nothing to do
    assert len(asked) == len(set(asked)) == len(prs)  # never the same PR twice: the cursor moved PR by PR
    assert stored_reviews(db) == world_reviews(world)
    # Nothing changed and nothing is left: the refresh costs no quota at all.
    assert result.quota_used == 0

    # Two PRs get a new review (which updates them): the next run reads those two only, oldest first.
    repo = sim.app.world.repos[prs[0]["repo_id"]]
    changed = [i for i in repo.items if i.get("pull_request")][:2]
    for n, item in enumerate(changed):
        sim.app.world.edit_item(repo, item, {})
        row = {"id": 9_000_000 + n, "repo_id": repo.id, "pull_number": item["number"], "user": "civicbot-demo",
               "state": "COMMENTED", "body": "", "submitted_at": item["updated_at"]}
        repo.reviews.append(row)
        world["reviews"].append(row)
    clear_log(sim)
    result, db, _ = run(world, sim, tmp_path / "b.db", token=DEMO_TOKEN, review_budget=budget)
    assert sorted(r["path"] for r in review_requests(sim)) == sorted(
        f"/repos/{repo.full_name}/pulls/{i['number']}/reviews" for i in changed)
    assert stored_reviews(db) == world_reviews(world)


def test_no_budget_no_review_request(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    result, db, _ = run(world, sim, tmp_path / "z.db", review_budget=0)
    assert result.outcome == "complete" and not review_requests(sim)
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


# -- crash safety --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["stop between pages", "crash inside a page's transaction"])
def test_an_interrupted_review_pass_resumes_to_the_uninterrupted_store(sim_factory, tmp_path, monkeypatch, how):
    world = generate_world_dict(seed=42, scale=0.02)
    sim = sim_factory(world)
    reference, ref_db, _ = run(world, sim, tmp_path / "ref.db", token=DEMO_TOKEN, review_budget=10_000)
    assert reference.outcome == "complete" and ref_db.execute("SELECT count(*) FROM reviews").fetchone()[0] > 20

    import threading

    stop, seen = threading.Event(), []

    def observe(entry):
        if entry["path"].endswith("/reviews"):
            seen.append(entry)
            if len(seen) == 15 and how == "stop between pages":
                stop.set()

    original = write.write_review

    def crashing(db, repo_id, review, prov, rule):
        if len(seen) == 15:
            raise KeyboardInterrupt  # dies mid-page: the page's transaction is rolled back
        return original(db, repo_id, review, prov, rule)

    sim.app.observers.append(observe)
    if how == "crash inside a page's transaction":
        monkeypatch.setattr(write, "write_review", crashing)
        with pytest.raises(KeyboardInterrupt):
            run(world, sim, tmp_path / "crash.db", token=DEMO_TOKEN, review_budget=10_000)
        monkeypatch.setattr(write, "write_review", original)
    else:
        interrupted, _, _ = run(world, sim, tmp_path / "crash.db", token=DEMO_TOKEN, review_budget=10_000, stop=stop)
        assert interrupted.outcome == "interrupted"
    sim.app.observers.clear()
    db = open_store(tmp_path / "crash.db")
    assert 0 < db.execute("SELECT count(*) FROM reviews").fetchone()[0] < ref_db.execute(
        "SELECT count(*) FROM reviews").fetchone()[0]
    resumed, db, _ = run(world, sim, tmp_path / "crash.db", token=DEMO_TOKEN, review_budget=10_000)
    assert resumed.outcome == "complete"
    assert canonical_dump(db, sim.url) == canonical_dump(ref_db, sim.url)


# -- metrics -------------------------------------------------------------------------------------
# The contribution metrics world (tests/test_metrics_contribution.py, JST weeks and months) plus:
#   P2 (bob, created 02-29T16:00Z = JST 03-01 01:00, wk 02-24, March; merged 03-01T16:00Z = JST
#      03-02 01:00, wk 03-02, March):
#      r1 bob himself COMMENTED 02-29T17:30Z   (the author: not a review)
#      r2 github-actions[bot] APPROVED 02-29T18:00Z   (automation: not counted)
#      r3 alice CHANGES_REQUESTED 02-29T20:00Z   first review: 4 h
#      r4 carol APPROVED 03-01T10:00Z
#   P4 (carol, created 03-02T01:00Z = JST 10:00, wk 03-02; closed unmerged):
#      r5 alice COMMENTED 03-02T07:00Z   first review: 6 h
#      r6 erin COMMENTED 03-02T08:00Z   (erin does nothing else: a reviewer only)
#   P5 (the bot's PR, merged): r7 alice APPROVED 03-03T00:30Z   (an automation PR: not in the periodic
#      figures; still alice's review)
ERIN = 9
REVIEWS = [(301, 2, "bob", "COMMENTED", "2020-02-29T17:30:00Z"),
           (302, 2, "github-actions[bot]", "APPROVED", "2020-02-29T18:00:00Z"),
           (303, 2, "alice", "CHANGES_REQUESTED", "2020-02-29T20:00:00Z"),
           (304, 2, "carol", "APPROVED", "2020-03-01T10:00:00Z"),
           (305, 4, "alice", "COMMENTED", "2020-03-02T07:00:00Z"),
           (306, 4, "erin", "COMMENTED", "2020-03-02T08:00:00Z"),
           (307, 5, "alice", "APPROVED", "2020-03-03T00:30:00Z")]


@pytest.fixture
def review_store(sim_factory, tmp_path):
    world = metrics_world()
    world["users"].append({"id": ERIN, "login": "erin", "type": "User"})
    world["reviews"] = [{"id": rid, "repo_id": 10, "pull_number": n, "user": user, "state": state,
                         "submitted_at": at} for rid, n, user, state, at in REVIEWS]
    sim = sim_factory(world)
    result, db, config = run(world, sim, tmp_path / "m.db", review_budget=100)
    assert result.outcome == "complete"
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 7
    return db, config.model_copy(update={"timezone": "Asia/Tokyo"})


def test_reviewers_are_a_kind_of_contribution_without_the_authors_own(review_store):
    db, _ = review_store
    got = {(r.user_id, r.repo_id, r.at) for r in reviewers(db).itertuples()}
    assert (BOB, 10, "2020-02-29T17:30:00Z") not in got  # bob's on his own PR
    assert len(got) == 6 and (ERIN, 10, "2020-03-02T08:00:00Z") in got


def test_contributors_summary_counts_reviews_of_people(review_store):
    db, config = review_store
    write_contribution_metrics(db, config)
    people = {r["login"]: r for r in rows(db, "SELECT * FROM contributors_summary")}
    assert "github-actions[bot]" not in people
    check(people["alice"], reviews=3, issues=3, comments=1, dated_contributions=7)
    check(people["carol"], reviews=1, dated_contributions=4)
    check(people["bob"], reviews=0)
    # a reviewer who did nothing else is a contributor, dated by the review
    check(people["erin"], reviews=1, issues=0, prs=0, comments=0, commits=0, dated_contributions=1, repos_touched=1,
          first_contribution_at="2020-03-02T08:00:00Z", last_contribution_at="2020-03-02T08:00:00Z")
    assert {ALICE, CAROL, ERIN} <= {r["user_id"] for r in rows(db, "SELECT user_id FROM contributors_summary")}


def test_reviews_per_merged_pr_and_time_to_first_review(review_store):
    db, config = review_store
    write_contribution_metrics(db, config)
    # P2 was merged in the week of 03-02 (JST) with 2 reviews (alice, carol: not bob's own, not the bot's);
    # P5, the bot's, is automation and left out.
    check(period(db, "family", "week", "2020-03-02"), reviews_per_merged_pr=2.0,
          time_to_first_review_median_hours=6.0)  # P4, created that week: alice after 6 h
    check(period(db, "family", "week", "2020-02-24"), reviews_per_merged_pr=None,  # nothing merged
          time_to_first_review_median_hours=4.0)  # P2: alice after 4 h (bob's own and the bot's earlier ones skipped)
    check(period(db, "family", "month", "2020-03-01"), reviews_per_merged_pr=2.0,
          time_to_first_review_median_hours=5.0)  # median of 4 and 6
    check(period(db, "Tokyo-Metro-Gov/covid19", "month", "2020-03-01"), reviews_per_merged_pr=2.0,
          time_to_first_review_median_hours=5.0)
    check(period(db, "alice/covid19", "month", "2020-03-01"), reviews_per_merged_pr=None,
          time_to_first_review_median_hours=None)


def test_periodic_contributors_count_reviewers_and_commit_authors(review_store):
    """Issue 17: metrics_periodic's people are those of every kind of contribution (summary.contributions).
    Week of 03-02 (JST): carol's issue, comment and PR, and the reviews of alice (r5, r7) and erin (r6),
    who did nothing else: 3 contributors, erin the one new (carol's first was her review r4, 03-01 19:00
    JST, the week before). Week of 01-27: alice's root commit (02-01) only."""
    db, config = review_store
    write_contribution_metrics(db, config)
    check(period(db, "family", "week", "2020-03-02"), contributors=3, new_contributors=1, returning_contributors=2)
    check(period(db, "family", "week", "2020-02-24"), contributors=3, new_contributors=1)  # carol new (r4), alice, bob back
    check(period(db, "family", "week", "2020-01-27"), contributors=1, new_contributors=1, issues_opened=0)
