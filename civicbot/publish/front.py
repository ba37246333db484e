"""What the site's home page shows: headline figures and the data's freshness (docs/publish.md).

`write_front_tables(db, config)` writes two small public tables, at `civicbot serve` start and
into the published bundle (before its internal tables are dropped):

- `headline_figures`: one row per figure, for the whole period and for the first three weeks
  after the site's launch (`launched` in the config, else the upstream's creation). People,
  proposals and accepted proposals are the impact summary (civicbot.metrics.summary, on the one
  definition of people and proposals in civicbot.metrics.people); regional sites and contributor
  forks are told apart here.
- `harvest_status`: one row: when the data was last harvested, with what outcome, and how many
  of the family's repos were harvested completely.

A regional site is a derivative placed in a prefecture, or a site the upstream lists without a
repo (`diffusion_by_prefecture.regional_sites`); a derivative placed nowhere is a contributor's
fork (most are personal forks made to send a pull request).
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlite_utils

from civicbot.store.schema import from_utc_text
from civicbot.store.transaction import drop_table, write_transaction

FIRST_WEEKS = 3
FIGURES_TABLE = "headline_figures"
STATUS_TABLE = "harvest_status"
FIGURE_COLUMNS = {"figure": str, "label": str, "whole_period": "ANY", "first_weeks": "ANY", "unit": str,
                  "definition": str, "whole_period_rows": str, "first_weeks_rows": str}
STATUS_COLUMNS = {"whole_from": str, "whole_to": str, "first_weeks_from": str, "first_weeks_to": str,
                  "harvested_at": str, "harvest_outcome": str, "family_repos": int, "repos_harvested": int,
                  "repos_incomplete": int, "repos_unavailable": int, "timezone": str}
# Each figure's definition: its anchor on the site's definitions page (docs/definitions.md).
DEFINITIONS = "/-/definitions"
# (whole_period and first_weeks are ANY: counts stay integers, shares are percentages.)
# Where a visitor sees the rows behind a figure: a table page of this database, filtered to the
# window: {lo} and {hi} are its first and last day, {lo_utc} and {hi_utc} its bounds in UTC.
PRS = "items?is_pull_request=1&created_at__gte={lo_utc}&created_at__lt={hi_utc}"
MERGED = "items?is_pull_request=1&merged_at__gte={lo_utc}&merged_at__lt={hi_utc}"
ISSUES = "items?is_pull_request=0&created_at__gte={lo_utc}&created_at__lt={hi_utc}"
CLOSED = "items?is_pull_request=0&state=closed&closed_at__gte={lo_utc}&closed_at__lt={hi_utc}"
DERIVATIVES = "derivatives?created_at__lt={hi_utc}&"


def _local_day(value: str | None, zone) -> date | None:
    if not value:
        return None
    return from_utc_text(value, zone).date()


def windows(db: sqlite_utils.Database, config) -> tuple[tuple[date, date], tuple[date, date]] | None:
    """(whole period, first three weeks) in the project's zone, or None before the upstream is harvested.
    The whole period runs from the upstream's creation to the newest dated activity; the first three
    weeks from the site's launch (`launched`, else the upstream's creation): Tokyo's repo was created
    on 2020-02-29, and its sponsors count "the first three weeks" from the launch on 2020-03-03."""
    from civicbot.metrics.diffusion import upstream_id

    up = upstream_id(db)
    created = db.execute("SELECT created_at FROM repos WHERE id = ?", [up]).fetchone() if up else None
    start = _local_day(created[0], config.zone) if created else None
    if start is None:
        return None
    newest = db.execute("SELECT max(created_at) FROM items").fetchone()[0]
    newest_comment = db.execute("SELECT max(created_at) FROM comments").fetchone()[0] \
        if "comments" in db.table_names() else None
    end = max(filter(None, [_local_day(newest, config.zone), _local_day(newest_comment, config.zone), start]))
    launch = min(max(config.launched or start, start), end)
    return (start, end), (launch, min(end, launch + timedelta(days=7 * FIRST_WEEKS - 1)))


def _reach(db: sqlite_utils.Database, hi: str | None) -> tuple[int, int, int]:
    """Regional sites, prefectures they are in, contributor forks: all, or created before `hi`."""
    tables = set(db.table_names())
    if "derivatives" not in tables:
        return 0, 0, 0
    if hi is None and "diffusion_by_prefecture" in tables:
        sites, prefs = db.execute("SELECT coalesce(sum(regional_sites), 0), count(CASE WHEN regional_sites > 0 "
                                  "THEN 1 END) FROM diffusion_by_prefecture").fetchone()
    else:
        sites, prefs = db.execute("SELECT count(*), count(DISTINCT pref_code) FROM derivatives WHERE pref_code "
                                  "IS NOT NULL AND (? IS NULL OR created_at < ?)", [hi, hi]).fetchone()
    forks = db.execute("SELECT count(*) FROM derivatives WHERE pref_code IS NULL AND (? IS NULL OR created_at < ?)",
                       [hi, hi]).fetchone()[0]
    return sites, prefs, forks


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def figure_rows(db: sqlite_utils.Database, config) -> list[dict]:
    """The `headline_figures` rows (empty before the upstream is harvested)."""
    from civicbot.metrics.summary import Window, impact_summary

    bounds = windows(db, config)
    if bounds is None:
        return []
    values = {}
    for name, (lo, hi) in zip(("whole_period", "first_weeks"), bounds):
        f = impact_summary(db, config, Window(lo, hi))["figures"]
        end = Window(lo, hi).utc_bounds(config)[1]
        sites, prefs, forks = _reach(db, None if name == "whole_period" else end)
        values[name] = {
            "people": f["contributors"]["without_bots"],
            "proposals": f["proposals"]["without_bots"],
            "accepted": f["accepted"]["without_bots"],
            "bot_share": _share(f["automation_prs"]["without_bots"], f["prs_created"]["all"]),
            "release_share": _share(f["release_merges"]["without_bots"], f["accepted"]["all"]),
            "issues_created": f["issues_created"]["without_bots"],
            "issues_closed": f["issues_closed"]["without_bots"],
            "regional_sites": sites, "prefectures": prefs, "contributor_forks": forks,
        }
    labels = [
        ("people", "改善に協力した人 / people who took part", "人", DEFINITIONS + "#people",  # every kind, as counted
         "contributions?is_person=1&local_date__gte={lo}&local_date__lte={hi}"),
        ("proposals", "提案 / proposals (pull requests)", "件", DEFINITIONS + "#proposals", PRS),
        ("accepted", "取り入れられた提案 / accepted proposals", "件", DEFINITIONS + "#accepted", MERGED),
        ("bot_share", "ボット・自動化の PR の割合（数えない） / share of pull requests by bots (not counted)", "%",
         DEFINITIONS + "#automation", "pr_kinds?pr_kind=automation"),
        ("release_share", "リリース・同期マージの割合（数えない） / share of merges that are releases (not counted)", "%",
         DEFINITIONS + "#release-merges", "pr_kinds?pr_kind=release"),
        ("issues_created", "作られたイシュー / issues opened", "件", DEFINITIONS + "#issues", ISSUES),
        ("issues_closed", "完了したイシュー / issues closed", "件", DEFINITIONS + "#issues", CLOSED),
        ("regional_sites", "地域のサイト / regional sites", "件", DEFINITIONS + "#regional-sites",
         DERIVATIVES + "pref_code__notblank=1"),
        ("prefectures", "地域のサイトがある都道府県 / prefectures with a regional site", "都道府県", DEFINITIONS + "#prefectures",
         "diffusion_by_prefecture?regional_sites__gt=0"),
        ("contributor_forks", "協力者のフォーク（地域なし） / contributors' forks (no region)", "件", DEFINITIONS + "#contributor-forks",
         DERIVATIVES + "pref_code__isnull=1"),
    ]
    places = [_placeholders(lo, hi, config) for lo, hi in bounds]
    return [{"figure": key, "label": label, "whole_period": values["whole_period"][key],
             "first_weeks": values["first_weeks"][key], "unit": unit, "definition": doc,
             "whole_period_rows": rows.format(**places[0]), "first_weeks_rows": rows.format(**places[1])}
            for key, label, unit, doc, rows in labels]


def _placeholders(lo: date, hi: date, config) -> dict:
    from civicbot.metrics.summary import Window

    lo_utc, hi_utc = Window(lo, hi).utc_bounds(config)
    return {"lo": lo.isoformat(), "hi": hi.isoformat(), "lo_utc": lo_utc, "hi_utc": hi_utc}


def status_row(db: sqlite_utils.Database, config) -> dict:
    """The `harvest_status` row: the last harvest and the family's repos it harvested completely."""
    tables = set(db.table_names())
    last = db.execute("SELECT ended_at, outcome FROM harvest_runs WHERE ended_at IS NOT NULL "
                      "ORDER BY ended_at DESC LIMIT 1").fetchone() if "harvest_runs" in tables else None
    family = db.execute("SELECT count(DISTINCT repo_id) FROM discoveries").fetchone()[0] \
        if "discoveries" in tables else 0
    complete = db.execute("""SELECT count(*) FROM (SELECT repo_id FROM sync_state
                             WHERE repo_id IN (SELECT repo_id FROM discoveries)
                             GROUP BY repo_id HAVING min(complete) = 1)""").fetchone()[0] \
        if {"sync_state", "discoveries"} <= tables else family
    gone = db.execute("""SELECT count(*) FROM repos WHERE id IN (SELECT repo_id FROM discoveries)
                         AND coalesce(status, 'active') NOT IN ('active', 'renamed')""").fetchone()[0] \
        if "discoveries" in tables else 0
    bounds = windows(db, config)
    (wlo, whi), (flo, fhi) = bounds if bounds else ((None, None), (None, None))
    return {"whole_from": wlo and wlo.isoformat(), "whole_to": whi and whi.isoformat(),
            "first_weeks_from": flo and flo.isoformat(), "first_weeks_to": fhi and fhi.isoformat(),
            "harvested_at": last[0] if last else None, "harvest_outcome": last[1] if last else None,
            "family_repos": family, "repos_harvested": complete, "repos_incomplete": family - complete,
            "repos_unavailable": gone, "timezone": config.timezone}


def write_front_tables(db: sqlite_utils.Database, config) -> int:
    """Replace `headline_figures` and `harvest_status`; the number of figures written."""
    if not {"repos", "items"} <= set(db.table_names()):
        return 0
    figures, status = figure_rows(db, config), status_row(db, config)
    with write_transaction(db):
        for table, columns, rows, pk in ((FIGURES_TABLE, FIGURE_COLUMNS, figures, "figure"),
                                         (STATUS_TABLE, STATUS_COLUMNS, [status], None)):
            drop_table(db, table)
            db[table].create(columns, pk=pk) if pk else db[table].create(columns)
            db[table].insert_all(rows)
    return len(figures)
