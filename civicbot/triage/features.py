"""An issue as it stood at a decision time, rebuilt from the store's event log.

`History.load(db, config)` reads items, comments, events and users once; `history.snapshot(item_id,
as_of)` then rebuilds the issue *as of* `as_of` using only what happened strictly before it:

- labels from `labeled` / `unlabeled` events (not today's `item_labels`), assignment from
  `assigned` / `unassigned`, state from `closed` / `reopened`;
- comments, participants and claim phrases from comments created before `as_of`;
- reporter experience (their earlier items, comments and merged pull requests in the family)
  and project experience (the repo's earlier items and GFI labels) counted before `as_of`;
- linked pull requests from `cross-referenced` events before `as_of` and from pull requests
  created before `as_of` whose body says `close #N` / `fix #N` / `resolve #N`.

The one thing not rebuilt is the title and body: GitHub keeps no edit history in the event log,
so the current text is used (as RecGFI does). Lengths are counted in characters, never in
space-separated words, so Japanese issues are measured properly.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from civicbot.config import Config
from civicbot.store.schema import PLAUSIBLE_FROM, UTC_FORMAT, plausible_until
from civicbot.triage import check_stop

# Every expression below runs on text anyone can write (titles and bodies of up to 65,536
# characters), so each one takes time linear in the text: no expression may start at many places
# and scan far ahead from each before it fails. docs/triage.md ("Hostile text") has the reasoning
# for each; tests/test_triage_hostile_text.py checks them against the earlier expressions.
#
# `\s*:?\s*` became `\s*(?::\s*)?` (the same text): two adjacent `\s*` shared a run of spaces in
# every possible way, quadratic in the run's length.
CLOSING_RE = re.compile(r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*(?::\s*)?#(\d+)", re.IGNORECASE)
LINK_RE = re.compile(r"https?://\S+")
# `^\s*` became `^[^\S\n]*`: `\s*` crossed newlines, so every line start of a run of blank lines
# scanned to the run's end. The counts are the same: a match that crossed blank lines now starts
# on the marker's own line instead.
LIST_RE = re.compile(r"^[^\S\n]*(?:[-*+]|\d+\.)\s+", re.MULTILINE)
CHECKBOX_RE = re.compile(r"^[^\S\n]*[-*]\s+\[[ xX]\]", re.MULTILINE)
# File paths: what the expression
#     (?:[\w.-]+/)*[\w.-]+\.(?:json|vue|ts|js|md|yml|yaml|py|html|css|scss|csv|png|svg|txt)\b
# finds (`findall`), counted by `count_file_paths` in linear time; the expression itself could
# start at every character of a run of path characters and scan to the run's end from each.
FILE_EXTENSIONS = "json|vue|ts|js|md|yml|yaml|py|html|css|scss|csv|png|svg|txt"
PATH_EXTENSION_RE = re.compile(rf"\.(?:{FILE_EXTENSIONS})\b")
# A maximal run of path characters holding at least one `.extension` (lazy scan from the run's
# start only: the lookbehind refuses every start inside a run).
PATH_RUN_RE = re.compile(rf"(?<![\w./-])[\w./-]*?\.(?:{FILE_EXTENSIONS})\b[\w./-]*")
# Bounded: at most 200 characters are looked at after each opening quote.
QUOTE_RE = re.compile(r"「[^」]{1,200}」|『[^』]{1,200}』|\"[^\"\n]{1,200}\"")
JA_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
SMALL_TASK_RE = re.compile(r"typo|誤字|脱字|文言|表記|alt\b|翻訳|translat|readme|リンク切れ|broken link|spelling",
                           re.IGNORECASE)
DEBUG_RE = re.compile(r"error|exception|エラー|traceback|stack", re.IGNORECASE)

# The model reads at most this many characters of an issue's title and body as text (its
# character n-grams). Ordinary issues are far shorter, so their n-grams are unchanged. The n-grams
# of one body of GitHub's largest size (65,536 characters) cost about as much as those of 200
# ordinary issues, and a triage analyses an issue up to nine times (fits, predictions, reasons).
# Every other feature (lengths, lists, paths...) reads the whole text.
MODEL_TEXT_CHARS = 10_000

NUMERIC_FEATURES = [
    "len_title", "len_body", "n_lines", "ja_share", "n_list_items", "n_checkboxes", "n_code_blocks",
    "n_inline_code", "n_links", "n_file_paths", "n_quotes", "small_task_words", "debug_words",
    "n_labels", "reporter_items", "reporter_comments", "reporter_merged", "project_items",
    "project_gfi_labels", "n_comments", "n_participants", "age_hours", "claimed",
]


def count_file_paths(text: str) -> int:
    """How many matches `re.findall` gives for the file-path expression quoted above, in linear time.

    A match never leaves a maximal run of path characters (`[\\w./-]`), so runs are counted one by
    one (`_file_paths_in_run`).
    """
    return sum(_file_paths_in_run(m.group()) for m in PATH_RUN_RE.finditer(text))


def _file_paths_in_run(run: str) -> int:
    """How many matches `findall` finds in one run of path characters (see `count_file_paths`).

    The run splits at `/` into segments. A match starting at a character of segment `t` is greedy
    as the expression is: it takes as many whole `segment/` steps as it can, and ends at the
    right-most valid `.extension` of the last segment where one can end. `reach[t]` is where a
    match that enters segment `t` at its start ends (None: nowhere), computed right to left; the
    scan then moves left to right as `findall` does, each segment visited once.
    """
    segments = run.split("/")
    n = len(segments)
    starts, pos = [], 0
    for segment in segments:
        starts.append(pos)
        pos += len(segment) + 1
    last: list[tuple[int, int] | None] = [None] * n  # (dot, end) of each segment's right-most extension
    t = 0
    for m in PATH_EXTENSION_RE.finditer(run):  # `\b` at the run's end is also true in the full text
        while t + 1 < n and starts[t + 1] <= m.start():
            t += 1
        last[t] = m.span()
    reach: list[int | None] = [None] * (n + 1)
    for t in range(n - 1, -1, -1):
        onward = reach[t + 1] if t < n - 1 and segments[t] else None
        own = last[t][1] if last[t] is not None and last[t][0] > starts[t] else None
        reach[t] = onward if onward is not None else own
    count, pos, t = 0, 0, 0
    while t < n:
        end_t = starts[t] + len(segments[t])
        p = max(pos, starts[t])
        if p >= end_t:  # at a `/` or past the segment: no match starts here
            t += 1
            continue
        onward = reach[t + 1] if t < n - 1 else None
        if onward is not None:
            end = onward
        elif last[t] is not None and last[t][0] > p:
            end = last[t][1]
        else:  # no later start in this segment can match either
            t += 1
            continue
        count += 1
        pos = end
        while starts[t] + len(segments[t]) < pos:
            t += 1
    return count


def parse_utc(text: str) -> datetime:
    return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=timezone.utc)


def to_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(UTC_FORMAT)


def shift(text: str, **delta: float) -> str:
    return to_text(parse_utc(text) + timedelta(**delta))


@dataclass
class Snapshot:
    """One issue at `as_of`: what a maintainer could have seen then."""

    item_id: int
    repo_id: int
    number: int
    title: str
    text: str
    as_of: str
    created_at: str
    author_id: int | None
    labels: set[str]
    assigned: bool
    closed: bool
    claimed: bool
    linked_pr: bool
    gfi_removed_by_person: bool
    numeric: dict[str, float] = field(default_factory=dict)
    label_groups: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The model's input: the text (its first MODEL_TEXT_CHARS characters) plus every numeric and
        label-group feature."""
        return {"text": self.text[:MODEL_TEXT_CHARS], **self.numeric,
                **{f"lg_{k}": v for k, v in self.label_groups.items()}}


def _count_before(times: list[str], as_of: str) -> int:
    return bisect_left(times, as_of)


class History:
    """The family's items, comments and events in memory, indexed for as-of questions."""

    def __init__(self, config: Config, items: list[dict], comments: list[dict], events: list[dict],
                 users: dict[int, dict], repos: dict[int, str], extra_bot_logins: set[str] | None = None,
                 stop: threading.Event | None = None):
        self.config = config
        self.items = {i["id"]: i for i in items}
        self.by_number = {(i["repo_id"], i["number"]): i for i in items}
        self.users = users
        self.repos = repos
        own = {x.lower() for x in (extra_bot_logins or set())}
        if config.triage.bot_login:
            own.add(config.triage.bot_login.lower())
        self.own_logins = own
        self.bot_ids = {uid for uid, u in users.items()
                        if u["is_bot"] or config.bots.is_bot(u["login"]) or u["login"].lower() in own}
        self.gfi_names = {n.lower() for n in config.triage.gfi_label_names}
        self.claim_phrases = [p.lower() for p in config.triage.claim_phrases]
        self.groups = {g: {n.lower() for n in names} for g, names in config.triage.label_groups.items()}

        self.comments: dict[int, list[dict]] = defaultdict(list)
        self.user_comments: dict[int, list[str]] = defaultdict(list)
        for c in comments:
            if c["item_id"] is not None:
                self.comments[c["item_id"]].append(c)
            if c["user_id"] is not None:
                self.user_comments[c["user_id"]].append(c["created_at"])
        self.events: dict[int, list[dict]] = defaultdict(list)
        self.repo_gfi_labels: dict[int, list[str]] = defaultdict(list)
        for e in events:
            if e["item_id"] is not None:
                self.events[e["item_id"]].append(e)
            if e["event"] == "labeled" and (e["label_name"] or "").lower() in self.gfi_names:
                self.repo_gfi_labels[e["repo_id"]].append(e["created_at"])
        for lst in self.comments.values():
            lst.sort(key=lambda c: (c["created_at"], c["id"]))
        for lst in self.events.values():
            lst.sort(key=lambda e: (e["created_at"], e["id"]))
        self.user_items: dict[int, list[str]] = defaultdict(list)
        self.user_merged: dict[int, list[str]] = defaultdict(list)
        self.repo_items: dict[int, list[str]] = defaultdict(list)
        self.closing_prs: dict[tuple[int, int], list[dict]] = defaultdict(list)  # issue key -> PRs naming it
        for i in items:
            check_stop(stop)
            if i["user_id"] is not None:
                self.user_items[i["user_id"]].append(i["created_at"])
                if i["is_pull_request"] and i["merged_at"]:
                    self.user_merged[i["user_id"]].append(i["merged_at"])
            self.repo_items[i["repo_id"]].append(i["created_at"])
            if i["is_pull_request"]:
                for n in {int(m) for m in CLOSING_RE.findall(f"{i['title'] or ''}\n{i['body'] or ''}")}:
                    self.closing_prs[(i["repo_id"], n)].append(i)
        for d in (self.user_comments, self.user_items, self.user_merged, self.repo_items, self.repo_gfi_labels):
            for lst in d.values():
                lst.sort()

    @classmethod
    def load(cls, db, config: Config, extra_bot_logins: set[str] | None = None,
             stop: threading.Event | None = None) -> History:
        q = lambda sql: [dict(zip([d[0] for d in cur.description], row))  # noqa: E731
                         for cur in [db.execute(sql)] for row in cur.fetchall()]
        # Rows with an implausible time (schema.is_plausible; a store written before those were
        # refused) are left out: date arithmetic on the year 9999 overflows.
        sane = {c: f"({c} IS NULL OR {c} BETWEEN '{PLAUSIBLE_FROM}' AND '{plausible_until()}')"
                for c in ("created_at", "closed_at", "merged_at")}
        items = q(f"""SELECT id, repo_id, number, is_pull_request, title, body, user_id, state, created_at,
                      closed_at, merged_at FROM items
                      WHERE {sane['created_at']} AND {sane['closed_at']} AND {sane['merged_at']}""")
        comments = q(f"SELECT id, item_id, user_id, body, created_at FROM comments WHERE {sane['created_at']}")
        events = q(f"""SELECT id, repo_id, item_id, event, actor_id, created_at, label_name, assignee_id,
                       source_repo_id, source_number FROM issue_events WHERE {sane['created_at']}""")
        # automation as civicbot.metrics.people decides (detected accounts too), once metrics have run
        automation = "OR coalesce((SELECT is_automation FROM accounts a WHERE a.user_id = u.id), 0)" \
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'accounts'").fetchone() else ""
        users = {u["id"]: u for u in q(f"SELECT id, login, (is_bot {automation}) AS is_bot FROM users u")}
        repos = {r["id"]: r["full_name"] for r in q("SELECT id, full_name FROM repos")}
        return cls(config, items, comments, events, users, repos, extra_bot_logins, stop=stop)

    # -- who -----------------------------------------------------------------------------------

    def is_person(self, user_id: int | None) -> bool:
        """A human, not a bot and not civicbot itself (ghost actors count as people)."""
        return user_id not in self.bot_ids

    def login(self, user_id: int | None) -> str | None:
        return self.users.get(user_id, {}).get("login") if user_id is not None else None

    # -- as-of state ---------------------------------------------------------------------------

    def labels_as_of(self, item_id: int, as_of: str) -> set[str]:
        labels: set[str] = set()
        for e in self.events.get(item_id, ()):
            if e["created_at"] >= as_of:
                break
            name = (e["label_name"] or "").lower()
            if e["event"] == "labeled":
                labels.add(name)
            elif e["event"] == "unlabeled":
                labels.discard(name)
        return labels

    def claimed_before(self, item_id: int, as_of: str) -> bool:
        for c in self.comments.get(item_id, ()):
            if c["created_at"] >= as_of:
                break
            body = (c["body"] or "").lower()
            if self.is_person(c["user_id"]) and any(p in body for p in self.claim_phrases):
                return True
        return False

    def linked_pr_before(self, item: dict, as_of: str) -> bool:
        """A pull request references the issue before `as_of` (unknown sources count, to be safe)."""
        for e in self.events.get(item["id"], ()):
            if e["created_at"] >= as_of:
                break
            if e["event"] == "cross-referenced":
                source = self.by_number.get((e["source_repo_id"], e["source_number"]))
                if source is None or source["is_pull_request"]:
                    return True
            if e["event"] == "connected":
                return True
        return any(pr["created_at"] < as_of for pr in self.closing_prs.get((item["repo_id"], item["number"]), ()))

    def gfi_removed_by_person(self, item_id: int, as_of: str) -> bool:
        return any(e["created_at"] < as_of and e["event"] == "unlabeled"
                   and (e["label_name"] or "").lower() in self.gfi_names and self.is_person(e["actor_id"])
                   for e in self.events.get(item_id, ()))

    def snapshot(self, item_id: int, as_of: str) -> Snapshot:
        item = self.items[item_id]
        assigned: set[int] = set()
        closed = False
        n_events = 0
        for e in self.events.get(item_id, ()):
            if e["created_at"] >= as_of:
                break
            n_events += 1
            if e["event"] == "assigned" and e["assignee_id"] is not None:
                assigned.add(e["assignee_id"])
            elif e["event"] == "unassigned":
                assigned.discard(e["assignee_id"])
            elif e["event"] == "closed":
                closed = True
            elif e["event"] == "reopened":
                closed = False
        if not n_events and item["closed_at"] and item["closed_at"] < as_of:
            closed = True
        labels = self.labels_as_of(item_id, as_of)
        earlier = [c for c in self.comments.get(item_id, ()) if c["created_at"] < as_of]
        participants = {c["user_id"] for c in earlier if self.is_person(c["user_id"])} - {item["user_id"]}
        title, body = item["title"] or "", item["body"] or ""
        text = f"{title}\n{body}"
        author = item["user_id"]
        claimed = self.claimed_before(item_id, as_of)
        numeric = {
            "len_title": len(title), "len_body": len(body), "n_lines": body.count("\n") + (1 if body else 0),
            "ja_share": len(JA_RE.findall(text)) / max(len(text), 1),
            "n_list_items": len(LIST_RE.findall(body)), "n_checkboxes": len(CHECKBOX_RE.findall(body)),
            "n_code_blocks": body.count("```") // 2, "n_inline_code": max(body.count("`") - 6 * (body.count("```") // 2), 0) // 2,
            "n_links": len(LINK_RE.findall(body)), "n_file_paths": count_file_paths(text),
            "n_quotes": len(QUOTE_RE.findall(text)), "small_task_words": len(SMALL_TASK_RE.findall(text)),
            "debug_words": len(DEBUG_RE.findall(text)), "n_labels": len(labels),
            "reporter_items": _count_before(self.user_items.get(author, []), item["created_at"]) if author else 0,
            "reporter_comments": _count_before(self.user_comments.get(author, []), item["created_at"]) if author else 0,
            "reporter_merged": _count_before(self.user_merged.get(author, []), item["created_at"]) if author else 0,
            "project_items": _count_before(self.repo_items.get(item["repo_id"], []), item["created_at"]),
            "project_gfi_labels": _count_before(self.repo_gfi_labels.get(item["repo_id"], []), as_of),
            "n_comments": len(earlier), "n_participants": len(participants),
            "age_hours": max((parse_utc(as_of) - parse_utc(item["created_at"])).total_seconds() / 3600, 0),
            "claimed": float(claimed),
        }
        groups = {g: float(bool(labels & names)) for g, names in self.groups.items()}
        return Snapshot(item_id=item_id, repo_id=item["repo_id"], number=item["number"], title=title, text=text,
                        as_of=as_of, created_at=item["created_at"], author_id=author, labels=labels,
                        assigned=bool(assigned), closed=closed, claimed=claimed,
                        linked_pr=self.linked_pr_before(item, as_of),
                        gfi_removed_by_person=self.gfi_removed_by_person(item_id, as_of),
                        numeric=numeric, label_groups=groups)

    def issues(self) -> list[dict]:
        return [i for i in self.items.values() if not i["is_pull_request"]]
