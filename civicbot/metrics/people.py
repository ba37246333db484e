"""Who is a person, what is automation, and which PRs are proposals: defined here once (docs/metrics.md).

Every table and figure that counts people or proposals reads the two tables written here:

- `accounts`: one row per stored account with its `kind` (`person`, `automation`, `organisation`,
  `placeholder`), `is_person` and, for automation, the `reason`. A person is an account that is
  none of the others; a deleted account has no row at all (its items have no user), so it is never
  a person either.
- `pr_kinds`: one row per PR: `proposal` (a contribution), `release` (a release or sync merge
  between long-lived branches of the same repo) or `automation` (opened by an automation account,
  or from an automation branch, or with an automation title, whoever opened it).

Kinds of contribution beside issues, PRs and comments are defined here too: `reviewers(db)`, the
reviews that make their author a contributor of kind "reviewer".

Computed at metrics time from the current config, so a maintainer who confirms or overrules an
account in config (`bots.logins`, `bots.not_bots`) sees every table follow on the next run.
"""

from __future__ import annotations

import fnmatch
import re

import pandas as pd
import sqlite_utils

from civicbot.config import Config

from .tables import replace_frame

# GitHub shows the author of content whose account was deleted as this account.
GITHUB_GHOST = "ghost"

ACCOUNT_COLUMNS = {"user_id": int, "login": str, "type": str, "kind": str, "is_person": int,
                   "is_automation": int, "reason": str, "detected": int, "prs": int}
PR_KIND_COLUMNS = {"item_id": int, "repo_id": int, "user_id": int, "pr_kind": str, "reason": str}


def _globs(patterns: list[str]) -> re.Pattern | None:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns), re.IGNORECASE) if patterns else None


def _matches(values: pd.Series, pattern: re.Pattern | None, *, full: bool) -> pd.Series:
    if pattern is None:
        return pd.Series(False, index=values.index)
    test = pattern.fullmatch if full else pattern.search
    return values.map(lambda v: isinstance(v, str) and test(v) is not None).astype(bool)


def _first_match(values: pd.Series, patterns: list[str]) -> pd.Series:
    """Per value: the first regular expression found in it (case-insensitive), else None."""
    compiled = [(p, re.compile(p, re.IGNORECASE)) for p in patterns]
    return values.map(lambda v: next((p for p, c in compiled if isinstance(v, str) and c.search(v)), None))


def _prs(db: sqlite_utils.Database) -> pd.DataFrame:
    return pd.read_sql_query(
        """SELECT id AS item_id, repo_id, user_id, title, created_at, head_repo_id, head_ref, base_ref
           FROM items WHERE is_pull_request = 1""", db.conn)


def account_frame(db: sqlite_utils.Database, config: Config, prs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The `accounts` rows: each account's kind and, for automation, why (first reason that applies)."""
    users = pd.read_sql_query("SELECT id AS user_id, login, type, name, bot_reason FROM users", db.conn)
    prs = _prs(db) if prs is None else prs
    bots, detect = config.bots, config.bots.detect
    login = users["login"].fillna("").str.lower()
    listed = login.isin({x.lower() for x in bots.logins})
    overruled = login.isin({x.lower() for x in bots.not_bots})
    pattern = _first_match(users["login"], bots.patterns)

    reason = pd.Series(None, index=users.index, dtype=object)
    detected = pd.Series(False, index=users.index)

    def give(mask: pd.Series, text, is_detection: bool = False) -> None:
        nonlocal detected
        new = mask & reason.isna()
        reason[new] = text[new] if isinstance(text, pd.Series) else text
        if is_detection:
            detected = detected | new

    give(users["type"] == "Bot", "GitHub type Bot")
    give(login.str.endswith("[bot]"), "[bot] login")
    give(listed & ~overruled, "listed in bots.logins")
    give(pattern.notna() & ~overruled, "login matches bots.patterns " + pattern.fillna("").astype(str))
    if detect.enabled:
        by_name = _first_match(users["login"], detect.name_patterns)
        by_name = by_name.fillna(_first_match(users["name"], detect.name_patterns))
        give(by_name.notna() & ~overruled, "name matches " + by_name.fillna("").astype(str), True)
        for why in _behaviour(prs, config):
            mask = users["user_id"].isin(why.index)
            give(mask & ~overruled, users["user_id"].map(why), True)

    placeholders = {p.lower() for p in config.placeholders} | {GITHUB_GHOST}
    kind = pd.Series("person", index=users.index, dtype=object)
    kind[login.isin(placeholders)] = "placeholder"
    kind[users["type"] == "Organization"] = "organisation"
    kind[reason.notna()] = "automation"
    counts = prs.groupby("user_id").size()
    return pd.DataFrame({
        "user_id": users["user_id"], "login": users["login"], "type": users["type"], "kind": kind,
        "is_person": (kind == "person").astype("int64"), "is_automation": reason.notna().astype("int64"),
        "reason": reason, "detected": detected.astype("int64"),
        "prs": users["user_id"].map(counts).fillna(0).astype("int64"),
    }).sort_values("user_id", ignore_index=True)


def _behaviour(prs: pd.DataFrame, config: Config) -> list[pd.Series]:
    """Per user id, reasons from how an account opens PRs: mostly from automation branches, or at
    the same minute past the hour (a scheduled job). Only accounts with at least `min_prs` PRs."""
    detect = config.bots.detect
    prs = prs[prs["user_id"].notna()]
    total = prs.groupby("user_id").size()
    enough = total[total >= detect.min_prs].index
    prs = prs[prs["user_id"].isin(enough)]
    if prs.empty:
        return []
    total = total.loc[enough]
    from_branch = _matches(prs["head_ref"], _globs(config.bots.branch_patterns), full=True)
    branch = from_branch.groupby(prs["user_id"]).sum().reindex(total.index, fill_value=0)
    by_branch = branch[branch >= detect.branch_share * total]
    minute = prs["created_at"].str.slice(14, 16)
    top = minute.groupby(prs["user_id"]).agg(lambda m: m.value_counts().sort_index().idxmax())
    same = (minute == prs["user_id"].map(top)).groupby(prs["user_id"]).sum()
    regular = same[same >= detect.same_minute_share * total.reindex(same.index)]
    return [
        pd.Series({u: f"{int(branch[u])} of {int(total[u])} PRs from automation branches" for u in by_branch.index},
                  dtype=object),
        pd.Series({u: f"{int(same[u])} of {int(total[u])} PRs opened at :{top[u]} past the hour"
                   for u in regular.index}, dtype=object),
    ]


def pr_kind_frame(prs: pd.DataFrame, accounts: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The `pr_kinds` rows: automation first (whoever opened it), then release merges, else proposals."""
    reason = pd.Series(None, index=prs.index, dtype=object)

    def give(mask: pd.Series, text) -> None:
        new = mask & reason.isna()
        reason[new] = text[new] if isinstance(text, pd.Series) else text

    automation = accounts.loc[accounts["is_automation"] == 1].set_index("user_id")["login"]
    author = prs["user_id"].map(automation)
    give(author.notna(), "opened by automation account " + author.fillna("").astype(str))
    give(_matches(prs["head_ref"], _globs(config.bots.branch_patterns), full=True),
         "automation branch " + prs["head_ref"].fillna("").astype(str))
    title = _first_match(prs["title"], config.bots.title_patterns)
    give(title.notna(), "title matches " + title.fillna("").astype(str))
    is_automation = reason.notna()
    releases = config.releases
    same_repo = prs["head_repo_id"].notna() & (prs["head_repo_id"] == prs["repo_id"])
    give(same_repo & _matches(prs["head_ref"], _globs(releases.long_lived_branches), full=True),
         "merge of long-lived branch " + prs["head_ref"].fillna("").astype(str) + " inside the repo")
    give(_matches(prs["base_ref"], _globs(releases.base_branches), full=True),
         "into release branch " + prs["base_ref"].fillna("").astype(str))
    kind = pd.Series("proposal", index=prs.index, dtype=object)
    kind[reason.notna()] = "release"
    kind[is_automation] = "automation"
    return pd.DataFrame({"item_id": prs["item_id"], "repo_id": prs["repo_id"], "user_id": prs["user_id"],
                         "pr_kind": kind, "reason": reason}).sort_values("item_id", ignore_index=True)


def write_classification(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """`accounts` and `pr_kinds`, from the store and the current config (both replaced)."""
    prs = _prs(db)
    accounts = account_frame(db, config, prs)
    kinds = pr_kind_frame(prs, accounts, config)
    return {"accounts": replace_frame(db, "accounts", accounts, ACCOUNT_COLUMNS, "user_id", indexes=(["kind"],)),
            "pr_kinds": replace_frame(db, "pr_kinds", kinds, PR_KIND_COLUMNS, "item_id",
                                      indexes=(["repo_id", "pr_kind"],))}


def read_accounts(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    """The `accounts` table (written first when the store has none yet)."""
    if "accounts" not in db.table_names():
        write_classification(db, config)
    return pd.read_sql_query("SELECT * FROM accounts", db.conn)


def automation_accounts(db: sqlite_utils.Database, *, detected_only: bool = False) -> list[dict]:
    """Accounts treated as automation, with their reason and PRs: what doctor and summary list."""
    if "accounts" not in db.table_names():
        return []
    where = "is_automation = 1" + (" AND detected = 1" if detected_only else "")
    return [dict(r) for r in db.query(f"SELECT login, reason, prs, detected FROM accounts WHERE {where} "
                                      "ORDER BY prs DESC, login")]


# A kind of contribution: reviewing someone else's pull request.
REVIEWER = "reviewer"


def reviewers(db: sqlite_utils.Database) -> pd.DataFrame:
    """Reviews as contributions of kind `REVIEWER`: one row per review submitted on a pull request by
    someone other than its author (GitHub files an author's replies to review comments as reviews
    of their own PR: those are not reviewing). A review still pending (never submitted) is none.

    Columns: `user_id`, `repo_id`, `at` (submitted, UTC text), and `item_id` (the PR) and
    `review_id`. Every account's, automation's too: a count of people keeps `accounts.is_person`,
    as for every kind of contribution.
    """
    return pd.read_sql_query(
        """SELECT r.user_id, r.repo_id, r.submitted_at AS at, i.id AS item_id, r.id AS review_id
           FROM reviews r JOIN items i ON i.repo_id = r.repo_id AND i.number = r.pull_number
           WHERE i.is_pull_request = 1 AND r.user_id IS NOT NULL AND r.submitted_at IS NOT NULL
             AND coalesce(r.state, '') != 'PENDING' AND r.user_id IS NOT i.user_id
           ORDER BY r.submitted_at, r.id""", db.conn)
