"""Ground truths and the models that score good-first-issue candidates.

Ground truths (docs: ../shared/notes/good-first-issues.md), each for an issue decided at `t`:

- GT-M: a person (not a bot, not civicbot: its own labels never count) adds a GFI label within
  60 days after `t`, and it is not removed within 14 days. Negative when 60 days passed without.
- GT-N: the issue is closed by a linked pull request (cross-referenced or `close #N`) that was
  merged, whose author had at most `k` earlier merged pull requests in the family. Only
  resolved issues are labelled (RecGFI's rule); open ones are left out.
- GT-S: both.

`outcome_known_by(cutoff)` makes the walk-forward split honest: an example is used for training
only when its outcome was settled before the cutoff.

Models:

- `GFIModel("full")`: logistic regression (balanced classes) on character n-grams (`char_wb`,
  2-4, which works for Japanese and English alike) plus log-scaled structure, experience and
  label-group features; probabilities calibrated with Platt scaling (`CalibratedClassifierCV`,
  sigmoid, 3 folds).
- `GFIModel("recgfi")`: the RecGFI-style baseline: word TF-IDF (space-split tokens, as RecGFI
  does, which is weak for Japanese), text statistics, experience, comments and label categories.
- `Heuristic`: used when the history holds fewer than `triage.min_history` positive examples.
  Points: +1 names a file path, +1 a list or checklist of 2+ items, +1 asks for exact text
  (「」 or quoted text) or uses small-task words (typo, 誤字, 文言, alt, 翻訳, README...),
  +1 carries a documentation / i18n / accessibility label, +0.5 a body of 50 to 1500
  characters; -1 an empty or very short body (< 20 characters), -1 a very long one (> 3000),
  -1 debugging words (error, エラー, traceback), -1 five comments or more. Probability =
  1 / (1 + exp(-1.5 * (points - 2.5))): 3 points or more reach 0.68.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from civicbot.triage import check_stop
from civicbot.triage.features import NUMERIC_FEATURES, History, Snapshot, shift

DECISION_DELAY_SECONDS = 60  # "at creation": one minute after the issue was opened
GT_M_WINDOW_DAYS = 60
GT_M_REMOVAL_DAYS = 14

REASONS = {  # feature -> (Japanese, English), shown when it pushes the score up
    "n_file_paths": ("対象ファイルが明記されている", "names the files to change"),
    "n_list_items": ("やることが箇条書きになっている", "lists what to do"),
    "n_checkboxes": ("チェックリストがある", "has a checklist"),
    "n_quotes": ("修正する文言が「」で示されている", "quotes the exact text to change"),
    "small_task_words": ("誤字・文言・翻訳など小さな修正", "a small change (typo, wording, translation)"),
    "len_body": ("説明の長さが適度", "a description of a workable length"),
    "n_links": ("参考リンクがある", "links to references"),
    "n_inline_code": ("コードやパスが示されている", "shows code or paths"),
    "project_gfi_labels": ("このリポジトリは good first issue を使っている", "this repo uses good first issues"),
    "lg_documentation": ("ドキュメントのラベル", "a documentation label"),
    "lg_i18n": ("翻訳のラベル", "a translation label"),
    "lg_accessibility": ("アクセシビリティのラベル", "an accessibility label"),
    "text": ("過去の good first issue と文面が似ている", "its wording resembles earlier good first issues"),
}


# ---------------------------------------------------------------------------------------------
# Ground truths


@dataclass
class Outcome:
    gt_m: bool | None          # None: not known (yet)
    gt_m_known_at: str | None  # when the GT-M outcome was settled
    gt_n: bool | None
    gt_n_known_at: str | None

    def label(self, truth: str, cutoff: str | None = None) -> bool | None:
        """The label under `truth` (GT-M, GT-N, GT-S) if it was settled before `cutoff`."""
        def known(value, at):
            return value if value is not None and (cutoff is None or (at is not None and at < cutoff)) else None
        m, n = known(self.gt_m, self.gt_m_known_at), known(self.gt_n, self.gt_n_known_at)
        if truth == "GT-M":
            return m
        if truth == "GT-N":
            return n
        if m is None or n is None:
            return None
        return m and n


def outcome(history: History, item: dict, t: str, now: str, k: int = 2) -> Outcome:
    events = history.events.get(item["id"], [])
    # GT-M
    window_end = shift(t, days=GT_M_WINDOW_DAYS)
    gt_m, m_at = None, None
    for e in events:
        if e["created_at"] < t or e["created_at"] > window_end:
            continue
        if (e["event"] == "labeled" and (e["label_name"] or "").lower() in history.gfi_names
                and history.is_person(e["actor_id"])):
            removal_end = shift(e["created_at"], days=GT_M_REMOVAL_DAYS)
            removed = [x for x in events if x["event"] == "unlabeled" and x["created_at"] >= e["created_at"]
                       and x["created_at"] <= removal_end and (x["label_name"] or "") .lower() in history.gfi_names]
            if removed:
                continue
            gt_m, m_at = True, removal_end
            break
    if gt_m is None and window_end < now:
        gt_m, m_at = False, window_end
    # GT-N
    gt_n, n_at = None, None
    if item["state"] == "closed" and item["closed_at"]:
        gt_n, n_at = False, item["closed_at"]
        for pr in _linked_prs(history, item):
            if pr["merged_at"] and pr["merged_at"] <= shift(item["closed_at"], days=1):
                earlier = sum(1 for m in history.user_merged.get(pr["user_id"], []) if m < pr["created_at"])
                if history.is_person(pr["user_id"]) and earlier <= k:
                    gt_n = True
                    break
    return Outcome(gt_m, m_at, gt_n, n_at)


def _linked_prs(history: History, item: dict) -> list[dict]:
    prs = list(history.closing_prs.get((item["repo_id"], item["number"]), ()))
    for e in history.events.get(item["id"], ()):
        if e["event"] == "cross-referenced":
            source = history.by_number.get((e["source_repo_id"], e["source_number"]))
            if source is not None and source["is_pull_request"]:
                prs.append(source)
    return prs


def labelled_by_person_before(history: History, item_id: int, t: str) -> bool:
    """A person (not a bot, not civicbot) added a GFI label before `t`."""
    return any(e["created_at"] < t and e["event"] == "labeled" and history.is_person(e["actor_id"])
               and (e["label_name"] or "").lower() in history.gfi_names for e in history.events.get(item_id, ()))


@dataclass
class Example:
    snapshot: Snapshot
    outcome: Outcome


def examples_at_creation(history: History, now: str, k: int = 2,
                         stop: threading.Event | None = None) -> list[Example]:
    """Every issue decided one minute after it was opened, if it was a candidate then.

    An issue a person labelled GFI within that minute (the new-issue form or an issue template:
    the maintainer's own judgement) is a positive, decided at its very creation, before the label."""
    out = []
    for item in sorted(history.issues(), key=lambda i: (i["created_at"], i["id"])):
        check_stop(stop)
        if history.items[item["id"]]["user_id"] in history.bot_ids:
            continue
        t = shift(item["created_at"], seconds=DECISION_DELAY_SECONDS)
        snap = history.snapshot(item["id"], t)
        if snap.labels & history.gfi_names and labelled_by_person_before(history, item["id"], t):
            t = item["created_at"]
            snap = history.snapshot(item["id"], t)
        if snap.labels & history.gfi_names or snap.closed or snap.assigned or snap.linked_pr:
            continue
        out.append(Example(snap, outcome(history, item, t, now, k)))
    return out


# ---------------------------------------------------------------------------------------------
# Models


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class Heuristic:
    """The documented rules (see the module docstring); needs no history."""

    kind = "heuristic"

    def fit(self, snapshots, y):
        return self

    def points(self, s: Snapshot) -> tuple[float, list[tuple[str, str]]]:
        f, why = s.numeric, []
        pts = 0.0

        def add(value, key):
            nonlocal pts
            pts += value
            if value > 0 and key in REASONS:
                why.append(REASONS[key])

        if f["n_file_paths"]:
            add(1.0, "n_file_paths")
        if f["n_list_items"] >= 2:
            add(1.0, "n_checkboxes" if f["n_checkboxes"] >= 2 else "n_list_items")
        if f["n_quotes"]:
            add(1.0, "n_quotes")
        elif f["small_task_words"]:
            add(1.0, "small_task_words")
        for group in ("documentation", "i18n", "accessibility"):
            if s.label_groups.get(group):
                add(1.0, f"lg_{group}")
                break
        if 50 <= f["len_body"] <= 1500:
            add(0.5, "len_body")
        if f["len_body"] < 20:
            pts -= 1
        if f["len_body"] > 3000:
            pts -= 1
        if f["debug_words"]:
            pts -= 1
        if f["n_comments"] >= 5:
            pts -= 1
        return pts, why

    def predict(self, snapshots: list[Snapshot]) -> tuple[np.ndarray, np.ndarray]:
        pts = np.array([self.points(s)[0] for s in snapshots], dtype=float)
        return pts, np.array([_sigmoid(1.5 * (p - 2.5)) for p in pts])

    def reasons(self, s: Snapshot, top: int = 3) -> tuple[list[str], list[str]]:
        why = self.points(s)[1][:top]
        return [ja for ja, _ in why], [en for _, en in why]


class RandomBaseline:
    kind = "random"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def fit(self, snapshots, y):
        self.rate = float(np.mean(y)) if len(y) else 0.5
        return self

    def predict(self, snapshots):
        s = self.rng.random(len(snapshots))
        return s, np.full(len(snapshots), getattr(self, "rate", 0.5))


RECGFI_NUMERIC = ["len_title", "len_body", "n_lines", "n_links", "n_code_blocks", "n_labels", "reporter_items",
                  "reporter_comments", "reporter_merged", "project_items", "n_comments", "n_participants"]


class GFIModel:
    """Calibrated logistic regression; `variant` "full" (char n-grams) or "recgfi" (words)."""

    kind = "model"

    def __init__(self, variant: str = "full", seed: int = 0):
        self.variant = variant
        self.seed = seed

    def _pipeline(self):
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline, make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        if self.variant == "full":
            text = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, max_features=30000,
                                   sublinear_tf=True)
            numeric = NUMERIC_FEATURES + self.group_columns
        else:
            text = TfidfVectorizer(analyzer="word", min_df=2, max_features=20000, sublinear_tf=True)
            numeric = RECGFI_NUMERIC + self.group_columns
        self.numeric_columns = numeric
        columns = ColumnTransformer([
            ("text", text, "text"),
            ("num", make_pipeline(FunctionTransformer(np.log1p), StandardScaler()), numeric),
        ])
        return Pipeline([("features", columns),
                         ("lr", LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000,
                                                   solver="liblinear"))])

    def _frame(self, snapshots: list[Snapshot]):
        import pandas as pd

        return pd.DataFrame([s.row() for s in snapshots])

    def fit(self, snapshots: list[Snapshot], y, stop: threading.Event | None = None) -> GFIModel:
        """Fit the explainer, then the calibrated model (`stop` is checked between the two)."""
        from sklearn.calibration import CalibratedClassifierCV

        y = np.asarray(y, dtype=int)
        self.group_columns = sorted(f"lg_{g}" for g in snapshots[0].label_groups) if snapshots else []
        frame = self._frame(snapshots)
        check_stop(stop)
        self.explainer = self._pipeline().fit(frame, y)
        check_stop(stop)
        folds = int(min(3, y.sum(), len(y) - y.sum()))
        if folds >= 2:
            self.calibrated = CalibratedClassifierCV(self._pipeline(), method="sigmoid", cv=folds).fit(frame, y)
        else:
            self.calibrated = None
        return self

    def predict(self, snapshots: list[Snapshot]) -> tuple[np.ndarray, np.ndarray]:
        frame = self._frame(snapshots)
        scores = self.explainer.decision_function(frame)
        if self.calibrated is not None:
            probs = self.calibrated.predict_proba(frame)[:, 1]
        else:
            probs = self.explainer.predict_proba(frame)[:, 1]
        return scores, probs

    def reasons(self, s: Snapshot, top: int = 3) -> tuple[list[str], list[str]]:
        """The features that pushed this issue's score up most (text n-grams counted together)."""
        features = self.explainer.named_steps["features"]
        coef = self.explainer.named_steps["lr"].coef_[0]
        x = features.transform(self._frame([s]))
        x = x.toarray()[0] if hasattr(x, "toarray") else np.asarray(x)[0]
        n_text = len(features.named_transformers_["text"].vocabulary_)
        contrib = {"text": float(x[:n_text] @ coef[:n_text])}
        for j, name in enumerate(self.numeric_columns):
            contrib[name] = float(x[n_text + j] * coef[n_text + j])
        ranked = [name for name, v in sorted(contrib.items(), key=lambda kv: -kv[1]) if v > 0 and name in REASONS]
        picked = [REASONS[name] for name in ranked[:top]]
        return [ja for ja, _ in picked], [en for _, en in picked]


def train(history: History, now: str, truth: str = "GT-M", min_history: int | None = None,
          cutoff: str | None = None, variant: str = "full", stop: threading.Event | None = None):
    """A model trained on the family's history (outcomes settled before `cutoff`), or the heuristic.

    Returns (model, positives): the heuristic when fewer than `min_history` positives are known.
    `stop` is checked between issues and between fits (TriageInterrupted).
    """
    min_history = history.config.triage.min_history if min_history is None else min_history
    snaps, y = [], []
    for ex in examples_at_creation(history, now, stop=stop):
        label = ex.outcome.label(truth, cutoff)
        if label is not None and (cutoff is None or ex.snapshot.as_of < cutoff):
            snaps.append(ex.snapshot)
            y.append(int(label))
    positives = sum(y)
    if positives < min_history or positives == len(y):
        return Heuristic(), positives
    return GFIModel(variant).fit(snaps, y, stop=stop), positives
