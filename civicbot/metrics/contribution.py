"""Contribution metrics (CHAOSS): who contributes, how often, and how the project answers them.

Definitions, parameters and the SQL to check each number by hand are in docs/metrics.md.

- `write_activity`: table `activity`, one row per dated contribution (issue, PR, comment).
- Reviews (civicbot.metrics.reviews): counted per person and per period, not in `activity`.
- `write_contributors`: table `contributors_summary`, one row per person.
- `write_periodic`: table `metrics_periodic`, one row per (scope, period_kind, period_start).
- `write_contribution_metrics`: all three, in order, then civicbot.metrics.origins' tables.

People, automation and proposals are as civicbot.metrics.people defines them (tables `accounts` and
`pr_kinds`, written first). Automation is counted apart (`bot_activity`) and never mixed into
people's figures; items opened by automation, and automation PRs, are left out of the item counts.
Each table is replaced in one transaction and created even when empty; running a function twice
gives identical tables. Everything is vectorised pandas: one SQL query per source table, read
once by `Sources` and shared by the three writers when run together, no loop over items (the only
loops are over scopes and periods, for the open issue age).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import sqlite_utils

from civicbot.config import Config
from civicbot.store.schema import PLAUSIBLE_FROM, plausible_until

from .affiliations import companies, fewest_for_half
from .origins import write_origins
from .people import person_of_user, read_persons, reviewers, write_classification
from .reviews import human_reviews, review_columns
from .tables import replace_frame as _replace

INACTIVE_DAYS = 90
NEWCOMER_DAYS = 30
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FAMILY = "family"
PERIOD_KINDS = ("week", "month")

ACTIVITY_COLUMNS = {
    "kind": str, "source_id": int, "user_id": int, "login": str, "is_person": int, "is_bot": int,
    "repo_id": int, "item_id": int, "at": str, "local_date": str, "week": str, "month": str,
    "person_id": str,
}
CONTRIBUTOR_COLUMNS = {
    "user_id": int, "login": str, "company": str, "first_contribution_at": str, "last_contribution_at": str,
    "issues": int, "prs": int, "comments": int, "commits": int, "reviews": int, "dated_contributions": int,
    "repos_touched": int, "repos": str, "newcomer": int, "inactive": int, "first_pr_id": int,
    "first_pr_created_at": str, "first_pr_responded": int, "first_pr_response_hours": float, "merged_prs": int,
    "person_id": str,
}
PERIODIC_COLUMNS = {
    "scope": str, "repo_id": int, "period_kind": str, "period_start": str, "period_end": str,
    "contributors": int, "new_contributors": int, "returning_contributors": int, "inactive_contributors": int,
    "issues_opened": int, "issues_closed": int, "prs_opened": int, "prs_closed": int, "prs_merged": int,
    "proposals": int, "accepted_proposals": int, "release_merges": int,
    "change_request_acceptance_ratio": float, "change_request_duration_median_hours": float,
    "first_response_issues_median_hours": float, "unanswered_issues": int,
    "first_response_prs_median_hours": float, "unanswered_prs": int,
    "reviews_per_merged_pr": float, "time_to_first_review_median_hours": float,
    "time_to_close_median_hours": float, "open_issues": int, "open_issue_age_median_days": float,
    "contributor_absence_factor": int, "elephant_factor": int, "bot_activity": int,
    "organisations": int, "largest_organisation_share": float, "unaffiliated_share": float,
}
COUNT_COLUMNS = ["contributors", "new_contributors", "inactive_contributors", "issues_opened", "issues_closed",
                 "prs_opened", "prs_closed", "prs_merged", "proposals", "accepted_proposals", "release_merges",
                 "unanswered_issues", "unanswered_prs", "open_issues",
                 "bot_activity", "organisations"]

FAMILY_REPOS = "SELECT DISTINCT repo_id FROM discoveries"


# ---------------------------------------------------------------------------------------------
# Reading and time


def _query(db: sqlite_utils.Database, sql: str, params=()) -> pd.DataFrame:
    return pd.read_sql_query(sql, db.conn, params=params)


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
# the unit pandas' parser gives (the arithmetic on these times must stay exactly the same)
_UTC_DTYPE = pd.to_datetime(pd.Series(["2020-01-01T00:00:00Z"]), format=TIME_FORMAT).dtype
_SEPARATORS = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b"Z", 20: b"\0"}


def _utc(text: pd.Series) -> pd.Series:
    """Stored UTC text -> naive datetime64 (UTC); NULL -> NaT.

    The stored format (TIME_FORMAT, fixed width) is decoded on the bytes with numpy, many times
    faster than strptime; anything that is not exactly that format goes to pandas' parser.
    Implausible times (schema.is_plausible), say the year 9999, are NaT: they would overflow."""
    text = text.where(text.isna() | ((text >= PLAUSIBLE_FROM) & (text <= plausible_until())))
    values = text.to_numpy(dtype=object)
    missing = pd.isna(values)
    try:
        raw = np.array(values[~missing].tolist(), dtype="S21")
    except (UnicodeError, TypeError, ValueError):
        raw = None
    if raw is not None and raw.size and not missing.all():
        b = raw.view(np.uint8).reshape(-1, 21)
        d = b[:, _DIGITS].astype(np.int64) - 48
        ok = bool(((d >= 0) & (d <= 9)).all()) and all(
            bool((b[:, i] == ord(c)).all()) for i, c in _SEPARATORS.items())
        if ok:
            year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
            month = d[:, 4] * 10 + d[:, 5]
            day, hour = d[:, 6] * 10 + d[:, 7], d[:, 8] * 10 + d[:, 9]
            minute, second = d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
            months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
            days = months.astype("datetime64[D]") + (day - 1)
            ok = bool(((month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60) & (second < 60)
                       & (days.astype("datetime64[M]") == months)).all())
        if ok:
            out = np.full(len(values), np.datetime64("NaT"), dtype=_UTC_DTYPE)
            out[~missing] = (days.astype("datetime64[s]") + (hour * 3600 + minute * 60 + second)).astype(_UTC_DTYPE)
            return pd.Series(out, index=text.index, name=text.name)
    return pd.to_datetime(text, format=TIME_FORMAT)


def _local(utc: pd.Series, zone: str) -> pd.Series:
    """Naive UTC datetimes -> naive wall-clock datetimes in `zone`."""
    return utc.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def _period_start(local: pd.Series, kind: str) -> pd.Series:
    """Start (local midnight) of the calendar week (Monday) or month holding each local time."""
    days = local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if kind == "week":
        weekday = (days.view("int64") + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        start = days - weekday.astype("timedelta64[D]")
    else:
        start = days.astype("datetime64[M]").astype("datetime64[D]")
    return pd.Series(start.astype("datetime64[ns]"), index=local.index)


def _period_end(start: pd.Series | pd.DatetimeIndex, kind: str):
    if kind == "week":
        return start + pd.Timedelta(days=7)
    values = np.asarray(start, dtype="datetime64[ns]").astype("datetime64[M]") + 1
    return pd.DatetimeIndex(values.astype("datetime64[ns]"))


def _text_dates(values, fmt: str = "%Y-%m-%d") -> pd.Series:
    """Format many datetimes that share few distinct values (days, periods) fast."""
    series = pd.Series(values)
    codes, uniques = pd.factorize(series)
    texts = pd.Index(uniques).strftime(fmt).to_numpy(dtype=object)
    out = np.where(codes >= 0, texts[np.maximum(codes, 0)] if len(texts) else None, None)
    return pd.Series(out, index=series.index, dtype=object)


def data_end(db: sqlite_utils.Database) -> str | None:
    """The data's end: the latest item creation, close or merge, or comment, in the family (UTC);
    implausible times (schema.is_plausible) are ignored."""
    parts = [f"SELECT max({column}) AS t FROM {table} WHERE repo_id IN ({FAMILY_REPOS}) "
             f"AND {column} BETWEEN :earliest AND :latest"
             for table, column in (("items", "created_at"), ("items", "closed_at"), ("items", "merged_at"),
                                   ("comments", "created_at"))]
    return db.execute(f"SELECT max(t) FROM ({' UNION ALL '.join(parts)})",
                      {"earliest": PLAUSIBLE_FROM, "latest": plausible_until()}).fetchone()[0]


def _users(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    """Every account with `is_person` and `is_bot` (automation) as civicbot.metrics.people decides,
    and its `person_id` (accounts of one person share it: people are counted by it)."""
    users = _query(db, """SELECT u.id AS user_id, u.login, u.company, coalesce(a.is_person, 0) AS is_person,
                                 coalesce(a.is_automation, 0) AS is_bot
                          FROM users u LEFT JOIN accounts a ON a.user_id = u.id""")
    persons = read_persons(db)
    accounts = persons[persons["kind"] == "account"]
    accounts = accounts.set_index(accounts["user_id"].astype("int64"))
    users["person_id"] = _lookup(users["user_id"], person_of_user(persons)).fillna("user:" + users["user_id"].astype(str))
    # a person joined to automation (an e-mail shared with a bot) is not counted as a person
    users["is_person"] = users["is_person"] & _lookup(users["user_id"], accounts["is_person"]).fillna(1).astype(bool)
    users[["is_person", "is_bot"]] = users[["is_person", "is_bot"]].astype("int64")
    read = companies(users["company"], config.affiliations)  # the one reading of a company
    users["org"], users["org_kind"] = read["organisation"], read["kind"]
    return users


def _lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """`table[key]` for each key (missing: NaT/NaN), keeping `table`'s dtype and `keys`' index.

    Series.map would do, but pandas 3 turns an empty datetime `table` into float and then fails
    ("Cannot cast DatetimeArray to dtype float64"): a family without comments crashed."""
    return pd.Series(table.reindex(keys.to_numpy()).to_numpy(), index=keys.index, name=keys.name)


KINDS = np.array(["comment", "issue", "pr"], dtype=object)  # activity kinds, in their sort order


class Sources:
    """The source tables of the family, each read by one query and parsed once, shared by the writers.

    `write_contribution_metrics` builds one and hands it to the three writers; each writer called
    alone builds its own. Everything is computed lazily, on first use.
    """

    def __init__(self, db: sqlite_utils.Database, config: Config, classified: bool = False):
        self.db, self.config = db, config
        if not classified:  # a writer called alone: `accounts` and `pr_kinds` as this config says
            write_classification(db, config)

    @cached_property
    def users(self) -> pd.DataFrame:
        return _users(self.db, self.config)

    @cached_property
    def items(self) -> pd.DataFrame:
        """Family items; `created_text` is the stored creation time, the *_at columns parsed (UTC)."""
        items = _query(self.db, f"""SELECT i.id, i.repo_id, i.is_pull_request, i.user_id, i.created_at, i.closed_at,
                                          i.merged_at, k.pr_kind
                                   FROM items i LEFT JOIN pr_kinds k ON k.item_id = i.id
                                   WHERE i.repo_id IN ({FAMILY_REPOS})""")
        items["created_text"] = items["created_at"]
        for column in ("created_at", "closed_at", "merged_at"):
            items[column] = _utc(items[column])
        items["is_pull_request"] = items["is_pull_request"].fillna(0).astype("int64")
        return items

    @cached_property
    def comments(self) -> pd.DataFrame:
        comments = _query(self.db, f"""SELECT id, user_id, repo_id, item_id, created_at AS created_text
                                      FROM comments WHERE repo_id IN ({FAMILY_REPOS})""")
        comments["created_at"] = _utc(comments["created_text"])
        return comments

    @cached_property
    def reviews(self) -> pd.DataFrame:
        """Reviews of family PRs (people.reviewers), automation's left out; `at` parsed (UTC)."""
        reviews = human_reviews(reviewers(self.db), self.users, self.items["id"])
        return reviews.assign(at=_utc(reviews["at"])).dropna(subset=["at"])

    @cached_property
    def end(self) -> str | None:
        return data_end(self.db)

    @cached_property
    def first_responses(self) -> pd.Series:
        """Per item id: when someone other than its author (another person: not one of the author's
        other accounts), and not a bot, first commented (UTC)."""
        users, items = self.users, self.items
        comments = self.comments[["item_id", "user_id", "created_at"]]
        comments = comments[comments["item_id"].notna() & comments["user_id"].notna()]
        comments = comments.astype({"item_id": "int64", "user_id": "int64"})
        human = users.loc[users["is_bot"] == 0, "user_id"]
        comments = comments[comments["user_id"].isin(human)]
        author = items.set_index("id")["user_id"]
        person = pd.Series(users["person_id"].to_numpy(dtype=object), index=users["user_id"].to_numpy())
        of_author = _lookup(comments["item_id"].map(author).dropna().astype("int64"), person)
        same = comments["user_id"].map(person).reindex(comments.index).to_numpy() == \
            of_author.reindex(comments.index).to_numpy()
        comments = comments[~same]
        firsts = comments["created_at"].groupby(comments["item_id"].to_numpy()).min()
        return firsts.astype(_UTC_DTYPE)  # a datetime Series even when there is no comment at all


    @cached_property
    def activity(self) -> pd.DataFrame:
        """The rows of `activity`, in table order, plus parsed columns for the other writers:
        `at_utc` (datetime), `week_at` and `month_at` (local period starts)."""
        items, comments, users = self.items, self.comments, self.users
        kind = np.concatenate([np.where(items["is_pull_request"].to_numpy() != 0, 2, 1),
                               np.zeros(len(comments), dtype="int64")])
        source_id = np.concatenate([items["id"].to_numpy(), comments["id"].to_numpy()])
        at_utc = np.concatenate([items["created_at"].to_numpy(dtype="datetime64[ns]"),
                                 comments["created_at"].to_numpy(dtype="datetime64[ns]")])
        # the stored order: by time (missing last), kind, id (stable)
        key = at_utc.view("int64").copy()
        key[np.isnat(at_utc)] = np.iinfo("int64").max
        order = np.lexsort((source_id, kind, key))

        def column(a: pd.Series, b: pd.Series) -> np.ndarray:
            parts = [p for p in (a, b) if len(p)] or [a]  # an empty part must not decide the dtype
            return pd.concat(parts, ignore_index=True).to_numpy()[order]

        act = pd.DataFrame({
            "kind": KINDS[kind[order]],
            "source_id": source_id[order],
            "user_id": column(items["user_id"], comments["user_id"]),
        })
        where = pd.Index(users["user_id"]).get_indexer(act["user_id"])
        known = where >= 0
        pick = np.maximum(where, 0)
        act["login"] = np.where(known, users["login"].to_numpy(dtype=object)[pick], None) if len(users) \
            else None
        for flag in ("is_person", "is_bot"):
            act[flag] = np.where(known, users[flag].to_numpy()[pick], 0).astype("int64") if len(users) else 0
        act["person_id"] = np.where(known, users["person_id"].to_numpy(dtype=object)[pick], None) if len(users) \
            else None
        act["org"] = np.where(known, users["org"].to_numpy(dtype=object)[pick], np.nan) if len(users) \
            else np.nan
        act["repo_id"] = column(items["repo_id"], comments["repo_id"])
        act["item_id"] = column(items["id"], comments["item_id"])
        act["at"] = column(items["created_text"], comments["created_text"])
        act["at_utc"] = at_utc[order]
        local = _local(act["at_utc"], self.config.timezone)
        act["local_date"] = _text_dates(local.dt.floor("D"))
        for period in PERIOD_KINDS:
            act[f"{period}_at"] = _period_start(local, period)
        act["week"] = _text_dates(act["week_at"])
        act["month"] = _text_dates(act["month_at"], "%Y-%m")
        return act


def _sources(db: sqlite_utils.Database, config: Config, sources: Sources | None) -> Sources:
    return sources if sources is not None else Sources(db, config)


# ---------------------------------------------------------------------------------------------
# activity


def write_activity(db: sqlite_utils.Database, config: Config, sources: Sources | None = None) -> int:
    """`activity`: one row per dated contribution in the family (issue opened, PR opened, comment).

    Everyone's, people and bots alike, flagged with `is_person` and `is_bot` (deleted accounts
    have no user: both 0). `at` is UTC; `local_date`, `week` (the Monday starting the ISO week)
    and `month` (YYYY-MM) are calendar values in the project's time zone (`config.timezone`).
    Commits (the `contributors` table) have no dates, so they are not here; reviews (people.reviewers)
    are counted in `contributors_summary` and `metrics_periodic`. Key: (`kind`, `source_id`): the item's or the comment's id.
    """
    act = _sources(db, config, sources).activity
    return _replace(db, "activity", act, ACTIVITY_COLUMNS, None,
                    # the last: the dashboards' figures count a repo's PRs in a window from the index alone
                    indexes=(["kind", "source_id"], ["user_id", "at"], ["kind", "repo_id", "local_date", "item_id"]))


def _activity(db: sqlite_utils.Database, config: Config, sources: Sources | None) -> tuple[Sources, pd.DataFrame]:
    """The sources and the activity rows; a writer called alone also writes `activity` if missing."""
    if sources is None:
        sources = Sources(db, config)
        if "activity" not in db.table_names():
            write_activity(db, config, sources)
    return sources, sources.activity


# ---------------------------------------------------------------------------------------------
# contributors_summary


def _repos_touched(touched: pd.DataFrame) -> pd.DataFrame:
    """Per user_id (rows sorted by user_id, full_name): repos touched, and their names joined."""
    users = touched["user_id"].to_numpy()
    names = touched["full_name"].to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.array([], dtype=int)
    ends = np.r_[starts[1:], len(users)]
    joined = [", ".join(n for n in names[a:b] if isinstance(n, str)) for a, b in zip(starts.tolist(), ends.tolist())]
    return pd.DataFrame({"repos_touched": ends - starts, "repos": joined},
                        index=pd.Index(users[starts], name="user_id"))


def write_contributors(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS,
                       newcomer_days: int = NEWCOMER_DAYS, sources: Sources | None = None) -> int:
    """`contributors_summary`: one row per person who contributed to the family in any way.

    first/last contribution (UTC) come from dated contributions (issues, PRs, comments, reviews of
    others' PRs: people.reviewers); counts by kind, commits from the `contributors` table (all family
    repos added up); repos touched counts repos with any of these, commits included. `newcomer`: first
    dated contribution within `newcomer_days` (30) before the data's end. `inactive`: last dated
    contribution more than `inactive_days` (90) before the data's end. First PR: the person's
    earliest PR in the family, whether it got a first response (a comment by someone else who is
    not a bot) and after how many hours. `merged_prs`: the person's PRs merged.
    Commit-only people have no dates: newcomer and inactive are NULL for them.
    """
    sources, act = _activity(db, config, sources)
    users = sources.users
    people = users[users["is_person"] == 1]
    act = act.loc[act["is_person"].to_numpy() == 1, ["kind", "user_id", "repo_id", "at_utc"]] \
        .rename(columns={"at_utc": "at"})
    commits = _query(db, f"""SELECT repo_id, user_id, contributions FROM contributors
                            WHERE repo_id IN ({FAMILY_REPOS})""")
    commits = commits[commits["user_id"].isin(people["user_id"])]
    reviews = sources.reviews[sources.reviews["user_id"].isin(people["user_id"])]
    repo_names = _query(db, "SELECT id AS repo_id, full_name FROM repos")

    dated = pd.concat([act[["user_id", "at"]], reviews[["user_id", "at"]]]) if len(reviews) else act
    by_user = dated.groupby("user_id")["at"].agg(["min", "max"])
    kinds = act.groupby(["user_id", "kind"]).size().unstack(fill_value=0)
    touched = pd.concat([act[["user_id", "repo_id"]], commits[["user_id", "repo_id"]],
                         reviews[["user_id", "repo_id"]]]).drop_duplicates()
    touched = touched.merge(repo_names, on="repo_id", how="left").sort_values(["user_id", "full_name"])
    repos = _repos_touched(touched)
    out = people[["user_id", "login", "company", "person_id"]].set_index("user_id")
    out = out[out.index.isin(touched["user_id"])].copy()
    if out.empty:
        return _replace(db, "contributors_summary", pd.DataFrame(), CONTRIBUTOR_COLUMNS, "user_id")
    out["first_contribution_at"] = by_user["min"]
    out["last_contribution_at"] = by_user["max"]
    for kind, column in (("issue", "issues"), ("pr", "prs"), ("comment", "comments")):
        out[column] = kinds[kind] if kind in kinds else 0
    out["commits"] = commits.groupby("user_id")["contributions"].sum()
    out["reviews"] = reviews.groupby("user_id").size()
    counted = ["issues", "prs", "comments", "commits", "reviews"]
    out[counted] = out[counted].fillna(0)
    out["dated_contributions"] = out["issues"] + out["prs"] + out["comments"] + out["reviews"]
    out = out.join(repos)

    end = sources.end
    end = pd.Timestamp(end.rstrip("Z")) if end else None
    first, last = out["first_contribution_at"], out["last_contribution_at"]
    if end is not None:
        out["newcomer"] = (first >= end - pd.Timedelta(days=newcomer_days)).astype("float").where(first.notna())
        out["inactive"] = (end - last > pd.Timedelta(days=inactive_days)).astype("float").where(last.notna())
    else:
        out["newcomer"] = out["inactive"] = np.nan

    items = sources.items
    prs = items.loc[(items["is_pull_request"] == 1) & items["user_id"].isin(out.index),
                    ["id", "user_id", "created_at", "merged_at"]]
    responses = sources.first_responses
    first_pr = prs.sort_values(["user_id", "created_at", "id"]).drop_duplicates("user_id").set_index("user_id")
    responded = _lookup(first_pr["id"], responses)
    out["first_pr_id"] = first_pr["id"]
    out["first_pr_created_at"] = first_pr["created_at"]
    out["first_pr_responded"] = responded.notna().astype("int64")
    out.loc[~out.index.isin(first_pr.index), "first_pr_responded"] = np.nan
    out["first_pr_response_hours"] = (responded - first_pr["created_at"]) / pd.Timedelta(hours=1)
    out["merged_prs"] = prs[prs["merged_at"].notna()].groupby("user_id").size()
    out["merged_prs"] = out["merged_prs"].fillna(0)

    for column in ("first_contribution_at", "last_contribution_at", "first_pr_created_at"):
        out[column] = _text_dates(out[column], TIME_FORMAT).to_numpy()
    out = out.reset_index().sort_values("user_id", ignore_index=True)
    return _replace(db, "contributors_summary", out, CONTRIBUTOR_COLUMNS, "user_id")


# ---------------------------------------------------------------------------------------------
# metrics_periodic


KEYS = ["scope", "period_start"]


def _scoped(frame: pd.DataFrame, count) -> pd.Series | pd.DataFrame:
    """`count(frame, scope)` for each repo (scope = repo id) and for the family (scope = 0), stacked.

    The family scope groups the same rows under a constant key: no copy of the data."""
    repo = pd.Series(frame["repo_id"].to_numpy(), index=frame.index, name="scope")
    family = pd.Series(np.zeros(len(frame), dtype="int64"), index=frame.index, name="scope")
    return pd.concat([count(frame, repo), count(frame, family)])


def _by_period(frame: pd.DataFrame, period: str, values=None, how: str = "size") -> pd.Series:
    """Per (scope, period): `how` of `values` (rows of `frame` when None), grouped by `frame[period]`."""
    def count(f, scope):
        grouped = (f if values is None else values).groupby([scope, f[period].rename("period_start")])
        return grouped.size() if values is None else grouped.agg(how)
    return _scoped(frame, count).rename_axis(KEYS)


def _fewest_for_half(counts: pd.DataFrame, who: str) -> pd.Series:
    """Per (scope, period): the fewest `who` (people, organisations) making >= 50% of the rows."""
    n = _scoped(counts, lambda f, scope: f.groupby([scope, f["period_start"], f[who]]).size())
    return fewest_for_half(n.rename_axis(KEYS + [who]).rename("n").reset_index(), KEYS, who, "n")


def _open_issue_age(issues: pd.DataFrame, grid: pd.DataFrame, end_local: pd.Timestamp) -> pd.DataFrame:
    """Per grid row (scope, period): open issues at the period's end (or the data's end if
    sooner) and their median age in days. One pass per scope over its periods, on sorted arrays
    (the family scope: all the issues)."""
    rows = []
    by_scope = {scope: frame for scope, frame in issues.groupby("repo_id")}
    by_scope[0] = issues
    for scope, periods in grid.groupby("scope"):
        ends = np.minimum(periods["period_end"].to_numpy(dtype="datetime64[ns]"),
                          np.datetime64(end_local.to_datetime64(), "ns")).view("int64")
        frame = by_scope.get(scope)
        if frame is None or frame.empty:
            rows.append(pd.DataFrame({"scope": scope, "period_start": periods["period_start"].to_numpy(),
                                      "open_issues": 0, "open_issue_age_median_days": np.nan}))
            continue
        frame = frame.sort_values("created_local")
        created = frame["created_local"].to_numpy(dtype="datetime64[ns]").view("int64")
        closed = frame["closed_local"].to_numpy(dtype="datetime64[ns]").view("int64").copy()
        closed[frame["closed_local"].isna().to_numpy()] = np.iinfo("int64").max
        counts, medians = [], []
        for end in ends:
            k = np.searchsorted(created, end, side="right")  # created at or before the end
            still = closed[:k] > end  # and not closed by then
            ages = (end - created[:k][still]) / 86_400e9
            counts.append(len(ages))
            medians.append(float(np.median(ages)) if len(ages) else np.nan)
        rows.append(pd.DataFrame({"scope": scope, "period_start": periods["period_start"].to_numpy(),
                                  "open_issues": counts, "open_issue_age_median_days": medians}))
    if not rows:
        return pd.DataFrame(columns=["scope", "period_start", "open_issues", "open_issue_age_median_days"])
    return pd.concat(rows, ignore_index=True)


def _periodic_kind(kind: str, act: pd.DataFrame, items: pd.DataFrame, scopes: dict,
                   end_utc: pd.Timestamp, end_local: pd.Timestamp, inactive_days: int) -> pd.DataFrame:
    """metrics_periodic rows of one period kind, for every scope (each repo, and the family)."""
    keys = KEYS
    act = act[["person_id", "is_person", "is_bot", "repo_id", "at", "org", f"{kind}_at"]].rename(
        columns={f"{kind}_at": "period_start"})

    first_period = pd.concat([pd.Series({0: act["period_start"].min()}),
                              act.groupby("repo_id")["period_start"].min()]).rename_axis("scope")
    last = _period_start(pd.Series([end_local]), kind).iloc[0]
    all_periods = pd.date_range(first_period.min(), last, freq="W-MON" if kind == "week" else "MS")
    grid = pd.DataFrame({"period_start": all_periods}).merge(first_period.rename("first").reset_index(), how="cross")
    grid = grid[grid["period_start"] >= grid["first"]][keys].sort_values(keys, ignore_index=True)
    grid["period_end"] = _period_end(grid["period_start"], kind)
    out = grid.set_index(keys)

    people = act[act["is_person"].to_numpy() == 1]
    out["contributors"] = _scoped(people, lambda f, scope: f.groupby([scope, f["period_start"]])["person_id"]
                                  .nunique()).rename_axis(keys)
    firsts = _scoped(people, lambda f, scope: f.groupby([scope, f["person_id"]]).agg(
        period_start=("period_start", "min"), last_period=("period_start", "max"), last_at=("at", "max")))
    firsts = firsts.rename_axis(["scope", "person_id"]).reset_index()
    out["new_contributors"] = firsts.groupby(["scope", "period_start"]).size()
    gone = firsts[end_utc - firsts["last_at"] > pd.Timedelta(days=inactive_days)]
    out["inactive_contributors"] = gone.groupby(["scope", "last_period"]).size().rename_axis(keys)
    out["contributor_absence_factor"] = _fewest_for_half(people, "person_id")
    affiliated = people[people["org"].notna()]
    out["elephant_factor"] = _fewest_for_half(affiliated, "org") if len(affiliated) else np.nan
    # organisational diversity (CHAOSS), as affiliations.organisational_diversity defines it
    out["organisations"] = _scoped(affiliated, lambda f, scope: f.groupby([scope, f["period_start"]])["org"]
                                   .nunique()).rename_axis(keys)
    by_org = _scoped(affiliated, lambda f, scope: f.groupby([scope, f["period_start"], f["org"]]).size())
    by_org = by_org.rename_axis(keys + ["org"]).groupby(level=keys)
    out["largest_organisation_share"] = by_org.max() / by_org.sum()
    in_periods = _by_period(people, "period_start")
    out["unaffiliated_share"] = 1 - _by_period(affiliated, "period_start").reindex(in_periods.index, fill_value=0) \
        / in_periods
    out["bot_activity"] = _by_period(act[act["is_bot"].to_numpy() == 1], "period_start")

    pr_flag = items["is_pull_request"].to_numpy()
    issues, prs = items[pr_flag == 0], items[pr_flag == 1]
    out["issues_opened"] = _by_period(issues, f"created_{kind}")
    out["prs_opened"] = _by_period(prs, f"created_{kind}")
    closed_issues = issues[issues["closed_at"].notna()]
    closed_prs = prs[prs["closed_at"].notna()]
    out["issues_closed"] = _by_period(closed_issues, f"closed_{kind}")
    out["prs_closed"] = _by_period(closed_prs, f"closed_{kind}")
    merged = prs[prs["merged_at"].notna()]
    out["prs_merged"] = _by_period(merged, f"merged_{kind}")
    out["proposals"] = _by_period(prs[prs["pr_kind"].to_numpy() == "proposal"], f"created_{kind}")
    for name, pr_kind in (("accepted_proposals", "proposal"), ("release_merges", "release")):
        out[name] = _by_period(merged[merged["pr_kind"].to_numpy() == pr_kind], f"merged_{kind}")
    flag = closed_prs["merged_at"].notna()
    accepted = _scoped(closed_prs, lambda f, scope: flag.groupby([scope, f[f"closed_{kind}"]]).agg(["sum", "size"]))
    accepted.index.names = keys
    rejected = accepted["size"] - accepted["sum"]
    out["change_request_acceptance_ratio"] = (accepted["sum"] / rejected).where(rejected > 0)
    hours = (merged["merged_at"] - merged["created_at"]) / pd.Timedelta(hours=1)
    out["change_request_duration_median_hours"] = _by_period(merged, f"created_{kind}", hours, "median")
    for frame, name in ((issues, "issues"), (prs, "prs")):
        wait = (frame["first_response_at"] - frame["created_at"]) / pd.Timedelta(hours=1)
        out[f"first_response_{name}_median_hours"] = _by_period(frame, f"created_{kind}", wait, "median")
        out[f"unanswered_{name}"] = _by_period(frame, f"created_{kind}", wait.isna(), "sum")
    out["reviews_per_merged_pr"] = _by_period(merged, f"merged_{kind}", merged["reviews"], "mean")
    wait = (prs["first_review_at"] - prs["created_at"]) / pd.Timedelta(hours=1)
    out["time_to_first_review_median_hours"] = _by_period(prs, f"created_{kind}", wait, "median")
    closed_items = items[items["closed_at"].notna()]
    to_close = (closed_items["closed_at"] - closed_items["created_at"]) / pd.Timedelta(hours=1)
    out["time_to_close_median_hours"] = _by_period(closed_items, f"closed_{kind}", to_close, "median")
    age = _open_issue_age(issues[["repo_id", "created_local", "closed_local"]], grid, end_local)
    out = out.join(age.set_index(keys))

    out = out.reset_index()
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].fillna(0)
    out["contributor_absence_factor"] = out["contributor_absence_factor"].where(out["contributors"] > 0)
    out["returning_contributors"] = out["contributors"] - out["new_contributors"]
    out["repo_id"] = out["scope"].where(out["scope"] != 0)
    out["scope"] = out["scope"].map(scopes)
    out["period_kind"] = kind
    return out


def write_periodic(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS,
                   sources: Sources | None = None) -> int:
    """`metrics_periodic`: one row per (scope, period_kind, period_start).

    scope: each family repo's full_name, and `family` (all family repos together); period_kind:
    `week` (Monday to Sunday) or `month`, calendar periods in the project's time zone, from the
    scope's first dated activity to the data's end. Definitions: docs/metrics.md.
    """
    zone = config.timezone
    sources, act = _activity(db, config, sources)
    end = sources.end
    if act.empty or end is None:
        return _replace(db, "metrics_periodic", pd.DataFrame(), PERIODIC_COLUMNS,
                        ("scope", "period_kind", "period_start"))
    users = sources.users
    act = act[["person_id", "is_person", "is_bot", "repo_id", "at_utc", "org", "week_at", "month_at"]] \
        .rename(columns={"at_utc": "at"})
    codes = pd.factorize(act["org"])[0]  # organisations as numbers: smaller, faster groupby
    act["org"] = pd.Series(codes, index=act.index).where(codes >= 0)
    act["person_id"] = pd.factorize(act["person_id"])[0]  # persons too (-1: no account, never a person)
    items = sources.items[["id", "repo_id", "is_pull_request", "user_id", "created_at", "closed_at", "merged_at",
                           "pr_kind"]]
    items = review_columns(items.assign(first_response_at=_lookup(items["id"], sources.first_responses)),
                           sources.reviews)
    bots = users.loc[users["is_bot"] == 1, "user_id"]
    # items opened by automation, and automation PRs whoever opened them, are bot activity, not counted here
    items = items[~items["user_id"].isin(bots) & (items["pr_kind"] != "automation")]
    items["created_local"] = _local(items["created_at"], zone)
    items["closed_local"] = _local(items["closed_at"], zone)
    merged_local = _local(items["merged_at"], zone)
    for kind in PERIOD_KINDS:
        items[f"created_{kind}"] = _period_start(items["created_local"], kind)
        items[f"closed_{kind}"] = _period_start(items["closed_local"], kind)
        items[f"merged_{kind}"] = _period_start(merged_local, kind)
    scopes = {0: FAMILY, **dict(db.execute(f"SELECT id, full_name FROM repos WHERE id IN ({FAMILY_REPOS})").fetchall())}
    end_utc = pd.Timestamp(end.rstrip("Z"))
    end_local = _local(pd.Series([end_utc]), zone).iloc[0]
    out = pd.concat([_periodic_kind(kind, act, items, scopes, end_utc, end_local, inactive_days)
                     for kind in PERIOD_KINDS], ignore_index=True)
    out["period_start"] = _text_dates(out["period_start"]).to_numpy()
    out["period_end"] = _text_dates(out["period_end"]).to_numpy()
    out = out.sort_values(["scope", "period_kind", "period_start"], ignore_index=True)
    return _replace(db, "metrics_periodic", out, PERIODIC_COLUMNS, ("scope", "period_kind", "period_start"))


def write_contribution_metrics(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS,
                               classified: bool = False) -> dict[str, int]:
    """All contribution tables, in order, from the source tables read once (shared `Sources`);
    `classified`: `accounts` and `pr_kinds` were just written for this config (else written first)."""
    sources = Sources(db, config, classified=classified)
    counts = {
        "activity": write_activity(db, config, sources),
        "contributors_summary": write_contributors(db, config, inactive_days=inactive_days, sources=sources),
    }
    counts["metrics_periodic"] = write_periodic(db, config, inactive_days=inactive_days, sources=sources)
    return {**counts, **write_origins(db, config, sources)}  # places and affiliations: aggregates only
