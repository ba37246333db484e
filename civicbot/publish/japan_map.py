"""The prefecture map of Japan as inline SVG: a choropleth drawn by Python, no browser script needed.

The boundaries are dashboards/static/japan.geojson (47 prefectures, from japanmap, Apache-2.0: see
japan.geojson.LICENSE beside it), the same file the site's vega-lite map reads. Projection: plate
carrée with longitudes shrunk by cos(36°) (true shape at Japan's middle latitude), north up;
Okinawa is drawn in a framed inset at the top left, as Japanese maps usually do.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from html import escape
from pathlib import Path

GEOJSON = Path(__file__).resolve().parents[2] / "dashboards" / "static" / "japan.geojson"

_SHRINK = math.cos(math.radians(36))
OKINAWA = "47"
_OKINAWA_SHIFT = (4.0, 15.5)  # degrees (lon, lat) moving Okinawa into the empty sea north-west of Kyushu
# Fill for 0, 1, 2-3, 4-7, 8+ sites (a sequential blue scale that prints in grey too).
SCALE = [(0, "#eeeeee"), (1, "#c6dbef"), (2, "#6baed6"), (4, "#2171b5"), (8, "#08306b")]


@lru_cache(maxsize=1)
def prefectures() -> tuple[dict, ...]:
    """The 47 features: properties code ("01".."47"), name_ja, name_en; one Polygon each."""
    with GEOJSON.open(encoding="utf-8") as source:
        return tuple(json.load(source)["features"])


def fill(count: int) -> str:
    colour = SCALE[0][1]
    for at_least, value in SCALE:
        if count >= at_least:
            colour = value
    return colour


def _rings(feature: dict) -> list[list[tuple[float, float]]]:
    shift = _OKINAWA_SHIFT if feature["properties"]["code"] == OKINAWA else (0.0, 0.0)
    geometry = feature["geometry"]
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [[((lon + shift[0]) * _SHRINK, -(lat + shift[1])) for lon, lat in ring]
            for polygon in polygons for ring in polygon]


def choropleth_svg(counts: dict[str, int], *, lang: str = "ja", width: int = 560, title: str = "") -> str:
    """An SVG map with each prefecture filled by its count, its name and count as a tooltip (<title>)."""
    shapes = [(f, _rings(f)) for f in prefectures()]
    xs = [x for _, rings in shapes for ring in rings for x, _ in ring]
    ys = [y for _, rings in shapes for ring in rings for _, y in ring]
    x0, y0 = min(xs), min(ys)
    scale = (width - 20) / (max(xs) - x0)
    height = round((max(ys) - y0) * scale + 20)

    def point(x: float, y: float) -> str:
        return f"{(x - x0) * scale + 10:.1f},{(y - y0) * scale + 10:.1f}"

    paths = []
    for feature, rings in shapes:
        props = feature["properties"]
        n = counts.get(props["code"], 0)
        name = props["name_ja"] if lang == "ja" else props["name_en"]
        d = " ".join("M" + " L".join(point(x, y) for x, y in ring) + " Z" for ring in rings)
        paths.append(f'<path d="{d}" fill="{fill(n)}" stroke="#555" stroke-width="0.5">'
                     f'<title>{escape(name)}: {n}</title></path>')
    okinawa = next(rings for f, rings in shapes if f["properties"]["code"] == OKINAWA)
    ox = [x for ring in okinawa for x, _ in ring]
    oy = [y for ring in okinawa for _, y in ring]
    pad = 0.35 * _SHRINK
    (ax, ay), (bx, by) = ((min(ox) - pad - x0) * scale + 10, (min(oy) - pad - y0) * scale + 10), \
                         ((max(ox) + pad - x0) * scale + 10, (max(oy) + pad - y0) * scale + 10)
    inset = (f'<rect x="{ax:.1f}" y="{ay:.1f}" width="{bx - ax:.1f}" height="{by - ay:.1f}" fill="none" '
             f'stroke="#999" stroke-width="0.6" stroke-dasharray="3 2"/>')
    label = f'<title>{escape(title)}</title>' if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)}">{label}{"".join(paths)}{inset}</svg>')


def legend_html(lang: str = "ja") -> str:
    """The fill scale as a row of swatches."""
    labels = ["0", "1", "2–3", "4–7", "8+"]
    word = "サイト数" if lang == "ja" else "sites"
    swatches = "".join(f'<span class="swatch" style="background:{colour}"></span>{text} '
                       for (_, colour), text in zip(SCALE, labels))
    return f'<div class="legend">{word}: {swatches}</div>'
