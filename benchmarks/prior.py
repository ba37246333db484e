"""The cold-start prior: `python -m benchmarks --only prior [--scales 100000]`.

Measures, in this process (best of 3 for the short steps):

1. training the prior on `../shared/data/real-issues` (`prior.train` without its evaluation:
   reading, exclusions, near-duplicate removal, the grouped out-of-fold calibration and the final
   fit) — skipped when the corpus is absent;
2. scoring the corpus's issues with the shipped prior (`Prior.probability`);
3. scoring N synthetic open issues (default 10^5; Japanese and English titles and bodies of
   ordinary length, built from fragments), in batches of 10,000, with peak memory.
"""

from __future__ import annotations

import random
import resource
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-issues"
TITLES = ["README の誤字を修正", "お知らせの文言を修正", "Fix typo in docs", "Crash when saving settings",
          "ダークモードで文字が読めない", "Add CSV export", "翻訳を追加: 英語版", "リンク切れ", "Update dependencies",
          "地図のピンがずれる", "Improve accessibility of the menu", "テストを追加"]
BODIES = ["## 対象ファイル\n- `data/news.json`\n", "- [ ] 「お知らせ」を「新着情報」に変更\n", "Steps to reproduce:\n1. open\n",
          "```\nTraceback (most recent call last):\n```\n", "See https://example.org/page for details.\n",
          "スマートフォンで表示が崩れます。", "The button label should say \"Save\".\n", "参考: src/components/Map.vue\n"]


def synthetic(n: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    titles = [f"{rng.choice(TITLES)} #{rng.randrange(10_000)}" for _ in range(n)]
    bodies = ["".join(rng.choice(BODIES) for _ in range(rng.randrange(1, 6))) for _ in range(n)]
    return titles, bodies


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_prior(scales: list[float]) -> list[dict]:
    from civicbot.triage import prior

    model = prior.load()
    results = []
    if (CORPUS / "issues.jsonl").exists():
        started, cpu = time.perf_counter(), time.process_time()
        spec = prior.train(CORPUS)
        train_seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = prior.load_corpus(CORPUS)
        titles = [r.get("title") or "" for r in rows]
        bodies = [r.get("body_excerpt") or "" for r in rows]
        results.append({"case": "train on the corpus", "issues": spec["provenance"]["rows"],
                        "trained_on": spec["provenance"]["trained_rows"], "seconds": round(train_seconds, 2),
                        "cpu_seconds": round(cpu, 2)})
        results.append({"case": "score the corpus", "issues": len(rows),
                        "seconds": round(_best(lambda: model.probability(titles, bodies)), 3)})
    else:
        results.append({"case": "train on the corpus", "skipped": f"{CORPUS} is absent"})
    for scale in scales:
        n = int(scale)
        titles, bodies = synthetic(n)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, 10_000):
            model.balanced(titles[i:i + 10_000], bodies[i:i + 10_000])
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        results.append({"case": "score synthetic open issues", "issues": n, "seconds": round(seconds, 2),
                        "cpu_seconds": round(cpu, 2),
                        "issues_per_second": round(n / seconds),
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})
    for r in results:
        print(r)
    return results
