"""A sandbox world built from the real Tokyo data (../shared/data/tokyo-covid19).

`world_from_tokyo_data(data_dir)` reads tokyo_prs.csv (1,187 merged PRs of the Tokyo repo) and
derivatives.csv (15 regional derivatives) and returns a world dict (world.schema.json). The
data comes from git metadata only, so the world holds only what git can tell, plus a few
clearly marked stand-ins:

- Each merged PR is an item with its real number, title, author, merge time (converted to
  UTC) and merge commit. Its creation time is not in git: the merge time stands in for it.
  Merged and closed events are added so state and events agree.
- Who merged is not in git either: `tokyo-maintainer-placeholder` merges every PR, and also
  stands for the author of PRs from branches inside the org repository (empty author_login).
  Bot PRs from such branches get a placeholder bot per branch family (Transifex translations,
  dependabot, data-bot), so bot work is not credited to a person.
- PRs from a user's fork have `head_repo_id: null`: those forks are not in the data. A PR whose
  head owner owns a derivative (ehime-covid19 sent one upstream) points at that derivative.
- The upstream history is linearised: the root commit, then every merge commit (and the two
  fork points that are plain commits) in time order. The real history is a DAG; fork points
  and "behind" counts stay close to it because forks started from the head of the day.
- Each derivative has one synthetic commit (its first own commit, at first_own_commit_date) on
  top of its fork point; the one that restarted its history has that commit as its own root.
  Which derivatives used GitHub's fork button is not in the data, so none is marked as a fork
  (`fork_parent_id: null`): shared history is what finds them.
- `contributors` are *plausible*, not derived from commits (individual commits are not in the
  data): merged-PR authors with their counts, placeholders left out; a derivative counts the
  PRs merged up to its fork point.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timezone
from pathlib import Path

from .generate import (
    DEMO_LOGIN,
    DEMO_TOKEN,
    FORMAT,
    SITE_LIST_PATH,
    UPSTREAM_DESCRIPTION,
    UPSTREAM_FORMER_NAME,
    site_list_markdown,
)

TOKYO_ROOT = "d2a15089aff26265dd661b9e3dd91056ff34ec39"
ROOT_DATE = "2020-02-28T15:00:00Z"   # not in the data: midnight JST before the first merge
NOW = "2020-03-29T00:00:00Z"         # after the newest commit in the data (2020-03-28 12:25 JST)
UPSTREAM_OWNER, UPSTREAM_NAME = "Tokyo-Metro-Gov", "covid19"
MAINTAINER_PLACEHOLDER = "tokyo-maintainer-placeholder"
BOT_PLACEHOLDERS = (  # (branch prefix, placeholder) for bot PRs whose author git did not record
    ("translations_", "transifex-placeholder[bot]"),
    ("dependabot/", "dependabot-placeholder[bot]"),
    ("data-bot", "data-bot-placeholder[bot]"),
    ("", "tokyo-bot-placeholder[bot]"),
)
PLACEHOLDERS = {MAINTAINER_PLACEHOLDER} | {login for _, login in BOT_PLACEHOLDERS}

USER_ID_BASE, REPO_ID_BASE = 1_000, 240_000_000
ISSUE_ID_BASE, EVENT_ID_BASE = 570_000_000, 2_900_000_000


def _utc(text: str) -> str:
    """'2020-02-29T14:19:22+09:00' -> '2020-02-29T05:19:22Z'."""
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _synthetic_sha(*parts: str) -> str:
    return hashlib.sha1(":".join(("civicbot-tokyo",) + parts).encode()).hexdigest()


def _branch(head_ref: str) -> str:
    """'USER/branch' -> 'branch' (the head_ref column keeps the head repo owner in front)."""
    return head_ref.split("/", 1)[1] if "/" in head_ref else head_ref


def pr_author(row: dict) -> tuple[str, str]:
    """(login, account type) of a PR row, with placeholders where git recorded no author."""
    login, kind = row["author_login"], row["author_kind"]
    if login:
        return login, "Bot" if kind == "bot" or login.endswith("[bot]") else "User"
    if kind == "bot":
        branch = _branch(row["head_ref"])
        return next(p for prefix, p in BOT_PLACEHOLDERS if branch.startswith(prefix)), "Bot"
    return MAINTAINER_PLACEHOLDER, "User"


def _contributors(rows: list[dict]) -> list[dict]:
    counts: dict[str, int] = {}
    for row in rows:
        login, _ = pr_author(row)
        if login not in PLACEHOLDERS:
            counts[login] = counts.get(login, 0) + 1
    return [{"login": login, "contributions": k} for login, k in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]


def _place(row: dict) -> str:
    return row["prefecture"] + (row["municipality"] or "")


def world_from_tokyo_data(data_dir: Path) -> dict:
    data_dir = Path(data_dir)
    prs = sorted(_read(data_dir / "tokyo_prs.csv"), key=lambda r: int(r["number"]))
    derivatives = _read(data_dir / "derivatives.csv")

    users: dict[str, dict] = {}

    def user(login: str, kind: str, **extra) -> None:
        if login.lower() not in users:
            users[login.lower()] = {"id": USER_ID_BASE + len(users) + 1, "login": login, "type": kind, **extra}

    user(UPSTREAM_OWNER, "Organization", name="東京都")
    user(MAINTAINER_PLACEHOLDER, "User", name="(a Tokyo maintainer: not recorded in git)")
    for _, login in BOT_PLACEHOLDERS:
        user(login, "Bot", name="(bot: account not recorded in git)")
    for row in prs:
        user(*pr_author(row))
    for row in derivatives:
        user(row["repo"].split("/")[0], "Organization")
    user(DEMO_LOGIN, "User", name="civicbot demo")

    commits, upstream_head = _upstream_commits(prs, derivatives)
    upstream_id = REPO_ID_BASE + 1
    repos = [{
        "id": upstream_id, "owner": UPSTREAM_OWNER, "name": UPSTREAM_NAME, "description": UPSTREAM_DESCRIPTION,
        "homepage": "https://stopcovid19.metro.tokyo.lg.jp/", "language": "Vue", "topics": [],
        "created_at": ROOT_DATE, "updated_at": commits[upstream_head]["date"],
        "pushed_at": commits[upstream_head]["date"],
        "default_branch": "development", "fork_parent_id": None, "status": "active",
        "former_names": [UPSTREAM_FORMER_NAME], "head": upstream_head, "labels": [],
        "contributors": _contributors(prs),
        # The upstream's own list of its regional sites, as the real repo keeps one; the site
        # URLs are not in the data, so the list links the repos only.
        "files": {SITE_LIST_PATH: site_list_markdown([(_place(r), r["repo"].split("/")[0], None, r["repo"])
                                                      for r in derivatives])},
    }]
    for i, row in enumerate(sorted(derivatives, key=lambda r: r["first_own_commit_date"]), start=2):
        repos.append(_derivative(REPO_ID_BASE + i, row, prs, commits))

    derivative_of_owner = {r["owner"].lower(): r["id"] for r in repos[1:]}
    issues, events = [], []
    for row in prs:
        head_repo_id = upstream_id if not row["author_login"] else derivative_of_owner.get(row["author_login"].lower())
        issue, closing = _merged_pr(len(issues) + 1, upstream_id, row, head_repo_id, len(events))
        issues.append(issue)
        events.extend(closing)
    return {
        "format": FORMAT, "seed": None,
        "description": "The Tokyo COVID-19 site family from public git metadata (../shared/data/tokyo-covid19): "
                       "1,187 merged PRs of Tokyo-Metro-Gov/covid19 and 15 regional derivatives.",
        "now": NOW, "tokens": [{"token": DEMO_TOKEN, "login": DEMO_LOGIN}],
        "users": list(users.values()), "commits": list(commits.values()), "repos": repos,
        "issues": issues, "comments": [], "events": events,
    }


def _upstream_commits(prs: list[dict], derivatives: list[dict]) -> tuple[dict[str, dict], str]:
    """The upstream's linearised history, keyed by sha in time order; and its head."""
    steps = [(_utc(r["merged_at"]), int(r["number"]), r["merge_commit_sha"], _merge_message(r)) for r in prs]
    merged = {r["merge_commit_sha"] for r in prs}
    for row in derivatives:
        sha = row["fork_point_sha"]
        if sha and sha not in merged:
            merged.add(sha)
            steps.append((_utc(row["fork_point_date"]), 0, sha, "(a Tokyo commit that is not a PR merge; "
                                                               "its message is not in the data)"))
    steps.sort()
    commits = {TOKYO_ROOT: {"sha": TOKYO_ROOT, "message": "Initial commit", "author": None, "date": ROOT_DATE,
                            "parents": []}}
    parent = TOKYO_ROOT
    for date, _, sha, message in steps:
        commits[sha] = {"sha": sha, "message": message, "author": None, "date": date, "parents": [parent]}
        parent = sha
    return commits, parent


def _merge_message(row: dict) -> str:
    if row["merge_type"] == "squash":
        return f"{row['title']} (#{row['number']})"
    return f"Merge pull request #{row['number']} from {row['head_ref']}\n\n{row['title']}"


def _derivative(repo_id: int, row: dict, prs: list[dict], commits: dict[str, dict]) -> dict:
    owner, name = row["repo"].split("/")
    first_own = _utc(row["first_own_commit_date"])
    shares_root = row["shares_tokyo_root"] == "True"
    own_sha = _synthetic_sha(row["repo"], "first-own-commit")
    commits[own_sha] = {
        "sha": own_sha, "message": f"{_place(row)}版の最初のコミット (synthetic: the data gives only its date)",
        "author": None, "date": first_own, "parents": [row["fork_point_sha"]] if shares_root else [],
    }
    fork_point = _utc(row["fork_point_date"]) if shares_root else None
    carried = [r for r in prs if fork_point and _utc(r["merged_at"]) <= fork_point]
    return {
        "id": repo_id, "owner": owner, "name": name,
        "description": f"{_place(row)} 新型コロナウイルス感染症対策サイト", "homepage": None, "language": None,
        "topics": [], "created_at": first_own, "updated_at": first_own, "pushed_at": first_own,
        "default_branch": "development", "fork_parent_id": None, "status": "active",
        "former_names": [], "head": own_sha, "labels": [], "contributors": _contributors(carried),
    }


def _merged_pr(issue_index: int, repo_id: int, row: dict, head_repo_id: int | None,
               event_index: int) -> tuple[dict, list[dict]]:
    login, _ = pr_author(row)
    merged_at, number, sha = _utc(row["merged_at"]), int(row["number"]), row["merge_commit_sha"]
    issue = {
        "id": ISSUE_ID_BASE + issue_index, "repo_id": repo_id, "number": number, "title": row["title"],
        "body": None, "user": login, "state": "closed", "state_reason": None, "locked": False, "labels": [],
        "assignees": [], "created_at": merged_at, "updated_at": merged_at, "closed_at": merged_at,
        "closed_by": MAINTAINER_PLACEHOLDER,
        "pull_request": {
            "head_repo_id": head_repo_id, "head_ref": _branch(row["head_ref"]),
            "base_ref": "development", "draft": False, "merged_at": merged_at,
            "merged_by": MAINTAINER_PLACEHOLDER, "merge_commit_sha": sha,
        },
    }
    base = {"repo_id": repo_id, "issue_number": number, "actor": MAINTAINER_PLACEHOLDER, "created_at": merged_at}
    events = [{"id": EVENT_ID_BASE + event_index + 1, **base, "event": "merged", "commit_id": sha},
              {"id": EVENT_ID_BASE + event_index + 2, **base, "event": "closed", "commit_id": None}]
    return issue, events


__all__ = ["MAINTAINER_PLACEHOLDER", "TOKYO_ROOT", "pr_author", "world_from_tokyo_data"]
