"""`civicbot triage`: score the family's open issues into `gfi_candidates`.

A candidate is an open issue that is unassigned, unclaimed (no claim phrase in a comment), has no
linked pull request, no GFI label yet, no blocking label, and whose GFI label no person removed.
Both the event log and the current `item_labels` / `item_assignees` are checked: either one
showing a label or an assignee excludes the issue.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from civicbot.config import Config
from civicbot.store.transaction import write_transaction
from civicbot.triage import TriageInterrupted, check_stop  # noqa: F401 - TriageInterrupted re-exported
from civicbot.triage.features import History, Snapshot, to_text
from civicbot.triage.model import train
from civicbot.triage.prior import BLEND_K, blend, own_weight
from civicbot.triage.prior import load as load_prior


@dataclass
class Candidate:
    snapshot: Snapshot
    score: float
    probability: float
    reasons_ja: list[str]
    reasons_en: list[str]


@dataclass
class ScoreResult:
    model: str                 # "model" or "heuristic" (the project's own part of the blend with the prior)
    positives: int             # maintainer-added GFI labels in the training history
    min_history: int
    candidates: list[Candidate] = field(default_factory=list)
    run_key: str = ""
    # repo id -> why its open issues are not candidates ("assigned": 3, "blocking label": 1, ...)
    excluded: dict[int, dict[str, int]] = field(default_factory=dict)
    repos: dict[int, str] = field(default_factory=dict)  # the repos scored: id -> owner/name

    @property
    def own_weight(self) -> float:
        """The weight of the project's own model (or heuristic) in the blend with the prior."""
        return own_weight(self.positives)

    @property
    def statement(self) -> str:
        """How the probabilities were made, in Japanese then English (what `civicbot triage` and
        `civicbot label` print first)."""
        p, w = load_prior().spec["provenance"], self.own_weight
        prior_ja = (f"事前モデル（{p['trained_repos']} リポジトリの実在 issue {p['trained_rows']} 件で学習、"
                    f"重み {1 - w:.2f}）")
        prior_en = (f"the cold-start prior (trained on {p['trained_rows']} real issues from {p['trained_repos']} "
                    f"repositories, weight {1 - w:.2f})")
        if self.positives == 0:
            return (f"スコアは{prior_ja}だけで計算しました。このプロジェクトの履歴には保守者が付けた good first issue "
                    f"ラベルがまだなく、独自の規則（ヒューリスティック）の重みは 0 です。\n"
                    f"scores: {prior_en} alone; the history holds no maintainer-added GFI label, so the project's "
                    f"heuristic has weight 0")
        if self.model == "heuristic":
            return (f"スコアは独自の規則（ヒューリスティック、重み {w:.2f}）と{prior_ja}の混合です。"
                    f"保守者が付けた good first issue ラベルが {self.positives} 件で triage.min_history"
                    f"（{self.min_history} 件）に満たないため、プロジェクト独自のモデルは学習していません。\n"
                    f"scores: the project's heuristic (weight {w:.2f}) blended with {prior_en}; the history holds "
                    f"{self.positives} maintainer-added GFI labels, fewer than triage.min_history "
                    f"({self.min_history}), so no model of its own is trained; own weight = n / (n + {BLEND_K})")
        return (f"スコアはプロジェクト独自のモデル（保守者が付けた good first issue ラベル {self.positives} 件で"
                f"学習したロジスティック回帰、重み {w:.2f}）と{prior_ja}の混合です。\n"
                f"scores: the project's own model (calibrated logistic regression trained on {self.positives} "
                f"maintainer-added GFI labels, weight {w:.2f}) blended with {prior_en}; "
                f"own weight = n / (n + {BLEND_K})")


def current_state(db) -> tuple[dict[int, set[str]], set[int]]:
    labels: dict[int, set[str]] = {}
    for item_id, name in db.execute(
            "SELECT il.item_id, lower(l.name) FROM item_labels il JOIN labels l ON l.id = il.label_id"):
        labels.setdefault(item_id, set()).add(name)
    assigned = {row[0] for row in db.execute("SELECT DISTINCT item_id FROM item_assignees")}
    return labels, assigned


def blocking_labels(triage, repo: str) -> set[str]:
    """The family's blocking labels and the repo's own (`triage.blocking_labels_by_repo`), lower-cased."""
    extra = next((v for k, v in triage.blocking_labels_by_repo.items() if k.lower() == repo.lower()), [])
    return {b.lower() for b in [*triage.blocking_labels, *extra]}


def exclusion(history: History, snap: Snapshot, labels_now: set[str], assigned_now: bool) -> str | None:
    """Why `snap` is not a candidate, or None when it is."""
    config = history.config.triage
    labels = snap.labels | labels_now
    blocking = blocking_labels(config, history.repos.get(snap.repo_id, ""))
    if snap.closed or history.items[snap.item_id]["state"] != "open":
        return "closed"
    if snap.assigned or assigned_now:
        return "assigned"
    if snap.claimed:
        return "claimed in a comment"
    if snap.linked_pr:
        return "a pull request is linked"
    if snap.gfi_removed_by_person:
        return "a person removed the GFI label"
    if labels & history.gfi_names or config.label_to_apply.lower() in labels:
        return "already labelled"
    if labels & blocking:
        return f"blocking label: {', '.join(sorted(labels & blocking))}"
    return None


def score_family(db, config: Config, now: str | None = None, repos: list[str] | None = None,
                 extra_bot_logins: set[str] | None = None, write: bool = True,
                 stop: threading.Event | None = None) -> ScoreResult:
    """Train on the history (or fall back to the heuristic), score the candidates, write them.

    `stop` (a threading.Event) is checked between issues and between training steps: once it
    is set, TriageInterrupted is raised and nothing is written (`gfi_candidates` keeps the
    previous run's rows).
    """
    check_stop(stop)
    now = now or to_text(datetime.now(timezone.utc))
    history = History.load(db, config, extra_bot_logins=extra_bot_logins, stop=stop)
    model, positives = train(history, now, stop=stop)
    labels_now, assigned_now = current_state(db)
    wanted = {r.lower() for r in repos or []}
    snaps = []
    excluded: dict[int, dict[str, int]] = {}
    for item in history.issues():
        check_stop(stop)
        if wanted and history.repos.get(item["repo_id"], "").lower() not in wanted:
            continue
        if item["state"] != "open":
            continue
        if item["user_id"] in history.bot_ids:
            why: str | None = "opened by a bot"
        else:
            snap = history.snapshot(item["id"], now)
            why = exclusion(history, snap, labels_now.get(item["id"], set()), item["id"] in assigned_now)
        if why is None:
            snaps.append(snap)
        else:
            counts = excluded.setdefault(item["repo_id"], {})
            counts[why.split(":")[0]] = counts.get(why.split(":")[0], 0) + 1
    result = ScoreResult(model=model.kind, positives=positives, min_history=config.triage.min_history,
                         run_key=uuid.uuid4().hex[:12], excluded=excluded,
                         repos={rid: name for rid, name in history.repos.items()
                                if not wanted or name.lower() in wanted})
    if snaps:
        check_stop(stop)
        scores, probs = model.predict(snaps)
        probs = blend(snaps, probs, positives)  # the cold-start prior, own weight n / (n + 30)
        for snap, score, prob in zip(snaps, scores, probs):
            check_stop(stop)
            ja, en = model.reasons(snap)
            result.candidates.append(Candidate(snap, float(score), float(prob), ja, en))
    result.candidates.sort(key=lambda c: (-c.probability, c.snapshot.repo_id, c.snapshot.number))
    check_stop(stop)  # the last check: the write below is one transaction
    if write:
        _write(db, result, history, wanted, now)
    return result


def _write(db, result: ScoreResult, history: History, wanted: set[str], now: str) -> None:
    repo_ids = [rid for rid, name in history.repos.items() if not wanted or name.lower() in wanted]
    with write_transaction(db):
        for rid in repo_ids:
            db.execute("DELETE FROM gfi_candidates WHERE repo_id = ?", [rid])
        db["gfi_candidates"].insert_all([{
            "item_id": c.snapshot.item_id, "repo_id": c.snapshot.repo_id, "number": c.snapshot.number,
            "title": c.snapshot.title, "score": c.score, "probability": c.probability,
            "reasons_ja": json.dumps(c.reasons_ja, ensure_ascii=False),
            "reasons_en": json.dumps(c.reasons_en, ensure_ascii=False),
            "model": result.model, "history_positives": result.positives, "scored_at": now,
            "run_key": result.run_key} for c in result.candidates])
