"""`civicbot serve` and `civicbot publish`: thin click wrappers over civicbot.publish.

See docs/publish.md for the settings and why they are set.
"""

from __future__ import annotations

from pathlib import Path

import click

from civicbot.cli import CONFIG_OPTION, _load

from .metadata import DASHBOARDS_DIR, DOCS_DIR, DOCS_MOUNT, STATIC_MOUNT, build_metadata

# A public instance on the live database: queries stop after 1.5 s, pages hold at most 1,000
# rows, and responses may be cached for 5 minutes (the harvest refreshes data at most hourly).
LIVE_SETTINGS = {"sql_time_limit_ms": 1500, "max_returned_rows": 1000, "default_cache_ttl": 300,
                 "allow_download": False, "suggest_facets": False}


def register_site_plugin() -> None:
    """Register civicbot's Datasette plugin (limits, markdown without images, visible bidi marks)
    in this process; the bundle ships the same file in plugins/ instead."""
    from datasette.plugins import pm

    from . import site_plugin

    if not pm.is_registered(site_plugin):
        pm.register(site_plugin, name=site_plugin.SITE_PLUGIN)


def make_datasette(db_path: str | Path, config=None, *, immutable: bool = False, settings: dict | None = None,
                   metadata: dict | None = None, inspect_data: dict | None = None, cors: bool = True):
    """A Datasette for a civicbot database, with the generated metadata, templates and mounts."""
    from datasette.app import Datasette

    register_site_plugin()
    db_path = str(db_path)
    return Datasette(
        [] if immutable else [db_path],
        immutables=[db_path] if immutable else [],
        metadata=metadata if metadata is not None else build_metadata(config, db_path=db_path),
        template_dir=str(DASHBOARDS_DIR / "templates"),
        static_mounts=[(STATIC_MOUNT, str(DASHBOARDS_DIR / "static")), (DOCS_MOUNT, str(DOCS_DIR))],
        settings={**LIVE_SETTINGS, **(settings or {})},
        inspect_data=inspect_data,
        cors=cors,
    )


def prepare_live(config) -> Path:
    """Make sure the live database has a search index built from the items as they are now
    (rebuilt when items changed since) and the home page's figures; its path."""
    from civicbot.store import open_store

    from .front import write_front_tables
    from .search import enable_search

    db = open_store(config.database.path)
    try:
        enable_search(db)
        write_front_tables(db, config)
    finally:
        db.conn.close()
    return Path(config.database.path)


@click.command()
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
def serve(config_path: str, host: str, port: int) -> None:
    """Serve the live database with Datasette (read-only; WAL lets the harvest go on)."""
    import uvicorn

    from .bundle import PublishError, check_database

    config = _load(config_path)
    path = Path(config.database.path)
    if not path.exists() and not path.is_symlink():
        click.echo(f"civicbot: no database at {path}; run civicbot harvest -c {config_path} first", err=True)
        raise SystemExit(2)
    try:
        check_database(path)
    except PublishError as exc:
        click.echo(f"civicbot: {exc}", err=True)
        raise SystemExit(2) from None
    prepare_live(config)
    ds = make_datasette(path, config)  # its plugin's startup hook settles memory (site_plugin.settle_memory)
    click.echo(f"Datasette: http://{host}:{port}/ (Ctrl-C to stop)")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")


@click.command()
@CONFIG_OPTION
@click.option("--out", "out_dir", required=True, metavar="DIR", help="Folder for the bundle.")
def publish(config_path: str, out_dir: str) -> None:
    """Write a sanitised, immutable copy with metadata, inspect data and deploy commands."""
    import sqlite3

    from .bundle import PublishError, build_bundle

    config = _load(config_path)
    try:
        target = build_bundle(config, out_dir)
    except PublishError as exc:
        click.echo(f"civicbot: {exc}", err=True)
        raise SystemExit(2) from None
    except sqlite3.DatabaseError as exc:
        click.echo(f"civicbot: database {config.database.path} cannot be published ({exc}); "
                   "check it with civicbot doctor", err=True)
        raise SystemExit(2) from None
    click.echo(f"Published {target}; commands in {Path(out_dir) / 'README.md'}")
