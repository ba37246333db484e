"""The site's front door: headline figures, the harvest's status, regional sites apart from
contributors' forks, and the impact dashboard's filters agreeing with the figures."""

from __future__ import annotations

import re
import sqlite3

import pytest
import sqlite_utils
from datasette_dashboards import replace_opts_in_query
from harvest_helpers import harvested_generated_world
from site_helpers import get

from civicbot.metrics.summary import Window, impact_summary
from civicbot.publish.commands import make_datasette
from civicbot.publish.front import status_row, windows, write_front_tables
from civicbot.publish.metadata import UPSTREAM, load_dashboards
from civicbot.publish.search import enable_search


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = tmp_path_factory.mktemp("front") / "demo.db"
    config, db = harvested_generated_world(3, 0.05, path)
    enable_search(db)  # as `civicbot serve` starts (prepare_live)
    write_front_tables(db, config)
    return config, path, db


def figures(db) -> dict:
    return {r["figure"]: r for r in db.query("SELECT * FROM headline_figures")}


def kpi(db, config, chart: str, **filters) -> float:
    """A figure of the impact dashboard, its SQL run as datasette-dashboards runs it."""
    dashboard = load_dashboards(database="demo", config=config)["impact"]
    params = {key: filters.get(key, "") for key in dashboard["filters"]}
    sql = replace_opts_in_query(dashboard["charts"][chart]["query"], {k: v for k, v in params.items() if v})
    return db.execute(sql, params).fetchone()[0]


def test_the_dashboard_figures_for_a_window_are_the_impact_summary(site):
    config, _, db = site
    whole, first = windows(db, config)
    assert (first[1] - first[0]).days == 20 and whole[0] == first[0] and whole[1] > first[1]
    rows = figures(db)
    for (lo, hi), column in ((whole, "whole_period"), (first, "first_weeks")):
        summary = impact_summary(db, config, Window(lo, hi))["figures"]
        span = {"date_from": lo.isoformat(), "date_to": hi.isoformat()}
        assert kpi(db, config, "people", **span) == summary["contributors"]["without_bots"] == rows["people"][column]
        assert kpi(db, config, "proposals", **span) == summary["proposals"]["without_bots"] == rows["proposals"][column]
        assert kpi(db, config, "merged", **span) == summary["accepted"]["without_bots"] == rows["accepted"][column]
    assert 0 < rows["people"]["first_weeks"] < rows["people"]["whole_period"]
    assert rows["proposals"]["first_weeks"] < rows["proposals"]["whole_period"]


def test_the_first_three_weeks_start_at_the_sites_launch_when_the_config_gives_it(site):
    """Tokyo's repo was created on 2020-02-29 and the site launched on 2020-03-03, the day its
    sponsors count "the first three weeks" from: the home page counted from the repo's creation."""
    from datetime import timedelta

    config, _, db = site
    whole, first = windows(db, config)
    launched = whole[0] + timedelta(days=4)
    later = config.model_copy(update={"launched": launched})
    (whole_from, whole_to), (lo, hi) = windows(db, later)
    assert (whole_from, whole_to) == whole and (lo, hi) == (launched, launched + timedelta(days=20))
    assert status_row(db, later)["first_weeks_from"] == launched.isoformat()
    before = config.model_copy(update={"launched": whole[0] - timedelta(days=30)})  # before the repo: its creation
    assert windows(db, before)[1] == first


def test_the_people_figures_rows_are_the_people_it_counts(site):
    """The home page's people figure links to the rows it counts: the `contributions` of people
    (commits and reviews too) in the window, whose distinct persons are the figure."""
    from urllib.parse import parse_qsl

    _, _, db = site
    row = figures(db)["people"]
    for column in ("whole_period", "first_weeks"):
        table, _, query = row[f"{column}_rows"].partition("?")
        args = dict(parse_qsl(query))
        assert table == "contributions" and args["is_person"] == "1"
        people = db.execute("SELECT count(DISTINCT person_id) FROM contributions WHERE is_person = 1 "
                            "AND local_date >= ? AND local_date <= ?",
                            [args["local_date__gte"], args["local_date__lte"]]).fetchone()[0]
        assert people == row[column]
    assert db.execute("SELECT count(*) FROM contributions WHERE kind IN ('commit', 'review')").fetchone()[0]


def test_the_repository_filter_narrows_every_figure(site):
    config, _, db = site
    family = {c: kpi(db, config, c) for c in ("people", "proposals", "merged")}
    upstream = {c: kpi(db, config, c, repo=UPSTREAM) for c in family}
    name = db.execute("SELECT full_name FROM derivatives ORDER BY own_merged_prs DESC LIMIT 1").fetchone()[0]
    one = {c: kpi(db, config, c, repo=name) for c in family}
    summary = impact_summary(db, config, Window(*windows(db, config)[0]), ["upstream"])["figures"]
    assert upstream["proposals"] == summary["proposals"]["without_bots"]
    assert upstream["people"] == summary["contributors"]["without_bots"]
    for c in family:
        assert upstream[c] + one[c] <= family[c], c
    assert family["proposals"] > upstream["proposals"] > 0
    assert kpi(db, config, "people", repo="no/such-repo") == 0
    # the weekly chart reads the chosen repo's scope
    dashboard = load_dashboards(database="demo", config=config)["impact"]
    sql = replace_opts_in_query(dashboard["charts"]["per-week"]["query"], {"repo": name})
    weekly = db.execute(sql, {"repo": name, "date_from": "", "date_to": ""}).fetchall()
    assert weekly and sum(n for _, kind, n in weekly if kind.startswith("accepted")) <= one["merged"] + 7


def test_regional_sites_and_contributor_forks_are_counted_apart(site):
    config, _, db = site
    rows = figures(db)
    derivatives = db.execute("SELECT count(*), count(pref_code) FROM derivatives").fetchone()
    listed = db.execute("SELECT count(*) FROM listed_sites WHERE repo_full_name IS NULL").fetchone()[0]
    assert rows["regional_sites"]["whole_period"] == derivatives[1] + listed
    assert rows["contributor_forks"]["whole_period"] == derivatives[0] - derivatives[1]
    assert rows["regional_sites"]["whole_period"] + rows["contributor_forks"]["whole_period"] == derivatives[0] + listed
    assert rows["prefectures"]["whole_period"] == db.execute(
        "SELECT count(*) FROM diffusion_by_prefecture WHERE regional_sites > 0").fetchone()[0]
    dashboard = load_dashboards(database="demo", config=config)["diffusion"]
    flows = db.execute(dashboard["charts"]["flows"]["query"]).fetchall()
    regional = {r[0] for r in db.execute("SELECT full_name FROM derivatives WHERE pref_code IS NOT NULL")}
    for site_label, kind, _ in flows:  # every bar is a regional site, or the forks together
        assert kind.startswith("協力者") or site_label.split(" ", 1)[1] in regional, site_label
    curve = db.execute(dashboard["charts"]["over-time"]["query"]).fetchall()
    last = {kind: n for _, kind, n in curve}  # rows are in day order: the last value of each series
    assert last["地域のサイト / regional sites"] == derivatives[1]
    assert last["協力者のフォーク / contributors' forks"] == derivatives[0] - derivatives[1]


def test_the_harvest_status_counts_the_family(site, tmp_path):
    config, path, db = site
    status = db.execute("SELECT * FROM harvest_status").fetchone()
    family = db.execute("SELECT count(DISTINCT repo_id) FROM discoveries").fetchone()[0]
    row = dict(zip([d[0] for d in db.execute("SELECT * FROM harvest_status").description], status))
    assert row["family_repos"] == family and row["repos_harvested"] == family and row["repos_incomplete"] == 0
    assert row["harvest_outcome"] == "complete" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["harvested_at"])
    copy = tmp_path / "copy.db"
    source = sqlite3.connect(path)
    source.backup(sqlite3.connect(copy))
    other = sqlite_utils.Database(copy)
    with other.conn:
        other.execute("UPDATE sync_state SET complete = 0 WHERE repo_id = (SELECT max(repo_id) FROM discoveries)")
    assert status_row(other, config)["repos_incomplete"] == 1


def test_the_home_page_shows_the_figures_and_the_ways_in(site):
    config, path, db = site
    html = get(make_datasette(path, config), "/").text
    rows = figures(db)
    text = re.sub(r"<[^>]+>", " ", html)
    for key in ("people", "proposals", "accepted"):
        for column in ("first_weeks", "whole_period"):
            assert f'data-figure="{key}"' in html
            assert f"{int(rows[key][column]):,}" in text, (key, column)
    assert f"地域のサイト {int(rows['regional_sites']['whole_period'])}" in re.sub(r"\s+", " ", text)
    # only the sites found: Tokyo's 15 in ../shared are not the 80 or so that were made
    assert "見つからなかったサイトは数えていません" in text and "sites not found are not counted" in text
    for link in ('href="/-/dashboards/impact"', 'href="/-/dashboards/diffusion"', 'action="/demo/search"',
                 'href="/demo/first_timers_waiting"', 'href="/-/docs/metrics.md"', 'href="/demo"'):
        assert link in html, link
    assert "最後の収集" in html and "はじめの 3 週間" in html
    assert "SELECT" not in text and "Traceback" not in text


def test_a_share_of_nothing_on_the_home_page_says_why(site, tmp_path):
    """A share of 0 pull requests or merges is stored as none (front._share): the card shows the
    dash with the reason the CLI summary gives (NO_SHARE_REASON), never a bare dash or 0.0%."""
    import sqlite3

    from civicbot.metrics.summary import NO_SHARE, NO_SHARE_REASON

    config, path, db = site
    copy = tmp_path / "demo.db"
    with sqlite3.connect(copy) as conn:
        db.conn.backup(conn)
        conn.execute("UPDATE headline_figures SET first_weeks = NULL WHERE figure = 'release_share'")
    html = get(make_datasette(copy, config), "/").text
    cards = re.findall(r'<div class="figure" data-figure="release_share">(.*?)</div>\s*</div>', html, re.S)
    first_weeks = re.sub(r"<[^>]+>|\s+", " ", cards[0])
    assert f" {NO_SHARE} " in first_weeks and NO_SHARE_REASON in first_weeks and "%" not in first_weeks.split("/")[0]
    assert NO_SHARE_REASON not in re.sub(r"<[^>]+>|\s+", " ", cards[1])  # the whole period has merges


def test_every_definition_link_leads_to_a_term_on_the_definitions_page(site):
    """The home page's, the dashboards' and the maintainers' pages' definition links: the site's own
    page of words (200, UTF-8), each at an anchor the page has; no figure links to the English
    developer docs."""
    config, path, db = site
    ds = make_datasette(path, config)
    html = get(ds, "/").text
    cards = re.findall(r'<div class="figure" data-figure="[^"]+">.*?</div>\s*</div>', html, re.S)
    assert cards and all('href="/-/definitions#' in card and "/-/docs/" not in card for card in cards)
    links = re.findall(r'href="(/-/definitions[^"]*)"', html)
    dashboards = load_dashboards(database="demo", config=config)
    for chart in (c for d in dashboards.values() for c in d["charts"].values()):
        found = re.findall(r"/-/definitions#[a-z-]+", chart.get("description", "") + str(chart.get("display", "")))
        assert found or chart["library"] == "markdown" and "/-/definitions" in chart["display"], chart
        links += found
    queries = [q for q in ds.metadata()["databases"]["demo"]["queries"] if q != "search"]
    assert {"first_timers_waiting", "stale_claims", "regulars_at_risk"} <= set(queries)
    for query in queries:  # the maintainers' pages: each links to its own words
        found = re.findall(r'href="(/-/definitions#[a-z-]+)"', get(ds, f"/demo/{query}").text)
        assert found == [f"/-/definitions#{query.replace('_', '-')}"], query
        links += found
    page = get(ds, "/-/definitions")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    ids = set(re.findall(r'id="([^"]+)"', page.text))
    anchors = {link.partition("#")[2] for link in links}
    assert {"people", "proposals", "accepted", "automation", "release-merges", "regional-sites",
            "contributor-forks", "prefectures", "public-value", "places", "periods", "data"} <= anchors
    assert anchors - {""} <= ids, anchors - ids


def test_the_bundle_carries_the_figures_and_status_but_not_the_harvest_cursors(site, tmp_path):
    from civicbot.publish.bundle import build_bundle

    config, path, db = site
    target = build_bundle(config, tmp_path / "out", source=path, run_inspect=False)
    published = sqlite_utils.Database(target)
    assert "sync_state" not in published.table_names()
    assert figures(published) == figures(db)
    status = list(published.query("SELECT * FROM harvest_status"))
    assert status == list(db.query("SELECT * FROM harvest_status")) and status[0]["repos_harvested"] > 0
    bundle = make_datasette(target, config, immutable=True, settings={"allow_download": True})  # as its README serves it
    html = get(bundle, "/").text
    assert f'href="/{target.stem}.db"' in html  # the whole database can be downloaded from a bundle


def test_the_last_harvest_is_shown_in_the_projects_zone_on_the_japanese_page():
    from civicbot.publish.site_plugin import japanese_date

    assert japanese_date("2026-12-06T04:21:33Z", "Asia/Tokyo") == "2026年12月6日 13:21 JST"
    assert japanese_date("2020-03-31T16:00:00Z", "Asia/Tokyo") == "2020年4月1日 01:00 JST"  # the day moves too
    assert japanese_date("2026-12-06T04:21:33Z") == "2026年12月6日 04:21 UTC"  # no zone known: said as UTC
    assert japanese_date("2026-12-06T04:21:33Z", "Not/AZone") == "2026年12月6日 04:21 UTC"
    assert japanese_date("2020-03-04", "Asia/Tokyo") == "2020年3月4日"


@pytest.mark.parametrize("chart", ["people", "proposals", "merged", "bot-share", "release-share"])
def test_the_impact_figures_read_only_indexes_under_every_filter(site, chart):
    """The figures count up to millions of rows at 10^6 items: each reads covering indexes of the
    metrics tables (written by their writers), never a table's rows nor `items` (docs/performance.md)."""
    config, _, db = site
    dashboard = load_dashboards(database="demo", config=config)["impact"]
    derivative = db.execute("SELECT full_name FROM derivatives LIMIT 1").fetchone()[0]
    for filters in ({}, {"date_from": "2020-03-01", "date_to": "2020-06-30"}, {"repo": UPSTREAM},
                    {"repo": derivative}, {"date_from": "2020-03-01", "repo": derivative}):
        params = {key: filters.get(key, "") for key in dashboard["filters"]}
        sql = replace_opts_in_query(dashboard["charts"][chart]["query"], filters)
        for line in (r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()):
            read = re.match(r"(?:SCAN|SEARCH) (\w+)", line)
            assert "items" not in line, (filters, line)
            if read and read.group(1) not in ("discoveries", "repos", "persons", "p", "CONSTANT"):
                assert "COVERING INDEX" in line or "INTEGER PRIMARY KEY" in line, (filters, line)
