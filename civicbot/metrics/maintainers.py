"""Tables behind the maintainers' canned queries (`dashboards/queries.yml`), written by `civicbot metrics`.

At a million issues and PRs, finding claim comments (a substring search over two million comment
bodies) and each newcomer's first welcome (the first comment of another person on their first
item) take seconds: longer than the site's SQL time limit. Done once here, the queries read a
table of a few thousand rows instead. `regulars_at_risk` reads `contributors_summary`.

Every canned query counts days up to the data's end (`data_end`), not the wall clock: a store read
weeks after its last harvest, or a copy of a finished or simulated world, would otherwise show
every issue as waiting for years and every recent list as empty.
"""

from __future__ import annotations

import sqlite_utils

from civicbot.config import Config
from civicbot.store.schema import PLAUSIBLE_FROM, plausible_until
from civicbot.store.transaction import drop_table, write_transaction

from .people import read_accounts

CLAIMS_COLUMNS = {"item_id": int, "user_id": int, "claimed_at": str, "claim_url": str, "phrase": str}
DATA_END_COLUMNS = {"as_of": str, "source": str, "last_harvest_at": str, "newest_activity_at": str}
# With no activity at all in this many days before the last harvest, the store is taken for a copy of
# a finished (or simulated) world, and its end is its newest activity, not the harvest's clock.
QUIET_DAYS = 30
FIRSTS_COLUMNS = {"user_id": int, "item_id": int, "first_at": str, "welcomed_by_id": int, "welcomed_at": str}


def _rebuild(db: sqlite_utils.Database, table: str, columns: dict, pk: str | tuple, select: str,
             params: list) -> int:
    """Replace `table` with the rows of `select`, in one transaction (created even when empty)."""
    names = ", ".join(f"[{c}]" for c in columns)
    with write_transaction(db):
        drop_table(db, table)
        db[table].create(columns, pk=pk)
        db.execute(f"INSERT INTO [{table}] ({names}) {select}", params)
    return db[table].count


def write_claims(db: sqlite_utils.Database, config: Config) -> int:
    """`claims`: each person's first comment claiming an item (`triage.claim_phrases`, compared
    case-insensitively, ’ read as '), one row per (item, person), with the phrase found."""
    phrases = [p.lower().replace("’", "'") for p in config.triage.claim_phrases]
    body = "replace(lower(c.body), '’', '''')"  # SQLite's lower() folds ASCII only; the phrases are folded alike
    found = " ".join(f"WHEN instr({body}, ?) > 0 THEN ?" for _ in phrases)
    select = f"""
        SELECT item_id, user_id, min(created_at), claim_url, phrase FROM (
            SELECT c.item_id, c.user_id, c.created_at, c.html_url AS claim_url,
                   CASE {found} END AS phrase
            FROM comments c WHERE c.item_id IS NOT NULL AND c.user_id IS NOT NULL)
        WHERE phrase IS NOT NULL GROUP BY item_id, user_id"""  # min(): the other columns are its row's
    return _rebuild(db, "claims", CLAIMS_COLUMNS, ("item_id", "user_id"), select,
                    [x for p in phrases for x in (p, p)])


def write_first_contributions(db: sqlite_utils.Database) -> int:
    """`first_contributions`: each person's first issue or PR in the store (under the account that
    opened it: a person with two accounts has one row, `persons`) and who welcomed it: the first
    comment on it by another person that is not automation (`accounts`; none: NULL)."""
    select = """
        SELECT f.user_id, f.item_id, f.first_at, w.user_id, w.created_at
        FROM (SELECT i.user_id, p.person_id, i.id AS item_id, min(i.created_at) AS first_at
              FROM items i JOIN persons p ON p.user_id = i.user_id
              WHERE i.user_id IS NOT NULL AND i.created_at IS NOT NULL GROUP BY p.person_id) f
        LEFT JOIN comments w ON w.id = (
            SELECT c.id FROM comments c JOIN accounts cu ON cu.user_id = c.user_id
            JOIN persons cp ON cp.user_id = c.user_id
            WHERE c.item_id = f.item_id AND cp.person_id != f.person_id AND cu.is_automation = 0
            ORDER BY c.created_at, c.id LIMIT 1)"""
    return _rebuild(db, "first_contributions", FIRSTS_COLUMNS, "user_id", select, [])


def data_end(db: sqlite_utils.Database) -> dict:
    """The moment the data reach: the end of the last complete or partial harvest, or the newest
    issue, PR or comment when nothing happened in the QUIET_DAYS before that harvest (or none is
    recorded). `source` says which, in words."""
    harvest = db.execute("SELECT max(ended_at) FROM harvest_runs WHERE outcome IN ('complete', 'partial')"
                         ).fetchone()[0]
    newest = db.execute(f"""SELECT max(t) FROM (
        SELECT max(updated_at) AS t FROM items WHERE updated_at BETWEEN '{PLAUSIBLE_FROM}' AND :until
        UNION ALL SELECT max(created_at) FROM items WHERE created_at BETWEEN '{PLAUSIBLE_FROM}' AND :until
        UNION ALL SELECT max(created_at) FROM comments WHERE created_at BETWEEN '{PLAUSIBLE_FROM}' AND :until)""",
                        {"until": harvest or plausible_until()}).fetchone()[0]
    quiet_from = db.execute("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ?, ?)", [harvest, f"-{QUIET_DAYS} days"]
                            ).fetchone()[0] if harvest else None
    if harvest and newest and newest >= quiet_from:
        as_of, source = harvest, "last harvest"
    elif newest:
        as_of, source = newest, "newest issue, PR or comment"
    else:
        as_of, source = harvest, "last harvest"
    return {"as_of": as_of, "source": source, "last_harvest_at": harvest, "newest_activity_at": newest}


def write_data_end(db: sqlite_utils.Database) -> int:
    """`data_end`: one row, the default `as_of` of every canned query (see `data_end`)."""
    end = data_end(db)
    with write_transaction(db):
        drop_table(db, "data_end")
        db["data_end"].create(DATA_END_COLUMNS)
        if end["as_of"]:
            db["data_end"].insert(end)
    return db["data_end"].count


def write_maintainer_tables(db: sqlite_utils.Database, config: Config) -> dict[str, int]:
    read_accounts(db, config)
    return {"claims": write_claims(db, config), "first_contributions": write_first_contributions(db),
            "data_end": write_data_end(db)}
