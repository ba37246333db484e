"""Contribution metrics on a small hand-built world, every expected number worked out by hand.

The world (project time zone Asia/Tokyo, JST = UTC+9; 2020-03-02 is a Monday, so the weeks are
those starting 02-17, 02-24, 03-02, 03-09...). Times below: UTC -> JST (local week, local month).

Repo R10 Tokyo-Metro-Gov/covid19 (upstream):
  a  I6  issue   bob    2020-02-20T00:00Z -> 02-20 09:00 (wk 02-17, 2020-02)  open, never answered
  b  I1  issue   alice  2020-02-29T10:00Z -> 02-29 19:00 (wk 02-24, 2020-02)  closed 03-02T10:00Z (JST 03-02 19:00)
  c      comment bob    on I1 02-29T12:00Z -> (wk 02-24, 2020-02)             first response to I1: 2 h
  d  P2  pr      bob    2020-02-29T16:00Z -> 03-01 01:00 (wk 02-24, 2020-03)  merged+closed 03-01T16:00Z (JST 03-02 01:00)
  e      comment bot    on P2 02-29T16:05Z -> (wk 02-24, 2020-03)             a bot: not a response
  f      comment bob    on P2 02-29T17:00Z -> (wk 02-24, 2020-03)             the author: not a response
  g      comment alice  on P2 03-01T04:00Z -> 03-01 13:00 (wk 02-24, 2020-03)  first response to P2: 12 h
  h  I3  issue   carol  2020-03-01T16:00Z -> 03-02 01:00 (wk 03-02, 2020-03)  next day/week in Tokyo; open
  i      comment carol  on I3 03-01T18:00Z -> (wk 03-02, 2020-03)             the author only: I3 unanswered
  j  P4  pr      carol  2020-03-02T01:00Z -> 03-02 10:00 (wk 03-02, 2020-03)  closed unmerged 03-03T01:00Z
  k      comment bot    on P4 03-02T02:00Z -> (wk 03-02, 2020-03)             only a bot answered: P4 unanswered
  l  P5  pr      bot    2020-03-03T00:00Z -> (wk 03-02, 2020-03)              merged 03-03T01:00Z (bot: left out)
Repo R11 alice/covid19 (a fork):
  m  I7  issue   alice  2020-03-09T00:00Z -> 03-09 09:00 (wk 03-09, 2020-03)  open
  n      comment bob    on I7 03-09T03:00Z -> (wk 03-09, 2020-03)             first response to I7: 3 h
  o  I8  issue   alice  2020-07-01T00:00Z -> 07-01 09:00 (wk 06-29, 2020-07)  open; the data's end
Commit authors (contributors table): R10 alice 3, bob 1; R11 alice 2, dave 4 (dave: commits only).
alice's profile says company "@Code-for-Tokyo"; nobody else has a company.
The data's end is 2020-07-01T00:00:00Z (o); inactive = no contribution for more than 90 days,
i.e. last contribution before 2020-04-02T00:00Z.
"""

from __future__ import annotations

import hashlib

import pytest
from harvest_helpers import family_config
from worlds import TOKEN

from civicbot.config import Config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.contribution import write_activity, write_contribution_metrics, write_contributors, write_periodic
from civicbot.store import open_store

R10, R11 = "Tokyo-Metro-Gov/covid19", "alice/covid19"
ALICE, BOB, CAROL, BOT, DAVE = 2, 3, 4, 5, 6
TABLES = ("activity", "contributors_summary", "metrics_periodic", "contributors_by_place", "contributors_by_affiliation")


def metrics_world() -> dict:
    root = hashlib.sha1(b"root").hexdigest()
    users = [
        {"id": 1, "login": "Tokyo-Metro-Gov", "type": "Organization"},
        {"id": ALICE, "login": "alice", "type": "User", "company": "@Code-for-Tokyo"},
        {"id": BOB, "login": "bob", "type": "User"},
        {"id": CAROL, "login": "carol", "type": "User"},
        {"id": BOT, "login": "github-actions[bot]", "type": "Bot"},
        {"id": DAVE, "login": "dave", "type": "User"},
        {"id": 8, "login": "civicbot-demo", "type": "User"},
    ]

    def repo(rid, owner, name, **kw):
        return {"id": rid, "owner": owner, "name": name, "created_at": "2020-02-01T00:00:00Z",
                "updated_at": "2020-07-01T00:00:00Z", "pushed_at": "2020-07-01T00:00:00Z",
                "default_branch": "main", "head": root, **kw}

    repos = [
        repo(10, "Tokyo-Metro-Gov", "covid19",
             contributors=[{"login": "alice", "contributions": 3}, {"login": "bob", "contributions": 1}]),
        repo(11, "alice", "covid19", fork_parent_id=10,
             contributors=[{"login": "dave", "contributions": 4}, {"login": "alice", "contributions": 2}]),
    ]

    def issue(iid, rid, number, user, created, closed=None, pr=None):
        return {"id": iid, "repo_id": rid, "number": number, "title": f"item {iid}", "body": None, "user": user,
                "state": "closed" if closed else "open", "created_at": created, "updated_at": closed or created,
                "closed_at": closed, "pull_request": pr}

    def pull(merged_at=None, merged_by=None):
        return {"head_repo_id": None, "head_ref": "topic", "base_ref": "main", "merged_at": merged_at,
                "merged_by": merged_by}

    issues = [
        issue(106, 10, 6, "bob", "2020-02-20T00:00:00Z"),
        issue(101, 10, 1, "alice", "2020-02-29T10:00:00Z", closed="2020-03-02T10:00:00Z"),
        issue(102, 10, 2, "bob", "2020-02-29T16:00:00Z", closed="2020-03-01T16:00:00Z",
              pr=pull("2020-03-01T16:00:00Z", "alice")),
        issue(103, 10, 3, "carol", "2020-03-01T16:00:00Z"),
        issue(104, 10, 4, "carol", "2020-03-02T01:00:00Z", closed="2020-03-03T01:00:00Z", pr=pull()),
        issue(105, 10, 5, "github-actions[bot]", "2020-03-03T00:00:00Z", closed="2020-03-03T01:00:00Z",
              pr=pull("2020-03-03T01:00:00Z", "alice")),
        issue(107, 11, 1, "alice", "2020-03-09T00:00:00Z"),
        issue(108, 11, 2, "alice", "2020-07-01T00:00:00Z"),
    ]

    def comment(cid, rid, number, user, at):
        return {"id": cid, "repo_id": rid, "issue_number": number, "user": user, "body": "…",
                "created_at": at, "updated_at": at}

    comments = [
        comment(201, 10, 1, "bob", "2020-02-29T12:00:00Z"),
        comment(202, 10, 2, "github-actions[bot]", "2020-02-29T16:05:00Z"),
        comment(203, 10, 2, "bob", "2020-02-29T17:00:00Z"),
        comment(204, 10, 2, "alice", "2020-03-01T04:00:00Z"),
        comment(205, 10, 3, "carol", "2020-03-01T18:00:00Z"),
        comment(206, 10, 4, "github-actions[bot]", "2020-03-02T02:00:00Z"),
        comment(207, 11, 1, "bob", "2020-03-09T03:00:00Z"),
    ]
    return {
        "format": "civicbot-sandbox-world/1", "seed": None, "description": "contribution metrics world",
        "now": "2020-07-02T00:00:00Z", "tokens": [{"token": TOKEN, "login": "civicbot-demo"}],
        "users": users, "commits": [{"sha": root, "message": "init", "author": "alice",
                                     "date": "2020-02-01T00:00:00Z", "parents": []}],
        "repos": repos, "issues": issues, "comments": comments, "events": [],
    }


@pytest.fixture
def store(sim_factory, tmp_path):
    world = metrics_world()
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "m.db")
    db = open_store(config.database.path)
    result = harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None))
    assert result.outcome == "complete"
    # The harvester reads no profiles (embedded users carry no company): set alice's as a profile fetch would.
    db["users"].update(ALICE, {"company": "@Code-for-Tokyo "})
    return db, config.model_copy(update={"timezone": "Asia/Tokyo"})


def rows(db, sql, *params):
    return [dict(r) for r in db.query(sql, params)]


def period(db, scope, kind, start):
    found = rows(db, "SELECT * FROM metrics_periodic WHERE scope = ? AND period_kind = ? AND period_start = ?",
                 scope, kind, start)
    assert len(found) == 1, (scope, kind, start)
    return found[0]


def check(row, **expected):
    got = {k: (round(row[k], 6) if isinstance(row[k], float) else row[k]) for k in expected}
    want = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in expected.items()}
    assert got == want


def test_activity_rows_local_calendar_and_bot_flags(store):
    db, config = store
    assert write_activity(db, config) == 15  # 8 items (a b d h j l m o) + 7 comments
    assert db.execute("SELECT count(*) FROM activity WHERE is_bot = 1").fetchone()[0] == 3  # e k l
    assert db.execute("SELECT count(DISTINCT user_id) FROM activity WHERE is_person = 1").fetchone()[0] == 3
    i3 = rows(db, "SELECT * FROM activity WHERE kind = 'issue' AND source_id = 103")[0]
    # 2020-03-01T16:00Z is Monday 2020-03-02 01:00 in Tokyo: next day, next week
    check(i3, user_id=CAROL, login="carol", is_person=1, is_bot=0, repo_id=10, item_id=103,
          at="2020-03-01T16:00:00Z", local_date="2020-03-02", week="2020-03-02", month="2020-03")
    p2 = rows(db, "SELECT * FROM activity WHERE kind = 'pr' AND source_id = 102")[0]
    # 2020-02-29T16:00Z is Sunday 2020-03-01 01:00 JST: still the week of 02-24, but March
    check(p2, local_date="2020-03-01", week="2020-02-24", month="2020-03")
    c = rows(db, "SELECT * FROM activity WHERE kind = 'comment' AND source_id = 207")[0]
    check(c, user_id=BOB, repo_id=11, item_id=107, local_date="2020-03-09", week="2020-03-09")


def test_contributors_summary(store):
    db, config = store
    write_activity(db, config)
    assert write_contributors(db, config) == 4  # alice, bob, carol, dave (commits only); no bot, no org
    people = {r["login"]: r for r in rows(db, "SELECT * FROM contributors_summary")}
    assert set(people) == {"alice", "bob", "carol", "dave"}
    # alice: issues b m o, comment g; commits 3 + 2; last = o = the data's end
    check(people["alice"], issues=3, prs=0, comments=1, commits=5, reviews=0, dated_contributions=4,
          first_contribution_at="2020-02-29T10:00:00Z", last_contribution_at="2020-07-01T00:00:00Z",
          repos_touched=2, repos="Tokyo-Metro-Gov/covid19, alice/covid19", newcomer=0, inactive=0,
          first_pr_id=None, first_pr_responded=None, first_pr_response_hours=None, merged_prs=0)
    # bob: issue a, PR d, comments c f n; first PR P2: the bot (e) and bob himself (f) do not
    # count, alice's comment g at 03-01T04:00Z answers it 12 h after 02-29T16:00Z; last n 03-09T03:00Z
    # is 113.9 days before 07-01 -> inactive
    check(people["bob"], issues=1, prs=1, comments=3, commits=1, repos_touched=2,
          first_contribution_at="2020-02-20T00:00:00Z", last_contribution_at="2020-03-09T03:00:00Z",
          newcomer=0, inactive=1, first_pr_id=102, first_pr_created_at="2020-02-29T16:00:00Z",
          first_pr_responded=1, first_pr_response_hours=12.0, merged_prs=1)
    # carol: I3, comment i, P4 (answered only by the bot k -> no response)
    check(people["carol"], issues=1, prs=1, comments=1, commits=0, repos_touched=1, repos=R10,
          last_contribution_at="2020-03-02T01:00:00Z", inactive=1, first_pr_id=104,
          first_pr_responded=0, first_pr_response_hours=None, merged_prs=0)
    # dave: commits only: no dates, so newcomer and inactive are unknown
    check(people["dave"], issues=0, prs=0, comments=0, commits=4, repos_touched=1, repos=R11,
          first_contribution_at=None, newcomer=None, inactive=None)
    # newcomer window of 130 days: since 2020-02-22T00:00Z -> alice (02-29) and carol (03-01), not bob (02-20)
    write_contributors(db, config, newcomer_days=130)
    new = [r["login"] for r in rows(db, "SELECT login FROM contributors_summary WHERE newcomer = 1 ORDER BY login")]
    assert new == ["alice", "carol"]


def test_periodic_family_weeks(store):
    db, config = store
    write_contribution_metrics(db, config)
    # weeks 01-27 (alice's root commit, 02-01) .. 06-29 (23) for the family and R10, 03-09 .. 06-29 (17)
    # for R11; months 6 + 6 + 5
    assert db.execute("SELECT count(*) FROM metrics_periodic").fetchone()[0] == 23 + 23 + 17 + 6 + 6 + 5
    # wk 01-27: alice's commit, a contribution like any other (summary.contributions)
    check(period(db, "family", "week", "2020-01-27"), contributors=1, new_contributors=1, issues_opened=0)
    # wk 02-17: a only. I6 open at 02-24 00:00 JST, age 3 d 15 h
    check(period(db, "family", "week", "2020-02-17"), contributors=1, new_contributors=1, returning_contributors=0,
          inactive_contributors=0, issues_opened=1, unanswered_issues=1, first_response_issues_median_hours=None,
          open_issues=1, open_issue_age_median_days=3.625, contributor_absence_factor=1, elephant_factor=None,
          bot_activity=0, period_end="2020-02-24", repo_id=None)
    # wk 02-24: b c d e f g. people alice 2 (b g), bob 3 (c d f): absence 1 (bob 3 >= 5/2); elephant:
    # alice's company only -> 1; returning alice (new in wk 01-27) and bob. I1 answered in 2 h, P2 in 12 h; P2 created
    # here and merged 24 h later. Open at 03-02 00:00 JST: I6 (10 d 15 h), I1 (1 d 5 h) -> median 5.91667
    check(period(db, "family", "week", "2020-02-24"), contributors=2, new_contributors=0, returning_contributors=2,
          inactive_contributors=0, issues_opened=1, prs_opened=1, issues_closed=0, prs_closed=0, prs_merged=0,
          change_request_acceptance_ratio=None, change_request_duration_median_hours=24.0,
          first_response_issues_median_hours=2.0, unanswered_issues=0, first_response_prs_median_hours=12.0,
          unanswered_prs=0, time_to_close_median_hours=None, open_issues=2,
          open_issue_age_median_days=(10.625 + 1 + 5 / 24) / 2, contributor_absence_factor=1, elephant_factor=1,
          bot_activity=1)
    # wk 03-02: h i j (carol), k l (bot). carol's last contribution (j) is here and > 90 days before
    # the end -> inactive 1. Closed: I1 (48 h), P2 (24 h, merged), P4 (24 h, unmerged); P5 is a bot's.
    # acceptance 1 merged / 1 closed unmerged = 1.0; I3 and P4 unanswered. Open at 03-09 00:00 JST:
    # I6 (17 d 15 h), I3 (6 d 23 h)
    check(period(db, "family", "week", "2020-03-02"), contributors=1, new_contributors=1, returning_contributors=0,
          inactive_contributors=1, issues_opened=1, prs_opened=1, issues_closed=1, prs_closed=2, prs_merged=1,
          change_request_acceptance_ratio=1.0, change_request_duration_median_hours=None,
          first_response_issues_median_hours=None, unanswered_issues=1, first_response_prs_median_hours=None,
          unanswered_prs=1, time_to_close_median_hours=24.0, open_issues=2,
          open_issue_age_median_days=(17.625 + 6 + 23 / 24) / 2, contributor_absence_factor=1,
          elephant_factor=None, bot_activity=2)
    # wk 03-09: m (alice), n (bob, his last -> inactive). 1 + 1 of 2: absence 1. I7 answered in 3 h.
    # Open at 03-16 00:00 JST: I6 24 d 15 h, I3 13 d 23 h, I7 6 d 15 h -> median 13.95833
    check(period(db, "family", "week", "2020-03-09"), contributors=2, new_contributors=0, returning_contributors=2,
          inactive_contributors=1, issues_opened=1, first_response_issues_median_hours=3.0, unanswered_issues=0,
          open_issues=3, open_issue_age_median_days=13 + 23 / 24, contributor_absence_factor=1, elephant_factor=1)
    # an empty week: nobody active, issues still age (one week more: I3 20 d 23 h)
    check(period(db, "family", "week", "2020-03-16"), contributors=0, issues_opened=0, bot_activity=0,
          contributor_absence_factor=None, elephant_factor=None, open_issues=3,
          open_issue_age_median_days=20 + 23 / 24)
    # last week, cut at the data's end 07-01 09:00 JST: I6 132 d, I3 121 d 8 h, I7 114 d, I8 0 d
    check(period(db, "family", "week", "2020-06-29"), contributors=1, returning_contributors=1, open_issues=4,
          open_issue_age_median_days=(121 + 8 / 24 + 114) / 2)


def test_periodic_months_and_repo_scopes(store):
    db, config = store
    write_contribution_metrics(db, config)
    # February (JST): a b c. bob 2, alice 1. I6 unanswered, I1 2 h. Open at 03-01 00:00 JST:
    # I6 9 d 15 h, I1 5 h -> median (9.625 + 0.20833) / 2
    check(period(db, "family", "month", "2020-02-01"), period_end="2020-03-01", contributors=2,
          new_contributors=2, returning_contributors=0, issues_opened=2, prs_opened=0,
          first_response_issues_median_hours=2.0, unanswered_issues=1, open_issues=2,
          open_issue_age_median_days=(9.625 + 5 / 24) / 2, contributor_absence_factor=1, elephant_factor=1)
    # March (JST): d..n. bob 3 (d f n), carol 3 (h i j), alice 2 (g m) of 8: absence 2 (3 + 3 >= 4).
    # new carol; returning alice, bob; inactive bob and carol (their last contributions are in March).
    # Opened I3 I7, P2 P4 (P5 is a bot's); closed I1, P2, P4; merged P2 (24 h); acceptance 1/1.
    # First response: issues I3 none, I7 3 h; PRs P2 12 h, P4 none. Close: 48, 24, 24 -> 24.
    # Open at 04-01 00:00 JST: I6 40 d 15 h, I3 29 d 23 h, I7 22 d 15 h. Bots: e k l.
    check(period(db, "family", "month", "2020-03-01"), contributors=3, new_contributors=1, returning_contributors=2,
          inactive_contributors=2, issues_opened=2, prs_opened=2, issues_closed=1, prs_closed=2, prs_merged=1,
          change_request_acceptance_ratio=1.0, change_request_duration_median_hours=24.0,
          first_response_issues_median_hours=3.0, unanswered_issues=1, first_response_prs_median_hours=12.0,
          unanswered_prs=1, time_to_close_median_hours=24.0, open_issues=3,
          open_issue_age_median_days=29 + 23 / 24, contributor_absence_factor=2, elephant_factor=1, bot_activity=3)
    # R10 in March: bob (d f), alice (g), carol (h i j); new in R10: carol only. Inactive in R10: all
    # three, for their last R10 contributions are in March (alice's later ones are in R11).
    check(period(db, R10, "month", "2020-03-01"), repo_id=10, contributors=3, new_contributors=1,
          returning_contributors=2, inactive_contributors=3, issues_opened=1, prs_opened=2, bot_activity=3)
    # R11 in March: alice (m) and bob (n), both new to R11; bob's last R11 contribution -> inactive.
    check(period(db, R11, "month", "2020-03-01"), repo_id=11, contributors=2, new_contributors=2,
          returning_contributors=0, inactive_contributors=1, issues_opened=1, bot_activity=0,
          open_issues=1, open_issue_age_median_days=22.625)
    check(period(db, R11, "month", "2020-07-01"), contributors=1, new_contributors=0, returning_contributors=1)
    assert rows(db, "SELECT min(period_start) AS s FROM metrics_periodic WHERE scope = ?", R11) == [{"s": "2020-03-01"}]


def test_placeholders_are_never_people(store):
    db, config = store
    proxy = config.model_copy(update={"placeholders": ["Carol"]})  # compared case-insensitively
    write_activity(db, proxy)
    # carol's items still count as activity, but she is not a person
    assert db.execute("SELECT count(*), max(is_person) FROM activity WHERE login = 'carol'").fetchone() == (3, 0)
    write_contributors(db, proxy)
    assert [r["login"] for r in rows(db, "SELECT login FROM contributors_summary ORDER BY login")] == \
        ["alice", "bob", "dave"]
    write_periodic(db, proxy)
    # wk 03-02: only carol and bots were active; issues opened still count I3
    check(period(db, "family", "week", "2020-03-02"), contributors=0, issues_opened=1, prs_opened=1)


def test_running_twice_gives_identical_tables(store):
    db, config = store
    first = write_contribution_metrics(db, config)
    dump = {t: rows(db, f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4") for t in TABLES}
    assert write_contribution_metrics(db, config) == first == {
        # contributors_by_place and _by_affiliation: alice's root commit (wk 01-27) is taking part too,
        # a week of its own
        "activity": 15, "contributors_summary": 4, "metrics_periodic": 80, "contributors_by_place": 10,
        "contributors_by_affiliation": 15}
    assert {t: rows(db, f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4") for t in TABLES} == dump


def test_people_by_place_are_the_people_who_took_part(store):
    """A person who only commits (or reviews) took part: the site's "people whose country is known
    N / M" counted only issue, PR and comment authors, so on the Tokyo data it read 0 / 208 beside
    209 people who took part on the home page, the report and the summary."""
    from civicbot.metrics import write_all_metrics
    from civicbot.store.transaction import write_transaction

    db, config = store
    repo = db.execute("SELECT repo_id FROM discoveries WHERE method = 'upstream'").fetchone()[0]
    with write_transaction(db):
        db.execute("INSERT INTO commits (sha, repo_id, author_name, author_email_hash, authored_at, committed_at) "
                   "VALUES ('c0ffee', ?, 'Commit Only', 'hash-of-commit-only', '2020-03-05T01:00:00Z', "
                   "'2020-03-05T01:00:00Z')", [repo])
    write_all_metrics(db, config)
    took_part = db.execute("SELECT count(DISTINCT person_id) FROM contributions WHERE is_person = 1").fetchone()[0]
    placed = rows(db, "SELECT place_status, sum(people) AS n FROM contributors_by_place WHERE period_kind = 'all' "
                      "GROUP BY place_status")
    assert sum(r["n"] for r in placed) == took_part == 4
    assert {"place_status": "unknown", "n": 1} in placed  # no account, so no profile: place unknown


def test_empty_store_creates_empty_tables(tmp_path):
    config = Config.model_validate({"name": "empty", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo"})
    db = open_store(tmp_path / "empty.db")
    assert write_contribution_metrics(db, config) == {t: 0 for t in TABLES}
    for table in TABLES:
        assert db[table].exists() and db[table].count == 0
    assert "first_response_prs_median_hours" in db["metrics_periodic"].columns_dict


@pytest.fixture
def placed_store(sim_factory, tmp_path):
    """The same world, with profiles: alice at 東京都渋谷区 working for @Code-for-Tokyo (an NPO by
    the default rules), bob in "Osaka, Japan" at 東京都 (government), carol on "Earth" with no company."""
    world = metrics_world()
    profiles = {"alice": ("東京都渋谷区", "@Code-for-Tokyo"), "bob": ("Osaka, Japan", "東京都"), "carol": ("Earth", None)}
    for user in world["users"]:
        if user["login"] in profiles:
            user["location"], user["company"] = profiles[user["login"]]
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "m.db", profiles=True).model_copy(update={"timezone": "Asia/Tokyo"})
    # every place by name here (three people in all); the folding of small places has its own test
    config = config.model_copy(update={"publish": config.publish.model_copy(update={"min_place_count": 1})})
    db = open_store(config.database.path)
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    write_contribution_metrics(db, config)
    db.config = config
    return db


def test_people_per_place_and_per_kind_of_organisation(placed_store):
    """March 2020 (JST): bob d f n (3), alice g m (2), carol h i j (3); February: bob a c, alice b."""
    db = placed_store
    places = rows(db, "SELECT period_start, place_status, country_code, country_en, pref_code, prefecture_ja, people "
                      "FROM contributors_by_place WHERE period_kind = 'month' ORDER BY period_start, country_code, "
                      "pref_code")
    march = [(r["place_status"], r["country_code"], r["pref_code"], r["prefecture_ja"], r["people"])
             for r in places if r["period_start"] == "2020-03-01"]
    assert sorted(march, key=str) == sorted([("known", "JP", "13", "東京都", 1), ("known", "JP", "27", "大阪府", 1),
                                             ("unknown", None, None, None, 1)], key=str)
    assert next(r for r in places if r["place_status"] == "unknown")["country_en"] == "unknown"
    whole = rows(db, "SELECT sum(people) AS n, count(DISTINCT country_code) AS c FROM contributors_by_place "
                     "WHERE period_kind = 'all'")[0]
    assert (whole["n"], whole["c"]) == (3, 1)
    kinds = {r["kind"]: (r["people"], r["contributions"], r["organisations"]) for r in rows(
        db, "SELECT * FROM contributors_by_affiliation WHERE period_kind = 'month' AND period_start = '2020-03-01'")}
    assert kinds == {"government": (1, 3, 1), "npo": (1, 2, 1), "unknown": (1, 3, 0)}
    # organisational diversity: Tokyo (bob) 3 and Code for Tokyo (alice) 2 of 8 contributions
    check(period(db, "family", "month", "2020-03-01"), elephant_factor=1, organisations=2,
          largest_organisation_share=0.6, unaffiliated_share=0.375)
    check(period(db, "family", "month", "2020-02-01"), elephant_factor=1, organisations=2,
          largest_organisation_share=2 / 3, unaffiliated_share=0.0)
    # aggregates only: no table written by the metrics holds a location
    for table in ("contributors_by_place", "contributors_by_affiliation", "metrics_periodic", "activity"):
        assert "location" not in db[table].columns_dict



def test_people_per_kind_of_organisation_are_the_people_who_took_part(placed_store):
    """A company's developer who only commits, and one who only reviews, took part: the affiliation
    table counted only issue, PR and comment authors (activity), so its people fell short of the
    places' and the summary's. Both tables count the people of `contributions`, each person once."""
    from civicbot.metrics import write_all_metrics
    from civicbot.store.transaction import write_transaction

    db = placed_store
    repo = db.execute("SELECT repo_id FROM discoveries WHERE method = 'upstream'").fetchone()[0]
    pr = db.execute("SELECT number FROM items WHERE is_pull_request = 1 AND repo_id = ? LIMIT 1", [repo]).fetchone()[0]
    with write_transaction(db):
        for uid, login in ((990001, "erin"), (990002, "frank")):
            db.execute("INSERT INTO users (id, login, type, company, location, profile_fetched_at) "
                       "VALUES (?, ?, 'User', '株式会社サンプル', '東京都', '2020-03-01T00:00:00Z')", [uid, login])
        db.execute("INSERT INTO commits (sha, repo_id, author_id, author_name, author_email_hash, authored_at, "
                   "committed_at) VALUES ('c0ffee', ?, 990001, 'Erin', 'hash-of-erin', '2020-03-05T01:00:00Z', "
                   "'2020-03-05T01:00:00Z')", [repo])
        db.execute("INSERT INTO reviews (id, repo_id, pull_number, user_id, state, submitted_at) "
                   "VALUES (880001, ?, ?, 990002, 'APPROVED', '2020-03-06T01:00:00Z')", [repo, pr])
    write_all_metrics(db, db.config)
    took_part = db.execute("SELECT count(DISTINCT person_id) FROM contributions WHERE is_person = 1").fetchone()[0]
    kinds = {r["kind"]: r for r in rows(db, "SELECT * FROM contributors_by_affiliation WHERE period_kind = 'all'")}
    assert (kinds["company"]["people"], kinds["company"]["contributions"], kinds["company"]["organisations"]) \
        == (2, 2, 1)
    placed = db.execute("SELECT sum(people) FROM contributors_by_place WHERE period_kind = 'all'").fetchone()[0]
    assert sum(r["people"] for r in kinds.values()) == placed == took_part == 5


def test_the_contribution_metrics_are_split_by_table_under_600_lines():
    """contribution.py (contributors_summary and the whole run), activity.py (the sources read once,
    `activity`) and periodic.py (`metrics_periodic`): each under 600 lines, the writers still
    importable from civicbot.metrics.contribution."""
    from pathlib import Path

    from civicbot.metrics import activity, contribution, periodic

    assert contribution.write_activity is activity.write_activity
    assert contribution.write_periodic is periodic.write_periodic
    for module in (activity, contribution, periodic):
        assert len(Path(module.__file__).read_text(encoding="utf-8").splitlines()) < 600, module.__name__


def test_places_with_fewer_people_than_the_minimum_are_counted_together(placed_store):
    """Issue 17: March 2020 has one person in 東京都 and one in 大阪府 (and carol, place unknown).
    With publish.min_place_count 2 the two prefectures become Japan's other prefectures (JP, 2
    people); with 3, Japan (2) is among the other countries. Same columns, unknown rows untouched,
    and the people in all unchanged."""
    from civicbot.metrics.activity import Sources
    from civicbot.metrics.origins import write_contributors_by_place

    db = placed_store

    def march(least):
        config = db.config.model_copy(update={"publish": db.config.publish.model_copy(
            update={"min_place_count": least})})
        write_contributors_by_place(db, config, Sources(db, config, classified=True))
        return sorted((r["place_status"], r["country_code"], r["country_en"], r["pref_code"], r["prefecture_ja"],
                       r["prefecture_en"], r["people"]) for r in rows(
            db, "SELECT * FROM contributors_by_place WHERE period_kind = 'month' AND period_start = '2020-03-01'"))

    columns = list(db["contributors_by_place"].columns_dict)
    assert march(2) == [("other", "JP", "Japan", None, "その他の都道府県", "other prefectures", 2),
                        ("unknown", None, "unknown", None, None, None, 1)]
    assert march(3) == [("other", None, "other countries and regions", None, None, None, 2),
                        ("unknown", None, "unknown", None, None, None, 1)]
    assert list(db["contributors_by_place"].columns_dict) == columns
    assert rows(db, "SELECT sum(people) AS n FROM contributors_by_place WHERE period_kind = 'all'")[0]["n"] == 3
    assert len(march(1)) == 3  # 1: every place by name



def test_the_place_table_the_summary_and_the_report_count_the_same_people(sim_factory, tmp_path):
    """One definition of taking part: erin only reviewed carol's P4 (03-02), from Germany; carol is
    in France, alice and bob in Japan. The people dashboard's figures (its own queries on
    contributors_by_place), the impact summary and the report's list of countries, for the whole
    data, all name the same three countries and count the same four people (erin included)."""
    from datetime import date
    from pathlib import Path

    import yaml

    from civicbot.metrics import write_all_metrics
    from civicbot.metrics.summary import Window, impact_summary
    from civicbot.publish.report import _contributor_places

    world = metrics_world()
    world["users"].append({"id": 9, "login": "erin", "type": "User"})
    world["reviews"] = [{"id": 306, "repo_id": 10, "pull_number": 4, "user": "erin", "state": "COMMENTED",
                         "submitted_at": "2020-03-02T08:00:00Z"}]
    profiles = {"alice": "東京都渋谷区", "bob": "Osaka, Japan", "carol": "Paris, France", "erin": "Berlin, Germany"}
    for user in world["users"]:
        user["location"] = profiles.get(user["login"])
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "m.db", profiles=True, review_budget=100)
    config = config.model_copy(update={"timezone": "Asia/Tokyo", "publish": config.publish.model_copy(
        update={"min_place_count": 1})})
    db = open_store(config.database.path)
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    write_all_metrics(db, config)

    charts = yaml.safe_load((Path(__file__).parents[1] / "dashboards" / "dashboards.yml").read_text())["people"]["charts"]
    figure = {name: db.execute(charts[name]["query"]).fetchall() for name in ("countries-count", "placed", "by-country")}
    assert figure["countries-count"] == [(3,)] and figure["placed"] == [("4 / 4",)]
    assert sorted(n for _, n in figure["by-country"]) == [1, 1, 2]
    table = dict(db.execute("SELECT country_code, sum(people) FROM contributors_by_place WHERE period_kind = 'all' "
                            "GROUP BY country_code").fetchall())
    assert table == {"DE": 1, "FR": 1, "JP": 2}

    window = Window(date(2020, 1, 1), date(2020, 7, 31))
    places = impact_summary(db, config, window)["places"]
    assert (places["people"], places["countries"], places["in_japan"], places["abroad"]) == (4, 3, 2, 2)
    assert dict(_contributor_places(db, config, *window.utc_bounds(config))["countries"]) == table
