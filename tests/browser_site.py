"""A demo site for browser tests and screenshots: a generated world, harvested, measured, served.

Used by tests/test_browser.py and docs/screenshots.py. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_TITLE = '<script>alert("xss")</script><img src=x onerror=alert("xss")> 翻訳のお願い'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_store(folder: Path, scale: float = 0.05, seed: int = 3, hostile: bool = True):
    """Harvest a generated world (with one hostile issue title unless `hostile` is false: the
    screenshots show what visitors usually see) and compute every metric."""
    from civicbot.config import Config
    from civicbot.harvest.client import GitHubClient
    from civicbot.harvest.run import harvest
    from civicbot.metrics import write_all_metrics
    from civicbot.sandbox import SandboxServer, World
    from civicbot.sandbox.generate import generate_world_dict
    from civicbot.store import open_store

    world = generate_world_dict(seed=seed, scale=scale)
    upstream = world["repos"][0]
    first = next(i for i in world["issues"] if i["repo_id"] == upstream["id"] and not i.get("pull_request"))
    if hostile:
        first["title"] = HOSTILE_TITLE
    with SandboxServer(World(world)) as sim:
        config = Config.model_validate({
            "name": "browser", "upstream": f"{upstream['owner']}/{upstream['name']}", "timezone": "Asia/Tokyo",
            "title": {"ja": "デモ", "en": "Demo"}, "github": {"base_url": sim.url},
            "discovery": {"shared_root": {"search_queries": ["covid19"]}},
            "database": {"path": str(folder / "site.db")}})
        db = open_store(config.database.path)
        result = harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]]))
        assert result.outcome == "complete", result
    write_all_metrics(db, config)  # as `civicbot metrics` does: the maintainers' pages need their tables
    db.close()
    return config


@contextmanager
def serve_site(config):
    """Datasette on the store, as `civicbot serve` runs it, in a thread; yields its base URL."""
    import uvicorn

    from civicbot.publish.commands import make_datasette, prepare_live

    path = prepare_live(config)
    ds = make_datasette(path, config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ds.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", ds
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def site_pages(ds) -> list[tuple[str, str]]:
    """(name, path) of every dashboard, every canned query, and two searches."""
    metadata = ds.metadata()
    db_name = next(name for name in ds.databases if not name.startswith("_"))
    pages = [("home", "/"), ("dashboards", "/-/dashboards")]
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    pages += [(f"dashboard {slug}", f"/-/dashboards/{slug}") for slug in dashboards]
    queries = metadata.get("databases", {}).get(db_name, {}).get("queries", {})
    pages += [(f"query {name}", f"/{db_name}/{name}") for name in queries if name != "search"]
    pages += [("search 翻訳", f"/{db_name}/search?q=翻訳"), ("search 3+ chars", f"/{db_name}/search?q=Translate")]
    pages += [("items table", f"/{db_name}/items")]
    return pages
