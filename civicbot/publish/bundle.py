"""The published copy: an immutable, sanitised database with inspect data, metadata and commands.

`build_bundle(config, out_dir)` writes into out_dir:

- `<name>.db`: a consistent copy (SQLite backup API, safe while the harvester writes) with the
  internal tables dropped (and `harvest_runs.error`), people's location and company NULL
  (site_plugin.PERSONAL_COLUMNS: only aggregates are public), rows of private repos removed, every text
  value scrubbed of e-mail addresses and token-like strings (replaced by "[removed]"), with
  bidi-control and zero-width characters made visible (⟦U+202E⟧) and cut at GitHub's 65,536
  characters, the search index rebuilt
  from the scrubbed text, VACUUMed (so freed pages keep no old text) and in rollback-journal mode;
- `inspect-data.json` (`datasette inspect`), `metadata.json`, `templates/`, `static/`, `docs/`;
- `plugins/civicbot_site.py`: civicbot's Datasette plugin (SQLite limits, markdown without
  images, visible bidi marks), loaded with `--plugins-dir plugins`;
- `README.md`: the exact `datasette serve`, `datasette package` and `datasette publish cloudrun`
  commands.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import sqlite_utils

from . import site_plugin
from .front import write_front_tables
from .metadata import DASHBOARDS_DIR, DOCS_DIR, DOCS_MOUNT, STATIC_MOUNT, build_metadata
from .search import enable_search

# Internal bookkeeping, never published: the daemon's pid and host, job details, the labeller's
# audit, harvest cursors and change fingerprints, the salt of the e-mail hashes (store_secrets). harvest_runs stays
# (items point at it) without its error text, which can name hosts and paths.
DROP_TABLES = ("sync_state", "repo_fingerprints", "candidates", "heartbeat", "job_runs", "label_audit", "store_secrets")
DROP_COLUMNS = {"harvest_runs": ("error",)}
PLUGINS_DIR = "plugins"
PLUGIN_FILE = "civicbot_site.py"
SQLITE_MAGIC = b"SQLite format 3\0"
PRIVATE_COLUMNS = ("private", "is_private")
REMOVED = "[removed]"
# GitHub's own cap on a body: a longer value came from something else than GitHub, and over the
# site's length limit (site_plugin.MAX_VALUE_BYTES) it would make its whole page fail.
MAX_TEXT = 65_536
TRUNCATED = " [truncated]"
_TOKEN = r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
_LOCAL = "[A-Za-z0-9._%+-]"  # one character of an e-mail address before the @
_EMAIL = rf"{_LOCAL}+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,}}"
# What is removed: `SECRET.sub(REMOVED, text)`. It is quadratic on a long run of local-part
# characters (every character of the run starts an address that fails at the run's end), so
# `scrub` finds the same matches in linear time (`_secret_spans`); SECRET stays the definition.
SECRET = re.compile(rf"{_TOKEN}|{_EMAIL}")
_TOKEN_HERE = re.compile(_TOKEN)
_EMAIL_HERE = re.compile(_EMAIL)
_LOCAL_RUN = re.compile(f"{_LOCAL}+")
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
# An address may start only where a run of local-part characters starts (the lookbehind).
_SECRET_FROM_RUN_STARTS = re.compile(rf"{_TOKEN}|(?<!{_LOCAL}){_EMAIL}")
SETTINGS = {"sql_time_limit_ms": 1500, "max_returned_rows": 1000, "default_cache_ttl": 3600}


def _secret_spans(text: str):
    """The spans `SECRET.finditer(text)` gives, in time linear in the text.

    Whether an address starts at a character depends only on the run of local-part characters it
    is in: its end must be an @ followed by a domain. So an address that fails at the first
    character of a run fails at every later one. Addresses are searched at run starts only,
    except just after a match, which can end inside a run: there the address is tried once for
    the rest of the run.
    """
    pos, n = 0, len(text)
    no_address_before = 0  # an address cannot start before this position in the current run
    while pos < n:
        m = None
        if pos and text[pos - 1] in _LOCAL_CHARS and text[pos] in _LOCAL_CHARS:  # inside a run
            m = _TOKEN_HERE.match(text, pos)
            if m is None and pos >= no_address_before:
                m = _EMAIL_HERE.match(text, pos)
                if m is None:
                    no_address_before = _LOCAL_RUN.match(text, pos).end()
        if m is None:
            m = _SECRET_FROM_RUN_STARTS.search(text, pos)
            if m is None:
                return
        yield m.span()
        pos = m.end()


class PublishError(ValueError):
    """The database cannot be published (one line, naming the path and what to do)."""


def scrub(value):
    """A text value with every e-mail address and token-like string replaced by "[removed]",
    every bidi-control or zero-width character by a visible ⟦U+XXXX⟧, and cut at MAX_TEXT."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT] + TRUNCATED
    if "@" in value or "gh" in value:
        out, pos = [], 0
        for start, end in _secret_spans(value):
            out += (value[pos:start], REMOVED)
            pos = end
        value = "".join(out) + value[pos:] if out else value
    return site_plugin.mark_invisible(value)


def check_database(path: Path) -> None:
    """Raise PublishError unless path is a regular SQLite file (not a device, folder or link loop)."""
    try:
        if not path.is_file():
            problem = ("is a folder" if path.is_dir() else "is not a regular file" if path.exists()
                       else "is a broken symlink or a symlink loop" if path.is_symlink() else "does not exist")
            raise PublishError(f"database {path} {problem}; set database.path to a civicbot database file")
        with path.open("rb") as f:
            magic = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise PublishError(f"database {path} cannot be read ({exc.strerror}); check database.path") from None
    if magic != SQLITE_MAGIC:
        raise PublishError(f"database {path} is not an SQLite database; check database.path")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sanitise(path: str | Path) -> dict[str, int]:
    """Sanitise a database file in place; values changed or rows removed per table."""
    conn = sqlite3.connect(str(path))
    conn.create_function("civicbot_scrub", 1, scrub, deterministic=True)
    changed: dict[str, int] = {}
    try:
        conn.execute("PRAGMA foreign_keys = OFF")
        db = sqlite_utils.Database(conn)
        if "items_fts" in db.table_names():
            db["items"].disable_fts()  # the trigram index of earlier versions
        for table in ("items_search", "items_search_state"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")  # rebuilt from the scrubbed text afterwards
        for table in DROP_TABLES:
            if table in db.table_names():
                db[table].drop()
        for table, drop in DROP_COLUMNS.items():
            for column in drop:
                if table in db.table_names() and column in db[table].columns_dict:
                    db[table].transform(drop={column})  # a copy of the table: any SQLite version
        for table, personal in site_plugin.PERSONAL_COLUMNS.items():
            if table in db.table_names():
                present = [c for c in personal if c in db[table].columns_dict]
                n = conn.execute(f"UPDATE {_quote(table)} SET {', '.join(f'{_quote(c)} = NULL' for c in present)} "
                                 f"WHERE {' OR '.join(f'{_quote(c)} IS NOT NULL' for c in present)}").rowcount \
                    if present else 0
                changed[table] = changed.get(table, 0) + n
        for table in db.table_names():
            if db[table].virtual_table_using or table.startswith("sqlite_"):
                continue
            columns = [c.name for c in db[table].columns]
            for flag in PRIVATE_COLUMNS:
                if flag in columns:
                    n = conn.execute(f"DELETE FROM {_quote(table)} WHERE {_quote(flag)} = 1").rowcount
                    changed[table] = changed.get(table, 0) + n
            if table == "repos" and "visibility" in columns:
                n = conn.execute("DELETE FROM repos WHERE visibility IS NOT NULL AND visibility != 'public'").rowcount
                changed[table] = changed.get(table, 0) + n
            for column in columns:
                c = _quote(column)
                n = conn.execute(f"UPDATE {_quote(table)} SET {c} = civicbot_scrub({c}) "
                                 f"WHERE typeof({c}) = 'text' AND civicbot_scrub({c}) != {c}").rowcount
                if n:
                    changed[table] = changed.get(table, 0) + n
        conn.commit()
        enable_search(db, rebuild=True)
        conn.commit()
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("VACUUM")
    finally:
        conn.close()
    return changed


def _copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def serve_command(db_name: str, cors: bool = True) -> list[str]:
    """The `datasette serve` command for a bundle, run from inside its folder."""
    command = ["datasette", "serve", "-i", db_name, "--inspect-file", "inspect-data.json",
               "-m", "metadata.json", "--template-dir", "templates", "--plugins-dir", PLUGINS_DIR,
               "--static", f"{STATIC_MOUNT}:static", "--static", f"{DOCS_MOUNT}:docs"]
    for key, value in SETTINGS.items():
        command += ["--setting", key, str(value)]
    if cors:
        command.append("--cors")
    return command


def build_bundle(config, out_dir: str | Path, *, source: str | Path | None = None,
                 run_inspect: bool = True) -> Path:
    """Write the published bundle for `config`'s database (or `source`) into out_dir; its database path."""
    source = Path(source or config.database.path)
    check_database(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{getattr(config, 'name', None) or source.stem}.db"
    target = out / name
    _copy(source, target)
    if hasattr(config, "zone"):  # the home page's figures, while the harvest's own tables are still there
        db = sqlite_utils.Database(target)
        try:
            write_front_tables(db, config)
        finally:
            db.conn.close()
    sanitise(target)
    metadata = build_metadata(config, db_path=target)
    (out / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False, indent=2), encoding="utf-8")
    for folder, src in (("templates", DASHBOARDS_DIR / "templates"), ("static", DASHBOARDS_DIR / "static"),
                        ("docs", DOCS_DIR)):
        shutil.rmtree(out / folder, ignore_errors=True)
        shutil.copytree(src, out / folder)
    (out / PLUGINS_DIR).mkdir(exist_ok=True)
    shutil.copyfile(site_plugin.__file__, out / PLUGINS_DIR / PLUGIN_FILE)
    if run_inspect:
        subprocess.run([sys.executable, "-m", "datasette", "inspect", name, "--inspect-file", "inspect-data.json"],
                       cwd=out, check=True, capture_output=True)
    (out / "README.md").write_text(_readme(name), encoding="utf-8")
    return target


def _readme(name: str) -> str:
    serve = " ".join(serve_command(name))
    mounts = f"--static {STATIC_MOUNT}:static --static {DOCS_MOUNT}:docs --plugins-dir {PLUGINS_DIR}"
    settings = " ".join(f"--setting {k} {v}" for k, v in SETTINGS.items())
    return f"""# civicbot: published bundle

Written by `civicbot publish`. `{name}` is a sanitised copy (no internal tables, no e-mail
addresses, no token-like strings); serve it immutable. Settings are explained in docs/publish.md.
Run these commands from this folder.

## Serve

```sh
{serve} -h 0.0.0.0 -p 8001
```

## Package as a Docker image

`datasette package` runs `datasette inspect` inside the image itself.

```sh
datasette package {name} -m metadata.json --template-dir templates {mounts} \\
  --install 'datasette-dashboards>=0.8,<0.9' -t civicbot-site --extra-options '{settings} --cors'
```

## Publish to Cloud Run

```sh
datasette publish cloudrun {name} --service civicbot -m metadata.json --template-dir templates {mounts} \\
  --install 'datasette-dashboards>=0.8,<0.9' --extra-options '{settings} --cors'
```
"""
