"""`civicbot report`, the public-value estimate, the languages harvest and the prefecture map data."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from conftest import ROOT
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

from civicbot.config import Config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.public_value import estimate, lines_of_code, write_public_value
from civicbot.metrics.summary import Window, impact_summary
from civicbot.publish.japan_map import GEOJSON, choropleth_svg, prefectures
from civicbot.regions.data import PREFECTURES
from civicbot.store import open_store

needs_poppler = pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("pdftotext")),
                                   reason="poppler-utils is absent (apt-get install poppler-utils; .ci/run does it)")
needs_chromium = pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is absent (apt-get install chromium)")


# --- the estimate's arithmetic ------------------------------------------------------------------


def test_basic_cocomo_on_known_inputs():
    # 10,000 lines: effort 2.4 x 10^1.05 = 26.928 person-months; schedule 2.5 x 26.928^0.38 = 8.738 months;
    # at 6,000,000 yen a year and overhead 2.4: 26.928 x 500,000 x 2.4 = 32,314,131 yen; three bodies: x 3.
    result = estimate(10_000, 3, 6_000_000, 2.4)
    assert result.effort_person_months == pytest.approx(26.92844, abs=1e-4)
    assert result.schedule_months == pytest.approx(8.7382, abs=1e-3)
    assert result.cost_yen == 32_314_131
    assert result.estimate_yen == 3 * 32_314_131
    # 1,000 lines: 2.4 person-months exactly (KLOC^1.05 = 1)
    assert estimate(1_000, 1, 12_000_000, 1.0).cost_yen == 2_400_000
    nothing = estimate(0, 5, 6_000_000, 2.4)
    assert nothing.cost_yen == nothing.estimate_yen == 0 and nothing.schedule_months == 0


def test_bytes_become_lines_by_each_languages_average():
    assert lines_of_code({"Vue": 3_200, "TypeScript": 3_300, "Cobol": 350}) == {"Vue": 100, "TypeScript": 100,
                                                                                "Cobol": 10}


# --- the languages harvest ----------------------------------------------------------------------


def test_languages_are_stored_and_a_refresh_without_change_costs_no_quota(sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "h.db")
    db = open_store(config.database.path)
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    assert dict(db.execute("SELECT language, bytes FROM repo_languages WHERE repo_id = 10").fetchall()) == {
        "Vue": 600_000, "TypeScript": 400_000, "JavaScript": 90_000}

    requests.delete(f"{sim.url}/_sim/requests")
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    # Code changes only with a push, which changes the repo object: unchanged repos are not asked.
    assert [r for r in log if r["path"].endswith("/languages")] == []

    # A language added upstream with a push: read again, the old rows replaced, none left over.
    sim.app.world.data["repos"][0]["languages"] = {"Vue": 650_000, "Python": 20_000}
    sim.app._mutate({"repo": "Tokyo-Metro-Gov/covid19", "action": "push",
                     "commits": [{"sha": "f" * 40, "message": "Add Python", "author": "maintainer",
                                  "date": "2020-04-02T00:00:00Z"}]})
    requests.delete(f"{sim.url}/_sim/requests")
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    assert dict(db.execute("SELECT language, bytes FROM repo_languages WHERE repo_id = 10").fetchall()) == {
        "Vue": 650_000, "Python": 20_000}


# --- the map data -------------------------------------------------------------------------------


def test_the_map_has_every_prefecture_once_with_its_names_and_closed_clockwise_rings():
    features = prefectures()
    assert [f["properties"]["code"] for f in features] == [p.code for p in PREFECTURES]
    for feature, pref in zip(features, PREFECTURES):
        assert (feature["properties"]["name_ja"], feature["properties"]["name_en"]) == (pref.name_ja, pref.name_en)
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 20
        area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))
        assert area < 0, f"{pref.name_en}: ring not clockwise (d3-geo would fill the rest of the world)"
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        # the prefectural office lies within the shape's bounding box
        assert min(lons) <= pref.lon <= max(lons) and min(lats) <= pref.lat <= max(lats), pref.name_en
    assert GEOJSON.stat().st_size < 400_000
    assert (GEOJSON.parent / "japan.geojson.LICENSE").read_text(encoding="utf-8").count("Apache License") >= 1


def test_the_svg_map_fills_each_prefecture_by_its_count_and_names_it():
    svg = choropleth_svg({"13": 9, "01": 1}, lang="en")
    assert svg.count("<path ") == 47
    assert "<title>Tokyo: 9</title>" in svg and "<title>Hokkaido: 1</title>" in svg and "<title>Okinawa: 0</title>" in svg
    assert "#08306b" in svg  # 8 or more: the darkest fill
    assert "<title>東京都: 9</title>" in choropleth_svg({"13": 9}, lang="ja")


# --- the report on a generated world --------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from browser_site import build_store

    from civicbot.metrics import write_all_metrics

    folder = tmp_path_factory.mktemp("report")
    config = build_store(folder)
    db = open_store(config.database.path)
    write_all_metrics(db, config)
    yml = folder / "config.yml"
    yml.write_text(json.dumps(config.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
    created = db.execute("SELECT r.created_at FROM repos r JOIN discoveries d ON d.repo_id = r.id "
                         "WHERE d.method = 'upstream'").fetchone()[0]
    first = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    start = first.astimezone(config.zone).date()
    yield config, db, yml, Window(start, start + timedelta(days=20))
    db.close()


def test_public_value_row_is_cost_times_the_other_bodies(site):
    config, db, _, _ = site
    row = next(db.query("SELECT * FROM public_value"))
    lines = json.loads(row["lines_by_language"])
    assert row["code_lines"] == sum(lines.values()) > 10_000
    again = estimate(row["code_lines"], row["other_bodies"], config.public_value.annual_wage_yen, config.public_value.overhead)
    assert row["cost_yen"] == again.cost_yen and row["estimate_yen"] == row["cost_yen"] * row["other_bodies"]
    bodies = row["bodies"].split(", ")
    assert len(bodies) == row["other_bodies"] >= 5 and "Tokyo-Metro-Gov" not in bodies
    # the wage is a parameter: twice the wage, twice the estimate
    dearer = Config.model_validate({**config.model_dump(mode="json"), "public_value": {"annual_wage_yen": 12_000_000}})
    write_public_value(db, dearer)
    assert abs(next(db.query("SELECT estimate_yen FROM public_value"))["estimate_yen"] - 2 * row["estimate_yen"]) <= 2 * row["other_bodies"]
    write_public_value(db, config)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "civicbot.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


@needs_chromium
@needs_poppler
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_report_writes_html_and_a_pdf_whose_pages_show_the_figures_and_the_map(site, tmp_path, lang):
    config, db, yml, window = site
    done = _cli("report", "-c", str(yml), "--from", str(window.start), "--to", str(window.end), "--lang", lang,
                "--out", str(tmp_path / "impact.pdf"))
    assert done.returncode == 0, done.stderr
    html, pdf = tmp_path / "impact.html", tmp_path / "impact.pdf"
    assert f"report: {html}" in done.stdout and f"report: {pdf}" in done.stdout

    page = html.read_text(encoding="utf-8")
    # self-contained: nothing fetched from anywhere, no script
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|/)""", page) and "<script" not in page
    assert page.count("<svg") >= 2 and page.count("<path ") >= 48

    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    figures = impact_summary(db, config, window)["figures"]
    flat = re.sub(r"\s+", "", text)
    for key in ("contributors", "proposals", "accepted", "issues_created", "prs_closed"):
        assert f"{figures[key]['without_bots']:,}" in text, key
    words = (["インパクトレポート", "推計", "協力した人", "用語の定義", "データの時点", "都道府県別の地域サイト数"] if lang == "ja"
             else ["Impact report", "Estimate", "people who contributed", "Definitions", "Data as of", "Okinawa"])
    for word in words:
        assert re.sub(r"\s+", "", word) in flat, word
    # profiles were harvested: the window's people per country, each person once, Japan among them
    assert ("まだ収集していません" if lang == "ja" else "notyetharvested") not in flat
    japan = re.search(r"<td>(?:日本|Japan)</td><td>([\d,]+)</td>", page)
    assert japan and 0 < int(japan.group(1).replace(",", "")) <= figures["contributors"]["without_bots"]

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert 1 <= len(pngs) <= 3, "the report fits on at most three A4 pages"
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000 for p in pngs)
    # The map and the curve are vector drawings, not images: look for their colours in the printed pages
    # (the same pages as PPM, plain RGB bytes): a filled prefecture (1 site) and the curve's line.
    subprocess.run(["pdftoppm", "-r", "40", str(pdf), str(tmp_path / "raw")], check=True)
    ppms = sorted(tmp_path.glob("raw*.ppm"))
    assert any(_has_colour(p, (0xC6, 0xDB, 0xEF)) for p in ppms), "no prefecture filled on any page"
    assert any(_has_colour(p, (0x21, 0x71, 0xB5)) for p in ppms), "no curve drawn"


@needs_chromium
@needs_poppler
def test_a_long_japanese_title_breaks_between_phrases_never_leaving_one_character(site, tmp_path):
    """Tokyo's title, printed on A4, left "ト" alone on its second line; each line of the printed
    title now holds a phrase (the break falls after と)."""
    from civicbot.publish.report import print_pdf, report_html

    config, db, yml, window = site
    title = "東京都 新型コロナウイルス感染症対策サイトとその派生サイト"
    tokyo = config.model_copy(update={"title": config.title.model_copy(update={"ja": title})})
    html, pdf = tmp_path / "title.html", tmp_path / "title.pdf"
    html.write_text(report_html(db, tokyo, window, "ja"), encoding="utf-8")
    print_pdf(html, pdf)
    text = subprocess.run(["pdftotext", "-layout", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    start = lines.index("インパクトレポート") + 1
    shown = lines[start:next(i for i, line in enumerate(lines) if line.startswith("期間:"))]
    assert "".join(shown).replace(" ", "") == title.replace(" ", ""), shown
    assert len(shown) <= 2 and all(len(line) >= len(title) // 4 for line in shown), shown
    assert shown[-1] == "その派生サイト", shown


def _has_colour(ppm: Path, rgb: tuple[int, int, int]) -> bool:
    """Whether a binary PPM (P6, as pdftoppm writes by default) has at least 20 pixels near `rgb`."""
    data = ppm.read_bytes()
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P6" and fields[3] == b"255"
    pixels = fields[4]
    hits = sum(1 for i in range(0, len(pixels) - 2, 3)
               if abs(pixels[i] - rgb[0]) <= 6 and abs(pixels[i + 1] - rgb[1]) <= 6 and abs(pixels[i + 2] - rgb[2]) <= 6)
    return hits >= 20


def test_report_without_metrics_or_with_a_backwards_window_says_what_to_do(site, tmp_path):
    _, _, yml, window = site
    done = _cli("report", "-c", str(yml), "--from", str(window.end), "--to", str(window.start), "--out",
                str(tmp_path / "x"))
    assert done.returncode == 2 and "before --from" in done.stderr
    config = json.loads(yml.read_text(encoding="utf-8"))
    config["database"]["path"] = str(tmp_path / "none.db")
    other = tmp_path / "other.yml"
    other.write_text(json.dumps(config), encoding="utf-8")
    done = _cli("report", "-c", str(other), "--from", "2020-03-01", "--to", "2020-03-21", "--out", str(tmp_path / "x"))
    assert done.returncode == 1 and "civicbot harvest" in done.stderr
    empty = tmp_path / "empty.db"
    open_store(empty).close()
    config["database"]["path"] = str(empty)
    other.write_text(json.dumps(config), encoding="utf-8")
    done = _cli("report", "-c", str(other), "--from", "2020-03-01", "--to", "2020-03-21", "--out", str(tmp_path / "x"),
                "--no-pdf")
    assert done.returncode == 2 and "civicbot metrics" in done.stderr


def test_window_estimate_counts_only_bodies_that_had_reused_the_code_by_its_end(site):
    from civicbot.metrics.public_value import estimate_at

    config, db, _, window = site
    lo, hi = window.utc_bounds(config)
    early, late = estimate_at(db, lo), estimate_at(db, "9999-01-01T00:00:00Z")
    stored = next(db.query("SELECT * FROM public_value"))
    assert late["other_bodies"] == stored["other_bodies"] and late["estimate_yen"] == stored["estimate_yen"]
    assert early["other_bodies"] <= late["other_bodies"]
    assert early["estimate_yen"] == early["other_bodies"] * stored["cost_yen"]
    assert math.isclose(late["cost_yen"], early["cost_yen"])


def test_dates_in_the_report_follow_the_language(site):
    from civicbot.publish.report import report_html

    config, db, _, window = site
    ja, en = report_html(db, config, window, "ja"), report_html(db, config, window, "en")
    assert f"{window.start.year}年{window.start.month}月{window.start.day}日" in ja
    assert window.start.strftime("%B") in en and "年" not in en.split("<body>")[1].split("<footer>")[0]


def test_the_report_says_its_regional_sites_are_those_found(site):
    """The Tokyo report read "14 regional sites were made in 14 prefectures" from the 15 sites of
    ../shared, while about 80 were made: it says these are the sites found, not all of them."""
    from civicbot.publish.report import report_html

    config, db, _, window = site
    ja, en = report_html(db, config, window, "ja"), report_html(db, config, window, "en")
    assert "見つかったものは" in ja and "見つからなかったサイトは数えていません" in ja
    assert " were found, in " in en and "sites not found are not counted" in en


def test_contributors_places_count_each_person_of_the_window_once(site):
    """The window's persons only, each placed once (origins.person_places), Japan's count exact."""
    from civicbot.metrics.origins import person_places
    from civicbot.metrics.summary import read_contributions
    from civicbot.publish.report import _contributor_places

    config, db, _, window = site
    lo, hi = window.utc_bounds(config)
    places = _contributor_places(db, config, lo, hi)
    who = read_contributions(db, config, None, lo, hi)
    people = set(who.loc[who["is_person"].astype(bool), "person_id"])
    placed = person_places(db)
    placed = placed[placed["person_id"].isin(people)]
    assert sum(n for _, n in places["countries"]) <= len(people)
    assert dict(places["countries"]).get("JP", 0) == int((placed["country_code"] == "JP").sum())
    assert sum(n for _, n in places["prefectures"]) <= dict(places["countries"]).get("JP", 0)


def test_contributors_places_are_the_contributions_tables_people(site, tmp_path):
    """The report places the people of the `contributions` table (what `civicbot metrics` wrote):
    with the table emptied, no one of the window is placed."""
    import sqlite_utils

    from civicbot.publish.report import _contributor_places

    config, db, _, window = site
    copy = sqlite_utils.Database(tmp_path / "copy.db")
    db.conn.backup(copy.conn)
    lo, hi = window.utc_bounds(config)
    assert _contributor_places(copy, config, lo, hi)["countries"]
    copy.execute("DELETE FROM contributions")
    copy.conn.commit()
    assert _contributor_places(copy, config, lo, hi) is None
