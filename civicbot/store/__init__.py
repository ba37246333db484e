"""The store: the one SQLite database that the harvester writes and every later stage reads.

See docs/schema.md for the tables, the timestamp rule and how migrations work.
"""

from civicbot.store.db import (
    MigrationError,
    SchemaTooNewError,
    StoreError,
    migrate,
    open_store,
    schema_version,
)
from civicbot.store.schema import MIGRATIONS, SCHEMA_VERSION, UTC_FORMAT, Migration, from_utc_text, utc_text
from civicbot.store.transaction import drop_table, write_transaction

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "UTC_FORMAT",
    "Migration",
    "MigrationError",
    "SchemaTooNewError",
    "StoreError",
    "migrate",
    "open_store",
    "schema_version",
    "drop_table",
    "from_utc_text",
    "utc_text",
    "write_transaction",
]
