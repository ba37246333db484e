"""Opening the store: one SQLite file that Datasette can read while the harvester writes to it,
brought up to the schema this code knows by applying the missing migrations in order."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlite_utils

from civicbot import __version__
from civicbot.paths import path_problem
from civicbot.store.schema import MIGRATIONS, Migration, utc_text

# Long enough to outwait a harvester's write transaction or a WAL checkpoint; a reader under WAL
# never waits at all.
BUSY_TIMEOUT_MS = 30_000

# Created by the runner, not by a migration, so this DDL must never change.
_SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    civicbot_version TEXT
)
"""


class StoreError(Exception):
    """The database file cannot be used as civicbot's store."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer civicbot; migrations only go forward."""

    def __init__(self, path: str, found: int, supported: int):
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path} has schema version {found}, newer than schema version {supported} that this "
            f"civicbot ({__version__}) knows: upgrade civicbot to open it"
        )


class MigrationError(StoreError):
    """A migration failed; its transaction was rolled back, so the file keeps the previous version."""


def open_store(
    path: str | Path,
    *,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    migrations: list[Migration] = MIGRATIONS,
) -> sqlite_utils.Database:
    """Open (creating it and its folders if needed) the store at `path`, migrated to the latest schema."""
    path = Path(path)
    problem = path_problem(path)  # a device, directory or symlink loop: one line, not a traceback
    if problem:
        raise StoreError(f"{path} {problem}; the database must be a regular file (or a new one)")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    try:
        _configure(db, busy_timeout_ms)
        migrate(db, migrations)
    except BaseException:
        db.close()
        raise
    return db


def _configure(db: sqlite_utils.Database, busy_timeout_ms: int) -> None:
    # The timeout comes first so that the pragmas below wait for other connections instead of failing.
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    mode = _switch_to_wal(db, busy_timeout_ms)
    if mode.lower() != "wal":
        raise StoreError(f"{_database_file(db)}: SQLite refused WAL mode (journal_mode is {mode!r}); "
                         "keep the store on a local disk")
    # With WAL, NORMAL never corrupts the file and spares a sync per small transaction.
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")


def _switch_to_wal(db: sqlite_utils.Database, busy_timeout_ms: int) -> str:
    # Switching the journal mode while other connections open the same new file can fail with
    # "database is locked" without SQLite calling the busy handler, so wait for it here.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            return db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _database_file(db: sqlite_utils.Database) -> str:
    return db.execute("PRAGMA database_list").fetchone()[2] or ":memory:"


def schema_version(db: sqlite_utils.Database) -> int:
    """The highest migration applied to `db`; 0 for a new or pre-migration file."""
    if not db["schema_version"].exists():
        return 0
    return db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(db: sqlite_utils.Database, migrations: list[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations `db` lacks, in order, one transaction each; return their numbers."""
    numbers = [migration.number for migration in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3... in order, got {numbers}")
    supported = len(migrations)
    _refuse_newer(db, supported)
    pending = [migration for migration in migrations if migration.number > schema_version(db)]
    if not pending:
        return []
    # SQLite's recipe for schema changes: foreign keys off (a no-op inside a transaction, so here),
    # then foreign_key_check before each commit, so a migration may rebuild tables.
    foreign_keys = db.execute("PRAGMA foreign_keys").fetchone()[0]
    db.execute("PRAGMA foreign_keys = OFF")
    try:
        applied = [migration.number for migration in pending if _apply(db, migration)]
    finally:
        db.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    _refuse_newer(db, supported)  # a newer civicbot may have migrated the file while we waited
    return applied


def _refuse_newer(db: sqlite_utils.Database, supported: int) -> None:
    found = schema_version(db)
    if found > supported:
        raise SchemaTooNewError(_database_file(db), found, supported)


def _apply(db: sqlite_utils.Database, migration: Migration) -> bool:
    # IMMEDIATE takes the write lock before reading the version, so two processes opening the
    # same new file apply each migration once: the second waits, then sees it done.
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_SCHEMA_VERSION_TABLE)
        if schema_version(db) >= migration.number:
            db.execute("ROLLBACK")
            return False
        migration.apply(db)
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise MigrationError(f"leaves rows whose foreign keys point nowhere: {broken[:5]}")
        db.execute(
            "INSERT INTO schema_version (version, description, applied_at, civicbot_version) VALUES (?, ?, ?, ?)",
            [migration.number, migration.description, utc_text(), __version__],
        )
        db.execute("COMMIT")
        return True
    except BaseException as error:
        db.rollback()
        if isinstance(error, sqlite3.Error | MigrationError):
            raise MigrationError(f"{_database_file(db)}: migration {migration.number} "
                                 f"({migration.description}) failed and was rolled back: {error}") from error
        raise
