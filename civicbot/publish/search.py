"""Full-text search that works for Japanese and English words of any length.

One FTS5 table, `items_search`, built at serve and publish time from items' titles and bodies
(no migration, no trigger: the harvester's writes stay plain). Text and query are folded the
same way (`fold`: Unicode NFKC, lower case, hiragana as katakana), so ｸﾞﾗﾌ, ぐらふ and グラフ
are one word, ＰＣＲ and pcr are PCR. The folded text is split into words (runs of letters and
digits) and each word is indexed as character n-grams, tokenised by unicode61 on the spaces we
put between them: its 3-grams in order, so a word of 3+ characters is the phrase of its grams
(what SQLite's trigram tokenizer does, but after our folding), then its characters and 2-grams,
so 東京, 翻訳 or 字 is one token. Columns `title` and `body`, so the items table's
`?_search_title=` works too.

Every query is thus an index lookup (no LIKE, no scan of items), and a term of several words
(`翻訳 README`) needs every word. See docs/publish.md.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from civicbot.store.transaction import write_transaction

# The folding and the query rule live in the site plugin, which the bundle ships on its own.
from .site_plugin import fold, grams, match_expression, match_or_nothing, words  # noqa: F401

SEARCH_TABLE = "items_search"
STATE_TABLE = "items_search_state"  # what the index was built from: items' count and last update
LAYOUT = 2  # bumped when what the index holds changes, so a live store's index is rebuilt


def register_functions(conn: sqlite3.Connection) -> None:
    """The site's search functions on a connection outside Datasette (the benchmark, tests)."""
    conn.create_function("civicbot_search_match", 1, match_or_nothing, deterministic=True)
    conn.create_function("escape_fts", 1, match_or_nothing, deterministic=True)


def _signature(db: sqlite_utils.Database) -> list:
    return [*db.execute("SELECT count(*), max(updated_at), max(id) FROM items").fetchone(), LAYOUT]


def enable_search(db: sqlite_utils.Database, *, rebuild: bool = False, batch: int = 2000) -> bool:
    """Build `items_search` from items, unless it is already built from the items as they are.

    Returns True when the index was (re)built. The live site calls this when `civicbot serve`
    starts; the published bundle rebuilds it after scrubbing text.
    """
    tables = set(db.table_names())
    if "items" not in tables:
        return False
    signature = _signature(db)
    if not rebuild and SEARCH_TABLE in tables and STATE_TABLE in tables:
        columns = [c.name for c in db[STATE_TABLE].columns]
        row = db.execute(f"SELECT * FROM {STATE_TABLE}").fetchone() if "layout" in columns else None
        if row is not None and list(row) == signature:
            return False
    with write_transaction(db):
        db.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
        db.execute(f"DROP TABLE IF EXISTS {STATE_TABLE}")
        if "items_fts" in tables:  # the trigram index of earlier versions, with its triggers
            db["items"].disable_fts()
        db.execute(f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(title, body, content='', "
                   "tokenize='unicode61 remove_diacritics 0')")
        cursor = db.conn.execute("SELECT id, title, body FROM items")
        while rows := cursor.fetchmany(batch):
            db.conn.executemany(f"INSERT INTO {SEARCH_TABLE}(rowid, title, body) VALUES (?, ?, ?)",
                                [(i, grams(t), grams(b)) for i, t, b in rows])
        db.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('optimize')")
        db.execute(f"CREATE TABLE {STATE_TABLE} (items INTEGER, updated TEXT, last_id INTEGER, layout INTEGER)")
        db.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, ?, ?, ?)", signature)
    return True


# The rule of the `search` canned query (dashboards/queries.yml), newest first: item ids grow
# with creation time on GitHub, so the index hands back the newest matches without sorting all.
SEARCH_SQL = f"""
SELECT i.* FROM items i
WHERE i.id IN (SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ? ORDER BY rowid DESC LIMIT ?)
ORDER BY i.created_at DESC
"""


def search_items(db: sqlite_utils.Database, term: str, limit: int = 100) -> list[dict]:
    """The items whose title or body hold every word of `term`, as the site finds them."""
    expression = match_expression(term)
    if expression is None:
        return []
    return [dict(r) for r in db.query(SEARCH_SQL, [expression, limit])]
