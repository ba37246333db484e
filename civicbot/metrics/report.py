"""The metrics commands as people read them: `derivatives`, `summary`, `metrics`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from civicbot.config import Config
from civicbot.regions import prefecture
from civicbot.store import from_utc_text, open_store
from civicbot.store.runs import command_job

from .activity import data_end
from .diffusion import upstream_id, write_diffusion
from .people import write_classification
from .summary import SummaryError, Window, format_summary, impact_summary


def _open(config: Config):
    path = Path(config.database.path)
    if not path.exists():
        print(f"civicbot: no database yet at {path}; run `civicbot harvest -c ...` first", file=sys.stderr)
        return None
    return open_store(path)


def run_metrics(config: Config) -> int:
    """Every metric table (`civicbot.metrics.write_all_metrics`)."""
    from . import write_all_metrics

    db = _open(config)
    if db is None:
        return 1
    with command_job(db, "metrics") as details:
        counts = details["rows"] = write_all_metrics(db, config)
    print("metrics: " + ", ".join(f"{table} {rows:,} rows" for table, rows in counts.items()))
    return 0


def show_summary(config: Config, start, end, repos: list[str], *, as_json: bool = False) -> int:
    db = _open(config)
    if db is None:
        return 1
    if start is None:
        row = db.execute("SELECT min(created_at) FROM repos r JOIN discoveries d ON d.repo_id = r.id").fetchone()
        if row[0] is None:
            print("civicbot: nothing harvested yet", file=sys.stderr)
            return 1
        start = from_utc_text(row[0], config.zone).date()
    if end is None:  # the data's last day, as the site's whole period: a store read years later ends then
        last = data_end(db)
        end = from_utc_text(last, config.zone).date() if last else datetime.now(config.zone).date()
    try:
        result = impact_summary(db, config, Window(start, end), repos or None)
    except SummaryError as exc:
        print(f"civicbot: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_summary(result))
    return 0


def _divergence(row: dict, zone) -> str:
    """'  started 2020-03-25 (904d78c), last sync 2020-03-28 (…), +3/-120' when known; days in
    the project's time zone."""
    def at(sha, date):
        day = from_utc_text(date, zone).strftime("%Y-%m-%d") if date else "?"
        return f"{day} ({sha[:7]})"
    parts = []
    if row["first_divergence_sha"]:
        parts.append("started " + at(row["first_divergence_sha"], row["first_divergence_date"]))
    if row["last_sync_sha"]:
        parts.append("last sync " + at(row["last_sync_sha"], row["last_sync_date"]))
    if row["ahead_by"] is not None:
        parts.append(f"+{row['ahead_by']}/-{row['behind_by']}")
    return ("  " + ", ".join(parts)) if parts else ""


def show_derivatives(config: Config, *, as_json: bool = False) -> int:
    db = _open(config)
    if db is None:
        return 1
    write_classification(db, config)  # people as the current config says
    counts = write_diffusion(db, config)
    rows = list(db.query("SELECT * FROM derivatives ORDER BY created_at, full_name"))
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    up = upstream_id(db)
    if up is None:
        print("civicbot: the upstream has not been harvested yet", file=sys.stderr)
        return 1
    upstream = db["repos"].get(up)
    tree = Tree(f"[bold]{escape(upstream['full_name'])}[/bold] (upstream, {upstream['created_at'][:10]})")
    nodes = {up: tree}
    children: dict[int | None, list[dict]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row)

    def add(parent_id: int, node: Tree) -> None:
        for row in children.get(parent_id, []):
            where = (f"{row['prefecture_ja']} {row['prefecture_en']} ({row['pref_code']})" if row["pref_code"]
                     else "region unknown / 地域不明")
            if row["municipality_ja"]:
                where += f" {row['municipality_ja']}"
            if row["operator_city"] and row["operator_city_code"] != row["muni_code"]:
                where += f"  operator: {row['operator_city']}"
            child = node.add(escape(f"{row['full_name']}  [{row['found_by']}]  {where}  {(row['created_at'] or '')[:10]}"
                                    + _divergence(row, config.zone)
                                    + ("" if row["status"] in ("active", "renamed") else f"  ({row['status']})")))
            nodes[row["repo_id"]] = child
            add(row["repo_id"], child)

    add(up, tree)
    orphans = [r for r in rows if r["repo_id"] not in nodes]
    for row in orphans:  # parents outside the family (e.g. a fork of a deleted repo)
        tree.add(escape(f"{row['full_name']}  [{row['found_by']}]"))
    sites = list(db.query("SELECT * FROM listed_sites WHERE repo_full_name IS NULL ORDER BY pref_code, site_url")) \
        if "listed_sites" in db.table_names() else []
    for site in sites:  # regional sites the upstream lists without a GitHub repo
        place = prefecture(site["pref_code"]).name_ja if site["pref_code"] else "region unknown / 地域不明"
        tree.add(escape(f"{site['site_url']}  [site_list, no repo]  {place} ({site['region'] or ''})"))
    console = Console()
    console.print(tree, markup=True, highlight=False)
    reached = db.execute("SELECT count(*) FROM diffusion_by_prefecture WHERE regional_sites > 0").fetchone()[0]
    console.print(f"{counts['derivatives']} derivatives and {len(sites)} sites listed without a repo, "
                  f"{reached} of 47 prefectures reached / 派生サイト {counts['derivatives']} 件、"
                  f"リポジトリなしの掲載サイト {len(sites)} 件、47 都道府県のうち {reached}", markup=False)
    return 0
