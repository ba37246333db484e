"""`civicbot label`: propose (dry run, the default) or add the good-first-issue label, sparingly.

The policy, in the order it is checked for each repo's candidates (best probability first):

1. only candidates (see `civicbot.triage.score`): open, unassigned, unclaimed, no linked pull
   request, no GFI label yet, no blocking label, and **no GFI label a person removed** (an
   `unlabeled` event by anyone but a bot or civicbot): civicbot never re-adds it;
2. probability at least `triage.threshold`;
3. an issue civicbot already labelled (an `applied` row in `label_audit`) is skipped: running
   twice changes nothing;
4. at most `triage.max_per_repo_per_run` per repo per run and `triage.max_per_repo_per_week`
   labels added per repo in any 7 days;
5. writes happen only with `--apply` and only in repos of `triage.allowlist`; elsewhere the
   decision is a proposal. Just before writing, the issue is read again from GitHub: closed,
   assigned or already labelled there means skipped;
6. a comment (Japanese and English) only when `triage.comment` is on.

civicbot never removes a label. Every decision is a `label_audit` row, committed as it is made.

A write is announced before it is made: a `pending` row is committed, then turned into `applied`
(or `failed`) once GitHub has answered. A run killed in between leaves the `pending` row, and the
next run with a writer settles it first from the issue as GitHub has it (`settle_pending`): the
label is there, so `applied` (and a missing comment is posted), or it is not, so `failed` and the
issue is decided again. Nothing is labelled twice, and no write goes unrecorded.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from civicbot.config import Config
from civicbot.store.transaction import write_transaction
from civicbot.triage.features import shift, to_text
from civicbot.triage.score import Candidate, ScoreResult, score_family
from civicbot.triage.writer import QuotaExhausted


@dataclass
class Decision:
    repo: str
    number: int
    action: str
    reason: str
    probability: float


@dataclass
class PolicyResult:
    score: ScoreResult
    run_key: str
    dry_run: bool
    actor: str | None
    decisions: list[Decision] = field(default_factory=list)


COMMENT_MARK = "[civicbot]"  # how civicbot recognises its own comment when settling an interrupted write


def comment_text(probability: float, reasons_ja: list[str], reasons_en: list[str], label: str) -> str:
    pct = round(probability * 100)
    ja = "、".join(reasons_ja) or "小さく、内容がはっきりしている"
    en = "; ".join(reasons_en) or "small and well specified"
    return (f"{COMMENT_MARK} 初めての方に向いていそうなので `{label}` ラベルを付けました（推定 {pct}%）。理由: {ja}。"
            "合わない場合はラベルを外してください。civicbot が付け直すことはありません。\n\n"
            f"{COMMENT_MARK} Labelled `{label}`: this looks like a good first issue (estimated {pct}%). "
            f"Why: {en}. If it does not fit, remove the label; civicbot will not add it again.")


def run_label_policy(db, config: Config, writer=None, apply: bool = False, now: str | None = None,
                     repos: list[str] | None = None) -> PolicyResult:
    """Score, then decide per candidate; write to GitHub only when `apply` and allowlisted."""
    now = now or to_text(datetime.now(timezone.utc))
    tri = config.triage
    actor = tri.bot_login or (writer.login() if writer is not None else None)
    score = score_family(db, config, now=now, repos=repos, extra_bot_logins={actor} if actor else None)
    result = PolicyResult(score=score, run_key=uuid.uuid4().hex[:12], dry_run=not apply, actor=actor)
    allow = {r.lower() for r in tri.allowlist}
    full_names = {rid: name for rid, name in db.execute("SELECT id, full_name FROM repos")}
    applied_before = {row[0] for row in db.execute(
        "SELECT item_id FROM label_audit WHERE action = 'applied' AND lower(label) = lower(?)", [tri.label_to_apply])}
    week_ago = shift(now, days=-7)
    by_repo: dict[int, list[Candidate]] = defaultdict(list)
    for c in score.candidates:
        by_repo[c.snapshot.repo_id].append(c)

    def row(c: Candidate, action: str, reason: str, dry: bool) -> dict:
        return {"at": now, "run_key": result.run_key, "repo_id": c.snapshot.repo_id, "item_id": c.snapshot.item_id,
                "number": c.snapshot.number, "action": action, "reason": reason, "label": tri.label_to_apply,
                "dry_run": dry, "actor": actor, "probability": c.probability, "model": score.model}

    def decide(c: Candidate, action: str, reason: str, dry: bool, pending_id: int | None = None) -> None:
        name = full_names.get(c.snapshot.repo_id, str(c.snapshot.repo_id))
        result.decisions.append(Decision(name, c.snapshot.number, action, reason, c.probability))
        with write_transaction(db):  # one transaction per decision: a killed run keeps every decision it made
            if pending_id is None:
                db["label_audit"].insert(row(c, action, reason, dry))
            else:
                db["label_audit"].update(pending_id, {"action": action, "reason": reason})

    if apply and writer is not None:
        applied_before |= settle_pending(db, config, writer)
    for repo_id, candidates in sorted(by_repo.items()):
        name = full_names.get(repo_id, "")
        writes_here = apply and name.lower() in allow and writer is not None
        added_this_week = db.execute(
            "SELECT COUNT(*) FROM label_audit WHERE repo_id = ? AND action = 'applied' AND at > ?",
            [repo_id, week_ago]).fetchone()[0]
        taken = 0
        for c in candidates:
            if c.probability < tri.threshold:
                break  # sorted: the rest are lower
            if c.snapshot.item_id in applied_before:
                decide(c, "skipped", "civicbot already added the label (idempotent)", not writes_here)
                continue
            if taken >= tri.max_per_repo_per_run:
                decide(c, "skipped", f"cap per run reached ({tri.max_per_repo_per_run})", not writes_here)
                continue
            if added_this_week + taken >= tri.max_per_repo_per_week:
                decide(c, "skipped", f"cap per week reached ({tri.max_per_repo_per_week})", not writes_here)
                continue
            if not writes_here:
                why = ("dry run" if not apply else
                       "repo not in triage.allowlist: proposed only" if name.lower() not in allow else "no token")
                decide(c, "proposed", f"{why}; probability {c.probability:.2f} >= {tri.threshold}", True)
                taken += 1
                continue
            live = writer.issue(name, c.snapshot.number)
            live_labels = {x["name"].lower() for x in live.get("labels", [])}
            gfi = {n.lower() for n in tri.gfi_label_names} | {tri.label_to_apply.lower()}
            if live.get("state") != "open":
                decide(c, "skipped", "closed on GitHub since the harvest", False)
                continue
            if live.get("assignees") or live.get("assignee"):
                decide(c, "skipped", "assigned on GitHub since the harvest", False)
                continue
            if live_labels & gfi:
                decide(c, "skipped", "already labelled on GitHub", False)
                continue
            with write_transaction(db):  # announced before the write, so a kill mid-write is visible and settled
                pending_id = db["label_audit"].insert(row(
                    c, "pending", "adding the label" + (" and the comment" if tri.comment else ""),
                    False)).last_pk
            try:
                writer.add_label(name, c.snapshot.number, tri.label_to_apply)
                if tri.comment:
                    writer.comment(name, c.snapshot.number, comment_text(c.probability, c.reasons_ja, c.reasons_en,
                                                                         tri.label_to_apply))
            except Exception as exc:  # noqa: BLE001 - recorded, then the run goes on
                decide(c, "failed", f"GitHub refused: {type(exc).__name__}: {str(exc)[:200]}", False, pending_id)
                continue
            decide(c, "applied", f"probability {c.probability:.2f} >= {tri.threshold}", False, pending_id)
            taken += 1
    return result



def settle_pending(db, config: Config, writer) -> set[int]:
    """Settle the `pending` rows a killed run left, from each issue as GitHub has it now.

    Returns the item ids found labelled (now `applied`): they are not labelled again.
    """
    tri = config.triage
    settled: set[int] = set()
    pending = list(db.query("SELECT a.id, a.item_id, a.number, a.label, r.full_name FROM label_audit a "
                            "JOIN repos r ON r.id = a.repo_id WHERE a.action = 'pending' ORDER BY a.id"))
    for p in pending:
        name, number = p["full_name"], p["number"]
        try:
            live = writer.issue(name, number)
            if p["label"].lower() in {x["name"].lower() for x in live.get("labels", [])}:
                reason = "the label is on GitHub: added by a run that was interrupted before recording it"
                if tri.comment and not any(b.startswith(COMMENT_MARK) for b in writer.comment_bodies(name, number)):
                    writer.comment(name, number, _comment_from_store(db, p))
                    reason += "; its comment was missing and has been posted"
                settled.add(p["item_id"])
                update = {"action": "applied", "reason": reason}
            else:
                update = {"action": "failed", "reason": "interrupted before GitHub added the label; decided again"}
        except QuotaExhausted:
            raise
        except Exception:  # noqa: BLE001 - GitHub cannot tell us now: stay pending, the next run retries
            continue
        with write_transaction(db):
            db["label_audit"].update(p["id"], update)
    return settled


def _comment_from_store(db, pending: dict) -> str:
    """The comment for a settled write: the reasons of the latest scoring, when it still has them."""
    scored = next(db.query("SELECT reasons_ja, reasons_en FROM gfi_candidates WHERE item_id = ?",
                           [pending["item_id"]]), None) or {}
    probability = db.execute("SELECT probability FROM label_audit WHERE id = ?", [pending["id"]]).fetchone()[0]
    return comment_text(probability or 0.0, json.loads(scored.get("reasons_ja") or "[]"),
                        json.loads(scored.get("reasons_en") or "[]"), pending["label"])
