"""The impact summary sponsors quote: people, proposals, acceptance, issues, reach (docs/metrics.md).

"In 3 weeks 224 people contributed, 750 proposals, 671 accepted": `impact_summary` gives such
figures for any window (calendar days in the project's time zone, both ends included) and any
repo set, each with bots excluded and the bot share beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlite_utils

from civicbot.config import Config

# (key, Japanese label, English label)
FIGURES = [
    ("contributors", "貢献者数", "contributors"),
    ("proposal_authors", "提案者数", "people who opened PRs"),
    ("proposals", "提案 (PR 作成)", "proposals (PRs opened)"),
    ("accepted", "採用 (PR マージ)", "accepted (PRs merged)"),
    ("accepted_authors", "採用された提案者数", "people whose PRs were merged"),
    ("issues_created", "issue 作成", "issues created"),
    ("issues_closed", "issue クローズ", "issues closed"),
    ("prs_created", "PR 作成", "pull requests created"),
    ("prs_closed", "PR クローズ", "pull requests closed"),
    ("derivatives", "派生サイト", "derivatives created"),
    ("prefectures", "到達した都道府県", "prefectures reached"),
]


class SummaryError(ValueError):
    """A window or repo set that cannot be summarised; the message says why."""


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # inclusive

    def utc_bounds(self, config: Config) -> tuple[str, str]:
        """[start 00:00, end+1 00:00) in the project's zone, as stored UTC text."""
        zone = config.zone
        lo = datetime.combine(self.start, time(0), zone).astimezone(timezone.utc)
        hi = datetime.combine(self.end + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
        return lo.strftime("%Y-%m-%dT%H:%M:%SZ"), hi.strftime("%Y-%m-%dT%H:%M:%SZ")


def repo_ids(db: sqlite_utils.Database, repos: list[str] | None) -> list[int]:
    """The repo set: None is the whole family, 'upstream' the upstream, else owner/name values."""
    family = [r[0] for r in db.execute("SELECT DISTINCT repo_id FROM discoveries ORDER BY repo_id")]
    if not repos:
        return family
    out = []
    for name in repos:
        if name == "upstream":
            row = db.execute("SELECT repo_id FROM discoveries WHERE method = 'upstream'").fetchone()
        else:
            row = db.execute("SELECT repo_id FROM repo_names WHERE full_name = ? ORDER BY last_seen_at DESC",
                             [name]).fetchone()
        if row is None:
            raise SummaryError(f"no repo {name!r} in the database (harvest it first, or check the name)")
        out.append(row[0])
    return out


def impact_summary(db: sqlite_utils.Database, config: Config, window: Window,
                   repos: list[str] | None = None) -> dict:
    """The figures for a window and repo set: {key: {"people": n, "all": n, "bot_share": x}}.

    People: users of type User that are not bots (GitHub type Bot, a [bot] login, or the config's
    bot list) and not config placeholders. "all" adds bot accounts (never placeholders or
    organisations for counts of people). Item counts without bots leave out items by bots.
    """
    if window.end < window.start:
        raise SummaryError(f"the window ends ({window.end}) before it starts ({window.start})")
    ids = repo_ids(db, repos)
    lo, hi = window.utc_bounds(config)
    params = {"lo": lo, "hi": hi, **{f"p{i}": p.lower() for i, p in enumerate(config.placeholders)}}
    marks = ",".join(f":p{i}" for i in range(len(config.placeholders))) or "NULL"
    in_repos = ",".join(str(int(i)) for i in ids) or "NULL"
    # Author kinds: 2 a person, 1 a bot, 0 a placeholder or organisation (in no count of people).
    kind = f"""CASE WHEN u.id IS NULL OR lower(u.login) IN ({marks}) OR u.type = 'Organization' THEN 0
                    WHEN u.is_bot = 1 THEN 1 ELSE 2 END"""

    def items(condition: str) -> tuple[int, int]:
        row = db.execute(f"""SELECT count(*), sum(CASE WHEN u.is_bot = 1 THEN 0 ELSE 1 END)
                             FROM items i LEFT JOIN users u ON u.id = i.user_id
                             WHERE i.repo_id IN ({in_repos}) AND {condition}""", params).fetchone()
        return row[1] or 0, row[0] or 0

    def people(sql: str) -> tuple[int, int]:
        row = db.execute(f"""SELECT count(DISTINCT CASE WHEN k = 2 THEN uid END),
                                    count(DISTINCT CASE WHEN k >= 1 THEN uid END)
                             FROM (SELECT u.id AS uid, {kind} AS k FROM ({sql}) a
                                   LEFT JOIN users u ON u.id = a.user_id)""", params).fetchone()
        return row[0] or 0, row[1] or 0

    window_of = "{} >= :lo AND {} < :hi".format
    figures = {
        "contributors": people(f"""SELECT user_id FROM items WHERE repo_id IN ({in_repos}) AND {window_of('created_at', 'created_at')}
                                   UNION ALL SELECT user_id FROM comments WHERE repo_id IN ({in_repos})
                                   AND {window_of('created_at', 'created_at')}"""),
        "proposal_authors": people(f"""SELECT user_id FROM items WHERE repo_id IN ({in_repos}) AND is_pull_request = 1
                                       AND {window_of('created_at', 'created_at')}"""),
        "proposals": items(f"i.is_pull_request = 1 AND {window_of('i.created_at', 'i.created_at')}"),
        "accepted": items(f"i.is_pull_request = 1 AND {window_of('i.merged_at', 'i.merged_at')}"),
        "accepted_authors": people(f"""SELECT user_id FROM items WHERE repo_id IN ({in_repos}) AND is_pull_request = 1
                                       AND {window_of('merged_at', 'merged_at')}"""),
        "issues_created": items(f"i.is_pull_request = 0 AND {window_of('i.created_at', 'i.created_at')}"),
        "issues_closed": items(f"i.is_pull_request = 0 AND i.state = 'closed' AND {window_of('i.closed_at', 'i.closed_at')}"),
        "prs_created": items(f"i.is_pull_request = 1 AND {window_of('i.created_at', 'i.created_at')}"),
        "prs_closed": items(f"i.is_pull_request = 1 AND i.state = 'closed' AND {window_of('i.closed_at', 'i.closed_at')}"),
    }
    derivatives, prefectures = _reach(db, lo, hi) if not repos else (0, 0)
    figures["derivatives"] = (derivatives, derivatives)
    figures["prefectures"] = (prefectures, prefectures)
    out = {}
    for key, _, _ in FIGURES:
        without, total = figures[key]
        out[key] = {"without_bots": without, "all": total,
                    "bot_share": round((total - without) / total, 4) if total else 0.0}
    return {"window": {"from": window.start.isoformat(), "to": window.end.isoformat(), "timezone": config.timezone},
            "repos": repos or ["family"], "figures": out}


def _reach(db, lo: str, hi: str) -> tuple[int, int]:
    """Derivatives created in the window, and prefectures reached by the window's end."""
    if "derivatives" not in db.table_names():
        return 0, 0
    created = db.execute("SELECT count(*) FROM derivatives WHERE created_at >= ? AND created_at < ?", [lo, hi]).fetchone()[0]
    reached = db.execute("SELECT count(DISTINCT pref_code) FROM derivatives WHERE pref_code IS NOT NULL AND created_at < ?",
                         [hi]).fetchone()[0]
    return created, reached


def format_summary(summary: dict) -> str:
    """A short bilingual table (Japanese first, English second), aligned for CJK widths."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    w = summary["window"]
    table = Table(title=f"インパクト概要 / impact summary  {w['from']} – {w['to']} ({w['timezone']})  "
                        f"対象 / repos: {', '.join(summary['repos'])}", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("ボット除く / bots excluded", justify="right")
    table.add_column("全体 / all", justify="right")
    table.add_column("ボット比率 / bot share", justify="right")
    for key, ja, en in FIGURES:
        f = summary["figures"][key]
        table.add_row(f"{ja} / {en}", f"{f['without_bots']:,}", f"{f['all']:,}", f"{f['bot_share'] * 100:.1f}%")
    out = StringIO()
    console = Console(file=out, width=130, no_color=True, highlight=False)
    console.print(table)
    console.print("定義 / definitions: docs/metrics.md")
    return out.getvalue().rstrip("\n")
