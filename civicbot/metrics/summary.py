"""The impact summary sponsors quote: people, proposals, acceptance, issues, reach (docs/metrics.md).

"In 3 weeks 224 people contributed, 750 proposals, 671 accepted": `impact_summary` gives such
figures for any window (calendar days in the project's time zone, both ends included) and any
repo set, each with bots excluded and the bot share beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
import sqlite_utils

from civicbot.config import Config

from .people import commit_identities, read_persons, write_classification

# (key, Japanese label, English label)
FIGURES = [
    ("contributors", "貢献者数", "contributors"),
    ("commit_authors", "コミットした人", "commit authors"),
    ("pr_authors", "PR を作成した人 (種類を問わず)", "pull request authors (any PR)"),
    ("reviewers", "レビューした人", "reviewers"),
    ("issue_authors", "issue を作成した人", "issue authors"),
    ("commenters", "コメントした人", "commenters"),
    ("proposal_authors", "提案者数", "people who opened PRs"),
    ("proposals", "提案 (PR 作成)", "proposals (PRs opened)"),
    ("accepted", "採用 (提案のマージ)", "accepted proposals (merged)"),
    ("accepted_authors", "採用された提案者数", "people whose proposals were merged"),
    ("release_merges", "リリース・同期マージ", "release / sync merges (not proposals)"),
    ("automation_prs", "自動化の PR", "automation PRs (not proposals)"),
    ("issues_created", "issue 作成", "issues created"),
    ("issues_closed", "issue クローズ", "issues closed"),
    ("prs_created", "PR 作成", "pull requests created"),
    ("prs_closed", "PR クローズ", "pull requests closed"),
    ("regional_sites", "地域のサイト (新たに)", "regional sites created"),
    ("prefectures", "到達した都道府県", "prefectures reached"),
    ("contributor_forks", "協力者のフォーク (新たに、別に数える)", "contributors' forks created (counted apart)"),
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
    """The figures for a window and repo set: {key: {"without_bots": n, "all": n, "bot_share": x}}
    (`bot_share` None when "all" is 0: a share of nothing).

    People, automation and proposals as civicbot.metrics.people defines them, recomputed here from
    the current config with the `contributions` table, which gives the people who took part. Counts
    of people: "without_bots" counts people, "all" adds automation
    accounts (never placeholders or organisations). Proposals and accepted: "without_bots" counts
    proposals only (no automation PRs, no release merges), "all" every PR. Other item counts leave
    out automation; release merges are shown apart. `excluded` lists the accounts treated as
    automation or as not people that have items in the window, with the reason.
    """
    if window.end < window.start:
        raise SummaryError(f"the window ends ({window.end}) before it starts ({window.start})")
    ids = repo_ids(db, repos)
    write_classification(db, config)
    write_contributions(db, config)  # as the current config says, so the dashboards count what this prints
    lo, hi = window.utc_bounds(config)
    params = {"lo": lo, "hi": hi}
    in_repos = ",".join(str(int(i)) for i in ids) or "NULL"
    window_of = "{} >= :lo AND {} < :hi".format
    in_items = f"i.repo_id IN ({in_repos})"
    # The item's own kind: 'automation' by an automation account (or an automation PR), else its PR kind.
    joined = """items i LEFT JOIN accounts a ON a.user_id = i.user_id LEFT JOIN pr_kinds k ON k.item_id = i.id"""
    automated = "(coalesce(a.is_automation, 0) = 1 OR coalesce(k.pr_kind, '') = 'automation')"

    def items(condition: str, counted: str = f"NOT {automated}") -> tuple[int, int]:
        row = db.execute(f"""SELECT count(*), sum(CASE WHEN {counted} THEN 1 ELSE 0 END) FROM {joined}
                             WHERE {in_items} AND {condition}""", params).fetchone()
        return row[1] or 0, row[0] or 0

    def people(condition: str, counted: str = "1") -> tuple[int, int]:
        row = db.execute(f"""SELECT count(DISTINCT CASE WHEN a.is_person = 1 AND {counted} THEN a.user_id END),
                                    count(DISTINCT CASE WHEN a.is_person = 1 OR a.is_automation = 1 THEN a.user_id END)
                             FROM {joined} WHERE {in_items} AND {condition}""", params).fetchone()
        return row[0] or 0, row[1] or 0

    opened, merged = window_of("i.created_at", "i.created_at"), window_of("i.merged_at", "i.merged_at")
    proposal = "k.pr_kind = 'proposal'"
    who = read_contributions(db, config, ids, lo, hi)
    figures = {
        "contributors": _count(who),
        **{key: _count(who[who["kind"] == kind]) for kind, key in KINDS.items()},
        "proposal_authors": people(f"i.is_pull_request = 1 AND {opened}", proposal),
        "proposals": items(f"i.is_pull_request = 1 AND {opened}", proposal),
        "accepted": items(f"i.is_pull_request = 1 AND {merged}", proposal),
        "accepted_authors": people(f"i.is_pull_request = 1 AND {merged}", proposal),
        "release_merges": items(f"i.is_pull_request = 1 AND {merged}", "k.pr_kind = 'release'"),
        "automation_prs": items(f"i.is_pull_request = 1 AND {opened}", automated),
        "issues_created": items(f"i.is_pull_request = 0 AND {opened}"),
        "issues_closed": items(f"i.is_pull_request = 0 AND i.state = 'closed' AND {window_of('i.closed_at', 'i.closed_at')}"),
        "prs_created": items(f"i.is_pull_request = 1 AND {opened}"),
        "prs_closed": items(f"i.is_pull_request = 1 AND i.state = 'closed' AND {window_of('i.closed_at', 'i.closed_at')}"),
    }
    sites, forks, prefectures = _reach(db, lo, hi) if not repos else (0, 0, 0)
    for key, n in (("regional_sites", sites), ("contributor_forks", forks), ("prefectures", prefectures)):
        figures[key] = (n, n)
    out = {}
    for key in ("release_merges", "automation_prs"):  # counted apart: nothing to exclude from them
        figures[key] = (figures[key][0], figures[key][0])
    for key, _, _ in FIGURES:
        without, total = figures[key]
        out[key] = {"without_bots": without, "all": total,
                    "bot_share": round((total - without) / total, 4) if total else None}
    excluded = [dict(r) for r in db.query(
        f"""SELECT a.login, a.kind, coalesce(a.reason, a.kind) AS reason, count(*) AS items
            FROM items i JOIN accounts a ON a.user_id = i.user_id
            WHERE {in_items} AND a.is_person = 0 AND {opened}
            GROUP BY a.user_id ORDER BY a.kind, count(*) DESC, a.login""", params)]
    return {"window": {"from": window.start.isoformat(), "to": window.end.isoformat(), "timezone": config.timezone},
            "repos": repos or ["family"], "figures": out, "places": place_figures(db, who, config.publish.min_place_count), "excluded": excluded}


# Kinds of contribution counted in the people count (what the sponsors' slide counts), and their figure.
KINDS = {"commit": "commit_authors", "pr": "pr_authors", "review": "reviewers", "issue": "issue_authors",
         "comment": "commenters"}


def contributions(db: sqlite_utils.Database, ids: list[int] | None = None, lo: str | None = None,
                  hi: str | None = None) -> pd.DataFrame:
    """Every contribution (in the window [lo, hi) and the repos `ids`, when given) as (`kind`,
    `repo_id`, `at`, `identity`), joined to its person (`person_id`, `is_person`, `is_automation`
    from `persons`). Commits by `authored_at`, issues and PRs by creation, comments and review
    comments by creation, reviews by `submitted_at` (not the PR author's own, not pending).
    Reviews and commits count once those tables exist (an older store: none). The one definition
    of "took part": it writes the `contributions` table, which the summary and the report read."""
    tables = set(db.table_names())
    # A review or review comment by the PR's own author is a reply, not reviewing; a pending review is none.
    on_pr = ("{t} x JOIN items p ON p.repo_id = x.repo_id AND p.number = x.pull_number AND p.is_pull_request = 1 "
             "AND x.user_id IS NOT p.user_id")
    sources = [("CASE WHEN x.is_pull_request = 1 THEN 'pr' ELSE 'issue' END", "items", "items x", "created_at"),
               ("'comment'", "comments", "comments x", "created_at"),
               ("'review'", "reviews", on_pr.format(t="reviews") + " AND coalesce(x.state, '') != 'PENDING'",
                "submitted_at"),
               ("'review'", "review_comments", on_pr.format(t="review_comments"), "created_at")]
    where = ""
    if ids is not None:
        where += " AND x.repo_id IN ({})".format(",".join(str(int(i)) for i in ids) or "NULL")
    parts = [f"SELECT {kind} AS kind, x.repo_id, x.{at} AS at, 'user:' || x.user_id AS identity FROM {source} "
             f"WHERE x.user_id IS NOT NULL AND x.{at} IS NOT NULL{where}"
             + (f" AND x.{at} >= :lo" if lo else "") + (f" AND x.{at} < :hi" if hi else "")
             for kind, table, source, at in sources if table in tables]
    frames = [pd.read_sql_query(" UNION ALL ".join(parts), db.conn, params={"lo": lo, "hi": hi})]
    commits = commit_identities(db)
    keep = commits["authored_at"].notna()
    if ids is not None:
        keep &= commits["repo_id"].isin(ids)
    if lo:
        keep &= commits["authored_at"] >= lo
    if hi:
        keep &= commits["authored_at"] < hi
    commits = commits[keep]
    linked = "user:" + commits["author_id"].astype("Int64").astype(str)
    frames.append(pd.DataFrame({"kind": "commit", "repo_id": commits["repo_id"], "at": commits["authored_at"],
                                "identity": linked.where(commits["author_id"].notna(), commits["identity"])}))
    who = pd.concat([f for f in frames if len(f)] or frames, ignore_index=True).dropna(subset=["identity"])
    persons = read_persons(db)[["identity", "person_id", "is_person", "is_automation"]]
    return who.merge(persons, on="identity", how="inner")


CONTRIBUTION_COLUMNS = {"kind": str, "repo_id": int, "at": str, "local_date": str, "person_id": str,
                        "is_person": int, "is_automation": int}


def write_contributions(db: sqlite_utils.Database, config: Config) -> int:
    """The `contributions` table: every dated contribution of every kind with its person, so that
    the dashboards count people who took part exactly as the summary does (`local_date` in the
    project's zone, for the period filters). No name, login or e-mail hash: only the person's id."""
    from .tables import replace_frame

    who = contributions(db)
    at = pd.to_datetime(who["at"], utc=True, errors="coerce")
    who = who.assign(local_date=at.dt.tz_convert(config.timezone).dt.strftime("%Y-%m-%d"))
    who = who[at.notna()].sort_values(["at", "kind"], ignore_index=True)
    return replace_frame(db, "contributions", who[list(CONTRIBUTION_COLUMNS)], CONTRIBUTION_COLUMNS, None,
                         # covering the dashboards' people figure: per repo, and per person (docs/performance.md)
                         indexes=(["local_date"], ["repo_id", "local_date", "is_person", "person_id"],
                                  ["person_id", "local_date", "repo_id", "is_person"]))


def read_contributions(db: sqlite_utils.Database, config: Config, ids: list[int] | None = None,
                       lo: str | None = None, hi: str | None = None) -> pd.DataFrame:
    """The published `contributions` table's rows (in the window [lo, hi) and the repos `ids`, when
    given): who took part, as the summary, the report and the dashboards count it. A store where
    `civicbot metrics` has not run yet gets the table written first."""
    if "contributions" not in db.table_names():
        write_contributions(db, config)
    where = ["1"]
    if ids is not None:
        where.append("repo_id IN ({})".format(",".join(str(int(i)) for i in ids) or "NULL"))
    if lo:
        where.append("at >= :lo")
    if hi:
        where.append("at < :hi")
    return pd.read_sql_query(f"SELECT {', '.join(CONTRIBUTION_COLUMNS)} FROM contributions WHERE {' AND '.join(where)}",
                             db.conn, params={"lo": lo, "hi": hi})


def _count(who: pd.DataFrame) -> tuple[int, int]:
    """(persons, persons and automation) among the contributions' authors."""
    person = who["is_person"].astype(bool)
    return (who.loc[person, "person_id"].nunique(),
            who.loc[person | who["is_automation"].astype(bool), "person_id"].nunique())


def place_figures(db: sqlite_utils.Database, who: pd.DataFrame, least: int) -> dict:
    """Where the window's persons are (`origins.person_places`, the one reading of a person's
    place), with places of fewer than `least` persons folded as on the site (`origins.fold_places_of`):
    countries and Japanese prefectures named; persons in Japan, in named countries abroad, in other
    (small) countries, and of unknown place (no profile, a blank or unclear location, commit-only
    identities), which add up to the persons; in Japan, those in other (small) prefectures and
    those with the prefecture unknown, counted apart."""
    from .origins import fold_places_of, person_places

    people = who.loc[who["is_person"].astype(bool), "person_id"].drop_duplicates()
    places = person_places(db)
    counts = fold_places_of(places[places["person_id"].isin(people)], least)
    named = counts[counts["place_status"] == "known"]
    japan = counts[counts["country_code"] == "JP"]
    other = counts["place_status"] == "other"
    in_japan, abroad = int(japan["people"].sum()), int(named.loc[named["country_code"] != "JP", "people"].sum())
    other_countries = int(counts.loc[other & counts["country_code"].isna(), "people"].sum())
    return {"people": len(people), "countries": int(named["country_code"].nunique()),
            "prefectures": int(named.loc[named["country_code"] == "JP", "pref_code"].nunique()),
            "in_japan": in_japan, "abroad": abroad, "other_countries": other_countries,
            "japan_prefecture_unknown": int(japan.loc[japan["pref_code"].isna() & ~other, "people"].sum()),
            "other_prefectures": int(japan.loc[other, "people"].sum()),
            "unknown": len(people) - in_japan - abroad - other_countries}


def _reach(db, lo: str, hi: str) -> tuple[int, int, int]:
    """Regional sites (derivatives placed in a prefecture) and contributors' forks (placed
    nowhere) created in the window, apart; and prefectures reached by the window's end."""
    if "derivatives" not in db.table_names():
        return 0, 0, 0
    sites, forks = db.execute("""SELECT count(CASE WHEN pref_code IS NOT NULL THEN 1 END),
                                        count(CASE WHEN pref_code IS NULL THEN 1 END)
                                 FROM derivatives WHERE created_at >= ? AND created_at < ?""", [lo, hi]).fetchone()
    reached = db.execute("SELECT count(DISTINCT pref_code) FROM derivatives WHERE pref_code IS NOT NULL AND created_at < ?",
                         [hi]).fetchone()[0]
    return sites, forks, reached


def _places_line(p: dict) -> str:
    """Where the window's people are from; when no profile places anyone, that, not "0 countries".
    Small places are "その他 / other", as on the site."""
    if not (p["in_japan"] or p["abroad"] or p["other_countries"]):
        return (f"貢献者 {p['people']:,} 名: プロフィールから所在地のわかる人はいません / "
                f"{p['people']:,} contributors: no profile gives a place")
    return (f"貢献者 {p['people']:,} 名: {p['countries']:,} か国・{p['prefectures']:,} 都道府県から"
            f" (その他の国・地域 {p['other_countries']:,} 名、その他の都道府県 {p['other_prefectures']:,} 名、"
            f"所在不明 {p['unknown']:,} 名、日本で都道府県不明 {p['japan_prefecture_unknown']:,} 名。"
            "人数の少ない場所は「その他」にまとめています) / "
            f"{p['people']:,} contributors from {p['countries']:,} countries / {p['prefectures']:,} "
            f"prefectures ({p['other_countries']:,} in other countries and regions, {p['other_prefectures']:,} in "
            f"other prefectures, {p['unknown']:,} of unknown place, {p['japan_prefecture_unknown']:,} in Japan "
            "with the prefecture unknown; places with few people are counted as other)")


# A share of nothing (0 of 0) is no share, not 0.0%; the site's home page says the same (index.html).
NO_SHARE = "—"
NO_SHARE_REASON = "— = 該当なし: 全体が 0 件で、割合はありません / none: there are none in all, so there is no share"


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
        share = NO_SHARE if f["bot_share"] is None else f"{f['bot_share'] * 100:.1f}%"
        table.add_row(f"{ja} / {en}", f"{f['without_bots']:,}", f"{f['all']:,}", share)
    out = StringIO()
    console = Console(file=out, width=130, no_color=True, highlight=False)
    console.print(table)
    if "places" in summary:
        console.print(_places_line(summary["places"]))
    for row in summary.get("excluded", []):
        what = "treated as automation" if row["kind"] == "automation" else f"not a person ({row['kind']})"
        console.print(f"{what}: {row['login']}, {row['reason']} ({row['items']:,} items in the window)")
    if any(f["bot_share"] is None for f in summary["figures"].values()):
        console.print(NO_SHARE_REASON)
    console.print("ボット除く = 人のみ、提案はリリース・同期マージと自動化を除く / bots excluded = people only; "
                  "proposals leave out release/sync merges and automation. 定義 / definitions: docs/metrics.md")
    return out.getvalue().rstrip("\n")
