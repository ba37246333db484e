"""Full-text search that works for Japanese.

SQLite's default FTS tokenizer (unicode61) treats a run of CJK characters as one token, so
`陽性患者` would not find `陽性患者数`. The `trigram` tokenizer (SQLite >= 3.34) indexes every
3-character substring: any term of 3 characters or more is found wherever it occurs. Shorter
terms (東京, 翻訳) give no trigram at all, so the `search` canned query (dashboards/queries.yml)
falls back to LIKE on `items` for them. See docs/publish.md.
"""

from __future__ import annotations

import sqlite_utils

from civicbot.store.transaction import write_transaction

FTS_TABLE = "items_fts"
FTS_COLUMNS = ("title", "body")
MIN_FTS_LENGTH = 3


def enable_search(db: sqlite_utils.Database, *, triggers: bool = True, rebuild: bool = False) -> bool:
    """Create the trigram FTS5 index over items title and body, if it is missing.

    With `triggers`, SQLite keeps it current as the harvester writes items. With `rebuild`, the
    index is dropped and made again (the published bundle does that after scrubbing text).
    Returns True when the index was (re)created.
    """
    if "items" not in db.table_names():
        return False
    exists = FTS_TABLE in db.table_names()
    if exists and not rebuild:
        return False
    with write_transaction(db):
        if exists:
            db["items"].disable_fts()
        db["items"].enable_fts(list(FTS_COLUMNS), fts_version="FTS5", tokenize="trigram",
                               create_triggers=triggers)
    return True


def search_items(db: sqlite_utils.Database, term: str, limit: int = 100) -> list[dict]:
    """The same rule as the `search` canned query, from Python: FTS for 3+ characters, else LIKE."""
    term = term.strip()
    if not term:
        return []
    if len(term) >= MIN_FTS_LENGTH:
        sql = (f"SELECT i.* FROM items i WHERE i.id IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
               " ORDER BY i.created_at DESC LIMIT ?")
        params = ['"' + term.replace('"', '""') + '"', limit]
    else:
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql = ("SELECT i.* FROM items i WHERE i.title LIKE ? ESCAPE '\\' OR i.body LIKE ? ESCAPE '\\'"
               " ORDER BY i.created_at DESC LIMIT ?")
        params = [like, like, limit]
    return [dict(r) for r in db.query(sql, params)]
