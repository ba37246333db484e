"""Who is a person, what is automation, and which PRs are proposals: defined here once (docs/metrics.md).

Every table and figure that counts people or proposals reads the tables written here:

- `accounts`: one row per stored account with its `kind` (`person`, `automation`, `organisation`,
  `placeholder`), `is_person` and, for automation, the `reason`. A person is an account that is
  none of the others; a deleted account has no row at all (its items have no user), so it is never
  a person either.
- `pr_kinds`: one row per PR: `proposal` (a contribution), `release` (a release or sync merge
  between long-lived branches of the same repo) or `automation` (opened by an automation account,
  or from an automation branch, or with an automation title, whoever opened it).

- `persons`: one row per identity (account or commit identity) with its `person_id`: accounts and
  commit identities of one person merged (rules below, docs/metrics.md "persons"). Every count of
  people counts `person_id`.

Kinds of contribution beside issues, PRs and comments are defined here too: `reviewers(db)`, the
reviews that make their author a contributor of kind "reviewer".

Computed at metrics time from the current config, so a maintainer who confirms or overrules an
account in config (`bots.logins`, `bots.not_bots`, `identities`) sees every table follow on the next run.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata

import pandas as pd
import sqlite_utils

from civicbot.config import Config

from .tables import replace_frame

# GitHub shows the author of content whose account was deleted as this account.
GITHUB_GHOST = "ghost"

ACCOUNT_COLUMNS = {"user_id": int, "login": str, "type": str, "kind": str, "is_person": int,
                   "is_automation": int, "reason": str, "detected": int, "prs": int}
PR_KIND_COLUMNS = {"item_id": int, "repo_id": int, "user_id": int, "pr_kind": str, "reason": str, "merged_at": str}


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
        """SELECT id AS item_id, repo_id, user_id, title, created_at, head_repo_id, head_ref, base_ref, merged_at
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
                         "pr_kind": kind, "reason": reason, "merged_at": prs["merged_at"]}
                        ).sort_values("item_id", ignore_index=True)


def write_classification(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    """`accounts`, `pr_kinds` and `persons`, from the store and the current config (all replaced)."""
    prs = _prs(db)
    accounts = account_frame(db, config, prs)
    kinds = pr_kind_frame(prs, accounts, config)
    persons = person_frame(db, config, accounts)
    return {"accounts": replace_frame(db, "accounts", accounts, ACCOUNT_COLUMNS, "user_id", indexes=(["kind"],)),
            "pr_kinds": replace_frame(db, "pr_kinds", kinds, PR_KIND_COLUMNS, "item_id",
                                      # the last: merges of a repo in a window, read from the index alone
                                      indexes=(["repo_id", "pr_kind"], ["repo_id", "merged_at", "pr_kind"])),
            "persons": replace_frame(db, "persons", persons, PERSON_COLUMNS, "identity",
                                     indexes=(["person_id"], ["user_id"]))}


def read_accounts(db: sqlite_utils.Database, config: Config) -> pd.DataFrame:
    """The `accounts` table (written first, with `persons`, when the store lacks either)."""
    if not {"accounts", "persons"} <= set(db.table_names()):
        write_classification(db, config)
    return pd.read_sql_query("SELECT * FROM accounts", db.conn)


def automation_accounts(db: sqlite_utils.Database, *, detected_only: bool = False) -> list[dict]:
    """Accounts treated as automation, with their reason and PRs: what doctor and summary list."""
    if "accounts" not in db.table_names():
        return []
    where = "is_automation = 1" + (" AND detected = 1" if detected_only else "")
    return [dict(r) for r in db.query(f"SELECT login, reason, prs, detected FROM accounts WHERE {where} "
                                      "ORDER BY prs DESC, login")]


# ---------------------------------------------------------------------------------------------
# Persons: accounts and commit identities merged (issue 17)
#
# An identity is an account (`user:<id>`), a GitHub login seen only in a commit's noreply address
# (`login:<login>`), a commit e-mail (`email:<salted hash>`) or, for a commit with neither account
# nor e-mail, its author name (`name:<normalised name>`). Identities are joined when:
#   - a commit's author is an account (author_id, or its noreply login names a stored account):
#     the commit's e-mail hash joins that account, so an e-mail shared by two accounts joins them
#     (not one used by more than MAX_ACCOUNTS_PER_ADDRESS accounts: a shared address);
#   - a maintainer lists them together in config `identities` (logins and author names).
# Names alone join nothing else: two people called "Taro Yamada" with different e-mails stay two,
# and a name-only identity never joins an account unless config says so (docs/metrics.md).
# A person is a group with no account that is not a person (automation, organisation,
# placeholder) and no bot-looking commit login or name (config bots: logins, patterns, and the
# detection's name patterns, as for accounts).

MAX_ACCOUNTS_PER_ADDRESS = 2  # one person with a work and a private account; more is a shared address
PERSON_COLUMNS = {"identity": str, "person_id": str, "kind": str, "user_id": int, "login": str,
                  "is_person": int, "is_automation": int, "rule": str}


def normalised_name(name) -> str | None:
    """An author name as identities compare it: NFKC, case-folded, spaces collapsed."""
    if not isinstance(name, str):
        return None
    text = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return text or None


def _tables(db: sqlite_utils.Database) -> set[str]:
    return set(db.table_names())


def commit_identities(db: sqlite_utils.Database) -> pd.DataFrame:
    """Per commit: `sha`, `repo_id`, `authored_at`, `author_id`, `author_name` and its identity key
    (`identity`) when no account is linked; empty when commits are not harvested."""
    columns = ["sha", "repo_id", "authored_at", "author_id", "author_name", "author_email_hash",
               "author_noreply_login"]
    if "commits" not in _tables(db):
        return pd.DataFrame(columns=columns + ["identity"])
    commits = pd.read_sql_query(f"SELECT {', '.join(columns)} FROM commits", db.conn)
    name = commits["author_name"].map(normalised_name)
    email = commits["author_email_hash"].where(commits["author_email_hash"].notna() &
                                               (commits["author_email_hash"] != ""))
    noreply = commits["author_noreply_login"].where(commits["author_noreply_login"].notna()).str.lower()
    identity = ("email:" + email).fillna("login:" + noreply).fillna("name:" + name)
    commits["identity"] = identity.where(commits["author_id"].isna())
    return commits


class _Groups:
    """Union-find over identity keys; the rule that first joined each key to another is kept."""

    def __init__(self):
        self.parent: dict[str, str] = {}
        self.rule: dict[str, str] = {}

    def add(self, key: str) -> None:
        self.parent.setdefault(key, key)

    def find(self, key: str) -> str:
        self.add(key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, a: str, b: str, rule: str) -> None:
        ra, rb = self.find(a), self.find(b)
        for key in (a, b):
            self.rule.setdefault(key, rule)
        if ra != rb:
            self.parent[max(ra, rb, key=_order)] = min(ra, rb, key=_order)


def _order(key: str):
    """Accounts first (lowest id), then other identities: the group's representative is its person_id."""
    kind, _, value = key.partition(":")
    return (0, int(value), "") if kind == "user" else (1, 0, key)


def person_frame(db: sqlite_utils.Database, config: Config, accounts: pd.DataFrame | None = None) -> pd.DataFrame:
    """The `persons` rows: each identity (accounts and commit identities) with its `person_id`.

    Only identities that meet another go through the union-find (commits read once per distinct
    author): an account alone is its own person, written without a loop."""
    accounts = account_frame(db, config) if accounts is None else accounts
    groups = _Groups()
    user_key = {int(u): f"user:{int(u)}" for u in accounts["user_id"]}
    by_login = {str(lo).lower(): f"user:{int(u)}" for u, lo in zip(accounts["user_id"], accounts["login"])
                if isinstance(lo, str)}
    commits = commit_identities(db)
    authors = commits[["author_id", "author_name", "author_email_hash", "author_noreply_login", "identity"]] \
        .drop_duplicates()
    # An address used by more accounts than one person plausibly has (a tutorial's you@example.com,
    # a shared office address) is a shared address, not a person: it joins no one.
    owners_of = authors.dropna(subset=["author_id", "author_email_hash"]).groupby("author_email_hash")["author_id"] \
        .nunique()
    shared = set(owners_of[owners_of > MAX_ACCOUNTS_PER_ADDRESS].index)
    bot_looking: set[str] = set()
    names_of_bots = config.bots.detect.name_patterns if config.bots.detect.enabled else []
    detect = re.compile("|".join(f"(?:{p})" for p in names_of_bots), re.IGNORECASE) if names_of_bots else None
    for row in authors.itertuples(index=False):
        email = row.author_email_hash if isinstance(row.author_email_hash, str) and row.author_email_hash else None
        noreply = row.author_noreply_login.lower() if isinstance(row.author_noreply_login, str) else None
        owner = (user_key.get(int(row.author_id)) if pd.notna(row.author_id) else None) \
            or (by_login.get(noreply) if noreply else None)
        if owner is not None:
            if email and email not in shared:
                groups.join(f"email:{email}", owner, "shared e-mail hash")
            if noreply and pd.isna(row.author_id):
                groups.join(f"login:{noreply}", owner, "noreply address")
            continue
        key = row.identity
        if not isinstance(key, str):
            continue  # no e-mail, no login, no name: nobody to count
        groups.add(key)
        if noreply and key != f"login:{noreply}":
            groups.join(key, f"login:{noreply}", "noreply address")
        if any(isinstance(v, str) and (config.bots.is_bot(v) or (detect is not None and detect.search(v)))
               for v in (noreply, row.author_name)):
            bot_looking.add(key)
    _config_identities(groups, config, by_login, authors)

    account_keys = ("user:" + accounts["user_id"].astype("int64").astype(str)).astype(object)
    root = {k: groups.find(k) for k in list(groups.parent)}
    size = pd.Series(list(root.values()), dtype=object).value_counts().to_dict()
    bad = set(account_keys[accounts["is_person"] == 0]) | bot_looking
    excluded = {r for k, r in root.items() if k in bad}
    automation = set(account_keys[accounts["is_automation"] == 1]) | bot_looking
    automated = {r for k, r in root.items() if k in automation}
    rule = {k: groups.rule.get(k) for k, r in root.items() if size[r] > 1}
    person = pd.Series([root.get(k, k) for k in account_keys], index=account_keys.index, dtype=object)
    rows = pd.DataFrame({
        "identity": account_keys, "person_id": person, "kind": "account", "user_id": accounts["user_id"],
        "login": accounts["login"],
        "is_person": ((accounts["is_person"] == 1) & ~person.isin(excluded)).astype("int64"),
        "is_automation": ((accounts["is_automation"] == 1) | person.isin(automated)).astype("int64"),
        "rule": pd.Series([rule.get(k) for k in account_keys], index=account_keys.index, dtype=object)})
    others = sorted((k for k in root if not k.startswith("user:")), key=_order)
    rows = pd.concat([rows, pd.DataFrame({
        "identity": others, "person_id": [root[k] for k in others], "kind": "commit-identity", "user_id": float("nan"),
        "login": [k.partition(":")[2] if k.startswith("login:") else None for k in others],
        "is_person": [int(root[k] not in excluded) for k in others],
        "is_automation": [int(root[k] in automated) for k in others],
        "rule": [rule.get(k) for k in others]}, columns=list(PERSON_COLUMNS))], ignore_index=True)
    return rows[list(PERSON_COLUMNS)]


def _config_identities(groups: _Groups, config: Config, by_login: dict, commits: pd.DataFrame) -> None:
    """Config `identities`: each entry's logins and author names are one person (a name reaches every
    commit identity not linked to an account whose author name it is)."""
    unlinked = commits[commits["identity"].notna()]
    by_name: dict[str, set[str]] = {}
    for key, name in zip(unlinked["identity"], unlinked["author_name"]):
        if normalised_name(name):
            by_name.setdefault(normalised_name(name), set()).add(key)
    for entry in config.identities:
        keys = [by_login.get(lo.lower(), f"login:{lo.lower()}") for lo in entry.logins]
        for name in entry.names:
            keys += sorted(by_name.get(normalised_name(name), {f"name:{normalised_name(name)}"}))
        for key in keys[1:]:
            groups.join(keys[0], key, "config identities")


def read_persons(db: sqlite_utils.Database) -> pd.DataFrame:
    """The `persons` table (empty frame with its columns when not written yet)."""
    if "persons" not in _tables(db):
        return pd.DataFrame(columns=list(PERSON_COLUMNS))
    return pd.read_sql_query("SELECT * FROM persons", db.conn)


def person_of_user(persons: pd.DataFrame) -> pd.Series:
    """user_id -> person_id (a merged person's accounts share one)."""
    accounts = persons[persons["kind"] == "account"]
    return pd.Series(accounts["person_id"].to_numpy(), index=accounts["user_id"].astype("int64").to_numpy())


# ---------------------------------------------------------------------------------------------
# Likely duplicates, for a maintainer to confirm in config `identities` (civicbot doctor)

SHORTEST_LOGIN = 4  # shorter logins are one letter apart by chance (jo, jp): not suggested


def _loose(login: str) -> str:
    return re.sub(r"[-_0-9]", "", login.lower())


def _one_edit(a: str, b: str) -> bool:
    """True when one insertion, deletion or substitution turns a into b (a != b)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:]
    return (a[i + 1:] == b[i:]) if len(a) > len(b) else (a[i:] == b[i + 1:])


def likely_duplicates(db: sqlite_utils.Database, config: Config) -> list[dict]:
    """Pairs of person accounts that may be one person and are not joined yet: the same display name,
    logins one edit apart, or the same login once '-', '_' and digits are removed. Each with `why`
    and the `identities` entry to paste when a maintainer confirms it."""
    accounts = account_frame(db, config)
    persons = person_frame(db, config, accounts)
    person = person_of_user(persons)
    names = dict(db.execute("SELECT id, name FROM users"))
    people = [(int(u), lo) for u, lo, p in zip(accounts["user_id"], accounts["login"], accounts["is_person"])
              if p and isinstance(lo, str)]
    keys: dict[tuple, list[int]] = {}
    for uid, login in people:
        low = login.lower()
        if normalised_name(names.get(uid)):
            keys.setdefault(("name", normalised_name(names[uid])), []).append(uid)
        if len(low) >= SHORTEST_LOGIN:
            keys.setdefault(("loose", _loose(low)), []).append(uid)
            for i in range(len(low)):  # one deletion: logins one edit apart share such a key
                keys.setdefault(("edit", low[:i] + low[i + 1:]), []).append(uid)
            keys.setdefault(("edit", low), []).append(uid)
    login_of = dict(people)
    found: dict[tuple[int, int], str] = {}
    for (kind, value), uids in keys.items():
        for n, a in enumerate(uids):
            for b in uids[n + 1:]:
                pair = (min(a, b), max(a, b))
                if pair in found or a == b or person.get(a) == person.get(b):
                    continue
                la, lb = login_of[a].lower(), login_of[b].lower()
                if kind == "name":
                    found[pair] = f"same name {names[a]!r}"
                elif kind == "loose" and value:
                    found[pair] = "same login without - _ and digits"
                elif kind == "edit" and _one_edit(la, lb):
                    found[pair] = "logins one letter apart"
    return [{"logins": [login_of[a], login_of[b]], "why": why,
             "identities": f"- {{logins: [{login_of[a]}, {login_of[b]}]}}"}
            for (a, b), why in sorted(found.items(), key=lambda x: (login_of[x[0][0]].lower(), x[0][1]))]


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
