"""`make screenshots` photographs every kind of public page, and the README shows each picture."""

from __future__ import annotations

import re
import sys

from conftest import ROOT
from site_helpers import site_store

from civicbot.publish.commands import make_datasette
from civicbot.publish.metadata import build_metadata, load_dashboards

sys.path.insert(0, str(ROOT / "docs"))
from screenshots import WIDTHS, pages  # noqa: E402

SHOTS = ROOT / "docs" / "screenshots"


def test_every_kind_of_page_is_photographed(tmp_path):
    path = tmp_path / "site.db"
    site_store(path, {570000047: ("翻訳のお願い", "本文")}).conn.close()
    ds = make_datasette(path, metadata=build_metadata(database="site"))  # every query, whatever the tables
    got = dict(pages(ds))
    queries = [q for q in ds.metadata()["databases"]["site"]["queries"] if q != "search"]
    assert {"first_timers_waiting", "good_first_issue_candidates"} <= set(queries)
    expected = {"home": "/", "search": "/site/search?q=翻訳", "definitions": "/-/definitions",
                "tables": "/site", "row-item": "/site/items/570000047",
                **{f"dashboard-{slug}": f"/-/dashboards/{slug}" for slug in load_dashboards()},
                **{f"query-{name}": f"/site/{name}" for name in queries}}
    assert {name: got.get(name) for name in expected} == expected
    assert got["table-items"].startswith("/site/items")


def test_the_readme_shows_every_screenshot_and_each_exists():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r'<img src="docs/screenshots/([^"]+\.png)"', readme))
    committed = {p.name for p in SHOTS.glob("*.png")}
    assert shown == committed
    names = {n.removesuffix(".png") for n in committed if not n.endswith("-390px.png")}
    assert {f"{n}{suffix}.png" for n in names for _, suffix in WIDTHS} == committed  # both widths of each
    assert {"home", "dashboard-people", "search", "definitions", "tables", "table-items", "row-item",
            "query-good_first_issue_candidates"} <= names
    assert all(p.stat().st_size < 600_000 for p in SHOTS.glob("*.png"))  # reasonably small
