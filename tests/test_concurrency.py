"""Readers while the harvest writes: a read-only sqlite3 connection and Datasette, in other threads.

WAL lets readers see the last committed state while the harvester writes: no reader error, no
"database is locked" in the harvest, and the final store equals the world.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

from harvest_helpers import assert_store_equals_world, family_config
from sizes import CONCURRENCY_SCALE

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.publish.commands import make_datasette
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store

QUERIES = [
    "SELECT COUNT(*) FROM items",
    "SELECT id, title, body FROM items ORDER BY id DESC LIMIT 5",
    "SELECT COUNT(*) FROM comments c JOIN items i ON i.id = c.item_id",
    "SELECT r.full_name, COUNT(i.id) FROM repos r LEFT JOIN items i ON i.repo_id = r.id GROUP BY r.id",
    "SELECT COUNT(*) FROM issue_events WHERE item_id IS NULL",
    "SELECT outcome FROM harvest_runs ORDER BY id DESC LIMIT 1",
]


def sqlite_reader(path, stop: threading.Event, errors: list, stats: dict) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5, check_same_thread=False)
    except Exception as exc:  # pragma: no cover - reported below
        errors.append(f"sqlite connect: {exc!r}")
        return
    try:
        seen = []
        while not stop.is_set():
            for sql in QUERIES:
                try:
                    rows = conn.execute(sql).fetchall()
                except Exception as exc:
                    errors.append(f"sqlite {sql[:40]}: {exc!r}")
                    continue
                stats["sqlite"] = stats.get("sqlite", 0) + 1
                if sql == QUERIES[0]:
                    seen.append(rows[0][0])
            # A reader never sees the store shrink: each snapshot is a committed state.
            if len(seen) >= 2 and seen[-1] < seen[-2]:
                errors.append(f"items went from {seen[-2]} to {seen[-1]}")
        stats["sqlite_counts"] = seen
    finally:
        conn.close()


def datasette_reader(ds, db_name: str, stop: threading.Event, errors: list, stats: dict) -> None:
    paths = [f"/{db_name}/items.json?_size=5", f"/{db_name}/comments.json?_size=5&_sort_desc=id",
             f"/{db_name}.json?sql=select+count(*)+from+items", f"/{db_name}/repos.json?_size=5"]

    async def loop():
        while not stop.is_set():
            for path in paths:
                try:
                    response = await ds.client.get(path)
                except Exception as exc:
                    errors.append(f"datasette {path}: {exc!r}")
                    continue
                if response.status_code != 200:
                    errors.append(f"datasette {path}: {response.status_code} {response.text[:200]}")
                stats["datasette"] = stats.get("datasette", 0) + 1
            await asyncio.sleep(0)

    try:
        asyncio.run(loop())
    except Exception as exc:  # pragma: no cover - reported below
        errors.append(f"datasette loop: {exc!r}")


def test_readers_during_a_harvest(sim_factory, tmp_path):
    world = generate_world_dict(seed=31, scale=CONCURRENCY_SCALE)
    sim = sim_factory(world)
    path = tmp_path / "live.db"
    config = family_config(world, sim.url, path)
    db = open_store(path)  # the schema exists before the readers start
    ds = make_datasette(path, config)
    stop, errors, stats = threading.Event(), [], {}
    readers = [threading.Thread(target=sqlite_reader, args=(path, stop, errors, stats), daemon=True),
               threading.Thread(target=datasette_reader, args=(ds, path.stem, stop, errors, stats), daemon=True)]
    for thread in readers:
        thread.start()
    time.sleep(0.2)  # both readers are in their loops when the first page is written
    try:
        result = harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None))
    finally:
        time.sleep(0.2)
        stop.set()
        for thread in readers:
            thread.join(30)
    assert not any(thread.is_alive() for thread in readers)
    assert not errors, errors[:5]
    assert result.outcome == "complete", result.error
    log = " ".join([result.error or "", *result.skipped, *result.failed.values()])
    assert "locked" not in log.lower(), log[:500]
    assert stats.get("sqlite", 0) > 20 and stats.get("datasette", 0) > 4, stats.keys()
    counts = stats["sqlite_counts"]
    assert counts[0] < counts[-1], "the reader saw no harvest progress"
    assert_store_equals_world(db, world)
    final = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    assert final.execute("SELECT COUNT(*) FROM items").fetchone()[0] == counts[-1]
    final.close()
    db.conn.close()
