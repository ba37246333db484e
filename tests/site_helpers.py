"""A small store for site tests: one repo and the given items, and an in-process GET."""

from __future__ import annotations

import asyncio

from civicbot.store import open_store


def site_store(path, items: dict[int, tuple[str, str]]):
    """A store at `path` with repo o/r holding `items` ({id: (title, body)}), numbered in order."""
    db = open_store(path)
    with db.conn:
        db.execute("INSERT INTO repos (id, full_name, owner, name) VALUES (1, 'o/r', 'o', 'r')")
        for n, (item_id, (title, body)) in enumerate(sorted(items.items()), start=1):
            db.execute("INSERT INTO items (id, repo_id, number, title, body, state, is_pull_request, created_at,"
                       " updated_at, html_url) VALUES (?, 1, ?, ?, ?, 'open', 0, ?, ?, '')",
                       [item_id, n, title, body, f"2020-03-{n:02}T00:00:00Z", f"2020-03-{n:02}T00:00:00Z"])
    return db


def get(ds, path):
    async def run():
        return await ds.client.get(path)
    return asyncio.run(run())
