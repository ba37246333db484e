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
  percentile-bootstrap intervals, the same resamples for every method: repos are resampled
  (clustered) when there are several, issues (and repo-weeks for precision@k) on one repo. A
  repo drawn twice is two repos, so each resample is scored exactly as the estimate is. Each
  figure shows its base rate (what a random order or the base rate as probability scores), and
  each "n/a" says why.
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
    base: float | None = None  # what guessing scores: the base rate the figure is to be read against
    why: str | None = None     # why the value or its interval is missing ("n/a")


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
    base = f" (base {f.base:.3f})" if f.base is not None else ""
    if f.value is None:
        return f"n/a: {f.why or 'not computed'}"
    if f.low is None:
        return f"{f.value:.3f}{base}" + (f", no interval: {f.why}" if f.why else "")
    return f"{f.value:.3f} [{f.low:.3f}, {f.high:.3f}]{base}"


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


def _by_group(groups: list) -> list[np.ndarray]:
    by: dict = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    return [np.array(idx) for idx in by.values()]


def _precision_at(k: int, y: np.ndarray, scores: np.ndarray, groups: list) -> float | None:
    """Mean over the groups (repo-weeks) with a positive of the share of positives in the top k."""
    values = []
    for idx in _by_group(groups):
        if y[idx].sum() == 0:
            continue
        top = idx[np.argsort(-scores[idx], kind="stable")][:k]
        values.append(y[top].sum() / len(top))
    return float(np.mean(values)) if values else None


def _precision_base(k: int, y: np.ndarray, groups: list) -> float | None:
    """Precision@k of a random order (the expected share of positives in k random picks)."""
    values = [y[idx].mean() for idx in _by_group(groups) if y[idx].sum() > 0]
    return float(np.mean(values)) if values else None


def _metrics(y: np.ndarray, scores: np.ndarray, probs: np.ndarray, groups: list | None) -> dict[str, float | None]:
    """Every metric; precision@k only with `groups` (one per issue)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    both = 0 < y.sum() < len(y)
    return {
        "precision@1": _precision_at(1, y, scores, groups) if groups is not None else None,
        "precision@3": _precision_at(3, y, scores, groups) if groups is not None else None,
        "pr_auc": float(average_precision_score(y, scores)) if both else None,
        "roc_auc": float(roc_auc_score(y, scores)) if both else None,
        "brier": float(brier_score_loss(y, probs)) if len(y) else None,
    }


def _bases(y: np.ndarray, groups: list) -> dict[str, float | None]:
    """What each metric gives without skill: a random order, or the base rate as every probability."""
    rate = float(y.mean()) if len(y) else None
    return {"precision@1": _precision_base(1, y, groups), "precision@3": _precision_base(3, y, groups),
            "pr_auc": rate, "roc_auc": 0.5 if rate is not None else None,
            "brier": rate * (1 - rate) if rate is not None else None}


def _why_missing(metric: str, y: np.ndarray, groups: list) -> str | None:
    if not len(y):
        return "no test issue: no month had enough training positives (min_train_positives) and a settled test issue"
    if metric.startswith("precision") and not any(y[idx].sum() for idx in _by_group(groups)):
        return "no repo-week with a positive issue"
    if metric in ("pr_auc", "roc_auc") and y.sum() == 0:
        return "no positive among the test issues"
    if metric in ("pr_auc", "roc_auc") and y.sum() == len(y):
        return "every test issue is positive"
    return None


def bootstrap_samples(preds: Predictions, bootstrap: int, seed: int = 0) -> list[tuple[np.ndarray, list, list]]:
    """Resamples as (indices, groups for precision@k, indices for precision@k). Several repos: repos
    are resampled (clustered), every method on the same resamples. One repo: issues are resampled,
    and repo-weeks (precision@k's own unit) for precision@k. A unit drawn twice counts as two
    units: its copy is its own repo-week, so every resample is scored exactly as the estimate."""
    rng = np.random.default_rng(seed)
    repos = np.array(preds.repo)
    unique = sorted(set(preds.repo))
    weeks = sorted(set(zip(preds.repo, preds.week)))
    by_week = {w: np.flatnonzero((repos == w[0]) & (np.array(preds.week) == w[1])) for w in weeks}
    by_repo = {r: np.flatnonzero(repos == r) for r in unique}
    out = []
    for _ in range(bootstrap if unique else 0):
        if len(unique) > 1:
            parts = [(n, by_repo[r]) for n, r in enumerate(rng.choice(unique, size=len(unique), replace=True))]
            idx = np.concatenate([p for _, p in parts])
            groups = [(n, preds.repo[i], preds.week[i]) for n, p in parts for i in p]
            out.append((idx, groups, idx))
            continue
        idx = rng.integers(0, len(preds.y), size=len(preds.y))
        drawn = [(n, by_week[weeks[w]]) for n, w in enumerate(rng.integers(0, len(weeks), size=len(weeks)))]
        out.append((idx, [(n, preds.week[i]) for n, p in drawn for i in p], np.concatenate([p for _, p in drawn])))
    return out


def figures(preds: Predictions, bootstrap: int = 200, seed: int = 0) -> dict[str, dict[str, Figure]]:
    """Each metric with its 95% percentile-bootstrap interval, base rate and, when missing, why."""
    y = np.array(preds.y)
    groups = list(zip(preds.repo, preds.week))
    samples = bootstrap_samples(preds, bootstrap, seed)
    bases = _bases(y, groups) if len(y) else dict.fromkeys(METRICS)
    out: dict[str, dict[str, Figure]] = {}
    for method in METHODS:
        scores, probs = np.array(preds.scores[method]), np.array(preds.probs[method])
        point = _metrics(y, scores, probs, groups) if len(y) else dict.fromkeys(METRICS)
        boot: dict[str, list[float]] = defaultdict(list)
        for idx, pk_groups, pk_idx in samples:
            m = _metrics(y[idx], scores[idx], probs[idx], None)
            m["precision@1"] = _precision_at(1, y[pk_idx], scores[pk_idx], pk_groups)
            m["precision@3"] = _precision_at(3, y[pk_idx], scores[pk_idx], pk_groups)
            for k, v in m.items():
                if v is not None:
                    boot[k].append(v)
        out[method] = {}
        for k in METRICS:
            why = _why_missing(k, y, groups)
            if point[k] is not None and len(boot[k]) <= 10:
                why = f"too few resamples to bound it ({len(boot[k])} of {len(samples)} could be scored)"
            low_high = np.percentile(boot[k], [2.5, 97.5]).tolist() if len(boot[k]) > 10 else (None, None)
            out[method][k] = Figure(point[k], *low_high, base=bases[k], why=why if why else None)
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
             "at least one positive); 95% percentile-bootstrap intervals resampling repos (issues, and",
             "repo-weeks for precision@k, on one repo). Beside each figure, its base rate: precision@k of a",
             "random order, PR-AUC the share of positives, ROC-AUC 0.5, Brier the base rate as probability.", "",
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
