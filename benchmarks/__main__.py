"""civicbot benchmarks: `python -m benchmarks [--scales 1,10,100]` (or `make bench`).

Each case runs in a fresh subprocess so peak memory (ru_maxrss) is its own. Figures are
printed as a table and written to var/benchmarks.json; docs/performance.md records them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
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
    from benchmarks.load_world import load
    from civicbot.sandbox.generate import write_world

    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            world, db = Path(tmp) / "world.json", Path(tmp) / "bench.db"
            write_world(world, seed=1, scale=scale)
            counts = load(world, db)
            world.unlink()
            config = Path(tmp) / "bench.yml"
            config.write_text(f"name: bench\nupstream: Tokyo-Metro-Gov/covid19\ntimezone: Asia/Tokyo\n"
                              f"database: {{path: '{db}'}}\n", encoding="utf-8")
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scales", default="1,10,100", help="world scales (comma-separated)")
    parser.add_argument("--only", choices=["generate", "metrics"], help="run one benchmark")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    Path("var").mkdir(exist_ok=True)
    results = {}
    if args.only in (None, "generate"):
        results["generate"] = bench_generate(scales)
    if args.only in (None, "metrics"):
        results["metrics"] = bench_metrics(scales)
    Path("var/benchmarks.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
