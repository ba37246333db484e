"""Contribution metrics (CHAOSS): who contributes, how often, and how the project answers them.

Definitions, parameters and the SQL to check each number by hand are in docs/metrics.md.

- `write_activity` (civicbot.metrics.activity, with the `Sources` all writers share): table
  `activity`, one row per dated contribution (issue, PR, comment).
- Reviews (civicbot.metrics.reviews): counted per person and per period, not in `activity`.
- `write_contributors`: table `contributors_summary`, one row per person.
- `write_periodic` (civicbot.metrics.periodic): table `metrics_periodic`, one row per (scope,
  period_kind, period_start).
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

import numpy as np
import pandas as pd
import sqlite_utils

from civicbot.config import Config

from .activity import (
    FAMILY_REPOS,
    INACTIVE_DAYS,
    NEWCOMER_DAYS,
    TIME_FORMAT,
    Sources,
    _activity,
    _lookup,
    _query,
    _text_dates,
    write_activity,
)
from .origins import write_origins
from .periodic import write_periodic
from .tables import replace_frame as _replace

__all__ = ["write_activity", "write_contribution_metrics", "write_contributors", "write_periodic"]

CONTRIBUTOR_COLUMNS = {
    "user_id": int, "login": str, "company": str, "first_contribution_at": str, "last_contribution_at": str,
    "issues": int, "prs": int, "comments": int, "commits": int, "reviews": int, "dated_contributions": int,
    "repos_touched": int, "repos": str, "newcomer": int, "inactive": int, "first_pr_id": int,
    "first_pr_created_at": str, "first_pr_responded": int, "first_pr_response_hours": float, "merged_prs": int,
    "person_id": str,
}


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
