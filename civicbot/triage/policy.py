"""`civicbot label`: propose (dry run, the default) or add the good-first-issue label, sparingly.

The policy, in the order it is checked for each repo's candidates (best probability first):

1. only candidates (see `civicbot.triage.score`): open, unassigned, unclaimed, no linked pull
   request, no GFI label yet, no blocking label, and **no GFI label a person removed** (an
   `unlabeled` event by anyone but a bot or civicbot): civicbot never re-adds it;
2. probability at least `triage.threshold`;
3. an issue civicbot already labelled (an `applied` or `labelled_without_comment` row in
   `label_audit`) is skipped: running twice changes nothing;
4. at most `triage.max_per_repo_per_run` per repo per run and `triage.max_per_repo_per_week`
   labels added per repo in any 7 days;
5. writes happen only with `--apply` and only in repos of `triage.allowlist`, resolved to the
   repo ids the store harvested under those names; elsewhere the decision is a proposal. Just
   before writing, the issue is read again from GitHub by repo id: a repo no longer called by
   its allowlisted name means `refused` (renamed or taken over; nothing written), closed,
   assigned or already labelled there means skipped;
6. a comment (Japanese and English) only when `triage.comment` is on, carrying `COMMENT_MARKER`:
   it is never posted when the issue already has one. A label added whose comment failed is
   `labelled_without_comment`: counted by both caps, its comment completed by the next run.

The dry run is a ranking instead: in each repo the top `triage.top_per_repo` candidates are
`proposed`, whatever their probability, each saying what `--apply` would do with it (the threshold
and the caps above limit `--apply` only). Every repo without a decision gets a note saying why
(`PolicyResult.notes`: no open issue, none a candidate and why, all below the threshold).

civicbot never removes a label. Every decision is a `label_audit` row, committed as it is made.

A write is announced before it is made: a `pending` row is committed, then turned into `applied`
(or `failed`) once GitHub has answered. A run killed in between leaves the `pending` row, and the
next run with a writer settles it first from the issue as GitHub has it (`settle_pending`): the
label is there, so `applied` (and a missing comment is posted), or it is not, so `failed` and the
issue is decided again. Nothing is labelled twice, and no write goes unrecorded. The
`labelled_without_comment` rows get their comment the same way (`complete_comments`).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from civicbot.config import Config
from civicbot.harvest.client import HarvestHTTPError
from civicbot.store.transaction import write_transaction
from civicbot.triage.features import shift, to_text
from civicbot.triage.score import Candidate, ScoreResult, score_family
from civicbot.triage.writer import OutsideAllowlist, QuotaExhausted, RepoMismatch, allowlist_ids


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
    notes: list[str] = field(default_factory=list)  # the non-decisions, one line per repo (or group of repos)


COMMENT_MARK = "[civicbot]"  # the visible prefix; comments of earlier versions carry only this
# Hidden in the comment (an HTML comment GitHub does not render): one per issue, found before any
# retry or completion, so a POST whose answer was lost is never followed by a second comment.
COMMENT_MARKER = "<!-- civicbot:gfi -->"
LABELLED = ("applied", "labelled_without_comment")  # the label is on GitHub: counted by the caps


def comment_text(probability: float, reasons_ja: list[str], reasons_en: list[str], label: str) -> str:
    pct = round(probability * 100)
    ja = "、".join(reasons_ja) or "小さく、内容がはっきりしている"
    en = "; ".join(reasons_en) or "small and well specified"
    return (f"{COMMENT_MARK} 初めての方に向いていそうなので `{label}` ラベルを付けました（推定 {pct}%）。理由: {ja}。"
            "合わない場合はラベルを外してください。civicbot が付け直すことはありません。\n\n"
            f"{COMMENT_MARK} Labelled `{label}`: this looks like a good first issue (estimated {pct}%). "
            f"Why: {en}. If it does not fit, remove the label; civicbot will not add it again.\n\n"
            f"{COMMENT_MARKER}")


def run_label_policy(db, config: Config, writer=None, apply: bool = False, now: str | None = None,
                     repos: list[str] | None = None, stop=None) -> PolicyResult:
    """Score, then decide per candidate; write to GitHub only when `apply` and allowlisted.

    `stop` (a threading.Event) interrupts the scoring, before any decision is made
    (civicbot.triage.score.TriageInterrupted)."""
    now = now or to_text(datetime.now(timezone.utc))
    tri = config.triage
    actor = tri.bot_login or (writer.login() if writer is not None else None)
    score = score_family(db, config, now=now, repos=repos, extra_bot_logins={actor} if actor else None, stop=stop)
    result = PolicyResult(score=score, run_key=uuid.uuid4().hex[:12], dry_run=not apply, actor=actor)
    allow = {r.lower() for r in tri.allowlist}
    full_names = {rid: name for rid, name in db.execute("SELECT id, full_name FROM repos")}
    # the allowlist as repo ids, fixed now: a name that moves to another repo does not move the writes
    pinned = writer.pin(allowlist_ids(db, tri.allowlist)) if apply and writer is not None else {}
    applied_before = {row[0] for row in db.execute(
        f"SELECT item_id FROM label_audit WHERE action IN {LABELLED} AND lower(label) = lower(?)",
        [tri.label_to_apply])}
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
        complete_comments(db, config, writer)
    result.notes += no_candidate_notes(score, set(by_repo))
    for repo_id, candidates in sorted(by_repo.items()):
        name = full_names.get(repo_id, "")
        writes_here = repo_id in pinned
        refused: str | None = None  # set once GitHub shows the repo renamed or taken over
        added_this_week = db.execute(
            f"SELECT COUNT(*) FROM label_audit WHERE repo_id = ? AND action IN {LABELLED} AND at > ?",
            [repo_id, week_ago]).fetchone()[0]
        if not apply:  # a ranking for the maintainer: the threshold and caps only limit --apply
            for rank, c in enumerate(candidates[:tri.top_per_repo], 1):
                decide(c, "proposed", f"rank {rank} of {len(candidates)} in the repo; "
                       + _what_apply_would_do(tri, c, name, allow, rank, added_this_week,
                                              c.snapshot.item_id in applied_before), True)
            if len(candidates) > tri.top_per_repo:
                result.notes.append(f"{name}: {len(candidates) - tri.top_per_repo} more candidates below the top "
                                    f"{tri.top_per_repo} (triage.top_per_repo; best of them "
                                    f"{candidates[tri.top_per_repo].probability:.2f})")
            continue
        taken = 0
        for i, c in enumerate(candidates):
            if c.probability < tri.threshold:  # sorted: the rest are lower
                result.notes.append(f"{name}: " + ("no decision: " if i == 0 else "")
                                    + f"{len(candidates) - i} candidates below the threshold: best was "
                                    f"{c.probability:.2f} < threshold {tri.threshold}")
                break
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
                why = ("dry run" if not apply else "no token" if writer is None else
                       "repo not in triage.allowlist: proposed only" if name.lower() not in allow else
                       "allowlisted name not resolved to a repo id: proposed only")
                decide(c, "proposed", f"{why}; probability {c.probability:.2f} >= {tri.threshold}", True)
                taken += 1
                continue
            if refused is not None:
                decide(c, "refused", refused, False)
                continue
            try:
                live = writer.issue(repo_id, c.snapshot.number)
            except RepoMismatch as exc:
                refused = str(exc)
                decide(c, "refused", refused, False)
                continue
            except HarvestHTTPError as exc:
                decide(c, "failed", f"could not read the issue on GitHub: {str(exc)[:200]}", False)
                continue
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
            action, reason = _label_and_comment(writer, tri, c)
            if action != "pending":
                decide(c, action, reason, False, pending_id)
            if action != "failed":
                taken += 1  # the label is (or may be) on GitHub: it counts against both caps
    return result


def _what_apply_would_do(tri, c: Candidate, name: str, allow: set[str], rank: int, added_this_week: int,
                         applied: bool) -> str:
    """What `label --apply` would do with a proposal, in words (the dry run's safety limits)."""
    if applied:
        return "civicbot already added the label"
    if c.probability < tri.threshold:
        return f"probability {c.probability:.2f} < threshold {tri.threshold}: --apply would not add it"
    if name.lower() not in allow:
        return f"probability {c.probability:.2f} >= {tri.threshold}; repo not in triage.allowlist: --apply would only propose"
    if rank > tri.max_per_repo_per_run:
        return f"probability {c.probability:.2f} >= {tri.threshold}; capped: beyond the cap per run ({tri.max_per_repo_per_run})"
    if added_this_week + rank > tri.max_per_repo_per_week:
        return f"probability {c.probability:.2f} >= {tri.threshold}; capped: cap per week ({tri.max_per_repo_per_week})"
    return f"probability {c.probability:.2f} >= {tri.threshold}: --apply would add the label"


def no_candidate_notes(score: ScoreResult, with_candidates: set[int]) -> list[str]:
    """Why each scored repo without a candidate has none: repos with no open issue share one line."""
    empty, notes = [], []
    for repo_id, name in sorted(score.repos.items(), key=lambda x: x[1].lower()):
        if repo_id in with_candidates:
            continue
        why = score.excluded.get(repo_id)
        if not why:
            empty.append(name)
            continue
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(why.items(), key=lambda x: (-x[1], x[0])))
        notes.append(f"{name}: no decision: none of its {sum(why.values())} open issues is a candidate ({counts})")
    if empty:
        notes.insert(0, f"no decision: no open issue in {len(empty)} repos ({', '.join(empty)})")
    return notes


def _label_and_comment(writer, tri, c: Candidate) -> tuple[str, str]:
    """Add the label, then the comment; the audit action and reason for what GitHub now has."""
    repo_id, number = c.snapshot.repo_id, c.snapshot.number
    applied = f"probability {c.probability:.2f} >= {tri.threshold}"
    try:
        writer.add_label(repo_id, number, tri.label_to_apply)
    except (OutsideAllowlist, QuotaExhausted) as exc:
        return "failed", f"nothing sent: {exc}"
    except Exception as exc:  # noqa: BLE001 - maybe done (a lost answer): GitHub is asked
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        try:
            labels = {x["name"].lower() for x in writer.issue(repo_id, number).get("labels", [])}
        except Exception:  # noqa: BLE001 - cannot tell now: stays pending, settled by the next run
            return "pending", f"adding the label: no answer ({error}); settled by the next run"
        if tri.label_to_apply.lower() not in labels:
            return "failed", f"GitHub refused: {error}"
        applied += f"; the label was added though its answer was lost ({error})"
    if not tri.comment:
        return "applied", applied
    error = writer.comment_once(repo_id, number, comment_text(c.probability, c.reasons_ja, c.reasons_en,
                                                              tri.label_to_apply), COMMENT_MARKER)
    if error is not None:
        return "labelled_without_comment", f"{applied}; the comment failed ({error}): completed by the next run"
    return "applied", applied


def settle_pending(db, config: Config, writer) -> set[int]:
    """Settle the `pending` rows a killed run left, from each issue as GitHub has it now.

    Returns the item ids found labelled (now `applied`): they are not labelled again.
    """
    return _recheck(db, config, writer, "pending")


def complete_comments(db, config: Config, writer) -> set[int]:
    """Post the comments that failed after their label was added (`labelled_without_comment`),
    unless the issue already has one; the row becomes `applied` (its time, hence the caps, kept)."""
    return _recheck(db, config, writer, "labelled_without_comment")


def _recheck(db, config: Config, writer, action: str) -> set[int]:
    """Rows in `action` brought up to date with GitHub; a row GitHub cannot answer for now (or a
    comment still failing) stays as it is for the next run. Returns the item ids labelled."""
    labelled: set[int] = set()
    for p in list(db.query("SELECT id, repo_id, item_id, number, label, reason, action FROM label_audit "
                           "WHERE action = ? ORDER BY id", [action])):
        try:
            update = _rechecked(db, config.triage, writer, p)
        except QuotaExhausted:
            raise
        except Exception:  # noqa: BLE001 - refused or unreachable: the next run retries
            continue
        if update is None:
            continue
        with write_transaction(db):
            db["label_audit"].update(p["id"], update)
        if update["action"] in LABELLED:
            labelled.add(p["item_id"])
    return labelled


def _rechecked(db, tri, writer, p: dict) -> dict | None:
    live = writer.issue(p["repo_id"], p["number"])
    on_github = p["label"].lower() in {x["name"].lower() for x in live.get("labels", [])}
    if p["action"] == "pending":
        if not on_github:
            return {"action": "failed", "reason": "interrupted before GitHub added the label; decided again"}
        reason = "the label is on GitHub: added by a run that was interrupted before recording it"
        if not tri.comment:
            return {"action": "applied", "reason": reason}
        posted, error = _ensure_comment(db, writer, p)
        if error is not None:
            return {"action": "labelled_without_comment",
                    "reason": f"{reason}; its comment failed ({error}): completed by the next run"}
        return {"action": "applied", "reason": reason + ("; its comment was missing and has been posted"
                                                         if posted else "")}
    if not on_github:
        done = "the label was removed since: no comment posted"
    elif not tri.comment:
        done = "comments were turned off since: none posted"
    else:
        posted, error = _ensure_comment(db, writer, p)
        if error is not None:
            return None
        done = ("its comment was completed by a later run" if posted else
                "its comment was found on GitHub (posted though its answer was lost)")
    return {"action": "applied", "reason": f"{p['reason']}; {done}"}


def _ensure_comment(db, writer, p: dict) -> tuple[bool, str | None]:
    """(posted now, error): civicbot's comment on the issue, posted only when none is there."""
    if writer.has_comment(p["repo_id"], p["number"], (COMMENT_MARKER, COMMENT_MARK)):
        return False, None
    error = writer.comment_once(p["repo_id"], p["number"], _comment_from_store(db, p), COMMENT_MARKER)
    return error is None, error


def _comment_from_store(db, pending: dict) -> str:
    """The comment for a settled write: the reasons of the latest scoring, when it still has them."""
    scored = next(db.query("SELECT reasons_ja, reasons_en FROM gfi_candidates WHERE item_id = ?",
                           [pending["item_id"]]), None) or {}
    probability = db.execute("SELECT probability FROM label_audit WHERE id = ?", [pending["id"]]).fetchone()[0]
    return comment_text(probability or 0.0, json.loads(scored.get("reasons_ja") or "[]"),
                        json.loads(scored.get("reasons_en") or "[]"), pending["label"])
