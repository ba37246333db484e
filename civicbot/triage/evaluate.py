"""`civicbot triage evaluate`: the walk-forward protocol of the notes, against baselines.

- Each issue is decided one minute after it was opened ("at creation"), with its features
  rebuilt from the event log as of then; it is a candidate only if it was open, unassigned,
  unlinked and without a GFI label at that moment.
- Time is split by month. For each test month, every method is trained only on examples
  decided before the month whose outcome was settled before it (GT-M: 60-day window plus the
  14 days a removal is watched; GT-N: the issue's closing), and scores the issues opened in the
  month. The last 20% of time is held out untouched unless `holdout=True`.
- Months whose training data has fewer than `min_train_positives` positives are not scored, so
  every method is compared on the same issues.
- Metrics: precision@1 and @3 per repo-week (averaged over repo-weeks with at least one
  positive), PR-AUC (average precision), ROC-AUC, Brier score of the probabilities; 95%
  intervals from a bootstrap that resamples repos (clustered), the same resamples for every
  method.
- Methods: `model` (calibrated logistic regression, char n-grams), `recgfi` (RecGFI-style
  features: word TF-IDF, text statistics, experience, label categories), `heuristic` (the
  label/keyword rules of `civicbot.triage.model.Heuristic`), `random`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from civicbot.config import Config
from civicbot.store.transaction import write_transaction
from civicbot.triage.features import History, parse_utc, to_text
from civicbot.triage.model import GFIModel, Heuristic, RandomBaseline, examples_at_creation

METHODS = ("model", "recgfi", "heuristic", "random")
METRICS = ("precision@1", "precision@3", "pr_auc", "roc_auc", "brier")
TRUTHS = ("GT-M", "GT-N", "GT-S")


@dataclass
class Predictions:
    repo: list[int] = field(default_factory=list)
    week: list[str] = field(default_factory=list)
    y: list[int] = field(default_factory=list)
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    probs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


@dataclass
class Figure:
    value: float | None
    low: float | None
    high: float | None


@dataclass
class TruthResult:
    truth: str
    split: str
    n_items: int
    n_positive: int
    n_repos: int
    months: int
    figures: dict[str, dict[str, Figure]]  # method -> metric -> figure


@dataclass
class EvaluationReport:
    results: list[TruthResult]
    run_key: str

    def figure(self, truth: str, method: str, metric: str) -> Figure:
        r = next(x for x in self.results if x.truth == truth)
        return r.figures[method][metric]

    def summary(self) -> str:
        lines = []
        for r in self.results:
            for method in METHODS:
                f = r.figures[method]
                lines.append(f"{r.truth} {r.split} {method:9} ROC-AUC {_fmt(f['roc_auc'])}  PR-AUC {_fmt(f['pr_auc'])}"
                             f"  P@1 {_fmt(f['precision@1'])}  Brier {_fmt(f['brier'])}")
        return "\n".join(lines)


def _fmt(f: Figure) -> str:
    if f.value is None:
        return "n/a"
    if f.low is None:
        return f"{f.value:.3f}"
    return f"{f.value:.3f} [{f.low:.3f}, {f.high:.3f}]"


def _month_starts(first: str, last: str) -> list[str]:
    a, b = parse_utc(first), parse_utc(last)
    out, y, m = [], a.year, a.month
    while (y, m) <= (b.year, b.month + 1 if b.month < 12 else b.month):
        out.append(to_text(datetime(y, m, 1, tzinfo=timezone.utc)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if len(out) > 600:
            break
    return out


def _week(text: str) -> str:
    iso = parse_utc(text).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def walk_forward(history: History, now: str, truth: str, holdout: bool = False,
                 min_train_positives: int = 5, seed: int = 0) -> tuple[Predictions, int]:
    examples = examples_at_creation(history, now)
    if not examples:
        return Predictions(), 0
    first, last = examples[0].snapshot.as_of, examples[-1].snapshot.as_of
    t0, t1 = parse_utc(first).timestamp(), parse_utc(last).timestamp()
    split = to_text(datetime.fromtimestamp(t0 + 0.8 * (t1 - t0), timezone.utc))
    months = _month_starts(first, last)
    preds, used = Predictions(), 0
    for start, end in zip(months, months[1:]):
        lo, hi = (max(start, split), end) if holdout else (start, min(end, split))
        if lo >= hi:
            continue
        train = [(ex.snapshot, ex.outcome.label(truth, lo)) for ex in examples if ex.snapshot.as_of < lo]
        train = [(s, int(y)) for s, y in train if y is not None]
        test = [(ex.snapshot, ex.outcome.label(truth)) for ex in examples if lo <= ex.snapshot.as_of < hi]
        test = [(s, int(y)) for s, y in test if y is not None]
        y_train = [y for _, y in train]
        if not test or sum(y_train) < min_train_positives or sum(y_train) == len(y_train):
            continue
        used += 1
        snaps_train = [s for s, _ in train]
        snaps_test = [s for s, _ in test]
        models = {"model": GFIModel("full", seed), "recgfi": GFIModel("recgfi", seed), "heuristic": Heuristic(),
                  "random": RandomBaseline(seed + used)}
        for name, model in models.items():
            model.fit(snaps_train, y_train)
            scores, probs = model.predict(snaps_test)
            preds.scores[name].extend(float(x) for x in scores)
            preds.probs[name].extend(float(x) for x in probs)
        for s, y in test:
            preds.repo.append(s.repo_id)
            preds.week.append(_week(s.as_of))
            preds.y.append(y)
    return preds, used


def _precision_at(k: int, y: np.ndarray, scores: np.ndarray, groups: list[tuple]) -> float | None:
    by: dict[tuple, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    values = []
    for idx in by.values():
        idx = np.array(idx)
        if y[idx].sum() == 0:
            continue
        top = idx[np.argsort(-scores[idx], kind="stable")][:k]
        values.append(y[top].sum() / len(top))
    return float(np.mean(values)) if values else None


def _metrics(y: np.ndarray, scores: np.ndarray, probs: np.ndarray, groups: list[tuple]) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    both = 0 < y.sum() < len(y)
    return {
        "precision@1": _precision_at(1, y, scores, groups),
        "precision@3": _precision_at(3, y, scores, groups),
        "pr_auc": float(average_precision_score(y, scores)) if both else None,
        "roc_auc": float(roc_auc_score(y, scores)) if both else None,
        "brier": float(brier_score_loss(y, probs)) if len(y) else None,
    }


def figures(preds: Predictions, bootstrap: int = 200, seed: int = 0) -> dict[str, dict[str, Figure]]:
    y = np.array(preds.y)
    groups = list(zip(preds.repo, preds.week))
    repos = np.array(preds.repo)
    unique = sorted(set(preds.repo))
    by_repo = {r: np.flatnonzero(repos == r) for r in unique}
    rng = np.random.default_rng(seed)
    samples = [np.concatenate([by_repo[r] for r in rng.choice(unique, size=len(unique), replace=True)])
               for _ in range(bootstrap)] if unique else []
    out: dict[str, dict[str, Figure]] = {}
    for method in METHODS:
        scores, probs = np.array(preds.scores[method]), np.array(preds.probs[method])
        point = _metrics(y, scores, probs, groups) if len(y) else dict.fromkeys(METRICS)
        boot: dict[str, list[float]] = defaultdict(list)
        for idx in samples:
            m = _metrics(y[idx], scores[idx], probs[idx], [groups[i] for i in idx])
            for k, v in m.items():
                if v is not None:
                    boot[k].append(v)
        out[method] = {k: Figure(point[k], *(np.percentile(boot[k], [2.5, 97.5]).tolist() if len(boot[k]) > 10
                                              else (None, None))) for k in METRICS}
    return out


def run_evaluation(db, config: Config, out_path: str | Path | None = None, bootstrap: int = 200,
                   holdout: bool = False, truths: tuple[str, ...] = TRUTHS, now: str | None = None,
                   min_train_positives: int = 5) -> EvaluationReport:
    now = now or to_text(datetime.now(timezone.utc))
    history = History.load(db, config)
    report = EvaluationReport([], uuid.uuid4().hex[:12])
    for split in (("walk_forward", "holdout") if holdout else ("walk_forward",)):
        for truth in truths:
            preds, months = walk_forward(history, now, truth, holdout=split == "holdout",
                                         min_train_positives=min_train_positives)
            report.results.append(TruthResult(truth, split, len(preds.y), int(sum(preds.y)), len(set(preds.repo)),
                                              months, figures(preds, bootstrap)))
    rows = [{"evaluated_at": now, "run_key": report.run_key, "split": r.split, "ground_truth": r.truth,
             "method": method, "metric": metric, "value": f.value, "ci_low": f.low, "ci_high": f.high,
             "n_items": r.n_items, "n_positive": r.n_positive, "n_repos": r.n_repos}
            for r in report.results for method, fs in r.figures.items() for metric, f in fs.items()]
    with write_transaction(db):
        db["gfi_evaluation"].insert_all(rows)
    if out_path:
        path = Path(out_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(report, config), encoding="utf-8")
    return report


def markdown(report: EvaluationReport, config: Config) -> str:
    lines = [f"# Good-first-issue triage: evaluation of {config.name}", "",
             "Walk-forward by month, each issue decided one minute after it was opened, features rebuilt",
             "from the event log as of then; training only on outcomes settled before the test month;",
             "the last 20% of time held out unless `--holdout`. Precision@k per repo-week (repo-weeks with",
             "at least one positive); 95% bootstrap intervals resampling repos.", "",
             "Ground truths: GT-M a person adds a GFI label within 60 days (kept 14 days; labels by bots and",
             "civicbot never count); GT-N closed by a merged linked PR whose author had at most 2 earlier merged",
             "PRs in the family (resolved issues only); GT-S both.", ""]
    for r in report.results:
        lines += [f"## {r.truth} ({r.split.replace('_', '-')})", "",
                  f"{r.n_items} issues ({r.n_positive} positive) from {r.n_repos} repos, {r.months} test months.", "",
                  "| method | ROC-AUC | PR-AUC | precision@1 | precision@3 | Brier |", "|---|---|---|---|---|---|"]
        for method in METHODS:
            f = r.figures[method]
            lines.append(f"| {method} | {_fmt(f['roc_auc'])} | {_fmt(f['pr_auc'])} | {_fmt(f['precision@1'])} | "
                         f"{_fmt(f['precision@3'])} | {_fmt(f['brier'])} |")
        lines.append("")
    return "\n".join(lines)
