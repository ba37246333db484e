"""The people dashboard's maps: the shipped world boundaries and the SQL behind both choropleths
(every country / prefecture drawn, each person once, words instead of an empty map)."""

from __future__ import annotations

import json
import sqlite3

import pycountry

from civicbot.metrics.origins import PLACE_COLUMNS
from civicbot.publish.metadata import DASHBOARDS_DIR, load_dashboards
from civicbot.regions.data import PREFECTURES

WORLD = DASHBOARDS_DIR / "static" / "world.topojson"


def charts() -> dict:
    return load_dashboards(database="db")["people"]["charts"]


def store(places: list[dict]) -> sqlite3.Connection:
    """contributors_by_place holding `places` (whole-period rows) and the 47 prefectures."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE contributors_by_place ({', '.join(PLACE_COLUMNS)})")
    for row in places:
        row = {"period_kind": "all", "period_start": "2020-03-01", "period_end": "2021-01-01", **row}
        conn.execute(f"INSERT INTO contributors_by_place ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
    # a week row must not be counted again on a whole-period map
    conn.execute("INSERT INTO contributors_by_place (period_kind, place_status, country_code, people) "
                 "VALUES ('week', 'known', 'DE', 9)")
    conn.execute("CREATE TABLE diffusion_by_prefecture (pref_code, prefecture_ja, prefecture_en, regional_sites)")
    conn.executemany("INSERT INTO diffusion_by_prefecture VALUES (?, ?, ?, 0)",
                     [(p.code, p.name_ja, p.name_en) for p in PREFECTURES])
    return conn


def rows(conn, chart: str) -> list[dict]:
    cursor = conn.execute(charts()[chart]["query"])
    return [dict(zip([c[0] for c in cursor.description], r)) for r in cursor.fetchall()]


PLACES = [
    {"place_status": "known", "country_code": "JP", "pref_code": "13", "people": 5},
    {"place_status": "known", "country_code": "JP", "pref_code": "27", "people": 2},
    {"place_status": "known", "country_code": "JP", "pref_code": None, "people": 3},  # Japan, no prefecture
    {"place_status": "ambiguous", "country_code": "JP", "pref_code": None, "people": 1},  # "Tokyo / Osaka"
    {"place_status": "known", "country_code": "TW", "pref_code": None, "people": 4},
    {"place_status": "unknown", "country_code": None, "pref_code": None, "people": 50},
]


def test_world_boundaries_name_every_country_once_in_japanese_and_english():
    topology = json.loads(WORLD.read_text(encoding="utf-8"))
    countries = topology["objects"]["countries"]["geometries"]
    codes = [c["properties"]["code"] for c in countries]
    assert len(codes) == len(set(codes)) >= 170  # a lookup key must be unique
    assert set(codes) - {c.alpha_2 for c in pycountry.countries} == {"XK"}
    assert "AQ" not in codes
    names = {c["properties"]["code"]: (c["properties"]["name_ja"], c["properties"]["name_en"]) for c in countries}
    assert names["JP"] == ("日本", "Japan") and names["TW"] == ("台湾", "Taiwan")
    assert all(not ja.isascii() for ja, _ in names.values())
    assert (DASHBOARDS_DIR / "static" / "world.topojson.LICENSE").read_text().count("ISC") >= 1


def test_world_map_rows_hold_every_code_with_each_country_once():
    got = rows(store(PLACES), "world-map")
    assert len(got) == 26 * 26 and {r["message"] for r in got} == {None}
    people = {r["country_code"]: r["people"] for r in got if r["people"]}
    assert people == {"JP": 11, "TW": 4}  # every Japanese row summed, unknown places and weeks left out
    topology = json.loads(WORLD.read_text(encoding="utf-8"))
    drawn = {c["properties"]["code"] for c in topology["objects"]["countries"]["geometries"]}
    assert drawn <= {r["country_code"] for r in got}  # every country of the map meets a row


def test_japan_map_rows_hold_the_47_prefectures():
    got = rows(store(PLACES), "japan-map")
    assert [r["pref_code"] for r in got] == [p.code for p in PREFECTURES]
    people = {r["prefecture_ja"]: r["people"] for r in got if r["people"]}
    assert people == {"東京都": 5, "大阪府": 2}


def test_nobody_placed_gives_words_not_an_empty_map():
    unplaced = [p for p in PLACES if p["country_code"] is None]
    for chart, words in (("world-map", "まだ所在地のわかる参加者がいません"),
                         ("japan-map", "まだ都道府県のわかる参加者がいません")):
        got = rows(store(unplaced), chart)
        assert len(got) == 1 and got[0]["message"].startswith(words), chart
    # abroad only: the world map draws, the prefecture map says so in words
    abroad = rows(store([p for p in PLACES if p["country_code"] != "JP"]), "japan-map")
    assert len(abroad) == 1 and abroad[0]["message"]
    assert rows(store(unplaced), "countries-count") == [{"n": 0}]
    assert rows(store(PLACES), "placed") == [{"n": "15 / 65"}]
    # people of small countries, counted as `other` (no country named), still have a known country
    other = {"place_status": "other", "country_code": None, "pref_code": None, "people": 2}
    assert rows(store([*PLACES, other]), "placed") == [{"n": "17 / 67"}]
