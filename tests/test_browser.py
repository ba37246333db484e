"""The published site in a real browser: every dashboard, canned query and search renders with
data, logs no console error, runs no injected script, and asks nothing of any host but 127.0.0.1."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlparse

import pytest
from browser_site import CHROMIUM, CHROMIUM_ARGS, HOSTILE_TITLE, build_store, serve_site, site_pages

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does it)", allow_module_level=True)


# What no page may show a visitor: SQL, a Python traceback, or UTF-8 read as Latin-1 / Shift_JIS.
DEVELOPER_TEXT = re.compile(r"\bSELECT\b.*\bFROM\b|Traceback \(most recent call last\)|sqlite3\.\w+Error")
MOJIBAKE = re.compile("[\u00c3\u00e3][\u0080-\u00bf]|\ufffd|縺[縺-繧]|繧[縺-繧]")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    config = build_store(tmp_path_factory.mktemp("site"))
    with serve_site(config) as (url, ds):
        yield url, ds


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def visit(browser, url: str) -> dict:
    """Open a page; report console errors, dialogs (an injected script ran) and outside requests."""
    page = browser.new_page()
    seen = {"errors": [], "dialogs": [], "outside": [], "failed": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))

    def guard(route):
        host = urlparse(route.request.url).hostname
        if host not in ("127.0.0.1", None) and not route.request.url.startswith("data:"):
            seen["outside"].append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", guard)
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    response = page.goto(url, wait_until="networkidle")
    seen["status"] = response.status if response else None
    seen["page"] = page
    return seen


def test_every_page_renders_with_data_and_stays_local(site, browser):
    url, ds = site
    problems = []
    for name, path in site_pages(ds):
        seen = visit(browser, url + path)
        page = seen["page"]
        if seen["status"] != 200:
            problems.append(f"{name}: HTTP {seen['status']}")
        if seen["errors"] or seen["dialogs"] or seen["outside"]:
            problems.append(f"{name}: errors {seen['errors'][:2]} dialogs {seen['dialogs']} outside {seen['outside'][:2]}")
        if name.startswith("dashboard "):
            page.wait_for_timeout(500)
            if page.locator("svg, canvas").count() == 0:
                problems.append(f"{name}: no chart drawn")
        elif name.startswith(("search", "items")) and page.locator("table.rows-and-columns tbody tr").count() == 0:
            problems.append(f"{name}: no rows")
        elif name.startswith("query") and page.locator("table.rows-and-columns, p.zero-results").count() == 0:
            problems.append(f"{name}: no result table")
        if page.locator("html").get_attribute("lang") != "ja":
            problems.append(f"{name}: html lang is not ja")
        shown = page.inner_text("body")
        if DEVELOPER_TEXT.search(shown) or MOJIBAKE.search(shown):
            problems.append(f"{name}: shows SQL, a traceback or mojibake: "
                            f"{(DEVELOPER_TEXT.search(shown) or MOJIBAKE.search(shown)).group()!r}")
        page.close()
    assert problems == []


def test_hostile_titles_are_text_everywhere(site, browser):
    url, ds = site
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    for path in (f"/{db_name}/items?_search_title=翻訳のお願い", f"/{db_name}/search?q=翻訳のお願い",
                 f"/{db_name}/items?title__contains=script"):
        seen = visit(browser, url + path)
        assert seen["dialogs"] == [], path  # alert() never ran
        page = seen["page"]
        assert '<script>alert("xss")</script>' in page.inner_text("body"), path  # shown as text
        assert page.locator("img[src='x']").count() == 0, path
        page.close()
    assert HOSTILE_TITLE


def metric(page, chart: str) -> str:
    page.wait_for_selector(f"#chart-{chart} p", timeout=10_000)
    return page.inner_text(f"#chart-{chart} p").strip()


def test_home_page_shows_the_headline_figures_and_the_ways_in(site, browser):
    url, ds = site
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    seen = visit(browser, url + "/")
    page = seen["page"]
    assert seen["status"] == 200 and not seen["errors"]
    for figure in ("people", "proposals", "accepted", "bot_share", "release_share"):
        cards = page.locator(f".figure[data-figure={figure}] .n")
        assert cards.count() == 2, figure  # the first three weeks and the whole period
        assert re.fullmatch(r"[\d,.]+\s*(人|件|%)", cards.first.inner_text().strip()), figure
    text = page.inner_text("body")
    assert "はじめの 3 週間" in text and "全期間" in text and "協力者のフォーク" in text and "最後の収集" in text
    queries = [q for q in ds.metadata()["databases"][db_name]["queries"] if q != "search"]
    assert queries
    for href in ("/-/dashboards/impact", "/-/dashboards/diffusion", "/-/definitions", "/-/docs/metrics.md",
                 f"/{db_name}", *(f"/{db_name}/{q}" for q in queries)):
        assert page.locator(f'a[href="{href}"]').count() >= 1, href
    page.click(".figure[data-figure=people] a >> text=定義 / definition")  # a figure's definition, in Japanese
    page.wait_for_load_state("networkidle")
    assert page.url == f"{url}/-/definitions#people" and page.locator("html[lang=ja]").count() == 1
    assert page.locator("#people").is_visible() and "参加した人" in page.inner_text("#people")
    page.go_back()
    page.fill("#front-q", "翻訳")
    page.click("form.search input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(f"{url}/{db_name}/search?q=")
    assert page.locator("table.rows-and-columns tbody tr").count() > 0
    page.close()


def test_a_window_filter_changes_the_figures(site, browser):
    url, ds = site
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    conn = sqlite3.connect(f"file:{ds.get_database(db_name).path}?mode=ro", uri=True)
    lo, hi = conn.execute("SELECT first_weeks_from, first_weeks_to FROM harvest_status").fetchone()
    figures = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT figure, first_weeks, whole_period FROM headline_figures")}
    conn.close()
    page = visit(browser, url + "/-/dashboards/impact")["page"]
    whole = {c: metric(page, c) for c in ("people", "proposals", "merged")}
    page.close()
    page = visit(browser, f"{url}/-/dashboards/impact?date_from={lo}&date_to={hi}&repo=")["page"]
    window = {c: metric(page, c) for c in ("people", "proposals", "merged")}
    assert window != whole
    assert window["people"] == f"{figures['people'][0]} 人" and whole["people"] == f"{figures['people'][1]} 人"
    assert window["proposals"] == f"{figures['proposals'][0]} 件"
    assert window["merged"] == f"{figures['accepted'][0]} 件"
    # the form itself: choosing the upstream narrows the figures again
    page.select_option("#repo", label="上流 / upstream")
    page.click(".dashboard-filters button, .dashboard-filters input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "repo=" in page.url
    upstream = metric(page, "proposals")
    assert int(upstream.split()[0]) <= int(window["proposals"].split()[0])
    page.close()


def no_rows(route):
    route.fulfill(json={"rows": [], "truncated": False})


def test_a_chart_with_nothing_to_show_says_why_and_the_page_stays_short(site, browser):
    """The Tokyo data holds no comment: the first-response chart had no rows, vega-lite grew it to
    33 million px and pushed the monthly activity below it off the page; the public value, never
    estimated, was a blank card. Now each says why, in Japanese then English."""
    url, _ = site
    seen = visit(browser, url + "/-/dashboards/impact")
    page = seen["page"]
    page.route(re.compile(r".*\.json\?sql=.*first_response_prs_median_hours.*"), no_rows)
    page.reload(wait_until="networkidle")
    words = page.locator("#chart-first-response p.chart-empty")
    words.wait_for(timeout=15_000)
    assert words.inner_text().startswith("この期間には") and "No reply" in words.inner_text()
    page.wait_for_selector("#chart-activity-month svg", timeout=15_000)
    page.wait_for_timeout(1500)  # the growth took a moment
    assert page.evaluate("document.documentElement.scrollHeight") < 4000
    assert page.locator("#chart-activity-month").bounding_box()["y"] < 3000
    assert not seen["errors"], seen["errors"]
    page.close()
    # a period with no data at all: every chart says so, none grows
    page = visit(browser, url + "/-/dashboards/impact?date_from=2099-01-01&date_to=2099-01-31")["page"]
    page.wait_for_selector("#chart-per-week p.chart-empty", timeout=15_000)
    page.wait_for_timeout(1500)
    assert page.locator("p.chart-empty").count() == 4  # per week, per month, first response, activity
    assert page.evaluate("document.documentElement.scrollHeight") < 4000
    assert "表示するデータがありません" in page.inner_text("#chart-per-week")
    page.close()
    page = visit(browser, url + "/-/dashboards/impact/first-response")["page"]  # the chart on its own page
    page.route(re.compile(r".*\.json\?sql=.*first_response_prs_median_hours.*"), no_rows)
    page.reload(wait_until="networkidle")
    page.wait_for_selector(".chart-container p.chart-empty", timeout=15_000)
    assert page.locator(".chart-container svg").count() == 0
    page.close()
    page = visit(browser, url + "/-/dashboards/diffusion")["page"]
    page.route(re.compile(r".*\.json\?sql=.*public_value.*"), no_rows)
    page.reload(wait_until="networkidle")
    page.wait_for_selector("#chart-public-value p.chart-empty", timeout=15_000)
    assert "まだ推計していません" in page.inner_text("#chart-public-value")
    assert "undefined" not in page.inner_text("body")
    page.close()


def test_chart_legends_read_japanese_first(site, browser):
    """Every legend label of every dashboard names its series in Japanese, then English: the impact
    dashboard's read "proposals / 提案", "accepted / 採用" and, for the first response, only "PRs"
    and "issues"."""
    url, ds = site
    seen = []
    for slug in ds.metadata()["plugins"]["datasette-dashboards"]:
        page = visit(browser, f"{url}/-/dashboards/{slug}")["page"]
        page.wait_for_timeout(1500)  # let vega finish drawing
        labels = page.locator("g.role-legend-label text").all_text_contents()
        seen += labels
        wrong = [label for label in labels if not re.match(r"[\d\u2013\s+]+$|[^/]*[\u3040-\u30ff\u4e00-\u9fff]", label)]
        assert not wrong, (slug, wrong)
        page.close()
    assert len(seen) >= 10, seen


def shapes(page, chart: str) -> list[tuple[str, str]]:
    """(label, fill) of every shape a map chart drew (SVG: one <path> per country or prefecture)."""
    selector = f"#chart-{chart} path[aria-roledescription='geoshape']"
    page.wait_for_selector(selector, timeout=15_000)
    return [tuple(s) for s in page.eval_on_selector_all(
        selector, "els => els.map(e => [e.getAttribute('aria-label'), e.getAttribute('fill')])")]


def tooltip_on(page, chart: str, name: str) -> str:
    page.locator(f"#chart-{chart} path[aria-label^='{name} /']").hover(force=True)
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    return page.inner_text("#vg-tooltip-element")


def place_rows(ds) -> list[tuple]:
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    conn = sqlite3.connect(f"file:{ds.get_database(db_name).path}?mode=ro", uri=True)
    rows = conn.execute("SELECT country_code, country_ja, pref_code, prefecture_ja, people FROM contributors_by_place"
                        " WHERE period_kind = 'all'").fetchall()
    regional = dict(conn.execute("SELECT prefecture_ja, regional_sites FROM diffusion_by_prefecture").fetchall())
    conn.close()
    return rows, regional


def test_prefecture_maps_draw_all_47_prefectures_with_names_on_hover(site, browser):
    from civicbot.regions.data import PREFECTURES

    url, ds = site
    rows, regional = place_rows(ds)
    people = {}
    for _, _, pref, pref_ja, n in rows:
        if pref:
            people[pref_ja] = people.get(pref_ja, 0) + n
    assert people  # the generated people name prefectures in their profiles
    names = sorted(p.name_ja for p in PREFECTURES)
    for dashboard, chart, counts, unit, steps in (("people", "japan-map", people, "人", "0 1 2–4 5–9 10–19 20+"),
                                                  ("diffusion", "map", regional, "件", "0 1 2–3 4–7 8+")):
        page = visit(browser, f"{url}/-/dashboards/{dashboard}")["page"]
        drawn = shapes(page, chart)
        legend = page.eval_on_selector_all(f"#chart-{chart} g.role-legend text", "els => els.map(e => e.textContent)")
        assert legend[:-1] == steps.split(), legend  # every step labelled (a gradient hid 2 and 5)
        assert len(drawn) == 47, (chart, len(drawn))
        assert sorted(label.split(" / ")[0] for label, _ in drawn) == names, chart
        for label, fill in drawn:
            pref_ja = label.split(" / ")[0]
            assert label.endswith(f": {counts.get(pref_ja, 0)} {unit}"), (chart, label)
            assert (fill == "#eeeeee") == (counts.get(pref_ja, 0) == 0), (chart, label, fill)  # grey: nobody / none
        busiest = max(counts, key=counts.get)
        tip = tooltip_on(page, chart, busiest)
        assert busiest in tip and str(counts[busiest]) in tip, tip
        page.close()


def test_world_map_draws_the_countries_and_colours_those_in_the_data(site, browser):
    url, ds = site
    rows, _ = place_rows(ds)
    people: dict[str, int] = {}
    for code, name_ja, _, _, n in rows:
        if code:
            people[name_ja] = people.get(name_ja, 0) + n
    assert len(people) >= 2
    page = visit(browser, f"{url}/-/dashboards/people")["page"]
    drawn = {label.split(" / ")[0]: (label, fill) for label, fill in shapes(page, "world-map")}
    assert len(drawn) >= 170 and {"日本", "アメリカ合衆国", "ブラジル", "オーストラリア"} <= set(drawn)
    coloured = {name for name, (_, fill) in drawn.items() if fill != "#eeeeee"}
    assert coloured == set(people)  # every country present in the data, and no other
    for name, n in people.items():
        assert drawn[name][0].endswith(f": {n} 人"), drawn[name]
    tip = tooltip_on(page, "world-map", "オーストラリア")  # a country whose middle is land
    assert "オーストラリア" in tip and "Australia" in tip
    page.close()


def test_maps_say_in_words_when_nobody_is_placed(site, browser):
    """The maps' own SQL on a store where nobody's place is known: words, no shapes."""
    from civicbot.metrics.origins import PLACE_COLUMNS

    url, ds = site
    empty = sqlite3.connect(":memory:", check_same_thread=False)
    empty.execute(f"CREATE TABLE contributors_by_place ({', '.join(PLACE_COLUMNS)})")
    empty.execute("INSERT INTO contributors_by_place (period_kind, place_status, people) VALUES ('all', 'unknown', 12)")
    empty.execute("CREATE TABLE diffusion_by_prefecture (pref_code, prefecture_ja, prefecture_en)")

    def nobody_placed(route):
        from urllib.parse import parse_qs

        sql = parse_qs(urlparse(route.request.url).query)["sql"][0]
        cursor = empty.execute(sql)
        rows = [dict(zip([c[0] for c in cursor.description], r)) for r in cursor.fetchall()]
        route.fulfill(json={"rows": rows, "truncated": False})

    page = visit(browser, f"{url}/-/dashboards/people")["page"]
    page.route(re.compile(r".*\.json\?sql=.*contributors_by_place.*"), nobody_placed)
    page.reload(wait_until="networkidle")
    for chart, words in (("world-map", "まだ所在地のわかる参加者がいません"),
                         ("japan-map", "まだ都道府県のわかる参加者がいません")):
        page.wait_for_selector(f"#chart-{chart} svg text:has-text('{words}')", timeout=15_000)
        assert page.locator(f"#chart-{chart} path[aria-roledescription='geoshape']").count() == 0, chart
    page.close()


def test_a_row_page_reads_down_the_page_with_the_title_readable(site, browser):
    url, ds = site
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    conn = sqlite3.connect(f"file:{ds.get_database(db_name).path}?mode=ro", uri=True)
    item = conn.execute("SELECT id FROM items WHERE title LIKE '%翻訳%' ORDER BY id DESC LIMIT 1").fetchone()[0]
    conn.close()
    for width in (1400, 390):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{url}/{db_name}/items/{item}", wait_until="networkidle")
        title = page.locator(".row-record td.col-title").bounding_box()
        assert title["width"] > width * 0.6, (width, title)  # was a column one character wide
        label = page.evaluate("getComputedStyle(document.querySelector('.row-record td.col-title'), '::before').content")
        assert label == '"題名 / title"'  # the column's heading, not its name
        page.close()


def test_a_columns_menu_is_headed_by_its_heading_in_words(site, browser):
    """A table page's column menu (Datasette's table.js) named no column and read only English with
    the SQL type: it now opens with the column's heading, its items Japanese first, no type."""
    url, ds = site
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    seen = visit(browser, f"{url}/{db_name}/items")
    page = seen["page"]
    # a click as the visitor's (Playwright's click scrolls the table first, and a scroll closes the menu)
    page.dispatch_event("th.col-created_at .dropdown-menu-icon", "click")
    menu = page.locator("body > div.dropdown-menu")
    assert menu.is_visible()
    assert menu.locator(".dropdown-column-heading").inner_text() == \
        "作成日時（プロジェクトの時間帯） / created (project's time zone)"
    text = menu.inner_text()
    assert "小さい順に並べる / Sort ascending" in text and "この列を隠す / Hide this column" in text
    assert "Type:" not in text and not seen["errors"], seen["errors"]
    page.close()
