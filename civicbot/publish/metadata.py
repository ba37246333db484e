"""Datasette 0.65 metadata for a civicbot database, generated so that it never drifts from the docs.

Table and column descriptions are parsed from the `### `table`` sections of docs/schema.md,
docs/diffusion.md and docs/metrics.md (tables of `| `column` | ... | meaning |` rows, or bullets
`- `a`, `b`: meaning`). Canned queries come from dashboards/queries.yml and the dashboards
(datasette-dashboards) from dashboards/dashboards.yml. See docs/publish.md.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import yaml

from .site_plugin import SITE_PLUGIN

ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = ROOT / "docs"
DASHBOARDS_DIR = ROOT / "dashboards"
DOC_FILES = ("schema.md", "diffusion.md", "metrics.md", "publish.md")
# Served by Datasette as static mounts (no request leaves the instance).
DOCS_MOUNT = "docs"
DOCS_PAGES = "/-/docs"  # the same files rendered as HTML by the site plugin
STATIC_MOUNT = "civicbot-static"

# Internal bookkeeping: kept in the live database, hidden from the site's lists (still readable
# with SQL on `civicbot serve`, the maintainer's own site) and dropped from the published bundle
# (bundle.DROP_TABLES; harvest_runs is published without its error column).
HIDDEN_TABLES = ("sync_state", "repo_fingerprints", "schema_version", "candidates", "sqlite_sequence", "harvest_runs",
                 "heartbeat", "job_runs", "label_audit", "gfi_evaluation",
                 "items_search", "items_search_state", "store_secrets")

TITLE_JA = "東京都 新型コロナウイルス感染症対策サイトの広がり"
TITLE_EN = "the spread of Tokyo's COVID-19 site"

_HEADING = re.compile(r"^###\s+`([A-Za-z_][A-Za-z0-9_]*)`")
_NAMES = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("`", "")).strip()


# Words for developers, not visitors: a migration, an index, a function, a foreign-key note,
# markup. A sentence of docs/*.md holding one is not shown on the site.
DEVELOPER_WORDS = re.compile(r"migration|\bidx_|\bindex\b|\bindexes\b|\bKey:|\bFK\b|\w\(\)|\bwrite_\w+|"
                             r"civicbot\.\w|\.py\b|\*\*|`|<[a-z]", re.IGNORECASE)


def for_public(text: str | None) -> str | None:
    """`text` without the sentences that speak to developers, or None if nothing is left."""
    if not text:
        return None
    text = re.sub(r"\s*\([^()]*\)", lambda m: "" if DEVELOPER_WORDS.search(m.group()) else m.group(), text)
    kept = [s for s in re.split(r"(?<=[.;:])\s+", text) if not DEVELOPER_WORDS.search(s)]
    return " ".join(kept).strip() or None


def load_descriptions(path: Path | None = None, part: str = "tables") -> dict[str, Any]:
    """Public descriptions, Japanese / English (dashboards/descriptions.yml): by table, or
    `query_columns` (the canned queries' column headings)."""
    data = yaml.safe_load(Path(path or DASHBOARDS_DIR / "descriptions.yml").read_text(encoding="utf-8")) or {}
    return data.get(part) or {}


def parse_doc(text: str, doc_name: str = "") -> dict[str, dict[str, Any]]:
    """{table: {"description": first paragraph, "columns": {column: meaning}, "doc": doc_name}}."""
    tables: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    paragraph: list[str] = []
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = tables.setdefault(heading.group(1), {"description": "", "columns": {}, "doc": doc_name})
            paragraph = []
            continue
        if line.startswith("#"):
            current = None
            continue
        if current is None:
            continue
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            names = _NAMES.findall(cells[0]) if cells and cells[0].startswith("`") else []
            if names and len(cells) >= 2:
                meaning = _clean(cells[-1])
                for name in names:
                    current["columns"].setdefault(name, meaning)
            continue
        if stripped.startswith("- ") and stripped[2:].lstrip().startswith("`"):
            body = stripped[2:].strip()
            match = re.match(r"((?:`[A-Za-z_][A-Za-z0-9_]*`[,\s]*(?:and\s+)?)+)(.*)$", body)
            if match:
                names = _NAMES.findall(match.group(1))
                meaning = _clean(match.group(2).lstrip(":;,. ").rstrip(";.,"))
                if len(names) > 1 or not meaning:  # the bullet verbatim: "`a`, `b` (cumulative)"
                    meaning = _clean(body).rstrip(";.,")
                for name in names:
                    current["columns"].setdefault(name, meaning)
            continue
        if not current["description"]:
            if stripped:
                paragraph.append(stripped)
            elif paragraph:
                current["description"] = _clean(" ".join(paragraph))
    return tables


def documented_tables(docs_dir: Path = DOCS_DIR) -> dict[str, dict[str, Any]]:
    """Every table documented in docs/schema.md, docs/diffusion.md and docs/metrics.md (if present)."""
    out: dict[str, dict[str, Any]] = {}
    for name in DOC_FILES:
        path = Path(docs_dir) / name
        if path.exists():
            for table, info in parse_doc(path.read_text(encoding="utf-8"), name).items():
                out.setdefault(table, info)
    return out


def _existing_columns(db_path: str | Path | None) -> dict[str, list[str]] | None:
    """{table or view: its columns} of the database, or None without one."""
    if db_path is None:
        return None
    conn = sqlite3.connect(f"file:{Path(db_path).resolve()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        return {name: [r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", [name])] for name in names}
    finally:
        conn.close()


def _doc_of(table: str, docs_dir: Path) -> str:
    """The doc whose heading names `table` (metrics.md's `## `accounts` and `pr_kinds` — …`)."""
    heading = re.compile(rf"^#+ .*`{re.escape(table)}`", re.MULTILINE)
    for name in DOC_FILES:
        path = Path(docs_dir) / name
        if path.exists() and heading.search(path.read_text(encoding="utf-8")):
            return name
    return "metrics.md"


def as_of_utc(config=None) -> str:
    """SQL for the maintainers' pages' `as_of` field as a UTC time, or NULL when empty: typed in the
    project's zone, as the pages show their times (2021-01-31 09:00 JST), or in UTC with a final Z."""
    return ("CASE WHEN coalesce(:as_of, '') = '' THEN NULL WHEN :as_of LIKE '%Z' "
            "THEN strftime('%Y-%m-%dT%H:%M:%SZ', :as_of) "
            f"ELSE strftime('%Y-%m-%dT%H:%M:%SZ', :as_of, '{utc_offset(config, -1)}') END")


def load_queries(path: Path | None = None, existing: set[str] | None = None,
                 top_per_repo: int = 5, config=None) -> dict[str, dict]:
    """Canned queries from dashboards/queries.yml. A query with `requires: [table]` is left out
    while one of those tables is missing (Datasette would only show the error when it is run).
    `/*top_per_repo*/5` in a query's SQL (valid SQL as it stands) takes the config's `triage.top_per_repo`,
    `/*as_of_utc*/nullif(:as_of, '')` reads the field in the config's zone (as_of_utc), and
    `/*zone_to_utc*/'+0 minutes'` is the modifier from that zone to UTC (a month field's bounds)."""
    data = yaml.safe_load(Path(path or DASHBOARDS_DIR / "queries.yml").read_text(encoding="utf-8")) or {}
    out = {}
    for name, query in (data.get("queries") or {}).items():
        query = dict(query)
        requires = query.pop("requires", [])
        if existing is not None and not set(requires) <= existing:
            continue
        if "sql" in query:
            query["sql"] = query["sql"].replace("/*top_per_repo*/5", f"/*top_per_repo*/{int(top_per_repo)}") \
                .replace("/*as_of_utc*/nullif(:as_of, '')", as_of_utc(config)) \
                .replace("/*zone_to_utc*/'+0 minutes'", f"'{utc_offset(config, -1)}'")
        query.setdefault("hide_sql", True)  # visitors read the answer; "show SQL" stays one click away
        out[name] = query
    return out


# The impact dashboard's repository filter (dashboards.yml): empty or WHOLE_FAMILY is every repo
# of the family, UPSTREAM the upstream, anything else a repo's full name.
WHOLE_FAMILY, UPSTREAM = "全体 / whole family", "上流 / upstream"
_UPSTREAM_ID = "(SELECT repo_id FROM discoveries WHERE method = 'upstream' LIMIT 1)"
REPO_SCOPE = (f"(CASE WHEN coalesce(:repo, '') IN ('', '{WHOLE_FAMILY}') THEN 'family' "
              f"WHEN :repo = '{UPSTREAM}' THEN (SELECT full_name FROM repos WHERE id = {_UPSTREAM_ID}) ELSE :repo END)")
IN_REPOS = (f"repo_id IN (SELECT repo_id FROM discoveries WHERE coalesce(:repo, '') IN ('', '{WHOLE_FAMILY}') "
            f"OR (:repo = '{UPSTREAM}' AND repo_id = {_UPSTREAM_ID}) "
            "OR repo_id = (SELECT id FROM repos WHERE full_name = :repo))")
# Charts readable on a phone (390 px) and on a Japanese page: dates as 2020年3月4日, counts on
# whole-number axes, legends below the chart, long labels cut with an ellipsis.
DAY_FORMAT, MONTH_FORMAT = "%Y年%-m月%-d日", "%Y年%-m月"
CHART_CONFIG = {"background": "#00000000", "line": {"point": True}, "legend": {"orient": "bottom", "direction": "vertical", "labelLimit": 260},
                "axis": {"labelLimit": 150, "labelOverlap": True, "titleFontWeight": "normal"}}


def utc_offset(config, sign: int = 1) -> str:
    """The project's zone as an SQLite date modifier (`+540 minutes` for Asia/Tokyo), now;
    `sign=-1` goes back from the zone to UTC."""
    from datetime import datetime

    zone = getattr(config, "zone", None)
    minutes = int(datetime.now(zone).utcoffset().total_seconds() // 60) if zone is not None else 0
    return f"{sign * minutes:+d} minutes"


def _readable(spec: dict) -> None:
    """Japanese dates and whole-number count axes on every x/y encoding of a vega-lite spec."""
    for part in [spec, *(spec.get("layer") or [])]:
        for channel in ("x", "y"):
            enc = (part.get("encoding") or {}).get(channel)
            if not isinstance(enc, dict):
                continue
            axis = enc.setdefault("axis", {})
            if enc.get("type") == "temporal":
                axis.setdefault("format", MONTH_FORMAT if "month" in str(enc.get("timeUnit", "")) else DAY_FORMAT)
                axis.setdefault("labelAngle", 0)
            elif enc.get("type") == "quantitative":
                axis.setdefault("tickMinStep", 1)
                axis.setdefault("labelExpr", "datum.value % 1 ? '' : format(datum.value, ',d')")
    spec["config"] = {**CHART_CONFIG, **(spec.get("config") or {})}


def load_dashboards(path: Path | None = None, database: str = "civicbot", config=None) -> dict[str, dict]:
    """datasette-dashboards configuration, each chart and each select filter pointed at `database`,
    the SQL fragments of the filters filled in, and every vega-lite chart made readable."""
    text = Path(path or DASHBOARDS_DIR / "dashboards.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    fill = {"/*repo_scope*/": REPO_SCOPE, "/*in_repos*/": IN_REPOS, "/*utc_offset*/": utc_offset(config),
            "/*to_utc*/": utc_offset(config, -1),
            "/*db*/": "/" + database}

    def filled(sql: str) -> str:
        for key, value in fill.items():
            sql = sql.replace(key, value)
        return sql

    for dashboard in data.values():
        for flt in (dashboard.get("filters") or {}).values():
            if "query" in flt:
                flt["db"] = database
        for chart in (dashboard.get("charts") or {}).values():
            if chart.get("library") != "markdown":
                chart["db"] = database
            if "query" in chart:
                chart["query"] = filled(chart["query"])
            if chart.get("library") == "markdown" and isinstance(chart.get("display"), str):
                chart["display"] = filled(chart["display"])
            if chart.get("library") == "vega-lite" and isinstance(chart.get("display"), dict):
                _readable(chart["display"])
    return data


def _title(config) -> tuple[str, str]:
    titles = getattr(config, "title", None) if config is not None else None
    ja = getattr(titles, "ja", None) or TITLE_JA
    en = getattr(titles, "en", None) or TITLE_EN
    return ja, en


def build_metadata(config=None, db_path: str | Path | None = None, database: str | None = None,
                   docs_dir: Path = DOCS_DIR, dashboards_dir: Path = DASHBOARDS_DIR) -> dict[str, Any]:
    """The whole metadata dict (one file in 0.65: metadata, canned queries and plugin config).

    `database` is the name Datasette gives the file (its stem); `db_path`, when given, is read to
    describe only the tables that exist and to leave out queries whose tables are missing.
    """
    if database is None:
        database = Path(db_path).stem if db_path else "civicbot"
    columns_of = _existing_columns(db_path)
    existing = set(columns_of) if columns_of is not None else None
    ja, en = _title(config)
    docs = documented_tables(docs_dir)
    public = load_descriptions(dashboards_dir / "descriptions.yml")
    labels = load_descriptions(dashboards_dir / "descriptions.yml", "query_columns")
    titles = load_descriptions(dashboards_dir / "descriptions.yml", "table_titles")
    values = load_descriptions(dashboards_dir / "descriptions.yml", "values")
    tables: dict[str, dict[str, Any]] = {}
    for table, info in docs.items():
        if existing is not None and table not in existing:
            continue
        words = public.get(table) or {}
        description = words.get("description") or for_public(info["description"]) or ""
        columns = {c: m for c, m in ((c, for_public(m)) for c, m in info["columns"].items()) if m}
        columns.update(words.get("columns") or {})
        tables[table] = {
            "description_html": _description_html(description, info["doc"]),
            "columns": columns,
            # templates/_table.html: the column headings, Japanese / English where a label exists
            "labels": _labels(labels, [*info["columns"], *(columns_of or {}).get(table, [])]),
        }
    # Public tables the docs describe under another heading (metrics.md's `## `accounts` …`): their
    # column headings, and their words where descriptions.yml has them.
    for table in sorted(set(columns_of or {}) - set(tables) - set(HIDDEN_TABLES)):
        if table.startswith(("sqlite_", "items_search")):  # SQLite's own, and the search index's
            continue
        words = public.get(table) or {}
        tables[table] = {"columns": dict(words.get("columns") or {}), "labels": _labels(labels, columns_of[table])}
        if words.get("description"):
            tables[table]["description_html"] = _description_html(words["description"], _doc_of(table, docs_dir))
    for table, entry in tables.items():  # the page's heading and the list's name, in words
        if table in titles:
            entry["title"] = titles[table]
        # its columns' values in words (site_plugin.render_cell), for the columns it has
        shown = {c: values[c] for c in [*docs.get(table, {}).get("columns", {}), *(columns_of or {}).get(table, [])]
                 if c in values}
        if shown:
            entry["value_labels"] = shown
    for table in HIDDEN_TABLES:
        if existing is None or table in existing:
            tables.setdefault(table, {})["hidden"] = True
    if "items" in tables:
        # No fts_table: the site plugin's own search box takes its place (site_plugin.filters_from_request).
        # Newest first by id (GitHub's ids grow with creation time): the primary key answers it, where
        # ordering by created_at sorts every item (0.8 s at 10^6) before the first page is shown.
        tables["items"].update({"label_column": "title", "sort_desc": "id"})
    if "users" in tables:
        tables["users"]["label_column"] = "login"
    if "repos" in tables:
        tables["repos"]["label_column"] = "full_name"
    triage = getattr(config, "triage", None)
    queries = load_queries(dashboards_dir / "queries.yml", existing,
                           top_per_repo=triage.top_per_repo if triage is not None else 5, config=config)
    for query in queries.values():
        query["labels"] = labels  # templates/query.html: column headings and form fields
    return {
        "title": f"civicbot: {ja} / {en}",
        "description": f"{ja}：GitHub の公開記録から集めたデータ。 / {en}: data harvested from the public "
                       "GitHub record by civicbot.",
        "license": "CC BY 4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "source": "GitHub REST API",
        "source_url": "https://docs.github.com/rest",
        "about": "civicbot",
        "about_url": f"{DOCS_PAGES}/publish.md",
        "databases": {database: {
            "description": "東京都のサイトとその派生の、GitHub 上の記録 / the GitHub record of Tokyo's site "
                           "and its derivatives",
            "tables": tables,
            "queries": queries,
            "value_labels": values,  # the canned queries' answers (their columns have the tables' names)
        }},
        "plugins": {"datasette-dashboards": load_dashboards(dashboards_dir / "dashboards.yml", database, config),
                    # site_plugin.render_cell shows stored UTC times in the project's zone
                    SITE_PLUGIN: {"timezone": getattr(config, "timezone", None) or "UTC"}},
    }


def _description_html(description: str, doc: str) -> str:
    return f"{_escape(description)} (<a href=\"{DOCS_PAGES}/{doc}\">技術的な定義（英語） / technical definition</a>)"


def _labels(labels: dict[str, str], columns) -> dict[str, str]:
    """A table's column headings (templates/_table.html): each column's label from descriptions.yml,
    and the columns Datasette adds (`Link` to each row of a table without one primary key, `rowid`)."""
    return {c: labels[c] for c in [*columns, "Link", "rowid"] if c in labels}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
