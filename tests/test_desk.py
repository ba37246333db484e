"""Issue 19: the maintainers' desk counts days up to the data's end, not the wall clock, says which
moment it used, and is not empty on a generated world read long after its last activity."""

from __future__ import annotations

import sqlite3

import pytest
from harvest_helpers import harvested_generated_world

from civicbot.metrics.maintainers import QUIET_DAYS, data_end
from civicbot.publish.metadata import load_queries
from civicbot.triage.score import score_family

DESK = ["first_timers_waiting", "prs_without_response", "stale_claims", "newcomers_this_month",
        "regulars_at_risk", "good_first_issue_candidates"]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A generated world (its activity ends in 2021) harvested today, with metrics and triage."""
    path = tmp_path_factory.mktemp("desk") / "desk.db"
    config, db = harvested_generated_world(1, 0.1, path)
    score_family(db, config)
    db.conn.commit()
    return config, db, path


def run(path, name: str, **params) -> list[dict]:
    query = load_queries()[name]
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    values = {p: "" for p in query.get("params", [])} | params
    return [dict(r) for r in conn.execute(query["sql"], values)]


def test_data_end_is_the_newest_activity_of_a_store_that_went_quiet(desk):
    config, db, path = desk
    end = data_end(db)
    newest = db.execute("SELECT max(created_at) FROM comments").fetchone()[0]
    assert end["last_harvest_at"] > "2025" and end["as_of"] < "2022"  # harvested now, the world ends earlier
    assert end["as_of"] >= newest and end["source"].startswith("newest")
    assert dict(next(db.query("SELECT * FROM data_end"))) == end
    # a store that is still active: its end is the last harvest
    item_id, updated = db.execute("SELECT id, updated_at FROM items ORDER BY id LIMIT 1").fetchone()
    db.execute("UPDATE items SET updated_at = ? WHERE id = ?", [end["last_harvest_at"], item_id])
    try:
        live = data_end(db)
        assert live["as_of"] == end["last_harvest_at"] and live["source"] == "last harvest"
    finally:
        db.execute("UPDATE items SET updated_at = ? WHERE id = ?", [updated, item_id])
        db.conn.commit()
    assert QUIET_DAYS == 30


@pytest.mark.parametrize("name", DESK)
def test_every_desk_query_defaults_to_the_data_end_says_so_links_and_is_not_empty(desk, name):
    config, db, path = desk
    end = data_end(db)["as_of"]
    rows = run(path, name)
    assert rows, name
    assert {r["as_of"] for r in rows} == {end}
    assert all((r.get("html_url") or "").startswith("http") for r in rows)
    for r in rows:  # days counted to the data's end: never the years since the world ended
        for col in ("days_waiting", "days_open", "days_since_claim", "days_silent", "age_days"):
            if col in r:
                assert 0 <= r[col] < 500, (name, col, r[col])


def test_an_explicit_as_of_still_wins(desk):
    config, db, path = desk
    rows = run(path, "first_timers_waiting", as_of="2020-06-01T00:00:00Z")
    assert rows and {r["as_of"] for r in rows} == {"2020-06-01T00:00:00Z"}
    assert all(r["created_at"] <= "2020-06-01T00:00:00Z" for r in rows)


def test_stale_claims_count_a_pull_request_closed_unmerged_as_no_progress(desk):
    config, db, path = desk
    stale = run(path, "stale_claims")
    for r in stale:
        item = db.execute("SELECT id FROM items WHERE html_url = ?", [r["html_url"]]).fetchone()[0]
        moving = db.execute(
            "SELECT count(*) FROM issue_events e JOIN items s ON s.repo_id = e.source_repo_id "
            "AND s.number = e.source_number WHERE e.item_id = ? AND e.event = 'cross-referenced' "
            "AND s.is_pull_request = 1 AND s.merged_at IS NOT NULL", [item]).fetchone()[0]
        assert moving == 0
    abandoned = db.execute(
        "SELECT count(*) FROM claims cl JOIN items i ON i.id = cl.item_id JOIN issue_events e ON e.item_id = i.id "
        "JOIN items s ON s.repo_id = e.source_repo_id AND s.number = e.source_number "
        "WHERE i.state = 'open' AND e.event = 'cross-referenced' AND s.state = 'closed' AND s.merged_at IS NULL"
    ).fetchone()[0]
    assert abandoned and stale


def test_gfi_candidates_are_the_top_n_per_repo_in_words_with_their_age(desk):
    config, db, path = desk
    rows = run(path, "good_first_issue_candidates")
    per_repo: dict[str, list[int]] = {}
    for r in rows:
        per_repo.setdefault(r["repo"], []).append(r["rank_in_repo"])
        assert r["probability"].endswith("%") and "[" not in r["理由"] + r["reasons"]
        assert r["age_days"] >= 0
    assert per_repo and all(ranks == list(range(1, len(ranks) + 1)) and len(ranks) <= 5
                            for ranks in per_repo.values())
    assert any(len(ranks) == 5 for ranks in per_repo.values())
    top2 = load_queries(top_per_repo=2)["good_first_issue_candidates"]["sql"]
    conn = sqlite3.connect(path)
    assert max(r[1] for r in conn.execute(top2, {"repo": "", "top": "", "min_probability": ""})) == 2


def test_the_site_shows_the_desk_with_the_data_end(desk):
    import asyncio

    from civicbot.publish.commands import make_datasette

    config, db, path = desk
    ds = make_datasette(path, config)

    def get(url):
        async def go():
            return await ds.client.get(url)
        return asyncio.run(go())

    end = data_end(db)["as_of"]
    page = get("/desk/good_first_issue_candidates")
    assert page.status_code == 200 and "Good first issue の候補" in page.text and end in page.text
    for name in DESK:
        rows = get(f"/desk/{name}.json?_shape=array").json()
        assert rows and rows[0]["as_of"] == end, name


def test_the_desk_shows_times_in_the_projects_zone_saying_which(desk):
    """Tokyo's desk read 2020年3月5日 05:00 UTC: its times read in the project's zone, named, by
    the one function that renders stored UTC times (site_plugin.japanese_date), the value kept."""
    import asyncio
    import re

    from civicbot.publish.commands import make_datasette
    from civicbot.publish.site_plugin import japanese_date

    config, db, path = desk
    tokyo = config.model_copy(update={"timezone": "Asia/Tokyo"})
    ds = make_datasette(path, tokyo)

    async def go():
        return await ds.client.get("/desk/newcomers_this_month?month=")
    page = asyncio.run(go()).text
    shown = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert shown, "no time on the page"
    for value, text in shown:
        assert text == japanese_date(value, "Asia/Tokyo") and text.endswith(" JST"), (value, text)
    assert "UTC</time>" not in page



def test_no_heading_of_a_time_shown_in_the_projects_zone_says_utc_alone(desk):
    """Tokyo's pages showed 2020年3月1日 18:35 JST under a heading 作成日時（UTC）: every column whose
    cells read in the project's zone, on the maintainers' pages and the table pages, is headed so."""
    import asyncio
    import re

    from civicbot.publish.commands import make_datasette

    config, db, path = desk
    ds = make_datasette(path, config.model_copy(update={"timezone": "Asia/Tokyo"}))
    pages = [f"/desk/{name}" for name in DESK] + [f"/desk/{table}" for table in (
        "items", "comments", "reviews", "commits", "first_contributions", "contributors_summary", "harvest_status",
        "issue_events", "data_end") if table in db.table_names() + db.view_names()]

    async def go(url):
        return (await ds.client.get(url)).text
    checked = set()
    for url in pages:
        html = asyncio.run(go(url))
        zoned = {column for column, cell in re.findall(r'<td class="col-([\w]+)[^"]*">(.*?)</td>', html, re.S)
                 if "JST</time>" in cell}
        for column in zoned:
            heading = re.search(rf'<th[^>]*class="col-{column}"[^>]*>(.*?)</th>', html, re.S)
            text = re.sub(r"<[^>]+>|&nbsp;|[▲▼]", "", heading.group(1)).strip()
            assert "時間帯" in text and "time zone" in text, (url, column, text)
            checked.add(column)
    assert {"created_at", "first_at", "as_of", "last_at"} <= checked, checked



def test_an_as_of_typed_in_the_projects_zone_selects_what_its_utc_did(desk):
    """The pages show JST, so the form takes JST: 2021-01-31 09:00 typed on Tokyo's desk is
    2021-01-31T00:00:00Z, and selects the rows that UTC value selected (a final Z still means UTC)."""
    import asyncio
    from datetime import datetime, timedelta

    from civicbot.publish.commands import make_datasette

    config, db, path = desk
    ds = make_datasette(path, config.model_copy(update={"timezone": "Asia/Tokyo"}))
    moment = datetime.fromisoformat(data_end(db)["as_of"].replace("Z", "+00:00")).replace(second=0) \
        - timedelta(days=20)
    utc, jst = moment.strftime("%Y-%m-%dT%H:%M:%SZ"), (moment + timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")

    async def go(url, as_of):
        return (await ds.client.get(url, params={"as_of": as_of, "_shape": "array"})).json()
    for name in ("first_timers_waiting", "prs_without_response", "stale_claims", "regulars_at_risk"):
        typed, expected = asyncio.run(go(f"/desk/{name}.json", jst)), run(path, name, as_of=utc)
        assert typed == expected and asyncio.run(go(f"/desk/{name}.json", utc)) == expected, name
        assert all(r["as_of"] == utc for r in typed), name
    assert any(run(path, name, as_of=utc) for name in ("first_timers_waiting", "prs_without_response"))
    page = asyncio.run(ds.client.get("/desk/first_timers_waiting")).text
    assert "基準日時（プロジェクトの時間帯） / as of (project&#39;s time zone)</label>" in page


def test_newcomers_with_nobody_shown_say_why_a_merge_is_not_a_welcome(desk, tmp_path):
    """Tokyo's newcomers page had an empty "welcomed by" on every row although maintainers merged
    every PR: a welcome is a comment (docs/metrics.md), and a row without one now says so."""
    config, db, path = desk
    months = [m for (m,) in db.execute("SELECT DISTINCT substr(first_at, 1, 7) FROM first_contributions")]
    rows = [r for m in months for r in run(path, "newcomers_this_month", month=m)]
    welcomed = [r for r in rows if r["welcomed_by"]]
    merged = [r for r in rows if not r["welcomed_by"] and db.execute(
        "SELECT merged_at FROM items WHERE html_url = ?", [r["html_url"]]).fetchone()[0]]
    waiting = [r for r in rows if not r["welcomed_by"] and r not in merged]
    assert welcomed and merged and waiting
    assert all(r["why_not_welcomed"] is None for r in welcomed)
    assert {r["why_not_welcomed"] for r in merged} == {"まだコメントなし、マージは歓迎に数えない / "
                                                       "no comment yet; a merge is not a welcome"}
    assert {r["why_not_welcomed"] for r in waiting} == {"まだコメントなし / no comment yet"}

    import sqlite3  # a store with no comment at all (Tokyo's) says that instead
    copy = tmp_path / "no-comments.db"
    with sqlite3.connect(copy) as conn:
        db.conn.backup(conn)
        conn.execute("DELETE FROM comments")
        conn.execute("UPDATE first_contributions SET welcomed_by_id = NULL, welcomed_at = NULL")
    quiet = [r for m in months for r in run(copy, "newcomers_this_month", month=m)]
    assert quiet and all(r["why_not_welcomed"].startswith("データにコメントなし") for r in quiet)

    import asyncio

    from civicbot.publish.commands import make_datasette

    async def go():
        return await make_datasette(path, config).client.get(f"/desk/newcomers_this_month?month={months[0]}")
    page = asyncio.run(go()).text
    assert ">空欄の理由 / why nobody is shown</th>" in page and ">迎えた人 / welcomed by</th>" in page
    assert "マージやレビューは数えません" in page


def test_newcomers_of_a_month_are_counted_in_the_projects_month(desk, tmp_path):
    """The 「月」 field is the project's month, as the pages show times: a first proposal at 01:00
    JST on 1 April (16:00 UTC on 31 March) is April's newcomer, not March's."""
    from civicbot.publish.metadata import utc_offset

    config, db, path = desk
    config = config.model_copy(update={"timezone": "Asia/Tokyo"})
    assert utc_offset(config) == "+540 minutes"
    copy = tmp_path / "edge.db"
    with sqlite3.connect(copy) as conn:
        db.conn.backup(conn)
        (user_id,) = conn.execute("SELECT f.user_id FROM first_contributions f JOIN accounts a ON a.user_id = f.user_id "
                                  "WHERE a.is_person = 1 ORDER BY f.user_id LIMIT 1").fetchone()
        conn.execute("UPDATE first_contributions SET first_at = '2020-03-31T16:00:00Z' WHERE user_id = ?", [user_id])
        (login,) = conn.execute("SELECT login FROM users WHERE id = ?", [user_id]).fetchone()
    sql = load_queries(config=config)["newcomers_this_month"]["sql"]
    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row

    def newcomers(month: str) -> set[str]:
        return {r["newcomer"] for r in conn.execute(sql, {"month": month, "repo": ""})}
    assert login in newcomers("2020-04") and login not in newcomers("2020-03")
