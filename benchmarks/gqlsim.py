"""The simulator's GraphQL endpoint: `python -m benchmarks --only gqlsim [--scales 1,10]`.

A generated world (seed 1) served by SandboxServer on 127.0.0.1 with no latency; civicbot's
change query (tests/test_sandbox_graphql.py's copy of CHANGES_QUERY) for every repo of the
world, in batches of 100 ids, REPEAT times after one warm-up: milliseconds per query (p50/p95),
points per query, and beside it one REST repo read per repo (the least a REST check costs).
The schema build (once per process) is timed apart.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPEAT = 10
BATCH = 100


def _post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _get(url: str, token: str) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def bench_gqlsim(scales: list[float]) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_sandbox_graphql import CHANGES_QUERY

    from civicbot.sandbox import SandboxServer, World
    from civicbot.sandbox.generate import DEMO_TOKEN, write_world
    from civicbot.sandbox.graphql import github_schema
    from civicbot.sandbox.render import node_id

    started = time.perf_counter()
    github_schema()
    schema_seconds = time.perf_counter() - started
    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            path = write_world(Path(tmp) / "world.json", seed=1, scale=scale)
            world = World.load(path)
        ids = [node_id("Repository", rid) for rid in sorted(world.repos)]
        batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
        with SandboxServer(world) as sim:
            url = f"{sim.url}/graphql"
            _post(url, DEMO_TOKEN, {"query": CHANGES_QUERY, "variables": {"ids": batches[0]}})  # warm-up
            query_ms, points = [], []
            for _ in range(REPEAT):
                for batch in batches:
                    t = time.perf_counter()
                    answer = _post(url, DEMO_TOKEN, {"query": CHANGES_QUERY, "variables": {"ids": batch}})
                    query_ms.append((time.perf_counter() - t) * 1000)
                    points.append(answer["data"]["rateLimit"]["cost"])
            rest_ms = []
            for rid in sorted(world.repos)[:BATCH]:
                t = time.perf_counter()
                try:
                    _get(f"{sim.url}/repositories/{rid}", DEMO_TOKEN)
                except urllib.error.HTTPError:
                    pass  # a deleted or taken-down repo: its error answer is timed too
                rest_ms.append((time.perf_counter() - t) * 1000)
        row = {"scale": scale, "repos": len(ids), "items": len(world.data["issues"]), "queries": len(query_ms),
               "ids_per_query": min(BATCH, len(ids)), "query_ms_p50": round(statistics.median(query_ms), 1),
               "query_ms_p95": round(_p95(query_ms), 1), "points_per_query": max(points),
               "rest_repo_ms_p50": round(statistics.median(rest_ms), 1),
               "schema_build_seconds": round(schema_seconds, 2)}
        print(f"gqlsim   scale {scale:>6}: {row['repos']} repos, {row['items']} items; change query of "
              f"{row['ids_per_query']} ids p50 {row['query_ms_p50']} ms, p95 {row['query_ms_p95']} ms, "
              f"{row['points_per_query']} points; REST repo read p50 {row['rest_repo_ms_p50']} ms; "
              f"schema built in {row['schema_build_seconds']} s", flush=True)
        rows.append(row)
    return rows
