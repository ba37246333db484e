"""Words for people: the site's descriptions, hidden internal tables, labels and the docs link."""

from __future__ import annotations

import re
from collections import defaultdict
from html import unescape

import pytest
from site_helpers import get, site_store

from civicbot.publish.commands import make_datasette
from civicbot.publish.metadata import DASHBOARDS_DIR, build_metadata, load_queries

# What a visitor should never read: how the database is built, or raw markup.
DEVELOPER = re.compile(r"migration|\bidx_|\bindex(es)?\b|\bwrite_[a-z_]+|[a-z_]+\(\)|\.py\b|\bFK\b|"
                       r"civicbot (metrics|triage)|\*\*|`|\btable [a-z_]+\b|_[a-z]+ table\b", re.IGNORECASE)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
INTERNAL = ("heartbeat", "job_runs", "label_audit", "gfi_evaluation", "sync_state", "candidates", "schema_version",
            "items_search_state", "store_secrets")


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "site.db"
    db = site_store(path, {570000047: ("翻訳のお願い", "")})
    for table in INTERNAL:
        if table not in db.table_names():
            db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    db.conn.close()
    return path


def descriptions(meta):
    """(where, text) for every description the site shows."""
    db = next(iter(meta["databases"].values()))
    yield "database", db["description"]
    for table, info in db["tables"].items():
        if info.get("hidden"):
            continue
        if info.get("description_html"):
            yield table, re.sub(r"\s*\(<a href=[^>]*>[^<]*</a>\)$", "", info["description_html"])
        for column, text in (info.get("columns") or {}).items():
            yield f"{table}.{column}", text
    for name, query in db["queries"].items():
        yield f"query {name}", query.get("description", "")


def test_no_description_speaks_to_developers():
    bad = [(where, text) for where, text in descriptions(build_metadata()) if DEVELOPER.search(text)]
    assert not bad, bad


def test_tables_and_queries_are_described_in_japanese_first_then_english():
    meta = build_metadata()
    db = meta["databases"]["civicbot"]
    texts = [(t, i["description_html"].split(" (<a href=")[0]) for t, i in db["tables"].items() if not i.get("hidden")]
    texts += [(f"query {n}", q["description"]) for n, q in load_queries().items()]
    for where, text in texts:
        ja, _, en = text.partition(" / ")
        assert JAPANESE.search(ja) and re.search(r"[A-Za-z]{3}", en), where


def test_a_maintainers_page_names_its_fields_as_the_form_heads_them():
    """A description speaks of the form's fields by their headings (「日数」, 「基準日時」), not by
    the names in the address (days, as_of): a maintainer reads the form, not the SQL."""
    for name, query in load_queries().items():
        ja, _, en = query["description"].partition(" / ")
        for param in query.get("params", []):
            assert not re.search(rf"(?<![A-Za-z_]){param}(?![A-Za-z_])", ja), (name, param)
            if "_" in param:
                assert param not in en, (name, param)


def test_every_chart_says_what_it_shows_in_japanese_first_without_naming_a_table():
    """Each chart's description (dashboards.yml): plain words, Japanese then English, then its
    definition link; no table, column or SQL. datasette-dashboards 0.8 shows no chart's
    description on a page (only the dashboard's), but each one travels in the page's script and in
    /-/metadata.json, and a later version or template may show it."""
    from civicbot.publish.metadata import load_dashboards

    tables = build_metadata()["databases"]["civicbot"]["tables"]
    names = {n for table, info in tables.items() for n in (table, *(info.get("columns") or {})) if "_" in n}
    charts = [(f"{slug}.{key}", chart) for slug, dashboard in load_dashboards().items()
              for key, chart in dashboard["charts"].items() if chart["library"] != "markdown"]
    assert len(charts) >= 20
    for where, chart in charts:
        text, link = re.subn(r" 定義 / Definition: /-/definitions#[a-z-]+$", "", chart.get("description", ""))
        ja, _, en = text.partition(" / ")
        assert link and JAPANESE.search(ja) and re.search(r"[A-Za-z]{3}", en) and not JAPANESE.search(en), where
        assert not re.search(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z]+\b|=", text), (where, text)
        assert not DEVELOPER.search(text) and not [n for n in names if n in text], where
    links = [(slug, text, table) for slug, dashboard in load_dashboards().items()
             for text, table in re.findall(r"\[([^\]]+)\]\(/civicbot/([a-z_]+)", dashboard["charts"]["about"]["display"])]
    assert len(links) >= 4  # each dashboard's first card: its links to the rows say what they are in words
    assert all(JAPANESE.search(text) and table not in text for _, text, table in links), links


def test_no_two_different_columns_share_a_description():
    columns = defaultdict(set)
    for where, text in descriptions(build_metadata()):
        if "." in where and not where.startswith("query"):
            columns[text].add(where.split(".", 1)[1])
    shared = {text: names for text, names in columns.items() if len(names) > 1}
    assert not shared, shared


def test_internal_tables_are_hidden_from_the_site(store):
    meta = build_metadata(db_path=store)
    tables = meta["databases"]["site"]["tables"]
    assert all(tables[t].get("hidden") for t in INTERNAL)
    html = get(make_datasette(store), "/site").text
    for table in INTERNAL:
        assert f'href="/site/{table}"' not in html, table


def test_a_row_is_titled_by_its_label_not_its_id(store):
    html = get(make_datasette(store), "/site/items/570000047").text
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    assert "翻訳のお願い" in h1 and "<title>翻訳のお願い" in html
    assert "label_audit:" not in html and "comments: <a" in html  # internal tables unlinked


def test_the_docs_link_is_a_rendered_page_in_utf8(store):
    ds = make_datasette(store)
    base = (DASHBOARDS_DIR / "templates" / "base.html").read_text(encoding="utf-8")
    link = re.search(r'<a href="([^"]+)">[^<]*definitions</a>', base).group(1)
    assert link == "/-/definitions"
    for path in (link, "/-/docs/publish.md"):  # the visitors' words, and the developers' docs
        page = get(ds, path)
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>" in page.text and "\n## " not in page.text
    assert "<table>" in page.text
    assert get(ds, build_metadata()["about_url"]).headers["content-type"] == "text/html; charset=utf-8"
    for bad in ("/-/docs/..pyproject.toml", "/-/docs/nothing.md", "/-/docs/publish.md.bak"):
        assert get(ds, bad).status_code == 404, bad


def test_canned_query_pages_read_japanese_first(store):
    """The maintainers' pages and the search: count, form fields, buttons, column headings and
    footer in Japanese then English, none of Datasette's English-only words for developers."""
    import sqlite_utils

    from civicbot.publish.search import enable_search

    enable_search(sqlite_utils.Database(store))
    html = get(make_datasette(store), "/site/search?q=翻訳").text
    assert "1 件 / 1 row" in html and "条件 / Options" in html and 'value="表示 / Show"' in html
    assert "検索する語 / words to find</label>" in html
    assert ">題名 / title</th>" in html and ">GitHub 上のページ / page on GitHub</th>" in html
    assert 'content: "題名 / title"' in html  # a phone's stacked rows name their column too
    assert "このデータ / This data:" in html and "で公開 / Powered by Datasette" in html
    for english in ("Custom SQL query", "Query parameters", "Run SQL", "Edit SQL", "This data as", "Queries took"):
        assert english not in html, english
    assert "該当するものはありません / Nothing matches" in get(make_datasette(store), "/site/search?q=存在しない語").text
    table = get(make_datasette(store), "/site/items").text
    assert "データのライセンス / Data licence:" in table and "Queries took" not in table


def test_a_row_page_reads_japanese_first(store):
    html = get(make_datasette(store), "/site/items/570000047").text
    assert "このデータ / This data:" in html and "関連する行 / Rows that refer to this one" in html
    assert '<div class="row-record">' in html
    for english in ("This data as", "Links from other tables", "Queries took"):
        assert english not in html, english


def test_a_table_page_reads_japanese_first(store):
    import sqlite_utils

    from civicbot.publish.search import enable_search

    enable_search(sqlite_utils.Database(store))  # as publishing does: the items box needs the search index
    html = get(make_datasette(store), "/site/items").text
    assert "1 件 / 1 row" in html and "検索 / Search:" in html and 'value="適用 / Apply"' in html
    assert "このデータ / This data:" in html and "データのライセンス / Data licence:" in html
    assert "<summary>各列の意味 / What each column means</summary>" in html  # meanings folded away
    assert '<details class="table-definition">' in html  # and the SQL definition too
    assert "> 降順 / descending</label>" in html and "- 列 / column -" in html
    for english in ("Advanced export", "This data as", "Data license:", "Queries took", "CSV options"):
        assert english not in html, english
    tables = get(make_datasette(store), "/site").text
    assert "<h1>すべての表 / Every table</h1>" in tables and "表 / Tables" in tables and "1 行 / 1 row" in tables
    assert "Custom SQL query" not in tables and "Data license:" not in tables


def test_dashboard_pages_read_japanese_first(store):
    import sqlite3

    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE derivatives (full_name TEXT)")  # the repository filter's options
    ds = make_datasette(store)
    page = get(ds, "/-/dashboards/impact").text
    assert ">全画面 / Fullscreen</button>" in page and 'value="表示 / Apply"' in page
    assert ">ホーム / home</a> /" in page and ">グラフ / dashboards</a>" in page  # the breadcrumb too
    chart = get(ds, "/-/dashboards/impact/people").text  # a chart's own page: it read "home / dashboards"
    assert ">ホーム / home</a> /" in chart and ">グラフ / dashboards</a> /" in chart
    assert "SQL で見る・編集する / View and edit SQL" in chart and "civicbot-static/charts.js" in chart
    listing = get(ds, "/-/dashboards").text
    assert "<h1>グラフ / Dashboards</h1>" in listing and ">ホーム / home</a>" in listing


def test_times_on_pages_read_japanese(store):
    """A stored UTC time (2020-03-01T00:00:00Z) reads 2020年3月1日 00:00 UTC on the search, a
    table and a row; the exact value stays in the <time> element and in JSON and CSV."""
    import sqlite_utils

    from civicbot.publish.search import enable_search

    enable_search(sqlite_utils.Database(store))
    ds = make_datasette(store)
    moment = '<time datetime="2020-03-01T00:00:00Z">2020年3月1日 00:00 UTC</time>'
    for path in ("/site/search?q=翻訳", "/site/items", "/site/items/570000047"):
        assert moment in get(ds, path).text, path
    assert get(ds, "/site/items.json?_shape=array").json()[0]["created_at"] == "2020-03-01T00:00:00Z"


def definition_sections(html: str) -> list[tuple[str, str]]:
    """(anchor, prose) of each term on the definitions page, its links' targets left out."""
    html = html.split('<div class="definitions">', 1)[1].split("\n</div>", 1)[0]  # the page's own text
    parts = re.split(r'<h[23] id="([^"]+)">', html)[1:]
    return [(anchor, re.sub(r"<[^>]+>", " ", body)) for anchor, body in zip(parts[::2], parts[1::2])]


def test_the_definitions_page_is_japanese_first_and_speaks_to_people(store):
    """/-/definitions: UTF-8 HTML in Japanese (lang="ja"), each term headed Japanese / English and
    explained in Japanese before English, naming no table, column, function or migration."""
    import sqlite_utils

    ds = make_datasette(store)
    page = get(ds, "/-/definitions")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="ja">' in page.text and "用語と数字の定義" in page.text
    sections = definition_sections(page.text)
    assert len(sections) >= 20
    # Every table of the store, and the metrics' and the home page's tables.
    names = set(sqlite_utils.Database(store).table_names()) | {
        "headline_figures", "pr_kinds", "contributions", "contributors_by_place", "public_value",
        "diffusion_by_prefecture", "diffusion_daily", "metrics_periodic", "data_end", "first_contributions"}
    for anchor, prose in sections:
        heading, _, text = prose.partition("\n")
        ja, _, en = heading.partition(" / ")
        assert JAPANESE.search(ja) and re.search(r"[A-Za-z]{3}", en), anchor
        first_ja, first_en = JAPANESE.search(text), re.search(r"[A-Za-z]{4}", text)
        assert first_ja and first_en and first_ja.start() < first_en.start(), anchor
        assert not DEVELOPER.search(prose), (anchor, DEVELOPER.search(prose))
        assert not [n for n in names if "_" in n and re.search(rf"\b{n}\b", prose)], anchor
        assert not re.search(r"\b(def|SELECT|migration)\b|\w\.\w+\(", prose), anchor


def test_a_table_page_has_no_english_only_words_left(store):
    """The breadcrumb, the sort line under the count and the column headings: Japanese first."""
    html = get(make_datasette(store), "/site/items?_sort_desc=created_at").text
    assert ">ホーム / home</a>" in html and ">home</a>" not in html
    assert "created_at の降順 / sorted by created_at descending" in html
    assert re.search(r'data-column="created_at" title="created_at"[^>]*>\s*<a [^>]*>作成日時（プロジェクトの時間帯） / created \(project&#39;s time zone\)',
                     html)
    assert re.search(r'data-column="repo_id" title="repo_id"[^>]*>\s*<a [^>]*>リポジトリ / repository<', html)
    assert 'content: "題名 / title"' in html  # a phone's stacked rows too
    assert ">技術的な定義（英語） / technical definition</a>" in html  # the developers' docs say they are English
    filtered = get(make_datasette(store), "/site/items?state=open&_sort=id").text
    assert "絞り込み: state = &#34;open&#34;、id の昇順 / where state = &#34;open&#34; sorted by id" in filtered
    assert "該当なし / 0 records" in get(make_datasette(store), "/site/items?state=nothing").text


def test_the_report_uses_the_sites_words_and_points_to_its_definitions(store):
    """The printable report's glossary names contributors' forks as the site does, its people as
    the definitions page knows them, and its footer sends readers to the definitions page."""
    from civicbot.publish.report_text import TEXT

    page = get(make_datasette(store), "/-/definitions").text
    for lang in ("ja", "en"):
        assert "/-/definitions" in TEXT[lang]["footer"]("2020-03-01", "0", "o/r")
    assert "協力者のフォーク" in dict(TEXT["ja"]["definitions"]) and "Contributors' forks" in dict(TEXT["en"]["definitions"])
    assert "協力した人" in page and "people who contributed" in page and "協力者のフォーク / Contributors' forks" in page


def test_values_of_a_small_vocabulary_read_japanese_first_and_filter_by_the_stored_value(store):
    """A table page shows a period kind as 月 / month, a place status, an item's state, and each
    part of a derivative's ways of being found in words, in the cells and the facets; the stored
    values stay in the filter (?period_kind=month), the facets' links and JSON."""
    import sqlite3

    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE contributors_by_place (period_kind TEXT, place_status TEXT, people INTEGER)")
        conn.executemany("INSERT INTO contributors_by_place VALUES (?, ?, ?)",
                         [("week", "known", 3), ("month", "known", 4), ("month", "no_profile", 2), ("all", "known", 5)])
        conn.execute("CREATE TABLE derivatives (full_name TEXT, found_by TEXT)")
        conn.execute("INSERT INTO derivatives VALUES ('a/covid19', 'fork,site_list')")
    ds = make_datasette(store)
    page = get(ds, "/site/contributors_by_place?period_kind=month&_facet=place_status").text
    assert "2 件 / 2 rows" in page
    cells = re.findall(r'<td class="col-(period_kind|place_status) [^"]*">(.*?)</td>', page)
    assert cells == [("period_kind", '<span title="month">月 / month</span>'),
                     ("place_status", '<span title="known">分かった / known</span>'),
                     ("period_kind", '<span title="month">月 / month</span>'),
                     ("place_status", '<span title="no_profile">プロフィール未取得 / profile not fetched yet</span>')]
    assert re.search(r'place_status=no_profile">プロフィール未取得 / profile not fetched yet</a>', page)  # the facet
    assert "所在地のわかり方 / place status" in page.split('class="facet-results"')[1]
    rows = get(ds, "/site/contributors_by_place.json?period_kind=month&_shape=array").json()
    assert {r["period_kind"] for r in rows} == {"month"}
    assert '<span title="open">対応中 / open</span>' in get(ds, "/site/items").text
    found = get(ds, "/site/derivatives").text
    assert "フォーク、元のサイトの一覧 / fork, the original site&#39;s list" in found


def test_every_value_label_reads_japanese_then_english():
    """descriptions.yml's `values`: each label Japanese / English; the kinds of organisation in the
    same words as the stored kind_ja column (metrics.origins.KIND_JA)."""
    from civicbot.metrics.origins import KIND_JA
    from civicbot.publish.metadata import load_descriptions

    values = load_descriptions(part="values")
    assert {"period_kind", "kind", "place_status", "found_by", "state", "pr_kind", "event"} <= set(values)
    for column, words in values.items():
        for value, label in words.items():
            ja, _, en = label.partition(" / ")
            assert JAPANESE.search(ja) and re.search(r"[A-Za-z]{2}", en), (column, value, label)
    assert {k: values["kind"][k].partition(" / ")[0] for k in KIND_JA} == KIND_JA


def test_the_filter_and_sort_menus_name_columns_by_their_labels(store):
    """A table page's filter menus (the applied filter's and the new one's) and the phone's sort
    menu list the columns by their headings, Japanese first; what the form sends is still the
    column's name, so the filter applies as before."""
    ds = make_datasette(store)
    html = get(ds, "/site/items?state=open").text
    applied, new, sort = (html.split('name="_filter_column_1"')[1].split("</select>")[0],
                          html.split('name="_filter_column"')[1].split("</select>")[0],
                          html.split('name="_sort"')[1].split("</select>")[0])
    assert '<option value="state" selected>状態 / state</option>' in applied and "- 外す / remove filter -" in applied
    assert '<option value="title">題名 / title</option>' in new and "<option>" not in new
    assert '<option value="created_at">作成日時（プロジェクトの時間帯） / created (project&#39;s time zone)</option>' \
        in sort and "Sort by" not in sort
    answer = get(ds, "/site/items?_filter_column=state&_filter_op=exact&_filter_value=open")
    assert answer.status_code == 302 and answer.headers["location"] == "/site/items?state__exact=open"
    assert "1 件 / 1 row" in get(ds, answer.headers["location"]).text


def test_the_breadcrumb_names_the_tables_in_words_not_the_databases_name(store):
    """The breadcrumb of a table, a row and a canned query names the page of every table as the
    home page's link does (すべての表 / every table), not by the database's name (site), and a
    row's table by its title."""
    import sqlite_utils

    from civicbot.publish.search import enable_search

    enable_search(sqlite_utils.Database(store))  # the search page needs its index
    ds = make_datasette(store)

    def crumbs(path):
        return re.sub(r"\s+", " ", re.search(r'<p class="crumbs">(.*?)</p>', get(ds, path).text, re.S).group(1))

    every = '<a href="/site">すべての表 / every table</a>'
    assert every in crumbs("/site/items") and ">site</a>" not in crumbs("/site/items")
    assert every in crumbs("/site/search?q=翻訳")
    assert crumbs("/site/items/570000047").endswith(
        f'{every} / <a href="/site/items">イシューとプルリクエスト / issues and pull requests</a> ')
    assert ">すべての表 / every table</a>" in get(ds, "/").text


def test_the_list_of_tables_is_in_the_order_of_their_titles(store):
    """The page of every table lists them by their titles as it shows them (kana in the order of
    the syllabary, then kanji), not by their names in the database; hidden ones stay out."""
    html = get(make_datasette(store), "/site").text
    titles = [unescape(t) for t in re.findall(r'<h3><a href="/site/[^"]+">([^<]*)</a>', html)]
    assert len(titles) > 10 and titles == sorted(titles, key=str.lower)
    assert titles.index("イシューとプルリクエスト / issues and pull requests") < titles.index("リポジトリ / repositories")
    assert not [t for t in titles if t.isascii()]  # every one by its title, none by a bare name


def test_a_row_page_names_its_columns_and_the_tables_that_refer_to_it_in_words(store):
    """A row page heads each value with its column's heading, and names the tables whose rows
    refer to it, and their columns, by their titles and headings, not by their names."""
    html = get(make_datasette(store), "/site/items/570000047").text
    headings = re.findall(r'td:nth-of-type\(\d+\):before \{ content: "([^"]*)"', html)
    assert "題名 / title" in headings and "リポジトリ / repository" in headings and "repo_id" not in headings
    assert "<title>翻訳のお願い - イシューとプルリクエスト / issues and pull requests</title>" in html
    refer = re.sub(r"\s+", " ", html.split("関連する行 / Rows that refer to this one")[1])
    assert "コメント / comments: <a" in refer and "（イシュー・PR / issue or PR）" in refer
    assert "<li> comments: <a" not in refer and "（item_id）" not in refer


def test_a_table_page_reads_the_words_for_values_once_not_for_every_cell(store, monkeypatch):
    """The values' words come from the metadata once per table: read for every cell, a page of
    100 rows took a fifth longer."""
    import sqlite3

    with sqlite3.connect(store) as conn:
        conn.execute("CREATE TABLE contributors_by_place (period_kind TEXT, place_status TEXT, people INTEGER)")
        conn.executemany("INSERT INTO contributors_by_place VALUES ('month', 'known', ?)", [(n,) for n in range(100)])
    ds = make_datasette(store)
    reads = []
    original = ds.table_metadata
    monkeypatch.setattr(ds, "table_metadata", lambda *args: reads.append(args) or original(*args))
    for _ in range(2):
        assert get(ds, "/site/contributors_by_place?_size=100").text.count("月 / month</span>") == 100
    # Datasette's own few reads per page, not one per cell (200 cells of words on the two pages)
    assert reads.count(("site", "contributors_by_place")) < 20


def test_the_search_and_the_maintainers_pages_show_values_in_words_too(store):
    """A canned query's answer (the search here) shows an item's kind and state in words, Japanese
    first, by the same words as the tables; its JSON keeps the stored values."""
    import sqlite_utils

    from civicbot.publish.search import enable_search

    enable_search(sqlite_utils.Database(store))
    ds = make_datasette(store)
    page = get(ds, "/site/search?q=翻訳").text
    assert '<td class="col-kind"><span title="issue">イシュー / issue</span></td>' in page
    assert '<td class="col-state"><span title="open">対応中 / open</span></td>' in page
    answer = get(ds, "/site/search.json?q=翻訳&_shape=array").json()
    assert (answer[0]["kind"], answer[0]["state"]) == ("issue", "open")


def test_every_heading_of_the_maintainers_pages_lives_in_descriptions_yml():
    """One place for words: no canned query carries headings of its own (queries.yml's `labels`);
    the newcomers page's why_not_welcomed is headed from descriptions.yml like every other column."""
    from civicbot.publish.metadata import load_descriptions

    headings = load_descriptions(DASHBOARDS_DIR / "descriptions.yml", "query_columns")
    assert headings["why_not_welcomed"] == "空欄の理由 / why nobody is shown"
    assert not [name for name, query in load_queries().items() if "labels" in query]
    for name, query in build_metadata()["databases"]["civicbot"]["queries"].items():
        assert query["labels"] == headings, name


def test_no_heading_or_column_meaning_says_utc_alone():
    """Stored UTC times read in the project's zone on every page (site_plugin.japanese_date): a
    heading or a column's meaning that names UTC says the page shows the project's zone."""
    from civicbot.publish.metadata import load_descriptions

    path = DASHBOARDS_DIR / "descriptions.yml"
    words = dict(load_descriptions(path, "query_columns"))
    words.update({f"{t}.{c}": m for t, info in load_descriptions(path).items()
                  for c, m in (info.get("columns") or {}).items()})
    alone = {c: w for c, w in words.items() if "UTC" in w and not ("時間帯" in w and "time zone" in w)}
    assert not alone, alone


def test_a_table_pages_column_meanings_are_headed_as_its_columns(store):
    """各列の意味 listed the columns by their names in the database (created_at): each is headed as
    the table heads it, Japanese first, its name only in small type."""
    html = get(make_datasette(store), "/site/items").text
    meanings = html.split('<dl class="column-descriptions">')[1].split("</dl>")[0]
    assert ('<dt>作成日時（プロジェクトの時間帯） / created (project&#39;s time zone) '
            '<small class="column-name">created_at</small></dt>') in meanings
    assert "<dt>created_at</dt>" not in meanings and "<dt>題名 / title " in meanings
