"""Hostile issue text: `python -m benchmarks --only hostile-text [--scales 0.6]`.

Anyone who can open an issue can give it a body of 65,536 characters (GitHub's maximum), and
`civicbot triage` runs regular expressions on every issue's and pull request's text. Each of
those expressions must take time linear in the text (docs/performance.md, "Hostile issue
text"). This benchmark measures three things:

1. **One body.** Feature extraction for one item whose body is one of the worst cases below.
   That is what `civicbot triage` does for every issue: `History(...)` (which also reads the
   `close #N` references of pull requests) and then `history.snapshot(...)`. It runs in this
   process and the best of 3 runs is kept (a case slower than 1 s runs once).
2. **Scrubbing.** `civicbot publish`'s scrub of tokens and e-mail addresses
   (`civicbot.publish.bundle.scrub`) on the worst bodies for its pattern.
3. **A hostile world.** `civicbot triage` (`score_family`, in a fresh process, as with
   `--only triage`) on a store loaded from a generated world (default scale 0.6: 5,974 issues
   and PRs, 291 of them open issues), first as generated, then after every open issue has been
   given one of the worst-case issue bodies, in turn.

Every worst case is built to be the input that made one of the earlier expressions quadratic.
The module only uses `History`, `snapshot` and `scrub`, so it also runs against older code,
which is how the "before" figures in docs/performance.md were measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = 65_536  # GitHub's largest issue or comment body, in characters
NOW = "2030-01-01T00:00:00Z"


def _fill(unit: str, size: int = SIZE) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# name -> (body, the expressions it was worst for, is it a pull request's body)
ISSUE_BODIES: dict[str, tuple[str, str]] = {
    "path_run": (_fill("a"), "FILE_PATH_RE: path characters and no extension"),
    "path_segments": (_fill("ab/"), "FILE_PATH_RE: path segments and no extension"),
    "path_dots": (_fill("a."), "FILE_PATH_RE: dots but no known extension"),
    "japanese_run": (_fill("あ"), "FILE_PATH_RE: Japanese letters are \\w, so path characters too"),
    "blank_lines": (_fill("\n"), "LIST_RE, CHECKBOX_RE: ^\\s* across blank lines"),
    "checkbox_gap": ("- " + _fill("\n", SIZE - 2), "CHECKBOX_RE: \\s+ after a marker, across blank lines"),
    "digit_lines": (_fill("\n", SIZE // 2) + _fill("1", SIZE // 2), "LIST_RE: \\d+ after blank lines"),
    "open_quotes": (_fill("「"), "QUOTE_RE: bounded, 200 characters after every 「"),
    "ordinary_long": (_fill("## やること\n- [ ] `data/news.json` の「お知らせ」を修正 (typo)\n"
                            "- see https://example.com/a.html\n"), "none: an ordinary body, repeated"),
}
PULL_BODIES: dict[str, tuple[str, str]] = {
    "closing_gap": ("fix" + _fill(" ", SIZE - 3), "CLOSING_RE: \\s*:?\\s* after `fix`, then no #"),
}
SCRUB_BODIES: dict[str, tuple[str, str]] = {
    "scrub_local_run": ("gh " + _fill("a", SIZE - 3), "SECRET: an e-mail local part and no @"),
    "scrub_split_at": (_fill("a", SIZE // 2) + "@" + _fill("a", SIZE // 2 - 1), "SECRET: @ but no domain dot"),
    "scrub_dotted_domain": ("a@" + _fill("a.", SIZE - 2), "SECRET: a dotted domain without a top-level domain"),
}


def _history(body: str, pull: bool):
    from civicbot.config import Config
    from civicbot.triage.features import History

    config = Config(name="bench", upstream="bench/upstream")
    item = {"id": 1, "repo_id": 1, "number": 1, "is_pull_request": int(pull), "title": "hostile", "body": body,
            "user_id": 1, "state": "open", "created_at": "2020-03-01T00:00:00Z", "closed_at": None, "merged_at": None}
    return History(config, [item], [], [], {1: {"id": 1, "login": "someone", "is_bot": 0}}, {1: "bench/upstream"})


def _best(fn, limit: float = 1.0, runs: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
        if best > limit:
            break
    return best, out


def bench_bodies() -> list[dict]:
    rows = []
    _history("warm-up: imports and compiled expressions", False).snapshot(1, NOW)
    print(f"hostile  bodies: load average {_load_average()} before", flush=True)
    for kind, cases in (("issue", ISSUE_BODIES), ("pull", PULL_BODIES)):
        for name, (body, why) in cases.items():
            def extract(body=body, kind=kind):
                history = _history(body, kind == "pull")
                return history.snapshot(1, NOW).numeric
            seconds, numeric = _best(extract)
            rows.append({"case": name, "kind": kind, "chars": len(body), "worst_for": why,
                         "seconds": round(seconds, 4),
                         "features": {k: numeric[k] for k in ("n_file_paths", "n_list_items", "n_checkboxes",
                                                               "n_quotes", "n_links")}})
            print(f"hostile  {kind:5} {name:20} {len(body):>7,} chars  {seconds * 1000:10.1f} ms   ({why})",
                  flush=True)
    from civicbot.publish.bundle import scrub

    for name, (body, why) in SCRUB_BODIES.items():
        seconds, out = _best(lambda body=body: scrub(body))
        rows.append({"case": name, "kind": "scrub", "chars": len(body), "worst_for": why,
                     "seconds": round(seconds, 4), "changed": out != body})
        print(f"hostile  scrub {name:20} {len(body):>7,} chars  {seconds * 1000:10.1f} ms   ({why})", flush=True)
    print(f"hostile  bodies: load average {_load_average()} after", flush=True)
    return rows


def bench_world(scales: list[float], loaded_store, triage_case: str) -> list[dict]:
    """`civicbot triage` on a store as generated, then with a worst-case body in every open issue."""
    import sqlite3

    rows = []
    bodies = [body for body, _ in ISSUE_BODIES.values()]
    for scale in scales:
        with tempfile.TemporaryDirectory(dir="var") as tmp:
            config, counts = loaded_store(Path(tmp), scale)
            row = {"scale": scale, "items": counts.get("items", 0)}
            for case in ("ordinary", "hostile"):
                if case == "hostile":
                    conn = sqlite3.connect(Path(tmp) / "bench.db")
                    ids = [r[0] for r in conn.execute("SELECT id FROM items WHERE is_pull_request = 0 "
                                                      "AND state = 'open' ORDER BY id")]
                    with conn:
                        conn.executemany("UPDATE items SET body = ? WHERE id = ?",
                                         [(bodies[k % len(bodies)], item_id) for k, item_id in enumerate(ids)])
                    conn.close()
                    row["hostile_open_issues"] = len(ids)
                load_before = _load_average()
                out = subprocess.run([sys.executable, "-c", triage_case, str(config)], check=True,
                                     capture_output=True, text=True).stdout
                row[case] = {"load_average_before": load_before, "load_average_after": _load_average(),
                             **json.loads(out.strip().splitlines()[-1])}
                r = row[case]
                what = (f"{len(ids)} open issues with {SIZE:,}-character bodies" if case == "hostile"
                        else "bodies as generated")
                phases = "  ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
                print(f"hostile  world scale {scale:>5} {case:8}: {row['items']:>7,} issues+PRs, {what}  "
                      f"{r['seconds']:7.1f} s  peak RSS {r['peak_rss_mb']:7.1f} MB  {r['model']} "
                      f"({r['positives']} positives, {r['candidates']} candidates)  [{phases}]  "
                      f"load {load_before} -> {r['load_average_after']}", flush=True)
            rows.append(row)
    return rows


def _load_average() -> float:
    import os

    return round(os.getloadavg()[0], 2)


def bench_hostile_text(scales: list[float], loaded_store, triage_case: str) -> dict:
    return {"bodies": bench_bodies(), "world": bench_world(scales, loaded_store, triage_case)}
