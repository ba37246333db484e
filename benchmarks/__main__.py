"""civicbot benchmarks: `python -m benchmarks [--scales 1,10,100] [--only NAME]` (or `make bench`).

Without --scales, generate and metrics run at 1,10,100, triage at 10, charts at 100 and
hostile-text (feature extraction on 65,536-character worst-case bodies) at 0.6; prior (training
the cold-start prior on the real corpus, scoring it, and scoring N synthetic issues) at 100000.

Each case runs in a fresh subprocess so peak memory (ru_maxrss) is its own. `--store DIR` keeps
the stores the charts and search benchmarks load, one per scale, and reuses them. Figures are
printed as a table and written to var/benchmarks.json; docs/performance.md records them.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path

CASE = r"""
import json, resource, sys, time
from pathlib import Path
from civicbot.sandbox.generate import write_world
scale, out = float(sys.argv[1]), Path(sys.argv[2])
started = time.perf_counter()
write_world(out, seed=1, scale=scale)
seconds = time.perf_counter() - started
items, section = 0, None
with out.open(encoding="utf-8") as f:  # count issues+PRs without loading the world: one item a line
    for line in f:
        if line.startswith('"') and line.rstrip().endswith("["):
            section = line.split('"')[1]
        elif section == "issues" and line.startswith("{"):
            items += 1
print(json.dumps({"scale": scale, "seconds": round(seconds, 2), "items": items,
                  "bytes": out.stat().st_size,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


# `civicbot metrics -c CONFIG` in a fresh process that reports its own peak memory.
METRICS_CASE = r"""
import json, resource, sys
from civicbot.cli import main
try:
    main(["metrics", "-c", sys.argv[1]])
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


# `civicbot triage -c CONFIG` (score_family: train on the history, score the open issues, write
# gfi_candidates) in a fresh process that reports its own peak memory and where the time went.
TRIAGE_CASE = r"""
import json, resource, sys, time
from civicbot.cli import _load
from civicbot.store import open_store
from civicbot.triage import score
phases = {}
def timed(name, fn):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0) + time.perf_counter() - started
    return wrapper
score.History.load = timed("load_history", score.History.load)
score.train = timed("train", score.train)
score.current_state = timed("current_state", score.current_state)
score._write = timed("write", score._write)
started = time.perf_counter()
config = _load(sys.argv[1])
db = open_store(config.database.path)
result = score.score_family(db, config, repos=[], extra_bot_logins=None)
seconds = time.perf_counter() - started
phases["score"] = seconds - sum(phases.values())  # snapshots of the open issues, predict, reasons
print(json.dumps({"seconds": round(seconds, 2), "model": result.model, "positives": result.positives,
                  "candidates": len(result.candidates), "phases": {k: round(v, 2) for k, v in phases.items()},
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""

# `civicbot serve -c CONFIG` on a given port: prepare_live (search index), make_datasette, uvicorn.
SERVE_CASE = r"""
import sys, uvicorn
from civicbot.cli import _load
from civicbot.publish.commands import make_datasette, prepare_live
config = _load(sys.argv[1])
path = prepare_live(config)
ds = make_datasette(path, config)  # the site plugin's startup hook settles memory, as in civicbot serve
uvicorn.run(ds.app(), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            lifespan="on")
"""

def _loaded_store(tmp: Path, scale: float) -> tuple[Path, dict]:
    """A store loaded from a generated world (seed 1), and the bench configuration that points at it."""
    from benchmarks.load_world import load
    from civicbot.sandbox.generate import write_world

    world, db = tmp / "world.json", tmp / "bench.db"
    write_world(world, seed=1, scale=scale)
    counts = load(world, db)
    world.unlink()
    return _bench_config(tmp), counts


def _bench_config(folder: Path) -> Path:
    """The bench configuration of the store in `folder`, by absolute path: a relative one would
    resolve against whatever folder the next run starts from (and open an empty database there)."""
    config = folder / "bench.yml"
    config.write_text(f"name: bench\nupstream: Tokyo-Metro-Gov/covid19\ntimezone: Asia/Tokyo\n"
                      f"database: {{path: '{(folder / 'bench.db').resolve()}'}}\n", encoding="utf-8")
    return config


def _check_kept_store(folder: Path) -> None:
    """A kept store must still hold what was loaded into it; else say what to do (never bench an empty one)."""
    db = folder / "bench.db"
    try:
        with closing(sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True)) as conn:  # ro: never creates it
            loaded = conn.execute("SELECT 1 FROM repos LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        loaded = False
    if not loaded:
        raise SystemExit(f"--store: {db} is missing or empty; delete {folder} and run again to load it anew")


@contextmanager
def _store(scale: float, keep: str | None):
    """(folder, config, counts) of a loaded store: in a temporary folder, or with `--store DIR`
    kept in DIR/scale-N and reused by the next run (a store of 10^6 items takes minutes to load)."""
    if keep is None:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            yield (Path(tmp), *_loaded_store(Path(tmp), scale))
        return
    folder = Path(keep).resolve() / f"scale-{scale:g}"
    done = folder / "counts.json"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(_loaded_store(folder, scale)[1]), encoding="utf-8")
    _check_kept_store(folder)
    # written again: a store kept by an older run may name its database by a relative path
    yield folder, _bench_config(folder), json.loads(done.read_text(encoding="utf-8"))


def _with_metrics(folder: Path, config: Path) -> float:
    """Seconds `civicbot metrics` took on the store (run once per kept store)."""
    done = folder / "metrics.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))["seconds"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", METRICS_CASE, str(config)], check=True, capture_output=True)
    seconds = round(time.perf_counter() - started, 1)
    done.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    return seconds


def _load_average() -> float:
    return round(os.getloadavg()[0], 2)


def bench_generate(scales: list[float]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            out = Path(tmp) / f"world-{scale}.json"
            result = subprocess.run([sys.executable, "-c", CASE, str(scale), str(out)],
                                    capture_output=True, text=True, check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
            out.unlink()
            print(f"generate scale {scale:>6}: {rows[-1]['items']:>9,} issues+PRs  {rows[-1]['bytes'] / 1e6:8.1f} MB  "
                  f"{rows[-1]['seconds']:7.1f} s  peak RSS {rows[-1]['peak_rss_mb']:7.1f} MB", flush=True)
    return rows


def bench_metrics(scales: list[float]) -> list[dict]:
    """`civicbot metrics` on stores loaded from generated worlds (benchmarks/load_world.py)."""
    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            config, counts = _loaded_store(Path(tmp), scale)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", METRICS_CASE, str(config)], check=True,
                                 capture_output=True, text=True).stdout
            seconds = time.perf_counter() - started
            rows.append({"scale": scale, "items": counts.get("items", 0), "comments": counts.get("comments", 0),
                         "events": counts.get("issue_events", 0), "seconds": round(seconds, 2),
                         "peak_rss_mb": json.loads(out.strip().splitlines()[-1])["peak_rss_mb"]})
            print(f"metrics  scale {scale:>6}: {rows[-1]['items']:>9,} issues+PRs  {rows[-1]['seconds']:7.1f} s  "
                  f"peak RSS {rows[-1]['peak_rss_mb']:7.1f} MB", flush=True)
    return rows


def bench_triage(scales: list[float]) -> list[dict]:
    """`civicbot triage` (train + score + write gfi_candidates) on stores loaded from generated worlds."""
    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            config, counts = _loaded_store(Path(tmp), scale)
            load_before = _load_average()
            out = subprocess.run([sys.executable, "-c", TRIAGE_CASE, str(config)], check=True,
                                 capture_output=True, text=True).stdout
            row = {"scale": scale, "items": counts.get("items", 0), "load_average_before": load_before,
                   "load_average_after": _load_average(), **json.loads(out.strip().splitlines()[-1])}
            rows.append(row)
            phases = "  ".join(f"{k} {v:.1f}" for k, v in row["phases"].items())
            print(f"triage   scale {scale:>6}: {row['items']:>9,} issues+PRs  {row['seconds']:7.1f} s  "
                  f"peak RSS {row['peak_rss_mb']:7.1f} MB  {row['model']} ({row['positives']} positives, "
                  f"{row['candidates']} candidates)  [{phases}]", flush=True)
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[float, int, str]:
    """(milliseconds, HTTP status, error text if any) for one GET, body read in full."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
            status, error = response.status, ""
    except urllib.error.HTTPError as exc:
        body = exc.read().decode("utf-8", "replace")
        status = exc.code
        try:
            error = json.loads(body).get("error") or body
        except ValueError:
            error = body
        if "took too long" in error:
            error = "timed out (sql_time_limit_ms)"
        error = " ".join(error.split())[:200]
    return (time.perf_counter() - started) * 1000, status, error


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p95 of 20 requests: the 19th fastest)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scales", help="world scales (comma-separated; default 1,10,100, "
                                         "triage 10, charts 100, hostile-text 0.6)")
    parser.add_argument("--only", choices=["generate", "metrics", "triage", "charts", "peer", "harvest",
                                           "hostile-text", "prior", "search", "gqlsim", "gqlharvest"],
                        help="run one benchmark (peer: side by side with github-to-sqlite, default scale 1)")
    parser.add_argument("--store", metavar="DIR", help="charts, search: keep each scale's loaded store in "
                                                       "DIR/scale-N and reuse it on the next run")
    parser.add_argument("--latency-ms", default="0,50", help="harvest: simulated latency per response (comma-separated; "
                                                            "gqlharvest: one value, default 300)")
    parser.add_argument("--forks", type=int, default=3000, help="gqlharvest: quiet forks added to the family")
    parser.add_argument("--sample-forks", type=int, default=261,
                        help="gqlharvest: quiet forks of the REST-only family, measured and extrapolated per repo")
    args = parser.parse_args()

    def scales(default: str) -> list[float]:
        return [float(s) for s in (args.scales or default).split(",") if s.strip()]

    Path("var").mkdir(exist_ok=True)
    results = {}
    if args.only in (None, "generate"):
        results["generate"] = bench_generate(scales("1,10,100"))
    if args.only in (None, "metrics"):
        results["metrics"] = bench_metrics(scales("1,10,100"))
    if args.only in (None, "triage"):
        results["triage"] = bench_triage(scales("10"))
    if args.only in (None, "charts"):
        from benchmarks.charts import bench_charts
        results["charts"] = bench_charts(scales("100"), lambda scale: _store(scale, args.store), _with_metrics,
                                         SERVE_CASE, _free_port, _get, _percentile, _load_average)
    if args.only in (None, "peer"):
        from benchmarks.peer import bench_peer
        results["peer"] = bench_peer(scales("1"))
    if args.only in (None, "harvest"):
        from benchmarks.harvest import bench_harvest
        results["harvest"] = bench_harvest(scales("1,10"), [float(x) for x in args.latency_ms.split(",") if x.strip()])
    if args.only in (None, "hostile-text"):
        from benchmarks.hostile_text import bench_hostile_text
        results["hostile_text"] = bench_hostile_text(scales("0.6"), _loaded_store, TRIAGE_CASE)
    if args.only in (None, "prior"):
        from benchmarks.prior import bench_prior
        results["prior"] = bench_prior(scales("100000"))
    if args.only == "search":  # not in the default run: it loads its own stores (see benchmarks/search.py)
        from benchmarks.search import bench_search
        results["search"] = bench_search(scales("1,10"), lambda scale: _store(scale, args.store), SERVE_CASE,
                                         _free_port, _get, _percentile)
    if args.only == "gqlharvest":  # not in the default run: about half an hour (benchmarks/gqlharvest.py)
        from benchmarks.gqlharvest import bench_gqlharvest
        latency = float(args.latency_ms) if "," not in args.latency_ms else 300.0
        results["gqlharvest"] = bench_gqlharvest(args.forks, args.sample_forks, latency)
    if args.only == "gqlsim":  # the simulator's GraphQL endpoint (see benchmarks/gqlsim.py)
        from benchmarks.gqlsim import bench_gqlsim
        results["gqlsim"] = bench_gqlsim(scales("1,10"))
    Path("var/benchmarks.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
