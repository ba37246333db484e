"""Search as visitors use it: the `search` canned query and the items table's search box."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest
import sqlite_utils
from site_helpers import get, site_store

from civicbot.publish.commands import make_datasette
from civicbot.publish.search import enable_search, fold, match_expression, register_functions, search_items

ITEMS = {
    1: ("グラフの表示を直す", "PCR 検査の数"),
    2: ("東京都のページ", "translation of the README page"),
    3: ("翻訳のお願い", "i18n の対応"),
    4: ("Fix typo", "京都 ではない"),
    5: ("ｸﾞﾗﾌ 半角", "ＰＣＲ 全角"),
}


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "site.db"
    db = site_store(path, ITEMS)
    enable_search(db)
    db.conn.close()
    return path


def found(path, term):
    return sorted(r["id"] for r in search_items(sqlite_utils.Database(path), term))


@pytest.mark.parametrize("term, ids", [
    ("翻訳", [3]), ("東京", [2]), ("京都", [2, 4]), ("翻", [3]),
    ("グラフ", [1, 5]), ("ｸﾞﾗﾌ", [1, 5]), ("ぐらふ", [1, 5]), ("ＰＣＲ", [1, 5]), ("pcr", [1, 5]),
    ("translation", [2]), ("page", [2]), ("README", [2]), ("readme", [2]), ("i18n", [3]),
    ("東京 README", [2]), ("翻訳 i18n", [3]), ("東京 i18n", []), ("typo", [4]), ("typofix", []), ("", []), ("!!", []),
])
def test_search_finds_words_of_any_length_and_width(store, term, ids):
    assert found(store, term) == ids


def test_folding_and_query_rule():
    assert fold("ｸﾞﾗﾌ") == fold("ぐらふ") == fold("グラフ") == "グラフ"
    assert fold("ＰＣＲ") == "pcr"
    assert match_expression("東京") == '"東京"'
    assert match_expression("Page") == '"pag age"'
    assert match_expression('" OR x') == '"or" AND "x"'  # FTS syntax is never passed through
    assert match_expression(" ") is None


@pytest.mark.parametrize("term, ids", [("翻訳", [3]), ("ｸﾞﾗﾌ", [1, 5]), ("translation", [2]), ("東京 README", [2])])
def test_the_site_finds_them_in_the_canned_query_and_the_search_box(store, term, ids):
    ds = make_datasette(store)
    rows = get(ds, f"/site/search.json?q={term}&_shape=array").json()
    assert sorted(r["number"] for r in rows) == ids
    box = get(ds, f"/site/items.json?_search={term}&_shape=array").json()
    assert sorted(r["id"] for r in box) == ids
    in_titles = get(ds, f"/site/items.json?_search_title={term}&_shape=array").json()
    assert sorted(r["id"] for r in in_titles) == [i for i in ids if all(  # ?_search_title=: titles only
        w in fold(ITEMS[i][0]) for w in fold(term).split())]
    assert get(ds, f"/site/search.json?q={term}&repo=o/r&_shape=array").json()
    assert get(ds, f"/site/search.json?q={term}&repo=x/y&_shape=array").json() == []


def test_the_canned_query_looks_items_up_by_id_never_scans_them(store):
    from civicbot.publish.metadata import load_queries

    sql = load_queries()["search"]["sql"]
    conn = sqlite3.connect(store)
    register_functions(conn)
    plan = " | ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, {"q": "translation", "repo": ""}))
    assert "SCAN i " not in plan + " " and "SCAN i\n" not in plan, plan
    assert "SEARCH i USING INTEGER PRIMARY KEY" in plan, plan


def test_the_index_is_rebuilt_only_when_items_changed(store):
    db = sqlite_utils.Database(store)
    assert not enable_search(db)
    with db.conn:
        db.execute("UPDATE items SET title = '新しい題名', updated_at = '2021-01-01T00:00:00Z' WHERE id = 4")
    assert enable_search(db)
    assert found(store, "題名") == [4] and found(store, "typo") == []
    with db.conn:  # an index of an earlier layout is rebuilt too
        db.execute("UPDATE items_search_state SET layout = 1")
    assert enable_search(db) and not enable_search(db)


def test_a_query_over_the_time_limit_shows_no_sql_and_is_logged(store, caplog):
    ds = make_datasette(store, settings={"sql_time_limit_ms": 20})
    slow = ("/site.json?sql=WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x %2B 1 FROM n) "
            "SELECT count(*) FROM n")
    with caplog.at_level(logging.WARNING, logger="civicbot.site"):
        page, data = get(ds, slow.replace(".json", "")), get(ds, slow)
    assert page.status_code == data.status_code == 503
    for text in (page.text, data.text):
        assert "RECURSIVE" not in text and "Traceback" not in text and "sql_time_limit_ms" not in text
    assert "時間がかかりすぎました" in page.text and "took too long" in page.text
    assert any("interrupted" in r.getMessage() for r in caplog.records)


def test_the_search_page_shows_results_not_sql(store):
    html = get(make_datasette(store), "/site/search?q=翻訳").text
    shown = re.sub(r"<script.*?</script>|<[^>]+>", "", html, flags=re.S)  # text, not links such as Edit SQL
    assert "翻訳のお願い" in shown and "MATCH" not in shown and "civicbot_search_match" not in shown


def test_the_search_box_reads_the_newest_matches_only(store, monkeypatch):
    """The items table's box (HTML and JSON) takes the newest MAX_MATCHES matches from the index, so
    its rows, count and sort read a bounded set; Datasette's own box counted and sorted them all."""
    from civicbot.publish import site_plugin

    monkeypatch.setattr(site_plugin, "MAX_MATCHES", 1)
    ds = make_datasette(store)
    data = get(ds, "/site/items.json?_search=グラフ").json()  # items 1 and 5 match
    assert [r[0] for r in data["rows"]] == [5] and data["filtered_table_rows_count"] == 1
    assert "LIMIT 1)" in data["query"]["sql"]
    conn = sqlite3.connect(store)
    register_functions(conn)
    plan = " | ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + data["query"]["sql"],
                                                 data["query"]["params"]))
    assert "SEARCH items USING INTEGER PRIMARY KEY" in plan and not re.search(r"SCAN items\b(?!_)", plan), plan
    page = get(ds, "/site/items?_search=グラフ").text
    assert 'name="_search" value="グラフ"' in page and "最大 1 件" in page and "newest 1 at most" in page
    assert 'name="_search" value=""' in get(ds, "/site/items").text  # the box is on the table's page
    wrong = get(ds, "/site/items.json?_search_nothing=x")
    assert wrong.status_code == 400 and "title, body" in wrong.json()["error"]


def test_the_box_and_the_canned_query_keep_the_same_number_of_matches():
    from civicbot.publish.metadata import load_queries
    from civicbot.publish.site_plugin import MAX_MATCHES

    assert f"THEN {MAX_MATCHES} ELSE" in load_queries()["search"]["sql"]


def test_the_items_page_lists_the_newest_first_without_sorting_every_item(store):
    """The table page a visitor opens before searching: newest first by id, which the primary key
    gives in order (ordering by created_at sorted all 10^6 items first: 0.8 s, docs/performance.md)."""
    data = get(make_datasette(store), "/site/items.json").json()
    assert [r[0] for r in data["rows"]] == sorted(ITEMS, reverse=True)
    conn = sqlite3.connect(store)
    plan = " | ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + data["query"]["sql"], data["query"]["params"]))
    assert "TEMP B-TREE" not in plan, plan


def test_serving_keeps_the_long_lived_objects_out_of_the_collectors_walks(tmp_path):
    """`civicbot serve` freezes what lives as long as the server, so full collections (every few
    page renders) no longer walk it: the search page's p95 in the benchmark (docs/performance.md).
    It is the site plugin's startup hook that does it (`site_plugin.settle_memory`), once per
    process: civicbot serve's Datasette settles when it starts."""
    import asyncio
    import gc

    from civicbot.publish import site_plugin

    site_store(tmp_path / "site.db", {1: ("title", "")}).conn.close()
    gc.unfreeze()
    site_plugin._settled = False
    try:
        ds = make_datasette(tmp_path / "site.db")
        assert gc.get_freeze_count() == 0  # made, not yet started
        asyncio.run(ds.invoke_startup())
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        asyncio.run(make_datasette(tmp_path / "site.db").invoke_startup())
        assert gc.get_freeze_count() == 0  # once: another Datasette in the process freezes nothing more
    finally:
        gc.unfreeze()


def test_the_bundles_plain_datasette_serve_settles_memory_too(tmp_path):
    """The published bundle's plain `datasette serve --plugins-dir plugins` settles memory too: it
    loads the plugin file the bundle ships (no civicbot involved), whose startup hook freezes alike."""
    import shutil
    import subprocess
    import sys

    from civicbot.publish import site_plugin

    site_store(tmp_path / "site.db", {1: ("title", "")}).conn.close()
    (tmp_path / "plugins").mkdir()
    shutil.copyfile(site_plugin.__file__, tmp_path / "plugins" / "civicbot_site.py")
    script = ("import asyncio, gc, sys\n"
              "from datasette.app import Datasette\n"
              "gc.unfreeze()\n"
              "ds = Datasette(immutables=['site.db'], plugins_dir='plugins')\n"
              "before = gc.get_freeze_count()\n"
              "asyncio.run(ds.invoke_startup())\n"
              "print(before, gc.get_freeze_count())\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before == 0 and after > 0