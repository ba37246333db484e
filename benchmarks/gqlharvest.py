"""Batch change detection benchmark (issue 20): `python -m benchmarks --only gqlharvest`.

Side by side in one run, on the simulator (in this process) answering every request after
`--latency-ms` (default 300, real GitHub's 100-500 ms):

- batch: a family of the generated world (seed 1, scale 0.2: 41 repos) plus `--forks` quiet forks
  of the upstream (default 3,000: most of the family), harvested with batch detection on;
- rest: the same world with `--sample-forks` quiet forks (default 261: 300 repos), harvested as
  today (REST only). A REST-only refresh of the whole family would take hours at 300 ms, so it is
  measured on this smaller family of the same shape and extrapolated per repo (x family size /
  sample size), which the output says.

Each side: a full harvest and two settling refreshes without latency (the first GraphQL answers
are stored then), then with latency: (1) a refresh with nothing changed; (2) a refresh after 1% of
the repos changed (a push to every hundredth repo by id, the upstream excluded: an upstream push
makes every fork's compare be asked again, with or without batch detection). Reported: wall time,
REST requests and quota, GraphQL requests and points, repos skipped. The token's quotas are
raised (the run measures time and requests, not waiting for resets).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from civicbot.config import RESOURCES, Config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.sandbox import SandboxServer, World
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store

UPSTREAM = "Tokyo-Metro-Gov/covid19"
CHANGED_EVERY = 100  # 1% of the repos


def family_world(quiet_forks: int) -> dict:
    """The scale-0.2 world plus `quiet_forks` forks of the upstream, each by its own owner, never touched."""
    world = generate_world_dict(seed=1, scale=0.2)
    upstream = next(r for r in world["repos"] if f"{r['owner']}/{r['name']}" == UPSTREAM)
    next_id, user_id = max(r["id"] for r in world["repos"]) + 1, max(u["id"] for u in world["users"]) + 1
    for n in range(quiet_forks):
        login = f"quiet-{n:05d}"
        world["users"].append({"id": user_id + n, "login": login, "type": "User", "name": None, "email": None,
                               "company": None, "location": None, "created_at": "2020-03-01T00:00:00Z"})
        world["repos"].append({
            "id": next_id + n, "owner": login, "name": "covid19", "description": upstream.get("description"),
            "homepage": None, "language": upstream.get("language"), "topics": [], "created_at": "2020-03-02T00:00:00Z",
            "updated_at": "2020-03-02T00:00:00Z", "pushed_at": "2020-03-02T00:00:00Z",
            "default_branch": upstream.get("default_branch", "main"), "archived": False, "private": False,
            "fork_parent_id": upstream["id"], "stargazers_count": 0, "status": "active", "former_names": [],
            "head": upstream.get("head"), "labels": [], "contributors": [], "languages": {}})
    for token in world["tokens"]:
        token.update(core_limit=10_000_000, search_limit=1_000_000, graphql_limit=10_000_000)
    return world


def family_config(world: dict, url: str, db_path: Path, batch: bool) -> Config:
    listed = [{"repo": f"{r['owner']}/{r['name']}"} for r in world["repos"]
              if r.get("fork_parent_id") is None and f"{r['owner']}/{r['name']}" != UPSTREAM]
    return Config.model_validate({
        "name": "gqlharvest-bench", "upstream": UPSTREAM,
        "github": {"base_url": url, "token_env": ["CIVICBOT_BENCH_TOKEN"]},
        "discovery": {"forks": {"max_depth": 4}, "listed": listed}, "database": {"path": str(db_path)},
        # Reviews read whole in the first harvest, so every refresh measured starts settled.
        "harvest": {"resources": [r for r in RESOURCES if r != "profiles"], "review_budget": 1_000_000,
                    "batch": {"enabled": batch}},
    })


def _run(sim: SandboxServer, config: Config, db) -> dict:
    start, started = len(sim.app.requests), time.perf_counter()
    result = harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None))
    seconds = time.perf_counter() - started
    log = sim.app.requests[start:]
    if result.outcome != "complete":
        raise RuntimeError(f"harvest {result.outcome}: {result.error or result.failed}")
    return {"seconds": round(seconds, 1), "repos": result.repos, "rest_requests": result.requests_made,
            "rest_quota": result.quota_used, "graphql_requests": result.graphql_requests,
            "graphql_points": result.graphql_points, "unchanged": result.unchanged,
            "sim_requests": len(log), "sim_graphql": sum(1 for e in log if e["path"] == "/graphql")}


def _change(sim: SandboxServer, tag: str) -> int:
    """A push to every hundredth visible repo by id, the upstream excluded; returns how many."""
    world = sim.app.world
    repos = sorted((r for r in world.repos.values() if r.status == "active" and not r.data.get("private")
                    and r.full_name != UPSTREAM), key=lambda r: r.id)
    changed = repos[::CHANGED_EVERY]
    for n, repo in enumerate(changed):
        sha = f"{tag}{n:08x}".ljust(40, "0")[:40]
        world.push(repo, [{"sha": sha, "message": "A change for the benchmark", "author": repo.data["owner"],
                           "author_name": repo.data["owner"], "author_email": "bench@example.com",
                           "date": "2021-04-01T00:00:00Z"}])
    return len(changed)


def _side(quiet_forks: int, batch: bool, latency_ms: float, workdir: Path) -> dict:
    world = family_world(quiet_forks)
    sim = SandboxServer(World(world)).start()
    try:
        config = family_config(world, sim.url, workdir / f"{'batch' if batch else 'rest'}.db", batch)
        db = open_store(config.database.path)
        setup = [_run(sim, config, db) for _ in range(3)]  # full, then settling refreshes, no latency
        sim.app.latency_ms = latency_ms
        quiet = _run(sim, config, db)
        changed = _change(sim, "b" if batch else "c")
        after = _run(sim, config, db)
        db.conn.close()
    finally:
        sim.stop()
    return {"repos": quiet["repos"], "setup": setup, "no_change": quiet, "changed_repos": changed,
            "after_changes": after}


def _per_repo(figures: dict, repos: int, target: int) -> dict:
    keys = ("seconds", "rest_requests", "rest_quota", "sim_requests")
    return {k: round(figures[k] / repos * target, 1) for k in keys}


def bench_gqlharvest(forks: int = 3000, sample_forks: int = 261, latency_ms: float = 300.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="civicbot-gqlbench-") as tmp:
        batch = _side(forks, True, latency_ms, Path(tmp))
        rest = _side(sample_forks, False, latency_ms, Path(tmp))
    size, sample = batch["repos"], rest["repos"]
    rest["extrapolated_to"] = size
    for phase in ("no_change", "after_changes"):
        rest[f"{phase}_extrapolated"] = _per_repo(rest[phase], sample, size)
    quiet, rest_quiet = batch["no_change"], rest["no_change_extrapolated"]
    out = {"latency_ms": latency_ms, "batch": batch, "rest": rest,
           "no_change_request_ratio": round(rest_quiet["sim_requests"] / max(1, quiet["sim_requests"]), 1)}
    print(f"gqlharvest: {size} repos, {latency_ms:g} ms per answer; REST side measured on {sample} repos and "
          f"extrapolated per repo to {size}")
    for phase, label in (("no_change", "no-change refresh"), ("after_changes", "after 1% changed")):
        b, r = batch[phase], rest[f"{phase}_extrapolated"]
        print(f"  {label:18} batch: {b['seconds']:7.1f} s, {b['rest_requests']:6} REST requests "
              f"({b['rest_quota']} quota) + {b['graphql_requests']} GraphQL ({b['graphql_points']} points), "
              f"{b['unchanged']} repos skipped | REST only: {r['seconds']:8.1f} s, {r['sim_requests']:8.0f} "
              f"requests ({r['rest_quota']:.0f} quota) [measured on {sample}: {rest[phase]['seconds']} s, "
              f"{rest[phase]['sim_requests']} requests]")
    print(f"  no-change refresh: {out['no_change_request_ratio']}x fewer requests with batch detection")
    return out
