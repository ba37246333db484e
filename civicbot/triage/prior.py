"""The cold-start prior: a good-first-issue model trained on real issues of many projects.

A young project has too few labelled good first issues to train its own model, so civicbot
ships a small prior (`prior_model.json`) trained on `../shared/data/real-issues` (real issues
from several hundred public repositories, many Japanese). Train it with

    python -m civicbot.triage.prior train --data ../shared/data/real-issues \
        --out civicbot/triage/prior_model.json

Features are project-independent and decided from what was visible at creation only:

- text: character 2-4-grams (`char_wb`, which works for Japanese without a tokenizer), hashed
  into `HASH_FEATURES` buckets so the file holds coefficients, not a vocabulary (no issue text);
- form: lengths (log; runs of digits count as one character), checklists, list items, code blocks,
  inline code, links, file paths, quoted exact text, small-task and debugging words, Japanese share.
  No count that grows with time, no label (the corpus's labels are as of its crawl, not at creation), no author field
  (the corpus's authors are search-sampled: their counts do not match a project's history).

The body is cut to its first `BODY_CHARS` characters, for training and scoring alike, because
the corpus holds only the opening of each description.

Training drops templated near-duplicates (Jaccard of hashed 4-gram sets >= `DUP_JACCARD`) and,
absolutely, every repository reserved for independent evaluation (`reserved`): the Tokyo
COVID-19 site and every covid19 / covid-19 / stopcovid repository. The regularisation C is
chosen from `C_GRID` by out-of-fold ROC-AUC over folds grouped by repository, inside the data
`fit` is given (so the leave-repos-out evaluation, which calls `fit` per fold, is nested), and the
probabilities are calibrated with Platt scaling on the chosen C's out-of-fold scores.

`blend` mixes the prior (its even-odds probability, `Prior.balanced`) with the project's own
model (or its heuristic): own weight w = n / (n + BLEND_K), where n
is the number of maintainer-added GFI labels in the project's history. With no history the
prior decides alone; at n = BLEND_K each counts half; there is no hard switch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from civicbot.triage.features import (
    CHECKBOX_RE,
    DEBUG_RE,
    JA_RE,
    LINK_RE,
    LIST_RE,
    QUOTE_RE,
    SMALL_TASK_RE,
    count_file_paths,
)

HASH_FEATURES = 2 ** 14
NGRAMS = (2, 4)
BODY_CHARS = 300      # the corpus keeps at most ~300 characters of a description (second pass)
DUP_JACCARD = 0.7     # near-duplicate: shares >= 70% of its 4-gram set with an earlier issue
BLEND_K = 30          # own-model weight n / (n + BLEND_K)
C_GRID = (1.0, 3.0, 10.0, 30.0)  # chosen inside the training data by grouped out-of-fold ROC-AUC
FORM_FEATURES = ["log_len_title", "log_len_body", "no_body", "n_checkboxes", "n_list_items", "n_code_blocks",
                 "n_inline_code", "n_links", "n_file_paths", "n_quotes", "small_task_words", "debug_words",
                 "ja_share"]
RESERVED_RE = re.compile(r"covid[-_]?19|stopcovid", re.IGNORECASE)  # covid19, covid-19, covid_19, stopcovid*
DIGITS_RE = re.compile(r"\d+")


def reserved(repo: str) -> bool:
    """True for a repository kept for independent evaluation: never train or tune on it."""
    return bool(RESERVED_RE.search(repo or ""))


def vectorizer() -> HashingVectorizer:
    return HashingVectorizer(analyzer="char_wb", ngram_range=NGRAMS, n_features=HASH_FEATURES,
                             alternate_sign=False, norm="l2", lowercase=True)


def _text(title: str, body: str) -> str:
    return f"{title}\n{body[:BODY_CHARS]}"


def form(title: str, body: str) -> list[float]:
    """The form features of one issue, in FORM_FEATURES order (counts log-scaled)."""
    body = body[:BODY_CHARS]
    text = f"{title}\n{body}"
    counts = [len(CHECKBOX_RE.findall(body)), len(LIST_RE.findall(body)), body.count("```") // 2,
              max(body.count("`") - 6 * (body.count("```") // 2), 0) // 2, len(LINK_RE.findall(body)),
              count_file_paths(text), len(QUOTE_RE.findall(text)), len(SMALL_TASK_RE.findall(text)),
              len(DEBUG_RE.findall(text))]
    return ([math.log1p(len(title)), math.log1p(len(body)), float(not body.strip())]
            + [math.log1p(c) for c in counts] + [len(JA_RE.findall(text)) / max(len(text), 1)])


def matrix(titles: list[str], bodies: list[str], mean=None, scale=None):
    """Hashed character n-grams beside standardised form features (mean/scale from
    training if given). Runs of digits become one 0: issue numbers, versions and dates say nothing
    across projects."""
    titles, bodies = [DIGITS_RE.sub("0", t) for t in titles], [DIGITS_RE.sub("0", b[:BODY_CHARS]) for b in bodies]
    text = vectorizer().transform([_text(t, b) for t, b in zip(titles, bodies)])
    dense = np.array([form(t, b) for t, b in zip(titles, bodies)], dtype=float).reshape(len(titles), len(FORM_FEATURES))
    if mean is None:
        mean, scale = dense.mean(axis=0), dense.std(axis=0)
        scale[scale == 0] = 1.0
    return sparse.hstack([text, sparse.csr_matrix((dense - mean) / scale)]).tocsr(), mean, scale


# ---------------------------------------------------------------------------------------------
# The corpus


def load_corpus(data: Path) -> list[dict]:
    path = Path(data) / "issues.jsonl"
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def dedupe(rows: list[dict]) -> list[dict]:
    """Drop templated near-duplicates: an issue whose 4-gram set (digits folded, hashed) overlaps an
    earlier kept issue's by Jaccard >= DUP_JACCARD. Greedy, in file order."""
    if not rows:
        return []
    hasher = HashingVectorizer(analyzer="char", ngram_range=(4, 4), n_features=2 ** 18, alternate_sign=False,
                               norm=None, binary=True)
    texts = [DIGITS_RE.sub("0", " ".join(_text(r.get("title") or "", r.get("body_excerpt") or "").lower().split()))
             for r in rows]
    x = hasher.transform(texts).astype(np.float32).tocsr()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = (x @ x.T).toarray()
    union = sizes[:, None] + sizes[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    kept: list[int] = []
    for i in range(len(rows)):
        if not kept or jaccard[i, kept].max() < DUP_JACCARD:
            kept.append(i)
    return [rows[i] for i in kept]


def training_rows(rows: list[dict]) -> list[dict]:
    """The rows the prior may learn from: reserved repositories out first, then near-duplicates."""
    return dedupe([r for r in rows if not reserved(r["repo"])])


def arrays(rows: list[dict]):
    titles = [r.get("title") or "" for r in rows]
    bodies = [r.get("body_excerpt") or "" for r in rows]
    y = np.array([bool(r["gfi"]) for r in rows], dtype=int)
    groups = np.array([r["repo"].lower() for r in rows])
    return titles, bodies, y, groups


# ---------------------------------------------------------------------------------------------
# Training


def fit(titles, bodies, y, groups, folds: int = 5) -> dict:
    """The fitted prior's numbers (the model part of the shipped file): logistic regression with C
    chosen from C_GRID by out-of-fold ROC-AUC over folds grouped by repository (no repo in both
    sides), then Platt scaling on the chosen C's out-of-fold decision values."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    from civicbot.triage.prior_eval import roc_auc

    def model(c):  # dual liblinear: far faster when features (16k) outnumber issues
        return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", dual=True, max_iter=5000, tol=1e-6)

    oof = {c: np.zeros(len(y)) for c in C_GRID}
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(titles, y, groups):
        x_train, mean, scale = matrix([titles[i] for i in train_idx], [bodies[i] for i in train_idx])
        x_test, _, _ = matrix([titles[i] for i in test_idx], [bodies[i] for i in test_idx], mean, scale)
        for c in C_GRID:
            oof[c][test_idx] = model(c).fit(x_train, y[train_idx]).decision_function(x_test)
    chosen = max(C_GRID, key=lambda c: roc_auc(y, oof[c]))  # ties: the smallest C (strongest regularisation)
    # Platt scaling on the out-of-fold scores (what CalibratedClassifierCV(sigmoid, ensemble=False)
    # does), kept as two numbers so the shipped file needs no pickle.
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof[chosen].reshape(-1, 1), y)
    x_all, mean, scale = matrix(titles, bodies)
    final = model(chosen).fit(x_all, y)
    w = final.coef_.ravel()
    return {"C": chosen, "text_coef": w[:HASH_FEATURES], "form_coef": w[HASH_FEATURES:], "form_mean": mean,
            "form_scale": scale, "intercept": float(final.intercept_[0]),
            "platt": [float(platt.coef_[0, 0]), float(platt.intercept_[0])]}


def train(data: Path, metrics: dict | None = None) -> dict:
    """The prior as a JSON-ready dict: coefficients, hashing parameters, provenance, metrics."""
    path = Path(data) / "issues.jsonl"
    rows = load_corpus(data)
    kept = training_rows(rows)
    titles, bodies, y, groups = arrays(kept)
    fitted = fit(titles, bodies, y, groups)
    return {
        "format": "civicbot-gfi-prior/2",
        "hashing": {"analyzer": "char_wb", "ngram_range": list(NGRAMS), "n_features": HASH_FEATURES,
                    "alternate_sign": False, "norm": "l2", "lowercase": True, "body_chars": BODY_CHARS},
        "C": fitted["C"], "C_grid": list(C_GRID),
        "form_features": FORM_FEATURES, "form_mean": [round(float(v), 6) for v in fitted["form_mean"]],
        "form_scale": [round(float(v), 6) for v in fitted["form_scale"]],
        "text_coef": [round(float(v), 4) for v in fitted["text_coef"]],
        "form_coef": [round(float(v), 6) for v in fitted["form_coef"]],
        "intercept": round(fitted["intercept"], 6), "platt": [round(v, 6) for v in fitted["platt"]],
        "provenance": {
            "file": "issues.jsonl", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "rows": len(rows), "reserved_dropped": sum(reserved(r["repo"]) for r in rows),
            "near_duplicates_dropped": sum(not reserved(r["repo"]) for r in rows) - len(kept),
            "trained_rows": len(kept), "trained_positives": int(y.sum()), "trained_repos": len(set(groups)),
            "exclusions": "repositories matching covid[-_]?19 or stopcovid (Tokyo-Metro-Gov/covid19 and its forks)",
            "dedupe": f"greedy, Jaccard of 4-gram sets >= {DUP_JACCARD}, digits folded",
            "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "command": "python -m civicbot.triage.prior train --data ../shared/data/real-issues "
                       "--out civicbot/triage/prior_model.json",
        },
        "metrics": metrics or {},
    }


# ---------------------------------------------------------------------------------------------
# Scoring


class Prior:
    def __init__(self, spec: dict):
        self.spec = spec
        self.coef = np.concatenate([np.asarray(spec["text_coef"]), np.asarray(spec["form_coef"])])
        self.mean, self.scale = np.asarray(spec["form_mean"]), np.asarray(spec["form_scale"])
        self.a, self.b = spec["platt"]

    def decision(self, titles: list[str], bodies: list[str]) -> np.ndarray:
        if not titles:
            return np.zeros(0)
        x, _, _ = matrix(titles, bodies, self.mean, self.scale)
        return x @ self.coef + self.spec["intercept"]

    def probability(self, titles: list[str], bodies: list[str]) -> np.ndarray:
        """Calibrated on the corpus, whose GFI share (13%) is an artefact of how it was searched."""
        return 1.0 / (1.0 + np.exp(-(self.a * self.decision(titles, bodies) + self.b)))

    def balanced(self, titles: list[str], bodies: list[str]) -> np.ndarray:
        """The calibrated probability with the corpus's base rate taken out (even odds): no project's
        base rate is the corpus's, and the triage threshold (0.5) assumes no base rate either."""
        rate = self.spec["provenance"]["trained_positives"] / self.spec["provenance"]["trained_rows"]
        return even_odds(self.probability(titles, bodies), rate)


def even_odds(probability: np.ndarray, base_rate: float) -> np.ndarray:
    """A probability calibrated at `base_rate` moved to even odds (the base rate's log-odds taken out)."""
    p = np.clip(probability, 1e-9, 1 - 1e-9)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) - math.log(base_rate / (1 - base_rate)))))


@lru_cache(maxsize=1)
def load() -> Prior:
    """The prior shipped with the package."""
    text = resources.files("civicbot.triage").joinpath("prior_model.json").read_text(encoding="utf-8")
    return Prior(json.loads(text))


def own_weight(own_positives: int, k: int = BLEND_K) -> float:
    return own_positives / (own_positives + k) if own_positives > 0 else 0.0


def blend(snaps, own_probs, own_positives: int, prior: Prior | None = None) -> np.ndarray:
    """Probabilities mixing the project's own model (or heuristic) with the prior, own weight
    n / (n + BLEND_K). `snaps` are triage Snapshots (title + body as of now)."""
    prior = prior or load()
    titles = [s.title for s in snaps]
    bodies = [s.text[len(s.title) + 1:] if s.text.startswith(s.title) else s.text for s in snaps]
    w = own_weight(own_positives)
    return w * np.asarray(own_probs, dtype=float) + (1 - w) * prior.balanced(titles, bodies)


def main(argv=None) -> None:
    import click

    @click.group()
    def cli():
        """The cold-start prior (docs/triage.md)."""

    @cli.command("train")
    @click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--evaluate/--no-evaluate", default=True, help="store leave-repos-out metrics in the file")
    def train_cmd(data: Path, out: Path, evaluate: bool):
        metrics = None
        if evaluate:
            from civicbot.triage.prior_eval import evaluate_corpus
            metrics = evaluate_corpus(data)
        spec = train(data, metrics)
        out.write_text(json.dumps(spec, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        click.echo(f"{out}: {out.stat().st_size:,} bytes; {spec['provenance']['trained_rows']} issues, "
                   f"{spec['provenance']['trained_positives']} GFI, {spec['provenance']['trained_repos']} repos")

    @cli.command("evaluate")
    @click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
    @click.option("--repeats", type=click.IntRange(1, 20), default=1, show_default=True,
                  help="also the mean over this many grouped splits (the split alone moves one figure by ~0.02)")
    def evaluate_cmd(data: Path, repeats: int):
        from civicbot.triage.prior_eval import evaluate_corpus, table
        click.echo(table(evaluate_corpus(data, repeats)))

    cli.main(args=argv, prog_name="python -m civicbot.triage.prior")


if __name__ == "__main__":
    main()
