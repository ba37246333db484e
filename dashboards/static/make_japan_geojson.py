"""Rebuild dashboards/static/japan.geojson from the PyPI package japanmap (Apache-2.0).

    pip download --no-deps japanmap==0.6.0 && unzip japanmap-0.6.0-py3-none-any.whl
    python dashboards/static/make_japan_geojson.py japanmap/japan.json > dashboards/static/japan.geojson

japanmap's japan.json is a shared-boundary topology in longitude/latitude: a list of points
([[lon, lat], flag]) and, per prefecture in JIS order, the runs of point indexes along its border
with each neighbour (0: the sea). It keeps each prefecture's main area (the one with its office);
small islands are left out. We write one Polygon per prefecture with its JIS code and names,
coordinates rounded to 0.001° (about 100 m), exterior rings clockwise as d3-geo and vega expect.
"""

from __future__ import annotations

import json
import sys

from civicbot.regions.data import PREFECTURES


def _clockwise(ring: list[list[float]]) -> list[list[float]]:
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]))
    return ring if area < 0 else ring[::-1]  # shoelace > 0 is counter-clockwise with north up


def build(points: list, borders: list) -> dict:
    features = []
    for pref, runs in zip(PREFECTURES, borders, strict=True):
        ring: list[list[float]] = []
        for _neighbour, indexes in runs:
            for i in indexes:
                lon, lat = points[i][0]
                point = [round(lon, 3), round(lat, 3)]
                if not ring or ring[-1] != point:
                    ring.append(point)
        if ring[0] == ring[-1]:
            ring.pop()
        ring = _clockwise(ring)
        features.append({"type": "Feature", "id": pref.code,
                         "properties": {"code": pref.code, "name_ja": pref.name_ja, "name_en": pref.name_en},
                         "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    return {"type": "FeatureCollection",
            "name": "Prefectures of Japan (main area of each), from japanmap 0.6.0 (Apache-2.0); "
                    "see dashboards/static/japan.geojson.LICENSE",
            "features": features}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        points, borders = json.load(source)
    json.dump(build(points, borders), sys.stdout, ensure_ascii=False, separators=(",", ":"))
