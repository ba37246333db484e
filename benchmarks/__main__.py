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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--scales", default="1,10,100", help="world scales for the generator (comma-separated)")
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",") if s.strip()]
    results = {"generate": bench_generate(scales)}
    Path("var").mkdir(exist_ok=True)
    Path("var/benchmarks.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
