"""Leave-repos-out evaluation of the prior on the real corpus (`python -m civicbot.triage.prior evaluate`).

Every method is scored out of fold with folds grouped by repository (GroupKFold), so no repo is
in both the training and the test side: the figure is how the prior ranks issues of projects it
never saw, which is its job at cold start. The evaluation set is the training set of the prior
(reserved repositories out, templated near-duplicates out), so templates do not inflate it.

Methods:

- `prior`: the shipped prior's pipeline (`prior.fit`), refitted in each fold, its C chosen inside
  the fold's training repos (nested: the test fold never picks C);
- `keyword`: 1 when the title contains typo/誤字/文言/修正/翻訳/リンク/README, else 0;
- `recgfi`: RecGFI-style features available here (text statistics with space-split word counts as
  RecGFI counts them, RecGFI's keyword label categories over the non-GFI labels, the reporter's
  earlier issues in the same repo within the corpus, reporter = repo owner), gradient boosting.
  Its labels are as of the crawl, not at creation: an advantage the prior does not get.

Intervals: 95% percentile bootstrap, resampling repositories (1,000 draws). ROC-AUC and PR-AUC
are pooled over repos (the prior's probabilities are meant to be comparable across projects).

`--repeats N` also scores N grouped splits (the first is the one above, the others shuffle which
repos go together) and reports each method's mean over the splits, with a bootstrap interval of
that mean (each draw of repositories scored on every split): one split's figure moves by about
±0.02 with the split alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from civicbot.triage import prior

KEYWORD_RE = re.compile(r"typo|誤字|文言|修正|翻訳|リンク|readme", re.IGNORECASE)
GFI_LABEL_RE = re.compile(r"good.?first|first.?timer|beginner|easy|starter|newcomer|初心者", re.IGNORECASE)
LABEL_CATEGORIES = {  # RecGFI's keyword label categories (GFI labels themselves excluded)
    "bug": r"bug|バグ|不具合", "feature": r"feature|enhancement|機能|要望", "docs": r"doc|ドキュメント",
    "test": r"test|テスト", "ui": r"\bui\b|ux|design|デザイン", "i18n": r"i18n|translat|翻訳|l10n",
    "help": r"help.?wanted", "question": r"question|質問", "refactor": r"refactor|リファクタ|cleanup",
    "priority": r"priority|優先|important|critical", "security": r"security|セキュリティ",
    "access": r"a11y|accessib|アクセシビリティ",
}
BOOTSTRAP = 1000
JA_SHARE = prior.FORM_FEATURES.index("ja_share")


def keyword_scores(rows: list[dict]) -> np.ndarray:
    return np.array([float(bool(KEYWORD_RE.search(r.get("title") or ""))) for r in rows])


def recgfi_matrix(rows: list[dict]) -> np.ndarray:
    earlier: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r.get("author") and r.get("created"):
            earlier.setdefault((r["repo"], r["author"]), []).append(r["created"])
    out = []
    for r in rows:
        title, body = r.get("title") or "", r.get("body_excerpt") or ""
        labels = " ".join(label for label in r.get("labels", []) if not GFI_LABEL_RE.search(label))
        author = r.get("author")
        experience = sum(c < r["created"] for c in earlier.get((r["repo"], author), [])) if author and r.get("created") else 0
        out.append([len(title.split()), len(body.split()), len(title), len(body), body.count("\n"),
                    body.count("```") // 2, len(prior.LINK_RE.findall(body)), prior.form(title, body)[JA_SHARE],
                    experience, float(bool(author) and author.lower() == r["repo"].split("/")[0].lower())]
                   + [float(bool(re.search(p, labels, re.IGNORECASE))) for p in LABEL_CATEGORIES.values()])
    return np.array(out, dtype=float)


def grouped_folds(y: np.ndarray, groups: np.ndarray, folds: int = 5, split: int = 0):
    """(train, test) index pairs, no repo on both sides: split 0 is GroupKFold's own, split s > 0
    shuffles the repos with seed s."""
    from sklearn.model_selection import GroupKFold

    kfold = GroupKFold(n_splits=folds) if split == 0 else GroupKFold(n_splits=folds, shuffle=True, random_state=split)
    return kfold.split(np.zeros(len(y)), y, groups)


def out_of_fold(rows: list[dict], folds: int = 5, split: int = 0
                ) -> tuple[dict[str, np.ndarray], list[float], np.ndarray]:
    """Out-of-fold scores of each method, the C the prior chose in each fold, and the prior's
    even-odds probabilities (`Prior.balanced`, each fold's own base rate taken out)."""
    from sklearn.ensemble import GradientBoostingClassifier

    titles, bodies, y, groups = prior.arrays(rows)
    recgfi_x = recgfi_matrix(rows)
    scores = {"prior": np.zeros(len(y)), "recgfi": np.zeros(len(y)), "keyword": keyword_scores(rows)}
    chosen, even = [], np.zeros(len(y))
    for train, test in grouped_folds(y, groups, folds, split):
        pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
        fitted = prior.fit(pick(titles, train), pick(bodies, train), y[train], groups[train])
        chosen.append(fitted["C"])
        scores["prior"][test] = prior.Prior(fitted).probability(pick(titles, test), pick(bodies, test))
        even[test] = prior.even_odds(scores["prior"][test], y[train].mean())
        gb = GradientBoostingClassifier(n_estimators=150, max_depth=3, random_state=0)
        scores["recgfi"][test] = gb.fit(recgfi_x[train], y[train]).predict_proba(recgfi_x[test])[:, 1]
    return scores, chosen, even


def apply_threshold(y: np.ndarray, even: np.ndarray, subsets: dict[str, np.ndarray],
                    thresholds=(0.5, 0.7)) -> dict:
    """What `label --apply` would take with the prior alone: per subset and threshold, the issues
    whose even-odds probability reaches it, and how many of them are GFIs."""
    return {name: {"issues": int(keep.sum()), "positives": int(y[keep].sum()),
                   "median": round(float(np.median(even[keep])), 2) if keep.any() else None,
                   "reach": {str(t): [int((keep & (even >= t)).sum()), int(y[keep & (even >= t)].sum())]
                             for t in thresholds}}
            for name, keep in subsets.items()}


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC (ties count half), as sklearn's roc_auc_score, without its overhead
    in the 6,000 bootstrap draws."""
    from scipy.stats import rankdata
    ranks, pos = rankdata(score), y.sum()
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """sklearn's average_precision_score: sum over distinct thresholds of (recall step) x precision."""
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(yy)[ends]
    precision, recall = tp / (ends + 1), tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def interval(y, score, groups, metric, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): 95% percentile bootstrap over repositories. A 2-D `score` holds one
    row per split: the statistic is then the mean over the splits, on the same draws."""
    rng = np.random.default_rng(seed)
    repos = np.unique(groups)
    index = {g: np.flatnonzero(groups == g) for g in repos}
    rows = np.atleast_2d(score)
    mean = lambda idx: float(np.mean([metric(y[idx], s[idx]) for s in rows]))  # noqa: E731
    values = []
    for _ in range(BOOTSTRAP):
        idx = np.concatenate([index[g] for g in rng.choice(repos, size=len(repos), replace=True)])
        if 0 < y[idx].sum() < len(idx):
            values.append(mean(idx))
    return mean(np.arange(len(y))), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def figures(y, groups, scores: dict[str, np.ndarray]) -> dict:
    methods = {name: {m: [round(v, 3) for v in interval(y, score, groups, f)]
                      for m, f in (("roc_auc", roc_auc), ("pr_auc", average_precision))}
               for name, score in scores.items()}
    return {"issues": len(y), "positives": int(y.sum()), "repos": len(set(groups)),
            "base_rate": round(float(y.mean()), 3), "methods": methods}


def evaluate_rows(rows: list[dict], repeats: int = 1) -> dict:
    """Figures on all rows, then on the Japanese ones with and without lingdojo/kana-dojo (whose
    templated issues are most of the Japanese positives; the corpus README asks for both), from
    the same out-of-fold scores; with repeats > 1, also the mean over that many grouped splits."""
    _, _, y, groups = prior.arrays(rows)
    scores, chosen, even = out_of_fold(rows)
    result = figures(y, groups, scores)
    result["prior_C_per_fold"] = chosen
    if repeats > 1:
        more = [out_of_fold(rows, split=s)[0] for s in range(1, repeats)]
        stacked = {name: np.vstack([scores[name]] + [m[name] for m in more]) for name in scores}
        result["repeated"] = {"splits": repeats, **figures(y, groups, stacked)}
        for name, m in result["repeated"]["methods"].items():
            m["per_split"] = {metric: [round(f(y, s), 3) for s in stacked[name]]
                              for metric, f in (("roc_auc", roc_auc), ("pr_auc", average_precision))}
    ja = np.array([r.get("language_guess") == "ja" for r in rows])
    kana = np.array([r["repo"].lower() == "lingdojo/kana-dojo" for r in rows])
    result["apply_threshold"] = apply_threshold(y, even, {"all": np.ones(len(y), bool), "not_ja": ~ja, "ja": ja,
                                                          "ja_without_kana_dojo": ja & ~kana})
    result["subsets"] = {}
    for name, keep in (("ja", ja), ("ja_without_kana_dojo", ja & ~kana)):
        if 0 < y[keep].sum() < keep.sum():
            result["subsets"][name] = figures(y[keep], groups[keep], {k: v[keep] for k, v in scores.items()})
    return result


def evaluate_corpus(data: Path, repeats: int = 1) -> dict:
    """Leave-repos-out figures on the prior's training set, and on the reserved repos if present."""
    rows = prior.load_corpus(data)
    result = {"protocol": "GroupKFold(5) by repo; prior's C chosen by inner GroupKFold(5) on the training folds; "
                          "95% bootstrap over repos (1,000 draws); reserved repos out, near-duplicates out",
              "corpus": evaluate_rows(prior.training_rows(rows), repeats)}
    reserved = [r for r in rows if prior.reserved(r["repo"])]
    result["reserved"] = (f"{len(reserved)} issues of reserved repositories" if reserved else
                          "no issue of a reserved (Tokyo / covid19 / stopcovid) repository in the corpus: "
                          "no independent test possible")
    return result


def table(result: dict) -> str:
    lines = [result["protocol"]]
    corpus = result["corpus"]
    if "prior_C_per_fold" in corpus:
        lines.append(f"prior: C chosen inside each fold's training repos: {corpus['prior_C_per_fold']}")
    for title, part in [("all", corpus)] + list(corpus.get("subsets", {}).items()):
        lines += ["", f"{title}: {part['issues']} issues, {part['positives']} GFI, {part['repos']} repos, "
                      f"base rate {part['base_rate']} (PR-AUC of a random ranking)",
                  "| method | ROC-AUC | PR-AUC |", "|---|---|---|"]
        for name, m in part["methods"].items():
            lines.append(f"| {name} | {m['roc_auc'][0]:.3f} [{m['roc_auc'][1]:.3f}, {m['roc_auc'][2]:.3f}] | "
                         f"{m['pr_auc'][0]:.3f} [{m['pr_auc'][1]:.3f}, {m['pr_auc'][2]:.3f}] |")
    if "apply_threshold" in corpus:
        thresholds = next(iter(corpus["apply_threshold"].values()))["reach"]
        lines += ["", "prior alone, even-odds probability (what label --apply compares with its threshold), "
                      "out of fold: issues reaching each threshold (of them GFI)",
                  "| issues | median | " + " | ".join(f">= {t}" for t in thresholds) + " |",
                  "|---|---|" + "---|" * len(thresholds)]
        for name, part in corpus["apply_threshold"].items():
            lines.append(f"| {name}: {part['issues']} ({part['positives']} GFI) | {part['median']} | "
                         + " | ".join(f"{n} ({gfi})" for n, gfi in part["reach"].values()) + " |")
    if "repeated" in corpus:
        part = corpus["repeated"]
        lines += ["", f"all, mean over {part['splits']} grouped splits (the first is the one above; "
                      "interval: the same draws of repos scored on every split)",
                  "| method | ROC-AUC | PR-AUC | ROC-AUC per split |", "|---|---|---|---|"]
        for name, m in part["methods"].items():
            lines.append(f"| {name} | {m['roc_auc'][0]:.3f} [{m['roc_auc'][1]:.3f}, {m['roc_auc'][2]:.3f}] | "
                         f"{m['pr_auc'][0]:.3f} [{m['pr_auc'][1]:.3f}, {m['pr_auc'][2]:.3f}] | "
                         + " / ".join(f"{v:.3f}" for v in m["per_split"]["roc_auc"]) + " |")
    lines.append(f"\nreserved: {result['reserved']}")
    return "\n".join(lines)
