"""Write transactions that wait for other writers instead of failing.

SQLite's deferred `BEGIN` (what sqlite-utils' `atomic()` and Python's `with conn:` open) takes
the write lock only at the first write. In WAL mode a transaction that has already read when
another connection commits cannot be upgraded: SQLite answers SQLITE_BUSY at once, without
calling the busy handler, so `busy_timeout` never applies ("database is locked" under any second
writer: the daemon's heartbeat, a labeller, a second harvest). `BEGIN IMMEDIATE` takes the write
lock first, and that wait is covered by `busy_timeout`. Every writer in civicbot goes through
`write_transaction`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils
from sqlite_utils.db import quote_identifier

_savepoints = itertools.count(1)


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction (`BEGIN IMMEDIATE`), or a savepoint inside an open one.

    Commits when the block ends, rolls back when it raises; a nested block that raises undoes
    only its own writes, so a caller may skip one bad item and keep the rest.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"civicbot_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:  # an error may have ended the whole transaction already
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def drop_table(db: sqlite_utils.Database, table: str) -> None:
    """Drop `table` if it exists, inside the caller's transaction; any other error is raised.

    (sqlite-utils' `drop(ignore=True)` also swallows "database is locked", after which the next
    create meets the old table.)
    """
    db.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
