"""Search benchmark: `python -m benchmarks --only search [--scales 1,10,100]`.

A store loaded from a generated world (seed 1; scale 1 is about 10^4 items, 10 about 10^5,
100 about 10^6), its search index built as `civicbot serve` builds it, then the visitor's two
search boxes over HTTP against `civicbot serve` (uvicorn, 127.0.0.1): the `search` canned query
("search"), the items table's `?_search=` as JSON ("items") and as the HTML page a visitor sees,
with its count of matches ("page"); 20 requests per term after one warm-up, p50/p95.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

# (kind, term): 1-2 character Japanese, 3+ characters, English, mixed, folded forms.
TERMS = [("1-2 chars", "東京"), ("1-2 chars", "翻訳"), ("1-2 chars", "字"),
         ("3+ chars", "グラフ"), ("3+ chars", "ｸﾞﾗﾌ"), ("3+ chars", "陽性患者"),
         ("English", "translation"), ("English", "page"), ("English", "README"), ("English", "i18n"),
         ("mixed", "翻訳 translation"), ("no search", "")]  # "": the items page before a search
REQUESTS = 20
TARGET_MS = 100

INDEX_CASE = r"""
import json, resource, sys, time
import sqlite_utils
from civicbot.publish.search import enable_search
db = sqlite_utils.Database(sys.argv[1])
started = time.perf_counter()
enable_search(db, rebuild=True)
seconds = time.perf_counter() - started
pages = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'items_search%'").fetchone()[0]
print(json.dumps({"index_seconds": round(seconds, 1), "index_mb": round((pages or 0) / 2**20, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def bench_search(scales: list[float], store, serve_case, free_port, get, percentile) -> list[dict]:
    rows = []
    for scale in scales:
        with store(scale) as (folder, config, counts):
            built = folder / "index.json"  # a kept store (--store) keeps its index and its figures
            if built.exists():
                index = json.loads(built.read_text(encoding="utf-8"))
            else:
                index = json.loads(subprocess.run([sys.executable, "-c", INDEX_CASE, str(folder / "bench.db")],
                                                  check=True, capture_output=True, text=True).stdout)
                built.write_text(json.dumps(index), encoding="utf-8")
            print(f"search   scale {scale:>6}: {counts.get('items', 0)} items, index built in "
                  f"{index['index_seconds']} s, {index['index_mb']} MB", flush=True)
            port = free_port()
            server = subprocess.Popen([sys.executable, "-c", serve_case, str(config), str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            base = f"http://127.0.0.1:{port}"
            queries = []
            try:
                while True:
                    if server.poll() is not None:
                        raise RuntimeError(f"civicbot serve exited: {server.stderr.read()}")
                    try:
                        with urllib.request.urlopen(f"{base}/-/versions.json", timeout=5):
                            break
                    except (OSError, urllib.error.URLError):
                        time.sleep(0.5)
                with urllib.request.urlopen(f"{base}/-/databases.json", timeout=30) as response:
                    db = json.load(response)[0]["name"]
                for kind, term in TERMS:
                    table, found = f"{base}/{db}/items", 100  # the page without a search shows a full page
                    for box, url in (("search", f"{base}/{db}/search.json?" + urllib.parse.urlencode(
                                          {"q": term, "_shape": "array"})),
                                     ("items", f"{table}.json?" + urllib.parse.urlencode(
                                          {"_search": term, "_shape": "array", "_size": 100})),
                                     ("page", f"{table}?" + urllib.parse.urlencode({"_search": term})
                                      if term else table)):
                        if not term and box != "page":
                            continue
                        get(url)  # warm-up
                        results = [get(url) for _ in range(REQUESTS)]
                        ms = [r[0] for r in results]
                        errors = sorted({f"{r[1]} {r[2]}".strip() for r in results if r[1] != 200})
                        if box != "page":  # the page shows the JSON box's rows, with their count
                            with urllib.request.urlopen(url, timeout=60) as response:
                                found = len(json.load(response))
                        q = {"kind": kind, "term": term, "box": box, "rows": found,
                             "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
                             "max_ms": round(max(ms), 1), "errors": errors}
                        queries.append(q)
                        flag = "" if q["p95_ms"] < TARGET_MS and not errors else "  MISSES"
                        print(f"search   scale {scale:>6}: {kind:9} {box:6} {term:12} rows {found:4}  "
                              f"p50 {q['p50_ms']:7.1f} ms  p95 {q['p95_ms']:7.1f} ms{flag}"
                              f"{'  ' + '; '.join(errors) if errors else ''}", flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
            rows.append({"scale": scale, "items": counts.get("items", 0), **index, "requests_per_term": REQUESTS,
                         "target_p95_ms": TARGET_MS, "queries": queries})
    return rows
