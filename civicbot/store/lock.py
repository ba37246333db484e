"""One writer of GitHub's side at a time: an advisory lock file beside the database.

`civicbot harvest`, `civicbot run` (for its whole life) and `civicbot label --apply` hold it;
readers and the metrics, which only wait for each other's transactions, do not. The lock is an
`flock` on `<database>.lock`, so the operating system releases it when its holder dies however
it dies: a lock file left by a dead process is simply taken over. The file also names its
holder (pid, host, command, start time) for the message the next comer prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from .schema import utc_text


class StoreBusy(Exception):
    """Another civicbot process holds the store's lock; nothing was done."""

    def __init__(self, database: Path, holder: dict):
        self.database, self.holder = database, holder
        what = holder.get("command") or "civicbot"
        who = f"pid {holder['pid']}" if holder.get("pid") else "another process"
        if holder.get("host") and holder.get("host") != socket.gethostname():
            who += f" on {holder['host']}"
        since = f", started {holder['started_at']}" if holder.get("started_at") else ""
        super().__init__(f"another {what} ({who}{since}) is using {database}; "
                         "wait for it to end, or stop it, then run this command again")


NAMING_GRACE_SECONDS = 2.0


def lock_path(database: str | Path) -> Path:
    database = Path(database)
    return database.with_name(database.name + ".lock")


class StoreLock:
    """`with StoreLock(path, "harvest"):` holds the lock or raises StoreBusy at once."""

    def __init__(self, database: str | Path, command: str):
        self.database = Path(database)
        self.command = command
        self.path = lock_path(self.database)
        self._file = None

    def acquire(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        # A holder names itself just after it takes the lock and un-names itself just before it
        # lets go, so a blank file under a held lock is one of those two instants: look again
        # (or take the lock) rather than print a message that cannot say who is there.
        deadline = time.monotonic() + NAMING_GRACE_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(handle)
                if holder or time.monotonic() >= deadline:
                    handle.close()
                    raise StoreBusy(self.database, holder) from None
                time.sleep(0.02)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                                 "started_at": utc_text()}))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            handle.seek(0)
            handle.truncate()  # no holder named once released
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(handle) -> dict:
    handle.seek(0)
    try:
        holder = json.loads(handle.read(4096) or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}
