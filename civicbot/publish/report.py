"""`civicbot report`: the printable impact report for sponsors, one self-contained HTML page and its PDF.

In the shape of the sponsors' slide (docs/metrics.md): people, proposals and accepted proposals in
a window; issues and pull requests created and closed, bots excluded; regional sites and the
prefectures they reached, on a map; contributors' places when the store has them; the public-value
estimate with its assumptions. Everything is read from the store (the figures from the metrics
tables and civicbot.metrics.summary): run `civicbot metrics` first. Definitions and the data's date
are printed on the page. The PDF is Chromium's print of the HTML (the same Chromium as the
screenshots): no second layout engine to keep in step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from html import escape
from pathlib import Path

import sqlite_utils

from civicbot import __version__
from civicbot.config import Config
from civicbot.metrics.public_value import estimate_at
from civicbot.metrics.summary import Window, impact_summary
from civicbot.store.schema import from_utc_text

from .japan_map import choropleth_svg, legend_html
from .report_text import CSS, TEXT, yen

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


class ReportError(RuntimeError):
    """The report cannot be made; the message says what to do."""


def _data_date(db: sqlite_utils.Database, config: Config) -> str | None:
    row = db.execute("SELECT max(ended_at) FROM harvest_runs WHERE outcome IN ('complete', 'partial')").fetchone()
    if not row or not row[0]:
        return None
    moment = from_utc_text(row[0], config.zone)
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _reach(db: sqlite_utils.Database, before: str) -> dict:
    """Regional sites (derivatives placed in a prefecture) and contributor forks, created before `before`."""
    if "derivatives" not in db.table_names():
        return {"sites": 0, "prefectures": 0, "forks": 0, "by_prefecture": {}}
    by_pref = dict(db.execute("SELECT pref_code, count(*) FROM derivatives WHERE pref_code IS NOT NULL "
                              "AND created_at < ? GROUP BY pref_code", [before]).fetchall())
    forks = db.execute("SELECT count(*) FROM derivatives WHERE pref_code IS NULL AND created_at < ?",
                       [before]).fetchone()[0]
    return {"sites": sum(by_pref.values()), "prefectures": len(by_pref), "forks": forks, "by_prefecture": by_pref}


def _prefecture_curve(db: sqlite_utils.Database) -> list[tuple[str, int]]:
    if "diffusion_daily" not in db.table_names():
        return []
    return [(r[0], r[1]) for r in db.execute("SELECT date, prefectures FROM diffusion_daily ORDER BY date")]


def _contributor_places(db: sqlite_utils.Database, config: Config, lo: str,
                        hi: str) -> dict[str, list[tuple[str, int]]] | None:
    """The window's people (the `contributions` table) per country and per Japanese prefecture,
    each person placed once (`metrics.origins.person_places`, the one reading of a person's place)
    and places of fewer than `publish.min_place_count` people folded as on the site
    (`origins.fold_places_of`): the top 10 of each by name, then one `other` row for the rest, so
    that no row points at one or two people and the rows add up to the people placed (in Japan,
    the people with a prefecture). None when no profile has been harvested yet."""
    from civicbot.metrics.origins import fold_places_of, person_places
    from civicbot.metrics.summary import read_contributions

    if "persons" not in db.table_names():
        return None
    who = read_contributions(db, config, None, lo, hi)
    people = set(who.loc[who["is_person"].astype(bool), "person_id"])
    places = person_places(db)
    places = places[places["person_id"].isin(people)]
    if places.empty or (places["place_status"] == "no_profile").all():
        return None
    counts = fold_places_of(places, config.publish.min_place_count)
    placed = counts[counts["country_code"].notna()]
    countries = placed.groupby("country_code")["people"].sum()
    other_countries = int(counts.loc[counts["country_code"].isna() & (counts["place_status"] == "other"), "people"].sum())
    japan = placed[placed["country_code"] == "JP"]
    prefectures = japan.dropna(subset=["pref_code"]).groupby("pref_code")["people"].sum()
    other_prefectures = int(japan.loc[japan["place_status"] == "other", "people"].sum())

    def top(counts, other: int) -> list[tuple[str, int]]:
        ranked = [(str(k), int(v)) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        other += sum(n for _, n in ranked[10:])
        return ranked[:10] + ([("other", other)] if other else [])

    return {"countries": top(countries, other_countries), "prefectures": top(prefectures, other_prefectures)}


def _curve_svg(points: list[tuple[str, int]], window: Window, t: dict, width: int = 390, height: int = 190) -> str:
    """Prefectures reached over time: a step line with integer ticks, the report's window shaded."""
    if not points:
        return f'<p class="none">{t["no_data"]}</p>'
    days = [date.fromisoformat(d) for d, _ in points]
    first, last = days[0], max(days[-1], window.end)
    span = max((last - first).days, 1)
    top = max(47, max(n for _, n in points))
    left, right, up, down = 34, 10, 10, 28

    def x(day: date) -> float:
        return left + (width - left - right) * (day - first).days / span

    def y(n: int) -> float:
        return up + (height - up - down) * (1 - n / top)

    parts = []
    wx0, wx1 = x(max(window.start, first)), x(min(window.end + timedelta(days=1), last))
    if wx1 > wx0:
        parts.append(f'<rect x="{wx0:.1f}" y="{up}" width="{wx1 - wx0:.1f}" height="{height - up - down}" '
                     f'fill="#fde9c9"/>')
    for n in (0, 10, 20, 30, 40, 47):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(n):.1f}" y2="{y(n):.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y(n) + 4:.1f}" text-anchor="end">{n}</text>')
    month, labelled = date(first.year, first.month, 1), 0
    months = max(1, span // 30)
    step = 1 if months <= 8 else 3 if months <= 24 else 12  # at most about 8 labels: none overlap
    while month <= last:
        if month >= first and (month.month - 1) % step == 0:
            parts.append(f'<text x="{x(month):.1f}" y="{height - 8}" text-anchor="middle">'
                         f'{escape(t["month"](month, labelled == 0))}</text>'
                         f'<line x1="{x(month):.1f}" x2="{x(month):.1f}" y1="{height - down}" '
                         f'y2="{height - down + 4}" stroke="#555"/>')
            labelled += 1
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    path, previous = [], None
    for day, n in zip(days, (n for _, n in points)):
        if previous is not None:
            path.append(f"L{x(day):.1f},{y(previous):.1f}")
        path.append(f"{'M' if previous is None else 'L'}{x(day):.1f},{y(n):.1f}")
        previous = n
    path.append(f"L{x(last):.1f},{y(previous):.1f}")
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#2171b5" stroke-width="2"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" class="chart" role="img" aria-label="{escape(t["curve_title"])}">'
            f'{"".join(parts)}</svg>')


def report_html(db: sqlite_utils.Database, config: Config, window: Window, lang: str = "ja") -> str:
    """The report as one HTML page with its CSS and pictures inline (no file or network needed)."""
    if lang not in TEXT:
        raise ReportError(f"unknown language {lang!r}: use ja or en")
    t = TEXT[lang]
    if "derivatives" not in db.table_names() or "accounts" not in db.table_names():
        raise ReportError("the store has no metrics yet: run `civicbot metrics -c CONFIG` first")
    summary = impact_summary(db, config, window)
    figures = summary["figures"]
    lo, hi = window.utc_bounds(config)
    reach = _reach(db, hi)
    places = _contributor_places(db, config, lo, hi)
    value = estimate_at(db, hi)
    title = (config.title.ja if lang == "ja" else config.title.en) or config.title.ja or config.title.en or config.name
    days = (window.end - window.start).days + 1
    as_of = _data_date(db, config)

    def n(key: str) -> str:
        return f"{figures[key]['without_bots']:,}"

    kpis = "".join(f'<div class="kpi"><div class="num">{n(key)}</div><div class="label">{escape(t[key])}</div></div>'
                   for key in ("contributors", "proposals", "accepted"))
    activity = "".join(
        f"<tr><th>{escape(t[kind])}</th><td>{n(kind + '_created')}</td><td>{n(kind + '_closed')}</td></tr>"
        for kind in ("issues", "prs"))
    other = "".join(f"<tr><th>{escape(t[key])}</th><td>{figures[key]['without_bots']:,}</td></tr>"
                    for key in ("release_merges", "automation_prs"))
    map_svg = choropleth_svg(reach["by_prefecture"], lang=lang, title=t["map_title"], width=330)
    curve = _curve_svg(_prefecture_curve(db), window, t)
    html = [f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<title>{escape(title)} — {escape(t['report'])} {window.start} – {window.end}</title>
<style>{CSS}</style></head><body>
<header><p class="kicker">{escape(t['report'])}</p><h1>{escape(title)}</h1>
<p class="window">{escape(t['window'](window.start, window.end, days, config.timezone))}</p></header>
<section><h2>{escape(t['headline_title'])}</h2>
<p class="lead">{escape(t['headline'](days, *(figures[k]['without_bots'] for k in ('contributors', 'proposals', 'accepted'))))}</p>
<div class="kpis">{kpis}</div>
<table class="figures"><thead><tr><th></th><th>{escape(t['created'])}</th><th>{escape(t['closed'])}</th></tr></thead>
<tbody>{activity}</tbody></table>
<table class="figures small"><tbody>{other}</tbody></table>
<p class="note">{escape(t['bots_note'])}</p></section>
<section class="reach"><h2>{escape(t['reach_title'])}</h2>
<div class="columns"><figure class="map">{map_svg}{legend_html(lang)}
<figcaption>{escape(t['map_caption'](window.end))}</figcaption></figure>
<div><p class="lead">{escape(t['reach'](reach['sites'], reach['prefectures'], window.end))}</p>
<p class="note">{escape(t['forks'](reach['forks']))}</p>
<figure>{curve}<figcaption>{escape(t['curve_caption'])}</figcaption></figure></div></div></section>
<section><h2>{escape(t['places_title'])}</h2>{_places_html(places, t)}</section>
<section class="value"><h2>{escape(t['value_title'])}</h2>{_value_html(value, t, window.end)}</section>
<section class="definitions"><h2>{escape(t['definitions_title'])}</h2><dl>"""]
    html += [f"<dt>{escape(term)}</dt><dd>{escape(meaning)}</dd>" for term, meaning in t["definitions"]]
    html.append(f"""</dl></section>
<footer>{escape(t['footer'](as_of, __version__, config.upstream))}</footer>
</body></html>""")
    return "".join(html)


def _places_html(places: dict | None, t: dict) -> str:
    if places is None:
        return f'<p class="none">{escape(t["places_missing"])}</p>'
    out = []
    for key in ("countries", "prefectures"):
        rows = places.get(key) or []
        cells = "".join(f"<tr><td>{escape(t['place_name'](key, str(name)))}</td><td>{count:,}</td></tr>"
                        for name, count in rows)
        out.append(f"<div><h3>{escape(t[key])}</h3>" + (f"<table class='figures small'>{cells}</table>" if rows else
                                                       f"<p class='none'>{escape(t['places_none'])}</p>") + "</div>")
    return f'<div class="columns">{"".join(out)}</div><p class="note">{escape(t["places_note"])}</p>'


def _value_html(value: dict | None, t: dict, end: date) -> str:
    if value is None:
        return f'<p class="none">{escape(t["value_missing"])}</p>'
    lines = json.loads(value["lines_by_language"] or "{}")
    languages = ", ".join(f"{lang} {n:,}" for lang, n in lines.items())
    return f"""<p class="estimate"><span class="tag">{escape(t['estimate_tag'])}</span>
<span class="num">{escape(yen(value['estimate_yen'], t['lang']))}</span></p>
<p>{escape(t['value_sentence'](value, end))}</p>
<table class="figures small assumptions"><tbody>
<tr><th>{escape(t['v_code'])}</th><td>{value['code_lines']:,} ({escape(languages)})</td></tr>
<tr><th>{escape(t['v_effort'])}</th><td>{value['effort_person_months']:,} / {value['schedule_months']:,}</td></tr>
<tr><th>{escape(t['v_wage'])}</th><td>{escape(yen(value['annual_wage_yen'], t['lang'], exact=True))} × {value['overhead']}</td></tr>
<tr><th>{escape(t['v_cost'])}</th><td>{escape(yen(value['cost_yen'], t['lang']))}</td></tr>
<tr><th>{escape(t['v_bodies'])}</th><td>{value['other_bodies']:,}</td></tr>
</tbody></table>
<p class="note">{escape(t['value_method'])}</p>"""


def find_chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportError("Chromium is needed to print the PDF: apt-get install chromium (or pass --no-pdf)")


def print_pdf(html_path: Path, pdf_path: Path, *, timeout: float = 120) -> None:
    """Chromium's print of the page to PDF (A4, the page's own @page margins, no header or footer)."""
    with tempfile.TemporaryDirectory(prefix="civicbot-report-") as profile:
        command = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", "--no-pdf-header-footer", "--print-to-pdf-no-header",
                   f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not print the PDF within {timeout:.0f} s") from None
    if done.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise ReportError(f"Chromium could not print the PDF (exit {done.returncode}): {done.stderr.strip()[-300:]}")


def write_report(db: sqlite_utils.Database, config: Config, window: Window, lang: str, out: Path, *,
                 pdf: bool = True) -> list[Path]:
    """Write OUT.html (and OUT.pdf): `out` may end in .html, .pdf or nothing. Returns the files written."""
    out = Path(out)
    base = out.with_suffix("") if out.suffix.lower() in (".html", ".pdf") else out
    html_path, pdf_path = base.with_name(base.name + ".html"), base.with_name(base.name + ".pdf")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(report_html(db, config, window, lang), encoding="utf-8")
    written = [html_path]
    if pdf:
        print_pdf(html_path, pdf_path)
        written.append(pdf_path)
    return written


def run_report(config: Config, start: date, end: date, lang: str, out: Path, *, pdf: bool = True) -> int:
    """`civicbot report`: exit 0 with the files written, 1 without a store, 2 on bad input or no PDF."""
    from civicbot.metrics.summary import SummaryError
    from civicbot.store import open_store

    path = Path(config.database.path)
    if not path.exists():
        print(f"civicbot: no database yet at {path}; run `civicbot harvest -c ...` and `civicbot metrics -c ...` first",
              file=sys.stderr)
        return 1
    if end < start:
        print(f"civicbot: --to {end} is before --from {start}; give the first day, then the last", file=sys.stderr)
        return 2
    db = open_store(path)
    try:
        written = write_report(db, config, Window(start, end), lang, out, pdf=pdf)
    except (ReportError, SummaryError) as exc:
        print(f"civicbot: {exc}", file=sys.stderr)
        return 2
    finally:
        db.close()
    for file in written:
        print(f"report: {file}")
    return 0
