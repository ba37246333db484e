"""Publishing with Datasette: metadata from the docs, canned queries, search, dashboards, XSS, bundle."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3

import pytest
import sqlite_utils
from harvest_helpers import harvested_generated_world

from civicbot.publish.bundle import SECRET, build_bundle
from civicbot.publish.commands import make_datasette
from civicbot.publish.metadata import build_metadata, documented_tables, load_dashboards, load_queries
from civicbot.publish.search import enable_search, search_items

XSS_TITLE = "<script>alert(1)</script> and <img src=x onerror=alert(1)> 翻訳テスト"
EMAIL = "someone.private@example.org"
TOKEN_LIKE = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
PAT_LIKE = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A harvested generated world with every metrics table."""
    path = tmp_path_factory.mktemp("publish") / "demo.db"
    config, db = harvested_generated_world(3, 0.05, path)
    item = db.execute("SELECT id, repo_id, user_id, run_id FROM items ORDER BY id LIMIT 1").fetchone()
    db["items"].update(item[0], {"title": XSS_TITLE, "body": f"mail me at {EMAIL} token {TOKEN_LIKE} {PAT_LIKE}"})
    enable_search(db)
    db.conn.commit()
    db.conn.close()
    return config, path, item[0]


def get(ds, path):
    async def run():
        return await ds.client.get(path)
    return asyncio.run(run())


def test_every_documented_column_gets_a_description(site):
    config, path, _ = site
    meta = build_metadata(config, db_path=path)
    tables = meta["databases"]["demo"]["tables"]
    docs = documented_tables()
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    checked = 0
    for table in names:
        if table not in docs or tables[table].get("hidden"):  # internal tables: not on the site
            continue
        assert tables[table].get("description_html"), table
        for (column,) in conn.execute(f"SELECT name FROM pragma_table_info('{table}')"):
            if column in docs[table]["columns"]:
                assert tables[table]["columns"].get(column), (table, column)
                checked += 1
    assert checked > 150
    assert tables["derivatives"]["columns"]["upstream_prs_sent"].startswith("元のサイトへ送った")
    assert tables["sync_state"]["hidden"] and tables["schema_version"]["hidden"]
    assert meta["title"].startswith("civicbot: ") and " / " in meta["title"]
    assert meta["license"] == "CC BY 4.0" and meta["license_url"]


def test_every_column_of_every_public_table_has_a_heading_in_japanese_first(site):
    """A table page heads each column with its label (descriptions.yml's query_columns), never its
    raw name: every column of every table the site lists, the metrics tables documented under
    other headings (accounts, metrics_periodic ...) included, and the documented columns of the
    tables written when the site starts (headline_figures, harvest_status)."""
    config, path, _ = site
    ds = make_datasette(path, config)
    tables = build_metadata(config, db_path=path)["databases"]["demo"]["tables"]
    hidden = set(asyncio.run(ds.get_database("demo").hidden_table_names()))
    conn = sqlite3.connect(path)
    public = {t: [c for (c,) in conn.execute("SELECT name FROM pragma_table_info(?)", [t])]
              for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") if t not in hidden}
    assert {"items", "derivatives", "accounts", "contributions", "metrics_periodic", "public_value"} <= set(public)
    headings = {t: (tables.get(t) or {}).get("labels") or {} for t in public}
    missing = [(t, c) for t, columns in public.items() for c in columns if c not in headings[t]]
    documented = build_metadata()["databases"]["civicbot"]["tables"]
    for table, info in documented_tables().items():
        if not documented[table].get("hidden"):
            headings[table] = documented[table]["labels"]
            missing += [(table, c) for c in info["columns"] if c not in headings[table]]
    assert not missing, missing
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    for table, labels in headings.items():
        for column, label in labels.items():
            ja, _, en = label.partition(" / ")
            assert japanese.search(ja) and re.search(r"[A-Za-z]{2}", en), (table, column, label)
        assert len(set(labels.values())) == len(labels), table  # no two columns of a table headed alike
    page = get(ds, "/demo/metrics_periodic").text
    assert re.search(r'data-column="elephant_factor" title="elephant_factor"[^>]*>\s*<a [^>]*>半分を担う最少の団体数', page)
    # and the columns Datasette adds to a table without one primary key: its link to each row, its rowid
    page = get(ds, "/demo/contributions").text
    assert re.search(r'data-column="Link" title="Link"[^>]*>\s*行 / row\s*<', page)
    assert re.search(r'data-column="rowid" title="rowid"[^>]*>\s*<a [^>]*>行番号 / row number', page)


def test_every_public_table_is_named_in_words_japanese_first(site):
    """A table's page and the list of tables name it in words (metadata `title` from
    descriptions.yml's table_titles), not by its name in the database, and say what it holds."""
    config, path, _ = site
    ds = make_datasette(path, config)
    tables = build_metadata(config, db_path=path)["databases"]["demo"]["tables"]
    tables.update({t: i for t, i in build_metadata()["databases"]["civicbot"]["tables"].items() if t not in tables})
    public = {t: info for t, info in tables.items() if not info.get("hidden")}
    assert {"items", "metrics_periodic", "accounts", "headline_figures"} <= set(public)
    untitled = [t for t, info in public.items() if not info.get("title")]
    assert not untitled, untitled
    undescribed = [t for t, info in public.items() if not info.get("description_html")]  # what it holds, too
    assert not undescribed, undescribed
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    for table, info in public.items():
        ja, _, en = info["title"].partition(" / ")
        assert japanese.search(ja) and re.search(r"[A-Za-z]{3}", en) and "_" not in info["title"], table
    assert len({i["title"] for i in public.values()}) == len(public)
    page = get(ds, "/demo/metrics_periodic").text
    assert re.search(r"<h1>\s*月ごと・週ごとの数字 / figures per month and week\s*</h1>", page)
    listing = get(ds, "/demo").text
    assert '<a href="/demo/metrics_periodic">月ごと・週ごとの数字 / figures per month and week</a>' in listing


def test_gfi_query_only_when_its_table_exists():
    assert "good_first_issue_candidates" not in load_queries(existing={"items", "items_fts"})
    assert "good_first_issue_candidates" in load_queries(existing={"items", "items_fts", "gfi_candidates", "data_end"})
    assert all("requires" not in q for q in load_queries().values())


def test_pages_canned_queries_and_dashboards_answer(site):
    config, path, _ = site
    ds = make_datasette(path, config)
    db = "demo"
    home = get(ds, "/")
    assert home.status_code == 200 and '<html lang="ja">' in home.text
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        response = get(ds, f"/{db}/{table}")
        assert response.status_code == 200, table
        assert '<html lang="ja">' in response.text
    queries = build_metadata(config, db_path=path)["databases"][db]["queries"]
    assert {"first_timers_waiting", "prs_without_response", "stale_claims", "newcomers_this_month",
            "regulars_at_risk", "search"} <= set(queries)
    for name in queries:
        assert get(ds, f"/{db}/{name}").status_code == 200, name
        response = get(ds, f"/{db}/{name}.json?days=14&as_of=2021-01-31T00:00:00Z&q=翻訳")
        assert response.status_code == 200, (name, response.text[:300])
        assert "rows" in response.json()
    assert get(ds, "/-/dashboards").status_code == 200
    for slug in load_dashboards():
        response = get(ds, f"/-/dashboards/{slug}")
        assert response.status_code == 200 and '<html lang="ja">' in response.text
    # every chart's SQL runs, with its filters empty as on a first visit (the home page's tables
    # are written at `civicbot serve` start: prepare_live)
    from datasette_dashboards import replace_opts_in_query

    from civicbot.publish.front import write_front_tables

    write_front_tables(sqlite_utils.Database(conn), config)
    for dashboard in load_dashboards(database=db, config=config).values():
        empty = {key: "" for key in dashboard.get("filters", {})}
        for chart in dashboard["charts"].values():
            if chart.get("query") and not re.search(r"metrics_periodic|activity", chart["query"]):
                assert conn.execute(replace_opts_in_query(chart["query"], {}), empty).fetchall() is not None
    assert get(ds, "/civicbot-static/japan.geojson").status_code == 200


def test_maintainer_queries_find_what_they_should(site):
    config, path, _ = site
    ds = make_datasette(path, config)
    rows = get(ds, "/demo/prs_without_response.json?days=1&as_of=2030-01-01T00:00:00Z&_shape=array").json()
    conn = sqlite3.connect(path)
    expected = conn.execute("""SELECT count(*) FROM items i JOIN users u ON u.id = i.user_id WHERE is_pull_request = 1
        AND state = 'open' AND coalesce(draft, 0) = 0 AND u.is_bot = 0 AND NOT EXISTS (SELECT 1 FROM comments c
        JOIN users cu ON cu.id = c.user_id WHERE c.item_id = i.id AND c.user_id != i.user_id AND cu.is_bot = 0)""").fetchone()[0]
    assert len(rows) == expected
    claims = get(ds, "/demo/stale_claims.json?days=0&as_of=2030-01-01T00:00:00Z&_shape=array").json()
    assert all(c["days_since_claim"] >= 0 for c in claims)


def test_maintainer_tables_agree_with_the_raw_records(site):
    """The tables `civicbot metrics` precomputes for the canned queries say what a scan of the raw
    comments and items says (the queries once did that scan, too slow at a million items)."""
    config, path, _ = site
    conn = sqlite3.connect(path)
    phrases = [p.lower() for p in config.triage.claim_phrases]
    first = {}
    for item_id, user_id, created_at, body in conn.execute(
            "SELECT item_id, user_id, created_at, body FROM comments WHERE item_id IS NOT NULL AND user_id IS NOT NULL"):
        if any(p in (body or "").lower().replace("’", "'") for p in phrases):
            key = (item_id, user_id)
            first[key] = min(first.get(key, created_at), created_at)
    stored = {(i, u): at for i, u, at in conn.execute("SELECT item_id, user_id, claimed_at FROM claims")}
    assert stored == first and len(stored) >= 5

    raw_newcomers = """
      WITH firsts AS (SELECT user_id, id AS item_id, min(created_at) AS first_at FROM items GROUP BY user_id),
      welcomes AS (
        SELECT c.item_id, cu.login, c.created_at,
               row_number() OVER (PARTITION BY c.item_id ORDER BY c.created_at, c.id) AS n
        FROM comments c JOIN users cu ON cu.id = c.user_id JOIN items it ON it.id = c.item_id
        WHERE c.user_id != it.user_id AND cu.is_bot = 0)
      SELECT u.login, f.first_at, w.login, w.created_at
      FROM firsts f JOIN users u ON u.id = f.user_id LEFT JOIN welcomes w ON w.item_id = f.item_id AND w.n = 1
      WHERE u.is_bot = 0 AND substr(f.first_at, 1, 7) = ? ORDER BY f.first_at, u.login"""
    ds = make_datasette(path, config)
    months = [m for (m,) in conn.execute("SELECT DISTINCT substr(first_at, 1, 7) FROM first_contributions")]
    assert len(months) > 3
    for month in months:
        rows = get(ds, f"/demo/newcomers_this_month.json?month={month}&_shape=array").json()
        got = sorted((r["newcomer"], r["first_at"], r["welcomed_by"], r["welcomed_at"]) for r in rows)
        assert got == sorted(conn.execute(raw_newcomers, [month]).fetchall()), month

    # regulars: contributors_summary (no as_of: the data's end) and the raw count as of that end agree
    wide = "days=0&within=1000000&min_contributions=2&_shape=array"
    end = conn.execute("SELECT as_of FROM data_end").fetchone()[0]
    latest = get(ds, f"/demo/regulars_at_risk.json?{wide}").json()
    replay = get(ds, f"/demo/regulars_at_risk.json?{wide}&as_of={end}").json()
    assert {r["as_of"] for r in latest + replay} == {end}
    people = {(r["login"], r["contributions"], r["first_at"], r["last_at"]) for r in latest}
    assert people == {(r["login"], r["contributions"], r["first_at"], r["last_at"]) for r in replay}
    assert len(people) > 5


def test_search_finds_japanese_terms_of_any_length(site):
    config, path, item_id = site
    db = sqlite_utils.Database(path)
    two = search_items(db, "翻訳")
    assert two and all("翻訳" in (r["title"] + (r["body"] or "")) for r in two)
    assert item_id in {r["id"] for r in two}
    three = search_items(db, "翻訳テスト")
    assert [r["id"] for r in three] == [item_id]
    ds = make_datasette(path, config)
    for q in ("翻訳", "翻訳テスト"):
        rows = get(ds, f"/demo/search.json?q={q}&_shape=array").json()
        assert any(r["title"] == XSS_TITLE for r in rows), q
        assert all(q in r["title"] or q == "翻訳" for r in rows) or q == "翻訳"
    assert get(ds, "/demo/search.json?q=&_shape=array").json() == []


def test_github_text_is_escaped(site):
    config, path, item_id = site
    ds = make_datasette(path, config)
    for url in (f"/demo/items?id={item_id}", f"/demo/items/{item_id}", "/demo/search?q=翻訳テスト",
                "/demo/items?_search=翻訳テスト"):
        html = get(ds, url).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "<script>alert(1)" not in html and "<img src=x" not in html, url


def test_published_bundle_holds_no_email_or_token(site, tmp_path):
    config, path, item_id = site
    conn = sqlite3.connect(path)
    conn.execute("UPDATE users SET name = ?, company = ? WHERE id = (SELECT min(id) FROM users)",
                 (f"Someone <{EMAIL}>", TOKEN_LIKE))
    conn.commit()
    conn.close()
    target = build_bundle(config, tmp_path / "out", source=path)
    out = tmp_path / "out"
    for name in ("metadata.json", "inspect-data.json", "README.md", "templates/base.html", "static/japan.geojson"):
        assert (out / name).exists(), name
    readme = (out / "README.md").read_text()
    assert "datasette serve -i test.db --inspect-file inspect-data.json -m metadata.json" in readme
    assert "--setting sql_time_limit_ms 1500 --setting max_returned_rows 1000 --setting default_cache_ttl 3600 --cors" in readme
    assert "datasette package" in readme and "datasette publish cloudrun" in readme
    conn = sqlite3.connect(target)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert "sync_state" not in tables and "candidates" not in tables
    found = []
    for table in tables:
        for (column,) in conn.execute(f"SELECT name FROM pragma_table_info('{table}')"):
            for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") = \'text\''):
                if SECRET.search(value) or EMAIL in value or TOKEN_LIKE in value:
                    found.append((table, column, value[:80]))
    assert not found
    title, body = conn.execute("SELECT title, body FROM items WHERE id = ?", (item_id,)).fetchone()
    assert title == XSS_TITLE and "[removed]" in body
    raw = target.read_bytes()
    assert EMAIL.encode() not in raw and TOKEN_LIKE.encode() not in raw
    # the bundle serves immutable, with its search index rebuilt
    meta = json.loads((out / "metadata.json").read_text())
    ds = make_datasette(target, config, immutable=True, metadata=meta,
                        inspect_data=json.loads((out / "inspect-data.json").read_text()))
    assert get(ds, "/test/search.json?q=翻訳テスト&_shape=array").json()


def test_no_persons_location_or_company_is_published_or_served(site, tmp_path):
    """Only aggregates of places are public: users.location and company (and the company copied
    into contributors_summary) are NULL in the bundle and read as NULL on `civicbot serve`."""
    config, path, _ = site
    marker = "秘密の谷 Hidden Valley 42"
    conn = sqlite3.connect(path)
    located = conn.execute("SELECT count(*) FROM users WHERE location IS NOT NULL").fetchone()[0]
    assert located >= 10  # the harvest read the generated people's profiles
    locations = {r[0] for r in conn.execute("SELECT DISTINCT location FROM users WHERE location IS NOT NULL")}
    with conn:
        conn.execute("UPDATE users SET location = ?, company = ? WHERE id = (SELECT max(id) FROM users)",
                     (marker, marker))
    conn.close()
    ds = make_datasette(path, config)  # the maintainer's live site
    served = get(ds, "/demo.json?sql=select+location,+company+from+users+where+location+is+not+null"
                     "+or+company+is+not+null&_shape=array")
    assert served.status_code == 200 and served.json() == []
    assert marker not in get(ds, "/demo/users.json?_shape=array&_size=max").text
    assert marker not in get(ds, "/demo.json?sql=select+group_concat(location)+from+users").text

    target = build_bundle(config, tmp_path / "out", source=path)
    raw = target.read_bytes()
    assert marker.encode() not in raw
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT count(*) FROM users WHERE location IS NOT NULL OR company IS NOT NULL").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM contributors_summary WHERE company IS NOT NULL").fetchone() == (0,)
    # no column of any table holds a person's location as written (aggregates name countries only)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for (column,) in conn.execute(f"SELECT name FROM pragma_table_info('{table}')").fetchall():
            values = {r[0] for r in conn.execute(f'SELECT DISTINCT "{column}" FROM "{table}" '
                                                 f'WHERE typeof("{column}") = \'text\'')}
            leaked = {v for v in values & locations if len(v) > 8 and "," in v}  # "Tokyo, Japan", "Sapporo, Hokkaido"
            assert not leaked, (table, column, leaked)
    assert conn.execute("SELECT sum(people) FROM contributors_by_place WHERE period_kind = 'all'").fetchone()[0] > 0


def test_every_date_axis_reads_japanese():
    """Dates on every chart's axis read 2020年3月8日 (or 2020年3月), never ISO 2020-03-08."""
    axes = 0
    for slug, dashboard in load_dashboards().items():
        for name, chart in dashboard["charts"].items():
            spec = chart.get("display") if chart.get("library") == "vega-lite" else None
            for part in [spec or {}, *((spec or {}).get("layer") or [])]:
                for channel, enc in (part.get("encoding") or {}).items():
                    if isinstance(enc, dict) and enc.get("type") == "temporal":
                        axes += 1
                        fmt = enc["axis"]["format"]
                        assert "年" in fmt and not re.search(r"%-?[Ymd]-", fmt), (slug, name, fmt)
    assert axes >= 6


def test_bars_of_series_that_overlap_are_never_stacked():
    """An accepted proposal is also a proposal: the impact dashboard's monthly activity stacked
    them, so Tokyo's March read 1,744 where 872 proposals were made and the same 872 accepted.
    Every bar chart with several series draws them side by side."""
    charts = 0
    for slug, dashboard in load_dashboards().items():
        for name, chart in dashboard["charts"].items():
            spec = chart.get("display") if chart.get("library") == "vega-lite" else None
            if not spec or spec.get("mark", {}).get("type") != "bar" or "color" not in spec.get("encoding", {}):
                continue
            enc = spec["encoding"]
            if enc["color"].get("legend", "shown") is None:  # one series in colours, no sum
                continue
            charts += 1
            assert not enc["y"].get("stack") and "xOffset" in enc, (slug, name)
    assert charts >= 2
