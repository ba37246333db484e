"""Contribution metrics (CHAOSS): who contributes, how often, and how the project answers them.

Definitions, parameters and the SQL to check each number by hand are in docs/metrics.md.

- `write_activity`: table `activity`, one row per dated contribution (issue, PR, comment).
- `write_contributors`: table `contributors_summary`, one row per person.
- `write_periodic`: table `metrics_periodic`, one row per (scope, period_kind, period_start).
- `write_contribution_metrics`: all three, in order.

People are users with `is_bot = 0`, `type = 'User'` and a login that is not one of the config's
placeholders (logins standing for unknown authors). Bots are counted apart (`bot_activity`) and
never mixed into people's figures; items opened by bots are left out of the item counts too.
Each table is replaced in one transaction and created even when empty; running a function twice
gives identical tables. Everything is vectorised pandas: one SQL query per source table, no loop
over items (the only loops are over scopes and periods, for the open issue age).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
import sqlite_utils

from civicbot.config import Config

INACTIVE_DAYS = 90
NEWCOMER_DAYS = 30
BATCH = 50_000
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
FAMILY = "family"
PERIOD_KINDS = ("week", "month")

ACTIVITY_COLUMNS = {
    "kind": str, "source_id": int, "user_id": int, "login": str, "is_person": int, "is_bot": int,
    "repo_id": int, "item_id": int, "at": str, "local_date": str, "week": str, "month": str,
}
CONTRIBUTOR_COLUMNS = {
    "user_id": int, "login": str, "company": str, "first_contribution_at": str, "last_contribution_at": str,
    "issues": int, "prs": int, "comments": int, "commits": int, "reviews": int, "dated_contributions": int,
    "repos_touched": int, "repos": str, "newcomer": int, "inactive": int, "first_pr_id": int,
    "first_pr_created_at": str, "first_pr_responded": int, "first_pr_response_hours": float, "merged_prs": int,
}
PERIODIC_COLUMNS = {
    "scope": str, "repo_id": int, "period_kind": str, "period_start": str, "period_end": str,
    "contributors": int, "new_contributors": int, "returning_contributors": int, "inactive_contributors": int,
    "issues_opened": int, "issues_closed": int, "prs_opened": int, "prs_closed": int, "prs_merged": int,
    "change_request_acceptance_ratio": float, "change_request_duration_median_hours": float,
    "first_response_issues_median_hours": float, "unanswered_issues": int,
    "first_response_prs_median_hours": float, "unanswered_prs": int,
    "time_to_close_median_hours": float, "open_issues": int, "open_issue_age_median_days": float,
    "contributor_absence_factor": int, "elephant_factor": int, "bot_activity": int,
}
COUNT_COLUMNS = ["contributors", "new_contributors", "inactive_contributors", "issues_opened", "issues_closed",
                 "prs_opened", "prs_closed", "prs_merged", "unanswered_issues", "unanswered_prs", "open_issues",
                 "bot_activity"]

FAMILY_REPOS = "SELECT DISTINCT repo_id FROM discoveries"


# ---------------------------------------------------------------------------------------------
# Writing


def _tuples(frame: pd.DataFrame, columns: dict) -> Iterator[tuple]:
    """Rows of `frame` as tuples of plain Python values (NaN/NaT -> None), batch by batch."""
    for start in range(0, len(frame), BATCH):
        chunk = frame.iloc[start:start + BATCH]
        values = []
        for name, kind in columns.items():
            col = chunk[name]
            if kind is int:
                values.append([None if v != v else int(v) for v in col.tolist()] if col.hasnans
                              else [int(v) for v in col.tolist()])
            elif kind is float:
                values.append([None if v != v else float(v) for v in col.tolist()])
            else:
                values.append([v if isinstance(v, str) else None for v in col.tolist()])
        yield from zip(*values)


def _replace(db: sqlite_utils.Database, table: str, frame: pd.DataFrame, columns: dict, pk,
             indexes: tuple = ()) -> int:
    """Replace a metrics table with the rows of `frame` in one transaction (created even when empty).

    The table is created by sqlite-utils; rows go in through one prepared INSERT run over batches
    of plain tuples (sqlite-utils' insert_all builds a dict and a JSON check per value, ten times
    slower on the millions of activity rows). `indexes` (lists of columns) are built after the rows.
    """
    names = list(columns)
    sql = f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in names)}) VALUES ({', '.join('?' * len(names))})"
    with db.atomic():
        db[table].drop(ignore=True)
        db[table].create(columns, pk=pk)
        if len(frame):
            db.conn.executemany(sql, _tuples(frame, columns))
        for index in indexes:
            db[table].create_index(index, unique=index == ["kind", "source_id"])
    return len(frame)


# ---------------------------------------------------------------------------------------------
# Reading and time


def _query(db: sqlite_utils.Database, sql: str, params=()) -> pd.DataFrame:
    return pd.read_sql_query(sql, db.conn, params=params)


def _utc(text: pd.Series) -> pd.Series:
    """Stored UTC text -> naive datetime64 (UTC); NULL -> NaT."""
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
    """The data's end: the latest item creation, close or merge, or comment, in the family (UTC)."""
    return db.execute(f"""SELECT max(t) FROM (
        SELECT max(created_at) AS t FROM items WHERE repo_id IN ({FAMILY_REPOS})
        UNION ALL SELECT max(closed_at) FROM items WHERE repo_id IN ({FAMILY_REPOS})
        UNION ALL SELECT max(merged_at) FROM items WHERE repo_id IN ({FAMILY_REPOS})
        UNION ALL SELECT max(created_at) FROM comments WHERE repo_id IN ({FAMILY_REPOS}))""").fetchone()[0]


def _users(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    users = _query(db, "SELECT id AS user_id, login, type, is_bot, company FROM users")
    placeholders = {p.lower() for p in getattr(config, "placeholders", None) or []}
    users["is_bot"] = users["is_bot"].fillna(0).astype("int64")
    users["is_person"] = ((users["is_bot"] == 0) & (users["type"] == "User")
                          & ~users["login"].str.lower().isin(placeholders)).astype("int64")
    company = users["company"].fillna("").str.strip().str.lstrip("@").str.strip().str.casefold()
    users["org"] = company.where(company != "")
    return users


def _items(db: sqlite_utils.Database) -> pd.DataFrame:
    items = _query(db, f"""SELECT id, repo_id, is_pull_request, user_id, created_at, closed_at, merged_at
                          FROM items WHERE repo_id IN ({FAMILY_REPOS})""")
    for column in ("created_at", "closed_at", "merged_at"):
        items[column] = _utc(items[column])
    items["is_pull_request"] = items["is_pull_request"].fillna(0).astype("int64")
    return items


def _first_responses(db: sqlite_utils.Database, items: pd.DataFrame, users: pd.DataFrame) -> pd.Series:
    """Per item id: when someone other than its author, and not a bot, first commented (UTC)."""
    comments = _query(db, f"""SELECT item_id, user_id, created_at FROM comments
                             WHERE item_id IS NOT NULL AND user_id IS NOT NULL AND repo_id IN ({FAMILY_REPOS})""")
    human = users.loc[users["is_bot"] == 0, "user_id"]
    comments = comments[comments["user_id"].isin(human)]
    author = items.set_index("id")["user_id"]
    comments = comments[comments["user_id"].to_numpy() != comments["item_id"].map(author).to_numpy()]
    return _utc(comments["created_at"]).groupby(comments["item_id"].to_numpy()).min()


# ---------------------------------------------------------------------------------------------
# activity


def write_activity(db: sqlite_utils.Database, config: Config) -> int:
    """`activity`: one row per dated contribution in the family (issue opened, PR opened, comment).

    Everyone's, people and bots alike, flagged with `is_person` and `is_bot` (deleted accounts
    have no user: both 0). `at` is UTC; `local_date`, `week` (the Monday starting the ISO week)
    and `month` (YYYY-MM) are calendar values in the project's time zone (`config.timezone`).
    Commits (the `contributors` table) have no dates, so they are not here; reviews are not
    harvested. Key: (`kind`, `source_id`): the item's or the comment's id.
    """
    users = _users(db, config)
    items = _query(db, f"""SELECT CASE WHEN is_pull_request THEN 'pr' ELSE 'issue' END AS kind, id AS source_id,
                                  user_id, repo_id, id AS item_id, created_at AS at
                           FROM items WHERE repo_id IN ({FAMILY_REPOS})""")
    comments = _query(db, f"""SELECT 'comment' AS kind, id AS source_id, user_id, repo_id, item_id, created_at AS at
                              FROM comments WHERE repo_id IN ({FAMILY_REPOS})""")
    act = pd.concat([items, comments], ignore_index=True)
    act = act.merge(users[["user_id", "login", "is_person", "is_bot"]], on="user_id", how="left")
    act["is_person"] = act["is_person"].fillna(0).astype("int64")
    act["is_bot"] = act["is_bot"].fillna(0).astype("int64")
    act = act.sort_values(["at", "kind", "source_id"], kind="stable", ignore_index=True)
    local = _local(_utc(act["at"]), config.timezone)
    act["local_date"] = _text_dates(local.dt.floor("D"))
    act["week"] = _text_dates(_period_start(local, "week"))
    act["month"] = _text_dates(_period_start(local, "month"), "%Y-%m")
    return _replace(db, "activity", act, ACTIVITY_COLUMNS, None,
                    indexes=(["kind", "source_id"], ["user_id", "at"]))


def _read_activity(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    if "activity" not in db.table_names():
        write_activity(db, config)
    act = _query(db, "SELECT kind, user_id, is_person, is_bot, repo_id, at FROM activity")
    act["at"] = _utc(act["at"])
    return act


# ---------------------------------------------------------------------------------------------
# contributors_summary


def write_contributors(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS,
                       newcomer_days: int = NEWCOMER_DAYS) -> int:
    """`contributors_summary`: one row per person who contributed to the family in any way.

    first/last contribution (UTC) come from dated contributions (issues, PRs, comments); counts by
    kind, commits from the `contributors` table (all family repos added up; reviews: 0, not
    harvested); repos touched counts repos with any of these, commits included. `newcomer`: first
    dated contribution within `newcomer_days` (30) before the data's end. `inactive`: last dated
    contribution more than `inactive_days` (90) before the data's end. First PR: the person's
    earliest PR in the family, whether it got a first response (a comment by someone else who is
    not a bot) and after how many hours. `merged_prs`: the person's PRs merged.
    Commit-only people have no dates: newcomer and inactive are NULL for them.
    """
    users = _users(db, config)
    people = users[users["is_person"] == 1]
    act = _read_activity(db, config)
    act = act[act["is_person"] == 1]
    commits = _query(db, f"""SELECT repo_id, user_id, contributions FROM contributors
                            WHERE repo_id IN ({FAMILY_REPOS})""")
    commits = commits[commits["user_id"].isin(people["user_id"])]
    repo_names = _query(db, "SELECT id AS repo_id, full_name FROM repos")

    by_user = act.groupby("user_id")["at"].agg(["min", "max"])
    kinds = act.groupby(["user_id", "kind"]).size().unstack(fill_value=0)
    touched = pd.concat([act[["user_id", "repo_id"]], commits[["user_id", "repo_id"]]]).drop_duplicates()
    touched = touched.merge(repo_names, on="repo_id", how="left").sort_values(["user_id", "full_name"])
    repos = touched.groupby("user_id").agg(repos_touched=("repo_id", "size"),
                                           repos=("full_name", lambda s: ", ".join(s.dropna())))
    out = people[["user_id", "login", "company"]].set_index("user_id")
    out = out[out.index.isin(touched["user_id"])].copy()
    if out.empty:
        return _replace(db, "contributors_summary", pd.DataFrame(), CONTRIBUTOR_COLUMNS, "user_id")
    out["first_contribution_at"] = by_user["min"]
    out["last_contribution_at"] = by_user["max"]
    for kind, column in (("issue", "issues"), ("pr", "prs"), ("comment", "comments")):
        out[column] = kinds[kind] if kind in kinds else 0
    out["commits"] = commits.groupby("user_id")["contributions"].sum()
    out[["issues", "prs", "comments", "commits"]] = out[["issues", "prs", "comments", "commits"]].fillna(0)
    out["reviews"] = 0
    out["dated_contributions"] = out["issues"] + out["prs"] + out["comments"]
    out = out.join(repos)

    end = data_end(db)
    end = pd.Timestamp(end.rstrip("Z")) if end else None
    first, last = out["first_contribution_at"], out["last_contribution_at"]
    if end is not None:
        out["newcomer"] = (first >= end - pd.Timedelta(days=newcomer_days)).astype("float").where(first.notna())
        out["inactive"] = (end - last > pd.Timedelta(days=inactive_days)).astype("float").where(last.notna())
    else:
        out["newcomer"] = out["inactive"] = np.nan

    items = _items(db)
    prs = items[(items["is_pull_request"] == 1) & items["user_id"].isin(out.index)]
    responses = _first_responses(db, items[items["is_pull_request"] == 1], users)
    first_pr = prs.sort_values(["user_id", "created_at", "id"]).drop_duplicates("user_id").set_index("user_id")
    responded = first_pr["id"].map(responses)
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


def _fewest_for_half(counts: pd.DataFrame, keys: list[str], who: str) -> pd.Series:
    """Per group of `keys`: the fewest `who` (people, organisations) making >= 50% of the rows."""
    n = counts.groupby(keys + [who]).size().rename("n").reset_index()
    n = n.sort_values(keys + ["n", who], ascending=[True] * len(keys) + [False, True], kind="stable")
    grouped = n.groupby(keys, sort=False)["n"]
    n["cum"] = grouped.cumsum()
    n["total"] = grouped.transform("sum")
    n["rank"] = n.groupby(keys, sort=False).cumcount() + 1
    return n[2 * n["cum"] >= n["total"]].groupby(keys)["rank"].min()


def _open_issue_age(issues: pd.DataFrame, grid: pd.DataFrame, end_local: pd.Timestamp) -> pd.DataFrame:
    """Per grid row (scope, period): open issues at the period's end (or the data's end if
    sooner) and their median age in days. One pass per scope over its periods, on sorted arrays."""
    rows = []
    by_scope = {scope: frame for scope, frame in issues.groupby("scope")}
    for scope, periods in grid.groupby("scope"):
        ends = np.minimum(periods["period_end"].to_numpy(dtype="datetime64[ns]"),
                          np.datetime64(end_local.to_datetime64(), "ns")).view("int64")
        frame = by_scope.get(scope)
        if frame is None:
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
    keys = ["scope", "period_start"]
    act = act[["user_id", "is_person", "is_bot", "repo_id", "at", "org", f"{kind}_at"]].rename(
        columns={f"{kind}_at": "period_start"})

    def both(frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` twice: once with scope = its repo id, once with scope = 0 (the family)."""
        return pd.concat([frame.assign(scope=frame["repo_id"]), frame.assign(scope=0)], ignore_index=True)

    acts = both(act)
    first_period = acts.groupby("scope")["period_start"].min()
    last = _period_start(pd.Series([end_local]), kind).iloc[0]
    all_periods = pd.date_range(first_period.min(), last, freq="W-MON" if kind == "week" else "MS")
    grid = pd.DataFrame({"period_start": all_periods}).merge(first_period.rename("first").reset_index(), how="cross")
    grid = grid[grid["period_start"] >= grid["first"]][keys].sort_values(keys, ignore_index=True)
    grid["period_end"] = _period_end(grid["period_start"], kind)
    out = grid.set_index(keys)

    people = acts[acts["is_person"] == 1]
    out["contributors"] = people.groupby(keys)["user_id"].nunique()
    firsts = people.groupby(["scope", "user_id"]).agg(period_start=("period_start", "min"),
                                                      last_period=("period_start", "max"), last_at=("at", "max"))
    out["new_contributors"] = firsts.groupby(["scope", "period_start"]).size()
    gone = firsts[end_utc - firsts["last_at"] > pd.Timedelta(days=inactive_days)]
    out["inactive_contributors"] = gone.groupby(["scope", "last_period"]).size().rename_axis(keys)
    out["contributor_absence_factor"] = _fewest_for_half(people, keys, "user_id")
    affiliated = people[people["org"].notna()]
    out["elephant_factor"] = _fewest_for_half(affiliated, keys, "org") if len(affiliated) else np.nan
    out["bot_activity"] = acts[acts["is_bot"] == 1].groupby(keys).size()

    its = both(items)
    issues, prs = its[its["is_pull_request"] == 0], its[its["is_pull_request"] == 1]
    opened = lambda f: f.groupby(["scope", f"created_{kind}"]).size().rename_axis(keys)  # noqa: E731
    out["issues_opened"] = opened(issues)
    out["prs_opened"] = opened(prs)
    closed_issues = issues[issues["closed_at"].notna()]
    closed_prs = prs[prs["closed_at"].notna()]
    out["issues_closed"] = closed_issues.groupby(["scope", f"closed_{kind}"]).size().rename_axis(keys)
    out["prs_closed"] = closed_prs.groupby(["scope", f"closed_{kind}"]).size().rename_axis(keys)
    merged = prs[prs["merged_at"].notna()]
    out["prs_merged"] = merged.groupby(["scope", f"merged_{kind}"]).size().rename_axis(keys)
    flag = closed_prs["merged_at"].notna()
    accepted = flag.groupby([closed_prs["scope"], closed_prs[f"closed_{kind}"]]).agg(["sum", "size"])
    accepted.index.names = keys
    rejected = accepted["size"] - accepted["sum"]
    out["change_request_acceptance_ratio"] = (accepted["sum"] / rejected).where(rejected > 0)
    hours = (merged["merged_at"] - merged["created_at"]) / pd.Timedelta(hours=1)
    out["change_request_duration_median_hours"] = hours.groupby([merged["scope"], merged[f"created_{kind}"]]).median() \
        .rename_axis(keys)
    for frame, name in ((issues, "issues"), (prs, "prs")):
        wait = (frame["first_response_at"] - frame["created_at"]) / pd.Timedelta(hours=1)
        group = [frame["scope"], frame[f"created_{kind}"]]
        out[f"first_response_{name}_median_hours"] = wait.groupby(group).median().rename_axis(keys)
        out[f"unanswered_{name}"] = wait.isna().groupby(group).sum().rename_axis(keys)
    closed_items = its[its["closed_at"].notna()]
    to_close = (closed_items["closed_at"] - closed_items["created_at"]) / pd.Timedelta(hours=1)
    out["time_to_close_median_hours"] = to_close.groupby([closed_items["scope"], closed_items[f"closed_{kind}"]]) \
        .median().rename_axis(keys)
    age = _open_issue_age(issues[["scope", "created_local", "closed_local"]], grid, end_local)
    out = out.join(age.set_index(keys))

    out = out.reset_index()
    out[COUNT_COLUMNS] = out[COUNT_COLUMNS].fillna(0)
    out["contributor_absence_factor"] = out["contributor_absence_factor"].where(out["contributors"] > 0)
    out["returning_contributors"] = out["contributors"] - out["new_contributors"]
    out["repo_id"] = out["scope"].where(out["scope"] != 0)
    out["scope"] = out["scope"].map(scopes)
    out["period_kind"] = kind
    return out


def write_periodic(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS) -> int:
    """`metrics_periodic`: one row per (scope, period_kind, period_start).

    scope: each family repo's full_name, and `family` (all family repos together); period_kind:
    `week` (Monday to Sunday) or `month`, calendar periods in the project's time zone, from the
    scope's first dated activity to the data's end. Definitions: docs/metrics.md.
    """
    zone = config.timezone
    act = _read_activity(db, config)
    end = data_end(db)
    if act.empty or end is None:
        return _replace(db, "metrics_periodic", pd.DataFrame(), PERIODIC_COLUMNS,
                        ("scope", "period_kind", "period_start"))
    users = _users(db, config)
    act = act.merge(users[["user_id", "org"]], on="user_id", how="left")
    codes = pd.factorize(act["org"])[0]  # organisations as numbers: smaller, faster groupby
    act["org"] = pd.Series(codes, index=act.index).where(codes >= 0)
    local = _local(act["at"], zone)
    for kind in PERIOD_KINDS:
        act[f"{kind}_at"] = _period_start(local, kind)
    items = _items(db)
    items["first_response_at"] = items["id"].map(_first_responses(db, items, users))
    bots = users.loc[users["is_bot"] == 1, "user_id"]
    items = items[~items["user_id"].isin(bots)]  # items opened by bots are bot activity, not counted here
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


def write_contribution_metrics(db: sqlite_utils.Database, config: Config, inactive_days: int = INACTIVE_DAYS
                               ) -> dict[str, int]:
    """All contribution tables, in order (activity first: the others read it); rows per table."""
    return {
        "activity": write_activity(db, config),
        "contributors_summary": write_contributors(db, config, inactive_days=inactive_days),
        "metrics_periodic": write_periodic(db, config, inactive_days=inactive_days),
    }
