"""Writing a metrics table from a DataFrame: replaced in one transaction, created even when empty."""

from __future__ import annotations

from typing import Iterator

import pandas as pd
import sqlite_utils

from civicbot.store.transaction import drop_table, write_transaction

BATCH = 50_000


def _tuples(frame: pd.DataFrame, columns: dict) -> Iterator[tuple]:
    """Rows of `frame` as tuples of plain Python values (NaN/NaT -> None), batch by batch."""
    for start in range(0, len(frame), BATCH):
        chunk = frame.iloc[start:start + BATCH]
        values = []
        for name, kind in columns.items():
            col = chunk[name]
            if kind is int:
                if col.dtype.kind in "iub":
                    values.append(col.tolist())  # already plain Python ints
                elif col.dtype.kind == "f":  # ints with NULLs: Python ints, None for NaN
                    plain = col.fillna(0).to_numpy().astype("int64").astype(object)
                    plain[col.isna().to_numpy()] = None
                    values.append(plain.tolist())
                else:
                    values.append([None if v != v else int(v) for v in col.tolist()])
            elif kind is float and col.dtype.kind == "f":
                plain = col.to_numpy().astype(object)
                plain[col.isna().to_numpy()] = None
                values.append(plain.tolist())
            elif kind is float:
                values.append([None if v != v else float(v) for v in col.tolist()])
            elif col.dtype == object and not col.isna().any():
                values.append(col.tolist())  # strings already, no NULL to map
            else:
                values.append([v if isinstance(v, str) else None for v in col.tolist()])
        yield from zip(*values)


def replace_frame(db: sqlite_utils.Database, table: str, frame: pd.DataFrame, columns: dict, pk,
             indexes: tuple = ()) -> int:
    """Replace a metrics table with the rows of `frame` in one transaction (created even when empty).

    The table is created by sqlite-utils; rows go in through one prepared INSERT run over batches
    of plain tuples (sqlite-utils' insert_all builds a dict and a JSON check per value, ten times
    slower on the millions of activity rows). `indexes` (lists of columns) are built after the rows.
    """
    names = list(columns)
    sql = f"INSERT INTO [{table}] ({', '.join(f'[{c}]' for c in names)}) VALUES ({', '.join('?' * len(names))})"
    with write_transaction(db):
        drop_table(db, table)
        db[table].create(columns, pk=pk)
        if len(frame):
            db.conn.executemany(sql, _tuples(frame, columns))
        for index in indexes:
            db[table].create_index(index, unique=index == ["kind", "source_id"])
    return len(frame)
