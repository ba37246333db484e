"""Files civicbot opens by a path from the user (the config, a token file, the database).

Each must be a regular file: `/dev/zero` would be read until memory runs out, a FIFO would hang
the open, a directory or a symlink loop would end in a traceback. Reads are capped in size.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class FileProblem(ValueError):
    """The path cannot be used; `str()` says why in a few words ("is a directory, not a file")."""


def _kind_problem(mode: int) -> str | None:
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(mode):
        return "is a device or other special file, not a regular file"
    return None


def _os_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symlink loop"
    return f"cannot be used: {error.strerror or type(error).__name__}"


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` cannot be one of civicbot's files, or None: a regular file, or nothing yet
    (a missing file may be created; a missing token file is reported by its reader)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        return _os_problem(error)
    return _kind_problem(mode)


def read_capped(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at `path`: FileProblem when it is not one or holds more
    than `limit` bytes; FileNotFoundError as usual. Never reads more than limit + 1 bytes."""
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
        fd = os.open(Path(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as error:
        raise FileProblem(_os_problem(error)) from None
    try:
        problem = _kind_problem(os.fstat(fd).st_mode)
        if problem:
            raise FileProblem(problem)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileProblem(f"is larger than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
