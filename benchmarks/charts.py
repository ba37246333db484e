"""Dashboard benchmark: `python -m benchmarks --only charts [--scales 100] [--store DIR]`.

A store loaded from a generated world (seed 1; scale 100 is about 10^6 items) with `civicbot
metrics` run, served as `civicbot serve` serves it (uvicorn, 127.0.0.1). Over HTTP, the way a
visitor's browser asks: every chart and figure of dashboards/dashboards.yml as datasette-dashboards
fetches it (`/<db>.json?sql=...&<filters>&_shape=array`, `[[ ... ]]` blocks of empty filters
dropped) under each set of filters a visitor can choose (none, a date window, the upstream, the
whole family, one derivative, a window on one derivative), the repository filter's choices, the
home page (its headline figures), the dashboard pages themselves, and every canned query with
its default parameters. 20 requests each after one warm-up, p50/p95.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta

REQUESTS = 20  # per query, after one warm-up
TARGET_MS = 250
WINDOW_DAYS = 183  # the date filter: half a year from the first day of activity, the busiest one


def filter_sets(db_path) -> list[tuple[str, dict]]:
    """(name, filter values) for the impact dashboard: none, a window, each kind of repository,
    and a window on the derivative with the most activity (the largest a visitor can pick)."""
    from civicbot.publish.metadata import UPSTREAM, WHOLE_FAMILY

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        first = conn.execute("SELECT min(local_date) FROM activity").fetchone()[0]
        derivative = conn.execute(
            "SELECT d.full_name FROM derivatives d JOIN activity a ON a.repo_id = d.repo_id "
            "GROUP BY d.repo_id ORDER BY count(*) DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    window = {"date_from": first, "date_to": (date.fromisoformat(first) + timedelta(days=WINDOW_DAYS)).isoformat()}
    sets = [("none", {}), ("window", window), ("upstream", {"repo": UPSTREAM}), ("family", {"repo": WHOLE_FAMILY})]
    if derivative:
        sets += [("derivative", {"repo": derivative[0]}), ("window+derivative", {**window, "repo": derivative[0]})]
    return sets


def chart_urls(base: str, db: str, metadata: dict, sets: list[tuple[str, dict]]) -> list[tuple[str, str, str]]:
    """(kind, name, URL) of every chart query as its dashboard fetches it, once per filter set for
    a dashboard with filters; the select filters' own queries, once."""
    from datasette_dashboards import replace_opts_in_query

    urls = []
    dashboards = (metadata.get("plugins") or {}).get("datasette-dashboards") or {}
    for slug, dashboard in dashboards.items():
        filters = dashboard.get("filters") or {}
        for fname, flt in filters.items():
            if flt.get("query"):
                urls.append(("filter", f"{slug}/{fname}", f"{base}/{db}.json?" + urllib.parse.urlencode(
                    {"sql": replace_opts_in_query(flt["query"], {}), "_shape": "array"})))
        for cname, chart in (dashboard.get("charts") or {}).items():
            if not chart.get("query"):
                continue
            for set_name, values in (sets if filters else [("none", {})]):
                values = {k: v for k, v in values.items() if k in filters and v}
                args = {"sql": replace_opts_in_query(chart["query"], values), **values, "_shape": "array"}
                kind = "figure" if chart.get("library") == "metric" else "chart"
                urls.append((kind, f"{slug}/{cname} [{set_name}]", f"{base}/{db}.json?" + urllib.parse.urlencode(args)))
    return urls


def bench_charts(scales: list[float], store, with_metrics, serve_case, free_port, get, percentile,
                 load_average) -> list[dict]:
    rows = []
    for scale in scales:
        with store(scale) as (folder, config, counts):
            metrics_seconds = with_metrics(folder, config)
            port = free_port()
            server = subprocess.Popen([sys.executable, "-c", serve_case, str(config), str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            base = f"http://127.0.0.1:{port}"
            try:
                started = time.perf_counter()
                while True:  # prepare_live builds the search index first
                    if server.poll() is not None:
                        raise RuntimeError(f"civicbot serve exited: {server.stderr.read()}")
                    try:
                        with urllib.request.urlopen(f"{base}/-/versions.json", timeout=5):
                            break
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        time.sleep(0.5)
                startup_seconds = time.perf_counter() - started
                with urllib.request.urlopen(f"{base}/-/databases.json", timeout=30) as response:
                    db = json.load(response)[0]["name"]
                with urllib.request.urlopen(f"{base}/-/metadata.json", timeout=30) as response:
                    metadata = json.load(response)
                sets = filter_sets(folder / "bench.db")
                urls = [("page", "home page", f"{base}/")]
                urls += [("page", f"dashboard {slug}", f"{base}/-/dashboards/{slug}")
                         for slug in (metadata.get("plugins") or {}).get("datasette-dashboards") or {}]
                urls += chart_urls(base, db, metadata, sets)
                canned = ((metadata.get("databases") or {}).get(db) or {}).get("queries") or {}
                urls += [("canned", name, f"{base}/{db}/{name}.json") for name in canned]
                load_before = load_average()
                queries = []
                for kind, name, url in urls:
                    get(url)  # warm-up
                    results = [get(url) for _ in range(REQUESTS)]
                    ms = [r[0] for r in results]
                    errors = sorted({f"{r[1]} {r[2]}".strip() for r in results if r[1] != 200})
                    q = {"kind": kind, "query": name, "p50_ms": round(statistics.median(ms), 1),
                         "p95_ms": round(percentile(ms, 95), 1), "max_ms": round(max(ms), 1),
                         "failed": sum(r[1] != 200 for r in results), "errors": errors}
                    queries.append(q)
                    flag = "" if q["p95_ms"] < TARGET_MS and not errors else "  MISSES"
                    failed = f"  {q['failed']}/{REQUESTS} failed: {'; '.join(errors)}" if errors else ""
                    print(f"charts   scale {scale:>6}: {kind:6} {name:52} p50 {q['p50_ms']:8.1f} ms  "
                          f"p95 {q['p95_ms']:8.1f} ms{flag}{failed}", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
            rows.append({"scale": scale, "items": counts.get("items", 0), "metrics_seconds": metrics_seconds,
                         "server_startup_seconds": round(startup_seconds, 1), "requests_per_query": REQUESTS,
                         "target_p95_ms": TARGET_MS, "filters": dict(sets), "load_average_before": load_before,
                         "load_average_after": load_average(), "queries": queries})
    return rows
