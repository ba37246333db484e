"""Rebuild dashboards/static/world.topojson from the npm package world-atlas (ISC; Natural Earth's
public-domain 1:110m country boundaries).

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    PYTHONPATH=. python dashboards/static/make_world_topojson.py package/countries-110m.json \
        > dashboards/static/world.topojson

world-atlas names each country by its ISO 3166-1 numeric code ("392"); the site's tables use
alpha-2 ("JP"). We keep the `countries` object only (not `land`), leave out Antarctica (nobody
lives there, and it takes a fifth of the map's height), drop the arcs nothing uses, and give each
country `code` (alpha-2, from pycountry), `name_ja` and `name_en` (CLDR, as the tables name them).
The three areas world-atlas draws without a numeric code: Kosovo is XK (as CLDR and GitHub
profiles name it); N. Cyprus and Somaliland are drawn as part of the ISO country that holds them
(CY, SO), since the site counts people by ISO country and a map key must be unique.
Vega-Lite reads the result as `format: {type: topojson, feature: countries}`.
"""

from __future__ import annotations

import json
import sys

from civicbot.metrics.origins import country_names

ANTARCTICA = "010"
# The areas world-atlas draws without an ISO numeric code, and the alpha-2 code they are drawn as.
NO_NUMERIC = {"Kosovo": "XK", "N. Cyprus": "CY", "Somaliland": "SO"}


def _alpha2(geometry: dict) -> str:
    import pycountry

    country = pycountry.countries.get(numeric=geometry["id"]) if geometry.get("id") else None
    return country.alpha_2 if country else NO_NUMERIC[geometry["properties"]["name"]]


def _polygons(geometry: dict) -> list:
    return geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]


def _arc_indexes(arcs) -> list[int]:
    """Every arc index in a geometry's nested `arcs` (a negative index ~i is arc i reversed)."""
    if isinstance(arcs, int):
        return [arcs if arcs >= 0 else ~arcs]
    return [i for part in arcs for i in _arc_indexes(part)]


def _renumber(arcs, new: dict[int, int]):
    if isinstance(arcs, int):
        return new[arcs] if arcs >= 0 else ~new[~arcs]
    return [_renumber(part, new) for part in arcs]


def build(topology: dict) -> dict:
    countries = [g for g in topology["objects"]["countries"]["geometries"] if g.get("id") != ANTARCTICA]
    used = sorted({i for g in countries for i in _arc_indexes(g["arcs"])})
    new = {old: n for n, old in enumerate(used)}
    polygons: dict[str, list] = {}
    for g in countries:
        polygons.setdefault(_alpha2(g), []).extend(_polygons(g))
    geometries = []
    for code, parts in polygons.items():
        name_ja, name_en = country_names(code)
        arcs = _renumber(parts, new)
        shape = {"type": "MultiPolygon", "arcs": arcs} if len(arcs) > 1 else {"type": "Polygon", "arcs": arcs[0]}
        geometries.append({**shape, "properties": {"code": code, "name_ja": name_ja, "name_en": name_en}})
    return {"type": "Topology", "transform": topology["transform"],
            "objects": {"countries": {"type": "GeometryCollection", "geometries": geometries}},
            "arcs": [topology["arcs"][i] for i in used]}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        json.dump(build(json.load(source)), sys.stdout, ensure_ascii=False, separators=(",", ":"))
