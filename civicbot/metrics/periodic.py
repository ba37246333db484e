"""`metrics_periodic`: one row per (scope, period_kind, period_start), each repo's and the
family's, per week and month in the project's time zone (CHAOSS counts, times and factors; see
docs/metrics.md), from the shared `Sources` (civicbot.metrics.activity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlite_utils

from civicbot.config import Config

from .activity import (
    FAMILY,
    FAMILY_REPOS,
    INACTIVE_DAYS,
    PERIOD_KINDS,
    Sources,
    _activity,
    _local,
    _lookup,
    _period_end,
    _period_start,
    _text_dates,
)
from .affiliations import fewest_for_half
from .reviews import review_columns
from .tables import replace_frame as _replace

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


def _periodic_kind(kind: str, act: pd.DataFrame, took: pd.DataFrame, items: pd.DataFrame, scopes: dict,
                   end_utc: pd.Timestamp, end_local: pd.Timestamp, inactive_days: int) -> pd.DataFrame:
    """metrics_periodic rows of one period kind, for every scope (each repo, and the family). People
    who took part (contributors, new, returning, inactive) are `took`'s, every kind of contribution;
    the absence factor and the organisations weigh the dated issues, PRs and comments of `act`."""
    keys = KEYS
    act = act[["person_id", "is_person", "is_bot", "repo_id", "at", "org", f"{kind}_at"]].rename(
        columns={f"{kind}_at": "period_start"})
    took = took[["person_id", "repo_id", "at", f"{kind}_at"]].rename(columns={f"{kind}_at": "period_start"})

    starts = pd.concat([act[["repo_id", "period_start"]], took[["repo_id", "period_start"]]])
    first_period = pd.concat([pd.Series({0: starts["period_start"].min()}),
                              starts.groupby("repo_id")["period_start"].min()]).rename_axis("scope")
    last = _period_start(pd.Series([end_local]), kind).iloc[0]
    all_periods = pd.date_range(first_period.min(), last, freq="W-MON" if kind == "week" else "MS")
    grid = pd.DataFrame({"period_start": all_periods}).merge(first_period.rename("first").reset_index(), how="cross")
    grid = grid[grid["period_start"] >= grid["first"]][keys].sort_values(keys, ignore_index=True)
    grid["period_end"] = _period_end(grid["period_start"], kind)
    out = grid.set_index(keys)

    people = act[act["is_person"].to_numpy() == 1]
    out["contributors"] = _scoped(took, lambda f, scope: f.groupby([scope, f["period_start"]])["person_id"]
                                  .nunique()).rename_axis(keys)
    firsts = _scoped(took, lambda f, scope: f.groupby([scope, f["person_id"]]).agg(
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
    took = sources.took_part
    took = took.assign(person_id=pd.factorize(took["person_id"].to_numpy())[0])  # as numbers: faster groupby
    took = took[took["at"] <= end_utc]  # periods end at the data's end, as for `act`
    out = pd.concat([_periodic_kind(kind, act, took, items, scopes, end_utc, end_local, inactive_days)
                     for kind in PERIOD_KINDS], ignore_index=True)
    out["period_start"] = _text_dates(out["period_start"]).to_numpy()
    out["period_end"] = _text_dates(out["period_end"]).to_numpy()
    out = out.sort_values(["scope", "period_kind", "period_start"], ignore_index=True)
    return _replace(db, "metrics_periodic", out, PERIODIC_COLUMNS, ("scope", "period_kind", "period_start"))
