"""Helpers for the harvest tests: configs for a simulator, the world as expected rows, dumps."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from civicbot.config import RESOURCES, Config
from civicbot.sandbox import World
from civicbot.sandbox.render import commit_email

GHOST = "ghost"


def family_config(world: dict, url: str, db_path, per_page: int = 100, upstream: str | None = None,
                  profiles: bool = False, review_budget: int = 0, **github) -> Config:
    """A config harvesting the whole family: the upstream, every non-fork repo listed, forks recursive.

    People's profiles (a request per person) only with `profiles`: the tests that compare the
    store with the world keep their request budgets about the lists (tests/test_profiles.py).
    Reviews cost a request per PR (14,000 on the scale-2.2 world, three times its lists): they are
    read only with a `review_budget` (tests/test_reviews.py), so the other tests measure the lists."""
    repos = {r["id"]: r for r in world["repos"]}
    upstream_name = upstream
    upstream = next(r for r in world["repos"] if r["name"] == "covid19" and r["owner"] == "Tokyo-Metro-Gov")
    listed = [{"repo": f"{r['owner']}/{r['name']}"} for r in world["repos"]
              if r.get("fork_parent_id") is None and r["id"] != upstream["id"]]
    depth = 1 + max((_depth(repos, r) for r in world["repos"]), default=0)
    return Config.model_validate({
        "name": "test", "upstream": upstream_name or f"{upstream['owner']}/{upstream['name']}",
        "github": {"base_url": url, "per_page": per_page, "token_env": ["CIVICBOT_TEST_TOKEN"],
                   "retry": {"total": 3, "backoff_factor": 0.01, "max_rate_limit_wait": 5}, **github},
        "bots": {"logins": ["covid19-data-updater"]},
        "discovery": {"forks": {"max_depth": max(depth, 1)}, "listed": listed},
        "database": {"path": str(db_path)},
        "harvest": {"resources": resources(profiles), "review_budget": review_budget},
    })


def resources(profiles: bool = False) -> list[str]:
    """Every resource, people's profiles only when asked."""
    return [r for r in RESOURCES if profiles or r != "profiles"]


def _depth(repos: dict, repo: dict) -> int:
    depth = 0
    while repo.get("fork_parent_id") is not None:
        repo = repos[repo["fork_parent_id"]]
        depth += 1
    return depth


def visible(world: dict) -> list[dict]:
    return [r for r in world["repos"] if r.get("status", "active") == "active" and not r.get("private")]


def expected_rows(world: dict) -> dict[str, set]:
    """What the store must hold after a harvest of the whole family, as comparable tuples."""
    w = World(world)
    ids = {r["id"] for r in visible(world)}
    user_ids = {u["login"]: u["id"] for u in world["users"]}
    out: dict[str, set] = {}
    out["repos"] = {(r["id"], f"{r['owner']}/{r['name']}", int(r.get("fork_parent_id") is not None),
                     r.get("fork_parent_id"), r["created_at"], r.get("pushed_at", r["created_at"]),
                     r.get("default_branch", "main"), r.get("homepage"), int(r.get("archived", False)),
                     r.get("description"), _root(w, r)) for r in visible(world)}
    items = [i for i in world["issues"] if i["repo_id"] in ids]
    out["items"] = {(i["id"], i["repo_id"], i["number"], int(i.get("pull_request") is not None), i["title"],
                     i.get("body"), i["user"], i["state"], i["created_at"], i["updated_at"], i.get("closed_at"),
                     (i.get("pull_request") or {}).get("merged_at"), _merged_by(world, i),
                     _head_repo(i, ids), int((i.get("pull_request") or {}).get("draft", False)) if i.get("pull_request") else None,
                     (i.get("pull_request") or {}).get("merge_commit_sha"),
                     (i.get("pull_request") or {}).get("head_ref"), (i.get("pull_request") or {}).get("base_ref"))
                    for i in items}
    out["item_labels"] = {(i["id"], name.lower()) for i in items for name in i.get("labels", [])}
    out["item_assignees"] = {(i["id"], user_ids[a]) for i in items for a in i.get("assignees", [])}
    out["labels"] = {(label["id"], r["id"], label["name"], label.get("color", "ededed"), label.get("description"))
                     for r in visible(world) for label in r.get("labels", [])}
    out["comments"] = {(c["id"], c["repo_id"], c["issue_number"], c["user"], c["body"], c["created_at"], c["updated_at"])
                       for c in world["comments"] if c["repo_id"] in ids}
    out["issue_events"] = {(e["id"], e["repo_id"], e["issue_number"], e["event"], e.get("actor") or GHOST,
                            e["created_at"], e.get("label"), e.get("assignee"), e.get("commit_id"))
                           for e in world["events"] if e["repo_id"] in ids}
    out["contributors"] = {(r["id"], c["login"], c["contributions"]) for r in visible(world)
                           for c in r.get("contributors", [])}
    out["repo_languages"] = {(r["id"], lang, size) for r in visible(world)
                             for lang, size in r.get("languages", {}).items()}
    out["review_comments"] = {(c["id"], c["repo_id"], c["pull_number"], c["user"], c["created_at"], c["updated_at"],
                               c.get("in_reply_to_id")) for c in world.get("review_comments", []) if c["repo_id"] in ids}
    return out


def _root(w: World, repo: dict) -> str | None:
    history = w.history(repo.get("head"))
    return history[-1]["sha"] if history else None


def _merged_by(world: dict, item: dict) -> str | None:
    pr = item.get("pull_request")
    if not pr or not pr.get("merged_at"):
        return None
    return pr.get("merged_by")


def _head_repo(item: dict, ids: set[int]) -> int | None:
    pr = item.get("pull_request")
    if not pr:
        return None
    return pr["head_repo_id"] if pr.get("head_repo_id") in ids else None


def stored_rows(db) -> dict[str, set]:
    q = lambda sql: {tuple(row) for row in db.execute(sql).fetchall()}  # noqa: E731
    return {
        "repos": q("""SELECT id, full_name, fork, parent_id, created_at, pushed_at, default_branch, homepage,
                      archived, description, root_commit_sha FROM repos WHERE status IN ('active', 'renamed')"""),
        "items": q("""SELECT i.id, i.repo_id, i.number, i.is_pull_request, i.title, i.body, u.login, i.state,
                      i.created_at, i.updated_at, i.closed_at, i.merged_at, m.login, i.head_repo_id,
                      CASE WHEN i.is_pull_request THEN i.draft END, i.merge_commit_sha, i.head_ref, i.base_ref
                      FROM items i LEFT JOIN users u ON u.id = i.user_id LEFT JOIN users m ON m.id = i.merged_by_id"""),
        "item_labels": q("SELECT il.item_id, lower(l.name) FROM item_labels il JOIN labels l ON l.id = il.label_id"),
        "item_assignees": q("SELECT item_id, user_id FROM item_assignees"),
        "labels": q("SELECT id, repo_id, name, color, description FROM labels"),
        "comments": q("""SELECT c.id, c.repo_id, c.issue_number, u.login, c.body, c.created_at, c.updated_at
                         FROM comments c JOIN users u ON u.id = c.user_id"""),
        "issue_events": q("""SELECT e.id, e.repo_id, e.issue_number, e.event, a.login, e.created_at, e.label_name,
                             s.login, e.commit_id FROM issue_events e LEFT JOIN users a ON a.id = e.actor_id
                             LEFT JOIN users s ON s.id = e.assignee_id"""),
        "contributors": q("""SELECT c.repo_id, u.login, c.contributions FROM contributors c
                             JOIN users u ON u.id = c.user_id"""),
        "repo_languages": q("SELECT repo_id, language, bytes FROM repo_languages"),
        "review_comments": q("""SELECT c.id, c.repo_id, c.pull_number, u.login, c.created_at, c.updated_at,
                                c.in_reply_to_id FROM review_comments c JOIN users u ON u.id = c.user_id"""),
    }


def assert_store_equals_world(db, world: dict) -> dict[str, int]:
    expected, stored = expected_rows(world), stored_rows(db)
    for table in expected:
        missing, extra = expected[table] - stored[table], stored[table] - expected[table]
        assert not missing and not extra, (
            f"{table}: {len(missing)} missing, {len(extra)} unexpected; e.g. missing {sorted(missing, key=str)[:2]}, "
            f"unexpected {sorted(extra, key=str)[:2]}")
    # every comment and event is linked to its item
    assert db.execute("SELECT COUNT(*) FROM comments WHERE item_id IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM issue_events WHERE item_id IS NULL").fetchone()[0] == 0
    counts = {table: len(rows) for table, rows in expected.items()}
    if db.execute("SELECT 1 FROM sync_state WHERE resource = 'commit_list'").fetchone():  # commits were harvested
        counts["commits"] = assert_commits_match_world(db, world)
    return counts


def commit_row(world: World, commit: dict) -> tuple:
    """A world commit as the store keeps it: (sha, author login, name, noreply login, authored, committed, merge)."""
    from civicbot.store.write import noreply_login

    author = world.user(commit.get("author"))
    return (commit["sha"], author["login"] if author else None, commit.get("author_name") or commit.get("author")
            or "unknown", noreply_login(commit_email(commit)), commit["date"], commit["date"],
            int(len(commit.get("parents", [])) > 1))


def assert_commits_match_world(db, world: dict) -> int:
    """The commits table against the world: each stored commit as the world has it, held by the
    repo it names; the upstream's whole history stored as the upstream's; each repo's commits
    since its creation stored (a derivative's older ones are its parent's, read from the parent);
    one e-mail hash per address."""
    w = World(world)
    stored = {row[0]: row for row in db.execute(
        """SELECT c.sha, u.login, c.author_name, c.author_noreply_login, c.authored_at, c.committed_at, c.is_merge,
                  c.repo_id, c.author_email_hash FROM commits c LEFT JOIN users u ON u.id = c.author_id""")}
    upstream = next(r for r in world["repos"] if r["name"] == "covid19" and r["owner"] == "Tokyo-Metro-Gov")
    for repo in visible(world):
        history = w.history(repo.get("head"))
        holds = {c["sha"] for c in history}
        for commit in history:
            if repo["id"] == upstream["id"] or commit["date"] >= repo["created_at"]:
                assert commit["sha"] in stored, f"commit {commit['sha']} of {repo['name']} not stored"
        for sha, row in stored.items():
            if row[7] == repo["id"]:
                assert sha in holds, f"commit {sha} stored as {repo['name']}'s, which does not hold it"
            if repo["id"] == upstream["id"] and sha in holds:
                assert row[7] == upstream["id"], f"upstream commit {sha} stored as repo {row[7]}'s"
    emails: dict[str, set] = {}
    for sha, row in stored.items():
        commit = w.commits[sha]
        assert row[:7] == commit_row(w, commit), (row, commit)
        emails.setdefault(row[8], set()).add(commit_email(commit).strip().lower())
    assert all(len(addresses) == 1 for addresses in emails.values()), "two addresses share a hash"
    return len(stored)


def request_floor(world: dict) -> int:
    """The fewest requests a full harvest can make: per repo 2 (the repo, its languages) + max(1, ceil(n/100))
    per list read."""
    total = 0
    w = World(world)
    upstream = next(r for r in world["repos"] if r["name"] == "covid19" and r["owner"] == "Tokyo-Metro-Gov")
    for repo in visible(world):
        items = [i for i in world["issues"] if i["repo_id"] == repo["id"]]
        lists = [len(items), sum(1 for i in items if i.get("pull_request")),
                 sum(1 for c in world["comments"] if c["repo_id"] == repo["id"]),
                 sum(1 for e in world["events"] if e["repo_id"] == repo["id"]),
                 len(repo.get("labels", [])), len(repo.get("contributors", [])),
                 sum(1 for f in visible(world) if f.get("fork_parent_id") == repo["id"]),
                 len(w.history(repo.get("head"))),
                 sum(1 for c in world.get("review_comments", []) if c["repo_id"] == repo["id"])]
        # the commit list, beside the root commit's: a derivative's since its creation
        lists.append(sum(1 for c in w.history(repo.get("head")) if repo is upstream or c["date"] >= repo["created_at"]))
        total += 2 + sum(max(1, math.ceil(n / 100)) for n in lists)
    return total


def quota_by_path(log: list[dict]) -> Counter:
    return Counter(r["path"] for r in log if r["quota"])


def write_config(config: Config, yml, **database) -> Path:
    """`config` as a YAML file for the CLI (optionally with another database.path)."""
    import yaml

    data = config.model_dump(mode="json")
    data["database"].update({k: str(v) for k, v in database.items()})
    Path(yml).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Path(yml)


# Bookkeeping of runs and of the sync itself differs between two harvests by nature, as do
# these provenance columns; everything else must not.
BOOKKEEPING_TABLES = {"schema_version", "harvest_runs", "sqlite_sequence", "sync_state", "repo_fingerprints",
                      "job_runs", "heartbeat",
                      "gfi_candidates", "gfi_evaluation", "label_audit", "store_secrets"}
# Salted per store: compared as which rows share a value (the first sha of each), not the value.
SALTED = {("commits", "author_email_hash")}
VOLATILE = {"run_id", "harvested_at", "first_seen_at", "last_seen_at", "status_checked_at", "pull_fetched_at",
            "updated_at_sync", "last_run_id", "checked_at", "first_found_at"}


def canonical_dump(db, base_url: str | None = None) -> dict[str, list]:
    """Every GitHub-derived table as a sorted list of rows without provenance; asserts no duplicate row.

    `base_url` (a simulator's address, in stored html_url and the like) is replaced by "SIM", so two
    stores harvested from two simulators compare equal.
    """
    def plain(value):
        return value.replace(base_url, "SIM") if base_url and isinstance(value, str) else value

    out = {}
    for table in sorted(set(db.table_names()) - BOOKKEEPING_TABLES):
        columns = [c.name if (table, c.name) not in SALTED else
                   f"(SELECT min(o.sha) FROM [{table}] o WHERE o.{c.name} = [{table}].{c.name})"
                   for c in db[table].columns if c.name not in VOLATILE]
        rows = [tuple(map(plain, row)) for row in db.execute(f"SELECT {', '.join(columns)} FROM [{table}]")]
        out[table] = sorted(rows, key=repr)
        assert len(set(out[table])) == len(out[table]), f"duplicate rows in {table}"
    return out


def small_family(world: dict, url: str, db_path, discovery: dict, token: str):
    """Harvest a hand-made world's family (upstream Tokyo-Metro-Gov/covid19): (config, db, result)."""
    from civicbot.harvest.client import GitHubClient
    from civicbot.harvest.run import harvest
    from civicbot.store import open_store

    config = Config.model_validate({
        "name": "small-family", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo",
        "github": {"base_url": url, "token_env": ["CIVICBOT_TEST_TOKEN"]}, "discovery": discovery,
        "database": {"path": str(db_path)}, "harvest": {"resources": resources()},
    })
    db = open_store(config.database.path)
    result = harvest(config, db, GitHubClient(config, [token]))
    assert result.outcome == "complete", result
    return config, db, result


def harvested_generated_world(seed: int, scale: float, db_path):
    """A generated world harvested from the simulator with every metric: (config, db)."""
    from civicbot.harvest.client import GitHubClient
    from civicbot.harvest.run import harvest
    from civicbot.metrics import write_all_metrics
    from civicbot.sandbox import SandboxServer
    from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
    from civicbot.store import open_store

    world = generate_world_dict(seed=seed, scale=scale)
    server = SandboxServer(World(world)).start()
    try:
        config = family_config(world, server.url, db_path, profiles=True)
        db = open_store(config.database.path)
        assert harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None)).outcome == "complete"
    finally:
        server.stop()
    write_all_metrics(db, config)
    return config, db
