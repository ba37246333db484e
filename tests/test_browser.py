"""The published site in a real browser: every dashboard, canned query and search renders with
data, logs no console error, runs no injected script, and asks nothing of any host but 127.0.0.1."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from browser_site import CHROMIUM, CHROMIUM_ARGS, HOSTILE_TITLE, build_store, serve_site, site_pages

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run does it)", allow_module_level=True)


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
        text = page.inner_text("body")
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
