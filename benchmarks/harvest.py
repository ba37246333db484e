"""Harvest benchmark: requests, quota, wall time and memory of `civicbot harvest` on the simulator.

For each world scale (seed 1) and each simulated network latency, a fresh simulator process
(`civicbot sandbox serve --latency-ms N`) serves the world and a fresh store is harvested three
times by `civicbot harvest --quiet` in its own process (so its peak RSS is its own):

1. the first, full harvest, compared with the request floor;
2. a refresh with nothing changed (target: 0 core quota, every list answering 304; the
   shared-root searches, sent without an ETag, spend the separate search bucket). Reviews are read
   one request per PR, at most `harvest.review_budget` (500) a run: a family with more PRs than
   that spends up to 500 on each refresh until the backlog is read, then 0 (`by_kind` "reviews");
3. a refresh after the titles of 1% of the family's issues and PRs were edited (seeded sample,
   spread over the repos in proportion to their size).

The world's one token gets a large hourly quota: at GitHub's 5,000 requests an hour a
scale-10 harvest would spend most of its time waiting for the reset, which is not what this
measures (the quota it would need is reported).
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from civicbot.config import HarvestSettings
from civicbot.sandbox.generate import DEMO_TOKEN, family_truth, generate_world

TOKEN_ENV = "CIVICBOT_BENCH_TOKEN"
CORE_LIMIT = 10_000_000  # per hour, for the benchmark's token only (see the module docstring)
CHANGED_SHARE = 0.01
EDIT_TITLE = "Edited by the harvest benchmark"

# `civicbot harvest --quiet -c CONFIG` in a fresh process that reports its own time, CPU and peak memory.
HARVEST_CASE = r"""
import json, resource, sys, time
from civicbot.cli import main
started = time.perf_counter()
try:
    main(["harvest", "--quiet", "-c", sys.argv[1]])
    code = 0
except SystemExit as exit:
    code = exit.code or 0
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"exit": code, "seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""

SERVE = "from civicbot.cli import main; main()"
_DECODER = json.JSONDecoder()


def write_bench_world(path: Path, scale: float) -> None:
    """The generator's world (seed 1), with the token's hourly quota raised to CORE_LIMIT."""
    patched = False
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for chunk in generate_world(seed=1, scale=scale, tmp_dir=str(path.parent)):
            if not patched and chunk.lstrip(",\n").startswith('"tokens"'):
                record = f'"token":"{DEMO_TOKEN}"'
                chunk = chunk.replace(record, f'{record},"core_limit":{CORE_LIMIT}', 1)
                patched = f'"core_limit":{CORE_LIMIT}' in chunk
            out.write(chunk)
    if not patched:
        raise RuntimeError("the generator's token record changed shape; cannot raise its quota")


def scan_world(path: Path) -> dict:
    """One pass over a world file as the generator writes it (one record a line): repos and
    commits whole, issues, comments and events only as per-repo counts (and item numbers, to
    pick edits), so even a 1.5 GB world costs little memory."""
    small: dict[str, list] = {"repos": [], "commits": []}
    counts: dict[int, Counter] = defaultdict(Counter)
    numbers: dict[int, list[int]] = defaultdict(list)
    section = None
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith('"'):
                section = line.split('"')[1]
                continue
            if section not in ("repos", "commits", "issues", "comments", "events", "review_comments") \
                    or not line.startswith("{"):
                continue
            record = _DECODER.raw_decode(line)[0]  # the record; then "," or "]," or "]}" may follow
            if section in small:
                small[section].append(record)
            elif section == "issues":
                counts[record["repo_id"]]["issues"] += 1
                counts[record["repo_id"]]["pulls"] += record.get("pull_request") is not None
                numbers[record["repo_id"]].append(record["number"])
            else:
                counts[record["repo_id"]][section] += 1
    return {**small, "counts": counts, "numbers": numbers}


def _reachable(commits: dict, head: str | None, since: str = "") -> int:
    """Commits reachable from head (dated `since` or later, when given)."""
    seen, stack = set(), [head] if head else []
    while stack:
        sha = stack.pop()
        if sha not in seen and sha in commits:
            seen.add(sha)
            stack.extend(commits[sha].get("parents", []))
    return sum(1 for sha in seen if commits[sha]["date"] >= since)


def family(scan: dict) -> dict:
    """What a whole-family harvest visits: the upstream, the copies found by shared root, the
    restarted and empty derivatives (which must be listed), and visible forks of all of them,
    recursively. Also the fork depth to configure."""
    truth = family_truth({"repos": scan["repos"], "commits": scan["commits"]})
    repos = {r["id"]: r for r in scan["repos"]}
    visible = {rid for rid, r in repos.items() if r.get("status", "active") == "active" and not r.get("private")}
    roots = [truth["upstream_id"], *sorted(truth["shared_root"] | truth["restarted"])]
    depth = {rid: 0 for rid in roots if rid in visible}
    frontier = set(depth)
    while frontier:  # forks of a deleted or taken-down repo are never listed, so never visited
        children = [r["id"] for r in scan["repos"] if r.get("fork_parent_id") in frontier
                    and r["id"] in visible and r["id"] not in depth]
        for rid in children:
            depth[rid] = depth[repos[rid]["fork_parent_id"]] + 1
        frontier = set(children)
    return {"ids": set(depth), "max_depth": max([1, *depth.values()]),
            "listed": sorted(f"{repos[i]['owner']}/{repos[i]['name']}" for i in truth["restarted"])}


def request_floor(scan: dict, ids: set[int]) -> Counter:
    """The fewest requests a full harvest of these repos can make, by resource: per repo 1, plus
    max(1, ceil(n / 100)) for each list (as tests/harvest_helpers.request_floor computes it), and
    one request per PR for its reviews, as many as one run's review budget allows."""
    commits = {c["sha"]: c for c in scan["commits"]}
    upstream = next((r["id"] for r in scan["repos"] if (r["owner"], r["name"]) == ("Tokyo-Metro-Gov", "covid19")),
                    scan["repos"][0]["id"])
    visible_forks = Counter(r.get("fork_parent_id") for r in scan["repos"]
                            if r.get("status", "active") == "active" and not r.get("private"))
    floor: Counter = Counter()
    for repo in scan["repos"]:
        if repo["id"] not in ids:
            continue
        n = scan["counts"][repo["id"]]
        lists = {"issues": n["issues"], "pulls": n["pulls"], "comments": n["comments"], "events": n["events"],
                 "labels": len(repo.get("labels", [])), "contributors": len(repo.get("contributors", [])),
                 "forks": visible_forks[repo["id"]], "commits": _reachable(commits, repo.get("head")),
                 "review_comments": n["review_comments"],
                 # the commit list: a derivative's since its creation (its older ones are the upstream's)
                 "commit list": _reachable(commits, repo.get("head"),
                                           "" if repo["id"] == upstream else repo["created_at"])}
        floor["repo"] += 1
        for name, size in lists.items():
            floor[name] += max(1, math.ceil(size / 100))
        floor["reviews"] += n["pulls"]
    floor["reviews"] = min(floor["reviews"], HarvestSettings().review_budget)
    return floor


def request_kind(path: str) -> str:
    """Which resource a simulator request read (the floor's categories, plus discovery)."""
    parts = path.strip("/").split("/")
    if parts[0] == "search":
        return "search"
    if parts[0] == "users":
        return "profiles" if len(parts) == 2 else "owner repos"  # GET /users/{login}: a person's profile
    rest = parts[2:] if parts[0] == "repositories" else parts[3:]
    if not rest:
        return "repo"
    if rest[0] == "issues" and len(rest) > 1 and rest[1] in ("comments", "events"):
        return rest[1]
    if rest[0] == "pulls" and len(rest) > 1 and rest[-1] in ("comments", "reviews"):
        return "review_comments" if rest[-1] == "comments" else "reviews"
    return rest[0]


def is_commit_list(request: dict) -> bool:
    """A request of the commit list (`commits?sha=BRANCH`), apart from the root-commit lookup
    (`per_page=1`) and discovery's reads of histories (no `sha`, or `sha=` a commit id)."""
    from urllib.parse import parse_qs

    sha = parse_qs(request.get("query") or "").get("sha", [""])[0]
    return request["path"].endswith("/commits") and bool(sha) and not (
        len(sha) == 40 and all(c in "0123456789abcdef" for c in sha))


def sim_admin(url: str, method: str = "GET", body: dict | None = None) -> dict:
    """A call to a simulator's admin routes (`/_sim/...`, never counted), its JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else {}


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _proc_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


class _Simulator:
    """`civicbot sandbox serve` in its own process, so its CPU and memory are not the harvester's."""

    def __init__(self, world: Path, latency_ms: float, tmp: Path):
        url_file, self.log = tmp / f"url-{latency_ms:g}.txt", tmp / f"simulator-{latency_ms:g}.log"
        with self.log.open("w") as log:  # a file, not a pipe nobody reads while the harvest runs
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE, "sandbox", "serve", "--world", str(world), "--port", "0",
                 "--url-file", str(url_file), "--latency-ms", str(latency_ms)],
                stdout=subprocess.DEVNULL, stderr=log)
        started = time.perf_counter()
        while not (url_file.exists() and url_file.read_text().strip()):
            if self.process.poll() is not None:
                raise RuntimeError(f"simulator exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started
        self.url = url_file.read_text().strip()

    def cpu(self) -> float | None:
        return _proc_cpu(self.process.pid)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _harvest(config: Path, sim: _Simulator) -> dict:
    """One `civicbot harvest` run: its own figures plus what the simulator counted."""
    sim_admin(f"{sim.url}/_sim/requests", "DELETE")
    cpu_before = sim.cpu()
    env = {**os.environ, TOKEN_ENV: DEMO_TOKEN}
    done = subprocess.run([sys.executable, "-c", HARVEST_CASE, str(config)], env=env, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    if result is None or result["exit"] != 0:
        raise RuntimeError(f"harvest failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu_after = sim.cpu()
    log = sim_admin(f"{sim.url}/_sim/requests")
    statuses = Counter(r["status"] for r in log["requests"])
    # Searches draw on their own bucket (30 a minute), not the 5,000-an-hour core quota.
    search_quota = sum(r["quota"] for r in log["requests"] if r["path"].startswith("/search/"))
    return {"seconds": round(result["seconds"], 2), "requests": log["count"], "quota": log["quota_used"],
            "core_quota": log["quota_used"] - search_quota, "search_quota": search_quota,
            # batch change detection's POST /graphql: counted in requests, spending points, not quota
            "graphql_requests": log.get("graphql", 0), "graphql_points": log.get("graphql_points", 0),
            "not_modified": statuses.get(304, 0), "harvester_cpu_s": round(result["cpu_seconds"], 1),
            "simulator_cpu_s": round(cpu_after - cpu_before, 1) if None not in (cpu_before, cpu_after) else None,
            "peak_rss_mb": round(result["peak_rss_mb"], 1),
            "commit_list_requests": sum(1 for r in log["requests"] if is_commit_list(r)),
            "commit_list_quota": sum(r["quota"] for r in log["requests"] if is_commit_list(r)),
            "by_kind": dict(Counter(request_kind(r["path"]) for r in log["requests"]).most_common()),
            "quota_by_kind": dict(Counter({kind: q for kind, q in _quota_by_kind(log["requests"]).items() if q}))}


# The resources issue 17 added, reported apart in every phase (requests / quota).
PEOPLE_KINDS = ("commit list", "review_comments", "reviews", "profiles", "languages")


def _quota_by_kind(requests: list[dict]) -> Counter:
    quota = Counter()
    for r in requests:
        quota["commit list" if is_commit_list(r) else request_kind(r["path"])] += r["quota"]
    return quota


def _people_kinds(figures: dict) -> str:
    counts = dict(figures["by_kind"], **{"commit list": figures["commit_list_requests"]})
    return ", ".join(f"{kind} {counts.get(kind, 0):,} req / {figures['quota_by_kind'].get(kind, 0):,} quota"
                     for kind in PEOPLE_KINDS)


def _stored(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {"repos": count("SELECT COUNT(DISTINCT repo_id) FROM discoveries"),
                "commits": count("SELECT COUNT(*) FROM commits"),
                "items": count("SELECT COUNT(*) FROM items"), "comments": count("SELECT COUNT(*) FROM comments"),
                "events": count("SELECT COUNT(*) FROM issue_events"),
                "edited": count(f"SELECT COUNT(*) FROM items WHERE title LIKE '{EDIT_TITLE}%'")}


def _write_config(path: Path, url: str, db: Path, fam: dict) -> None:
    """The whole family as config/demo.yml finds it (forks recursive, shared-root discovery),
    plus the derivatives no history can find, listed."""
    config = {
        "name": "bench", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo",
        "github": {"base_url": url, "token_env": [TOKEN_ENV],
                   "throttle": {"seconds_between_requests": 0, "seconds_between_writes": 0}},
        "bots": {"logins": ["github-actions[bot]", "dependabot[bot]", "netlify[bot]", "covid19-data-updater"]},
        "discovery": {"forks": {"enabled": True, "recursive": True, "max_depth": fam["max_depth"]},
                      "shared_root": {"enabled": True, "search_queries": ["covid19"], "topics": ["covid19"],
                                      "owners_other_repos": True},
                      "listed": [{"repo": name} for name in fam["listed"]]},
        "database": {"path": str(db)},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _edit_share(url: str, scan: dict, ids: set[int], share: float, seed: int = 1) -> int:
    """Edit the titles of `share` of the family's issues and PRs (a seeded sample over all of them)."""
    names = {r["id"]: f"{r['owner']}/{r['name']}" for r in scan["repos"]}
    items = [(rid, n) for rid in sorted(ids) for n in scan["numbers"].get(rid, [])]
    chosen = random.Random(seed).sample(items, max(1, round(share * len(items)))) if items else []
    for k, (rid, number) in enumerate(chosen):
        sim_admin(f"{url}/_sim/world", "POST", {"repo": names[rid], "action": "edit", "number": number,
                                             "changes": {"title": f"{EDIT_TITLE} ({k})"}})
    return len(chosen)


def _print(row: dict, phase: str, figures: dict, extra: str = "") -> None:
    print(f"harvest  scale {row['scale']:>6} latency {row['latency_ms']:>3g} ms  {phase:<11}"
          f"{figures['requests']:>8,} req {figures['core_quota']:>8,} core + {figures['search_quota']} search quota "
          f"{figures['seconds']:8.1f} s  "
          f"RSS {figures['peak_rss_mb']:6.1f} MB{extra}", flush=True)
    print(f"harvest  scale {row['scale']:>6} latency {row['latency_ms']:>3g} ms  {phase:<11}"
          f"of which {_people_kinds(figures)}", flush=True)


MAX_BACKLOG_RUNS = 30


def bench_harvest(scales: list[float], latencies: list[float], workdir: Path = Path("var")) -> list[dict]:
    """One row per (scale, latency). The world is generated once per scale (it is deterministic);
    each latency gets its own simulator process, hence an unedited world, and its own store."""
    rows = []
    workdir.mkdir(parents=True, exist_ok=True)
    for scale in scales:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp_name:
            tmp = Path(tmp_name)
            world = tmp / "world.json"
            started = time.perf_counter()
            write_bench_world(world, scale)
            generate_seconds = time.perf_counter() - started
            scan = scan_world(world)
            fam = family(scan)
            floor = request_floor(scan, fam["ids"])
            world_items = sum(c["issues"] for c in scan["counts"].values())
            family_items = sum(scan["counts"][rid]["issues"] for rid in fam["ids"])
            print(f"harvest  scale {scale:>6}: world {world_items:,} issues+PRs ({family_items:,} in the "
                  f"{len(fam['ids'])} family repos), floor {sum(floor.values()):,} requests, "
                  f"generated in {generate_seconds:.1f} s", flush=True)
            for latency in latencies:
                row = {"scale": scale, "latency_ms": latency, "world_items": world_items,
                       "family_repos": len(fam["ids"]), "family_items": family_items,
                       "floor": sum(floor.values()), "floor_by_kind": dict(floor),
                       "load_average_before": _load_average()}
                db, config = tmp / f"harvest-{latency:g}.db", tmp / f"harvest-{latency:g}.yml"
                sim = _Simulator(world, latency, tmp)
                try:
                    row["simulator_start_s"] = round(sim.start_seconds, 1)
                    _write_config(config, sim.url, db, fam)
                    full = _harvest(config, sim)
                    stored = _stored(db)
                    rows_stored = stored["items"] + stored["comments"] + stored["events"]
                    row.update({"stored": stored, "full": full,
                                "requests_over_floor": round(full["requests"] / row["floor"], 3),
                                "items_per_s": round(stored["items"] / full["seconds"], 1),
                                "rows_per_s": round(rows_stored / full["seconds"], 1)})
                    _print(row, "full", full, f"  floor {row['floor']:,} (x{row['requests_over_floor']})  "
                           f"{row['items_per_s']:,.0f} items/s  {row['rows_per_s']:,.0f} rows/s  "
                           f"{stored['repos']} repos, {stored['items']:,} items, {stored['comments']:,} comments, "
                           f"{stored['events']:,} events, {stored['commits']:,} commits")
                    row["refresh"] = _harvest(config, sim)
                    _print(row, "refresh", row["refresh"], f"  ({row['refresh']['not_modified']:,} answered 304)")
                    # Reviews (one request a PR) and profiles are budgeted per run: refresh until
                    # their backlog is read, then the no-change refresh has nothing left to do.
                    settled, runs = row["refresh"], 1
                    while runs < MAX_BACKLOG_RUNS and (settled["by_kind"].get("reviews", 0)
                                                       or settled["quota_by_kind"].get("profiles", 0)):
                        settled, runs = _harvest(config, sim), runs + 1
                    if runs > 1:
                        settled = row["settled"] = _harvest(config, sim)
                        _print(row, "settled", settled, f"  (after {runs} refreshes read the review backlog; "
                               f"{settled['not_modified']:,} answered 304)")
                    row["edited"] = _edit_share(sim.url, scan, fam["ids"], CHANGED_SHARE)
                    row["after_change"] = _harvest(config, sim)
                    # Whether the refresh brought every edit home, not only what it cost.
                    row["edits_stored"] = _stored(db)["edited"]
                    _print(row, f"{CHANGED_SHARE:.0%} changed", row["after_change"],
                           f"  ({row['edited']:,} items edited, {row['edits_stored']:,} of them stored)")
                    row["simulator_peak_rss_mb"] = _proc_peak_mb(sim.process.pid)
                finally:
                    sim.close()
                row["load_average_after"] = _load_average()
                print(f"harvest  scale {scale:>6} latency {latency:>3g} ms  load average {row['load_average_before']} "
                      f"-> {row['load_average_after']}, simulator peak RSS {row['simulator_peak_rss_mb']} MB, "
                      f"full harvest CPU: harvester {full['harvester_cpu_s']} s, simulator {full['simulator_cpu_s']} s",
                      flush=True)
                rows.append(row)
    return rows
