"""Load a generated world straight into a store, for benchmarks of the stages after the harvest.

Harvesting a world of 1,000,000 issues and PRs through the simulator takes most of an hour;
the metrics, triage and charts benchmarks need the same tables in seconds. This maps the
world's rows onto the store's columns directly (the harvester's own mapping is tested against the world by
tests/test_harvest.py). It reads the generator's output one item per line, in bounded memory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from civicbot.store import open_store

BATCH = 20_000
_DECODER = json.JSONDecoder()


def _sections(path: Path):
    """(section, item) for every item of a world file written by civicbot.sandbox.generate."""
    section = None
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith('"') and line.rstrip().endswith("["):
                section = line.split('"')[1]
                continue
            text = line.strip().rstrip(",")
            if section is None:  # the header line: format, seed, description, now
                continue
            if text.startswith("{"):  # raw_decode ignores what closes the array: `]`, `]}`
                yield section, _DECODER.raw_decode(text)[0]


def load(world_path: Path, db_path: Path, bots: set[str] = frozenset()) -> dict[str, int]:
    db = open_store(db_path)
    conn = db.conn
    users: dict[str, int] = {}
    upstream_id = None
    pending: dict[str, list] = {}
    counts: dict[str, int] = {}
    sql = {
        "users": "INSERT OR REPLACE INTO users (id, login, type, is_bot, bot_reason, company) VALUES (?,?,?,?,?,?)",
        "repos": """INSERT OR REPLACE INTO repos (id, full_name, owner, owner_id, name, description, homepage, fork,
                    parent_id, created_at, updated_at, pushed_at, archived, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        "discoveries": "INSERT OR REPLACE INTO discoveries (repo_id, method, parent_id, evidence) VALUES (?,?,?,?)",
        "items": """INSERT OR REPLACE INTO items (id, repo_id, number, is_pull_request, title, body, user_id, state,
                    created_at, updated_at, closed_at, merged_at, merged_by_id, head_repo_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        "comments": """INSERT OR REPLACE INTO comments (id, repo_id, item_id, issue_number, user_id, body, created_at,
                       updated_at) VALUES (?,?,?,?,?,?,?,?)""",
        "issue_events": """INSERT OR REPLACE INTO issue_events (id, repo_id, item_id, issue_number, event, actor_id,
                           created_at, label_name, assignee_id, source_repo_id, source_number)
                           VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
        # today's labels and assignees: triage checks them beside the event log (civicbot.triage.score)
        "labels": """INSERT OR REPLACE INTO labels (id, repo_id, name, color, description, is_default)
                     VALUES (?,?,?,?,?,?)""",
        "item_labels": "INSERT OR IGNORE INTO item_labels (item_id, label_id) VALUES (?,?)",
        "item_assignees": "INSERT OR IGNORE INTO item_assignees (item_id, user_id) VALUES (?,?)",
    }
    label_ids: dict[tuple[int, str], int] = {}
    repo_ids: set[int] = set()  # the repos loaded: a deleted or taken-down repo's items are not harvested
    item_ids: dict[tuple[int, int], int] = {}

    def flush(table: str) -> None:
        rows = pending.pop(table, [])
        if rows:
            conn.executemany(sql[table], rows)
            counts[table] = counts.get(table, 0) + len(rows)

    def add(table: str, row: tuple) -> None:
        pending.setdefault(table, []).append(row)
        if len(pending[table]) >= BATCH:
            flush(table)

    conn.execute("PRAGMA foreign_keys = OFF")  # rows arrive section by section
    conn.execute("BEGIN")
    for section, row in _sections(world_path):
        if section == "users":
            users[row["login"]] = row["id"]
            reason = "type" if row["type"] == "Bot" else "[bot] suffix" if row["login"].endswith("[bot]") else \
                "config login" if row["login"] in bots else None
            add("users", (row["id"], row["login"], row["type"], int(reason is not None), reason, row.get("company")))
        elif section == "repos":
            if row.get("status", "active") != "active":
                continue
            full = f"{row['owner']}/{row['name']}"
            repo_ids.add(row["id"])
            parent = row.get("fork_parent_id")
            add("repos", (row["id"], full, row["owner"], users.get(row["owner"]), row["name"], row.get("description"),
                          row.get("homepage"), int(parent is not None), parent, row["created_at"],
                          row.get("updated_at"), row.get("pushed_at"), int(row.get("archived", False)), "active"))
            for label in row.get("labels") or ():
                label_ids[(row["id"], label["name"].lower())] = label["id"]
                add("labels", (label["id"], row["id"], label["name"], label.get("color"), label.get("description"),
                               int(bool(label.get("default")))))
            if upstream_id is None:  # the generator writes the upstream first
                upstream_id = row["id"]
                add("discoveries", (row["id"], "upstream", None, "the configured upstream"))
            elif parent is not None:
                add("discoveries", (row["id"], "fork", parent, "fork"))
        elif section in ("issues", "comments", "events") and row["repo_id"] not in repo_ids:
            continue
        elif section == "issues":
            flush("repos"), flush("users"), flush("discoveries"), flush("labels")
            pr = row.get("pull_request")
            item_ids[(row["repo_id"], row["number"])] = row["id"]
            add("items", (row["id"], row["repo_id"], row["number"], int(pr is not None), row["title"], row.get("body"),
                          users.get(row["user"]), row["state"], row["created_at"], row["updated_at"],
                          row.get("closed_at"), (pr or {}).get("merged_at"), users.get((pr or {}).get("merged_by")),
                          (pr or {}).get("head_repo_id")))
            for name in row.get("labels") or ():
                if (row["repo_id"], name.lower()) in label_ids:
                    add("item_labels", (row["id"], label_ids[(row["repo_id"], name.lower())]))
            for login in row.get("assignees") or ():
                if login in users:
                    add("item_assignees", (row["id"], users[login]))
        elif section == "comments":
            add("comments", (row["id"], row["repo_id"], item_ids.get((row["repo_id"], row["issue_number"])),
                             row["issue_number"], users.get(row["user"]), row["body"], row["created_at"], row["updated_at"]))
        elif section == "events":
            source = row.get("source") or {}  # cross-referenced: the referencing issue or PR
            add("issue_events", (row["id"], row["repo_id"], item_ids.get((row["repo_id"], row["issue_number"])),
                                 row["issue_number"], row["event"], users.get(row.get("actor")), row["created_at"],
                                 row.get("label"), users.get(row.get("assignee")), source.get("repo_id"),
                                 source.get("issue_number")))
    for table in list(pending):
        flush(table)
    conn.execute("COMMIT")
    conn.execute("PRAGMA foreign_keys = ON")
    return counts


if __name__ == "__main__":
    print(load(Path(sys.argv[1]), Path(sys.argv[2])))
