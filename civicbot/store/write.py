"""The one place that turns GitHub REST JSON into rows (docs/schema.md says what each means).

Writers take already-parsed JSON and a `Provenance` (which run, when) and upsert: re-writing
the same page twice leaves the database as it was, which is what makes a harvest resumable.
Writers never commit; the harvester wraps each page and its sync state in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import sqlite_utils
from sqlite_utils.db import quote_identifier

from civicbot.names import full_name_problem

from .schema import is_plausible, utc_text
from .transaction import write_transaction

# Dates in GitHub JSON are already UTC `...Z`; anything else (an offset, fractions) is normalised.
_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# What an SQLite INTEGER holds; a larger JSON number would raise OverflowError in the driver.
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


class PayloadError(ValueError):
    """A GitHub object lacks what a row needs; the message names the object and the field."""


@dataclass(frozen=True)
class Provenance:
    run_id: int
    harvested_at: str

    def columns(self) -> dict:
        return {"run_id": self.run_id, "harvested_at": self.harvested_at}


def utc(value: Any, field: str = "", *, plausible: bool = True) -> str | None:
    """A GitHub timestamp as the store's UTC text, or None (PayloadError names `field` if given).

    GitHub's own dates (created, updated, closed...) must also be plausible (schema.is_plausible);
    `plausible=False` is for git's dates, which a committer may set to anything."""
    if value in (None, ""):
        return None
    from datetime import datetime

    where = f"field {field!r}: " if field else ""
    try:
        if isinstance(value, str) and _UTC.match(value):
            datetime.fromisoformat(value[:-1])  # the shape is right; is it a real date (not 02-30, 99:00)?
            text = value
        elif not isinstance(value, str):
            raise TypeError
        else:
            text = utc_text(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (TypeError, ValueError, OverflowError):
        raise PayloadError(f"{where}not a timestamp: {_safe(str(value))[:40]!r}") from None
    if plausible and not is_plausible(text):
        raise PayloadError(f"{where}implausible timestamp {text} (before 2008 or more than a day ahead)")
    return text


def is_timestamp(text: str) -> bool:
    """Whether `text` has the store's timestamp shape (cursors also hold padded event ids)."""
    return bool(_UTC.match(text))


def utc_or_none(value: Any, *, plausible: bool = True) -> str | None:
    """`utc(value)`, or None where it would refuse the value (to order items, not to store them)."""
    try:
        return utc(value, plausible=plausible)
    except PayloadError:
        return None


def _safe(text: str) -> str:
    """Text that can go into a message or the database: lone surrogates replaced."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _need(obj: Any, key: str, kind: str, types: type | tuple = int) -> Any:
    """A required field, or PayloadError naming it (JSON booleans never pass as numbers)."""
    if not isinstance(obj, dict):
        raise PayloadError(f"{kind}: expected an object, got {type(obj).__name__}")
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, types):
        raise PayloadError(f"{kind}: field {key!r} missing or of the wrong type")
    if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
        raise PayloadError(f"{kind}: field {key!r} is out of range")
    return value


def _list(value: Any, kind: str, key: str) -> list:
    """An optional JSON array (null: empty), or PayloadError naming it."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{kind}: field {key!r} is not a list")
    return value


def _checked(kind: str, row: dict) -> dict:
    """A row as SQLite can store it, or PayloadError naming the field: integers within 64 bits,
    text that is valid Unicode (no lone surrogates), nested JSON serialised the same way."""
    for key, value in row.items():
        if isinstance(value, (dict, list, tuple)):
            value = row[key] = json.dumps(value, ensure_ascii=False, default=repr)
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            raise PayloadError(f"{kind}: field {key!r} is out of range")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise PayloadError(f"{kind}: field {key!r} is not valid Unicode text") from None
    return row


def _text(value: Any, limit: int = 1_000_000) -> str | None:
    """Free text as stored: None stays None; control characters other than tab/newline dropped."""
    if value is None:
        return None
    return _DROPPED.sub("", str(value)[:limit])


# C0 (but tab, newline, return), DEL and C1 controls; and lone surrogates (JSON "\\ud800"), which UTF-8 cannot hold.
_DROPPED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _upsert(db: sqlite_utils.Database, table: str, row: dict, pk: str | tuple[str, ...] = "id") -> None:
    """Insert the row, or update the columns it names where its primary key is stored (what
    sqlite-utils' upsert does). sqlite-utils reads the table's schema again on every call, which
    was a third of a harvest's time; the statement is built once per shape of row instead."""
    key = (table, tuple(row), pk)
    sql = _STATEMENTS.get(key)
    if sql is None:
        pks = (pk,) if isinstance(pk, str) else pk
        quoted = {c: quote_identifier(c) for c in (*row, *pks)}
        updates = ", ".join(f"{quoted[c]} = excluded.{quoted[c]}" for c in row if c not in pks)
        sql = _STATEMENTS[key] = (
            f"INSERT INTO {quote_identifier(table)} ({', '.join(quoted[c] for c in row)}) "
            f"VALUES ({', '.join('?' * len(row))}) ON CONFLICT ({', '.join(quoted[c] for c in pks)}) DO "
            + (f"UPDATE SET {updates}" if updates else "NOTHING"))
    db.execute(sql, list(row.values()))


def _insert_links(db: sqlite_utils.Database, table: str, rows: list[dict]) -> None:
    """Rows of a link table (every column in its key): the ones already stored are kept."""
    if rows:
        columns = tuple(rows[0])
        db.conn.executemany(f"INSERT OR IGNORE INTO {quote_identifier(table)} "
                            f"({', '.join(map(quote_identifier, columns))}) VALUES ({', '.join('?' * len(columns))})",
                            [[r[c] for c in columns] for r in rows])


_STATEMENTS: dict[tuple, str] = {}


# -- people ---------------------------------------------------------------------------------

BotRule = Callable[[str], str | None]


def bot_reason(user: dict, config_rule: BotRule | None) -> str | None:
    """Why a login is automation: GitHub's type, the [bot] suffix, or the config (docs/schema.md)."""
    if user.get("type") == "Bot":
        return "type"
    login = user.get("login") or ""
    if login.lower().endswith("[bot]"):
        return "[bot] suffix"
    return config_rule(login) if config_rule else None


def upsert_user(db: sqlite_utils.Database, user: Any, prov: Provenance, rule: BotRule | None) -> int | None:
    """Upsert an embedded user object; returns its id (None for null, e.g. a deleted account)."""
    if user is None:
        return None
    user_id = _need(user, "id", "user")
    login = _need(user, "login", "user", str)
    reason = bot_reason(user, rule)
    _upsert(db, "users", _checked("user", {
        "id": user_id, "login": login, "type": user.get("type"), "is_bot": int(reason is not None),
        "bot_reason": reason, "html_url": user.get("html_url"), "avatar_url": user.get("avatar_url"),
        **prov.columns(),
    }))
    return user_id


def write_profile(db: sqlite_utils.Database, user_id: int, profile: dict | None, prov: Provenance,
                  rule: BotRule | None, etag: str | None) -> None:
    """A profile from GET /users/{login}: company, location, created_at, type (never the e-mail,
    the store is published). `profile` None: GitHub answered 404 (account deleted or renamed)."""
    if profile is None:
        db.execute("UPDATE users SET profile_fetched_at = ?, profile_etag = NULL, profile_status = 'gone' "
                   "WHERE id = ?", [prov.harvested_at, user_id])
        return
    if _need(profile, "id", "user") != user_id:  # the login now names another account
        raise PayloadError(f"user {user_id}: the profile's login now belongs to account {profile['id']}")
    login = _need(profile, "login", "user", str)
    reason = bot_reason(profile, rule)
    _upsert(db, "users", _checked("user", {
        "id": user_id, "login": login, "type": profile.get("type"), "is_bot": int(reason is not None),
        "bot_reason": reason, "name": _text(profile.get("name"), 1000),
        "company": _text(profile.get("company"), 1000), "location": _text(profile.get("location"), 1000), "html_url": profile.get("html_url"),
        "avatar_url": profile.get("avatar_url"), "created_at": utc(profile.get("created_at"), "created_at"),
        "profile_fetched_at": prov.harvested_at, "profile_etag": etag, "profile_status": "found",
        **prov.columns(),
    }))


def profile_checked(db: sqlite_utils.Database, user_id: int, prov: Provenance) -> None:
    """A profile GitHub answered 304 for: unchanged, checked now (free of quota)."""
    db.execute("UPDATE users SET profile_fetched_at = ? WHERE id = ?", [prov.harvested_at, user_id])


# -- repos ----------------------------------------------------------------------------------

def upsert_repo(db: sqlite_utils.Database, repo: dict, prov: Provenance, rule: BotRule | None,
                *, minimal: bool = False) -> int:
    """Upsert a repository object (full, or `minimal` from a fork list) and its name history."""
    repo_id = _need(repo, "id", "repo")
    full_name = _need(repo, "full_name", "repo", str)
    problem = full_name_problem(full_name)
    if problem:  # it would become a request path (forks, renames, owners' repo lists)
        raise PayloadError(f"repo {repo_id}: field 'full_name': {problem}")
    owner_id = upsert_user(db, repo.get("owner"), prov, rule)
    row = {
        "id": repo_id, "full_name": full_name, "owner": full_name.split("/")[0], "owner_id": owner_id,
        "name": full_name.split("/", 1)[-1], "description": _text(repo.get("description")),
        "homepage": repo.get("homepage"), "html_url": repo.get("html_url"), "language": repo.get("language"),
        "default_branch": repo.get("default_branch"), "fork": int(bool(repo.get("fork"))),
        "archived": int(bool(repo.get("archived"))), "created_at": utc(repo.get("created_at"), "created_at"),
        "updated_at": utc(repo.get("updated_at"), "updated_at"), "pushed_at": utc(repo.get("pushed_at"), "pushed_at"),
        "stargazers_count": repo.get("stargazers_count"), "forks_count": repo.get("forks_count"),
        "open_issues_count": repo.get("open_issues_count"),
        "topics": json.dumps(repo.get("topics") or [], ensure_ascii=False),
        "last_seen_at": prov.harvested_at, **prov.columns(),
    }
    if isinstance(repo.get("node_id"), str):  # batch change detection asks GraphQL by it
        row["node_id"] = repo["node_id"][:200]
    elif not minimal:  # a full object without one: '' (not NULL) so it is not asked for again
        row["node_id"] = ""
    license_ = repo.get("license")
    row["license_spdx_id"] = license_.get("spdx_id") if isinstance(license_, dict) else None
    if not minimal:
        row["subscribers_count"] = repo.get("subscribers_count")
        for key in ("parent", "source"):
            related = repo.get(key)
            if related is not None and not isinstance(related, dict):
                raise PayloadError(f"repo {repo_id}: field {key!r} is not an object")
            row[f"{key}_id"] = (related or {}).get("id")
    _upsert(db, "repos", _checked("repo", row))
    names = db["repo_names"]
    if names.count_where("repo_id = ? AND full_name = ?", [repo_id, full_name]):
        db.execute("UPDATE repo_names SET last_seen_at = ? WHERE repo_id = ? AND full_name = ?",
                   [prov.harvested_at, repo_id, full_name])
    else:
        names.insert({"repo_id": repo_id, "full_name": full_name, "last_seen_at": prov.harvested_at,
                      **prov.columns()})
    status = "renamed" if names.count_where("repo_id = ?", [repo_id]) > 1 else "active"
    db.execute("UPDATE repos SET status = ?, status_checked_at = ? WHERE id = ?",
               [status, prov.harvested_at, repo_id])
    return repo_id


def record_former_name(db: sqlite_utils.Database, repo_id: int, full_name: str, prov: Provenance) -> None:
    """A name that GitHub redirected to this repo: kept so the next run asks by id."""
    db["repo_names"].insert({"repo_id": repo_id, "full_name": full_name, "last_seen_at": prov.harvested_at,
                             **prov.columns()}, pk=("repo_id", "full_name"), ignore=True)
    db.execute("UPDATE repos SET status = 'renamed' WHERE id = ? AND status = 'active'", [repo_id])


def record_discovery(db: sqlite_utils.Database, repo_id: int, method: str, parent_id: int | None,
                     evidence: str, prov: Provenance) -> None:
    """How a repo was found to belong to the family (docs/schema.md: discoveries)."""
    _upsert(db, "discoveries", {"repo_id": repo_id, "method": method, "parent_id": parent_id, "evidence": evidence,
                                **prov.columns()}, pk=("repo_id", "method"))


def set_fork_parent(db: sqlite_utils.Database, fork_id: int, parent_id: int) -> None:
    db.execute("UPDATE repos SET parent_id = ? WHERE id = ? AND parent_id IS NULL", [parent_id, fork_id])


def mark_repo(db: sqlite_utils.Database, repo_id: int, status: str, when: str) -> None:
    """A repo GitHub stopped serving (gone, taken_down): its rows stay, only the status changes."""
    db.execute("UPDATE repos SET status = ?, status_checked_at = ? WHERE id = ?", [status, when, repo_id])


def set_root_commit(db: sqlite_utils.Database, repo_id: int, sha: str | None) -> None:
    db.execute("UPDATE repos SET root_commit_sha = ? WHERE id = ?", [sha, repo_id])


# -- issues and pull requests ---------------------------------------------------------------

def _labels(db: sqlite_utils.Database, repo_id: int, labels: Iterable[Any], prov: Provenance) -> list[int]:
    ids = []
    for label in _list(labels, "label", "labels"):
        label_id = _need(label, "id", "label")
        _upsert(db, "labels", _checked("label", {
            "id": label_id, "repo_id": repo_id, "name": _need(label, "name", "label", str),
            "color": label.get("color"), "description": _text(label.get("description")),
            "is_default": int(bool(label.get("default"))), **prov.columns(),
        }))
        ids.append(label_id)
    return ids


def write_labels(db: sqlite_utils.Database, repo_id: int, labels: list[Any], prov: Provenance) -> int:
    return len(_labels(db, repo_id, labels, prov))


def write_issue(db: sqlite_utils.Database, repo_id: int, issue: dict, prov: Provenance, rule: BotRule | None) -> int:
    """An item from the issues endpoint (an issue, or a PR's issue side), with labels and assignees."""
    item_id = _need(issue, "id", "issue")
    number = _need(issue, "number", "issue")
    state = issue.get("state")
    if state not in ("open", "closed"):
        raise PayloadError(f"issue {number}: state {str(state)[:20]!r} is neither open nor closed")
    user_id = upsert_user(db, issue.get("user"), prov, rule)
    closed_by = upsert_user(db, issue.get("closed_by"), prov, rule)
    pr = issue.get("pull_request")
    row = {
        "id": item_id, "repo_id": repo_id, "number": number, "is_pull_request": int(pr is not None),
        "title": _text(issue.get("title")), "body": _text(issue.get("body")), "html_url": issue.get("html_url"),
        "user_id": user_id, "state": state, "state_reason": issue.get("state_reason"),
        "locked": int(bool(issue.get("locked"))), "comments": issue.get("comments"),
        "author_association": issue.get("author_association"),
        "created_at": utc(_need(issue, "created_at", "issue", str), "created_at"),
        "updated_at": utc(_need(issue, "updated_at", "issue", str), "updated_at"),
        "closed_at": utc(issue.get("closed_at"), "closed_at"), "closed_by_id": closed_by, **prov.columns(),
    }
    if isinstance(pr, dict):
        row["merged_at"] = utc(pr.get("merged_at"), "merged_at")
        row["draft"] = int(bool(issue.get("draft")))
    _upsert(db, "items", _checked(f"issue {number}", row))
    label_ids = _labels(db, repo_id, issue.get("labels"), prov)
    db.execute("DELETE FROM item_labels WHERE item_id = ?", [item_id])
    _insert_links(db, "item_labels", [{"item_id": item_id, "label_id": lid, **prov.columns()} for lid in label_ids])
    assignees = [upsert_user(db, a, prov, rule) for a in _list(issue.get("assignees"), "issue", "assignees")]
    db.execute("DELETE FROM item_assignees WHERE item_id = ?", [item_id])
    _insert_links(db, "item_assignees", [{"item_id": item_id, "user_id": uid, **prov.columns()}
                                         for uid in assignees if uid])
    return item_id


class IssueSideMissing(PayloadError):
    """A pull request whose issue side is not stored (it was opened after this run read the issues
    list). Its own id is not its issue's id, so it cannot stand in: the harvester fetches the issue."""

    def __init__(self, number: int):
        super().__init__(f"pull request {number}: its issue is not stored yet")
        self.number = number


def write_pull(db: sqlite_utils.Database, repo_id: int, pull: dict, prov: Provenance, rule: BotRule | None) -> int:
    """PR details from the pulls list, added to the item its issue side stored (found by number:
    GitHub gives a pull request an id of its own, distinct from the issue's id that `items` keeps)."""
    _need(pull, "id", "pull request")
    number = _need(pull, "number", "pull request")
    head = pull.get("head") if isinstance(pull.get("head"), dict) else {}
    base = pull.get("base") if isinstance(pull.get("base"), dict) else {}
    head_repo = head.get("repo") if isinstance(head.get("repo"), dict) else None
    details = _checked(f"pull request {number}", {
        "merged_at": utc(pull.get("merged_at"), "merged_at"), "merge_commit_sha": pull.get("merge_commit_sha"),
        "head_repo_id": head_repo.get("id") if head_repo else None, "head_ref": head.get("ref"),
        "head_sha": head.get("sha"), "base_ref": base.get("ref"), "draft": int(bool(pull.get("draft"))),
        "pull_fetched_at": prov.harvested_at,
    })
    item_id = _item_id(db, repo_id, number)
    if item_id is None:
        raise IssueSideMissing(number)
    db.execute(f"UPDATE items SET {', '.join(f'{column} = ?' for column in details)} WHERE id = ?",
               [*details.values(), item_id])
    return item_id


def write_comment(db: sqlite_utils.Database, repo_id: int, comment: dict, prov: Provenance, rule: BotRule | None) -> int:
    comment_id = _need(comment, "id", "comment")
    issue_url = _need(comment, "issue_url", "comment", str)
    try:
        number = int(issue_url.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        raise PayloadError(f"comment {comment_id}: issue_url does not end in an issue number") from None
    _upsert(db, "comments", _checked(f"comment {comment_id}", {
        "id": comment_id, "repo_id": repo_id, "item_id": _item_id(db, repo_id, number), "issue_number": number,
        "user_id": upsert_user(db, comment.get("user"), prov, rule), "body": _text(comment.get("body")),
        "html_url": comment.get("html_url"), "author_association": comment.get("author_association"),
        "created_at": utc(_need(comment, "created_at", "comment", str), "created_at"),
        "updated_at": utc(_need(comment, "updated_at", "comment", str), "updated_at"), **prov.columns(),
    }))
    return comment_id


def _pull_number(obj: dict, kind: str, ident: int) -> int:
    """The PR's number, from the `pull_request_url` a review or review comment carries."""
    url = _need(obj, "pull_request_url", kind, str)
    try:
        return int(url.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        raise PayloadError(f"{kind} {ident}: pull_request_url does not end in a pull request number") from None


def write_review(db: sqlite_utils.Database, repo_id: int, review: dict, prov: Provenance, rule: BotRule | None) -> int:
    """A review from /pulls/{n}/reviews: who reviewed which PR, with what verdict (body not kept)."""
    review_id = _need(review, "id", "review")
    _upsert(db, "reviews", _checked(f"review {review_id}", {
        "id": review_id, "repo_id": repo_id, "pull_number": _pull_number(review, "review", review_id),
        "user_id": upsert_user(db, review.get("user"), prov, rule), "state": _text(review.get("state"), 40),
        "submitted_at": utc(review.get("submitted_at"), "submitted_at"), **prov.columns(),
    }))
    return review_id


def write_review_comment(db: sqlite_utils.Database, repo_id: int, comment: dict, prov: Provenance,
                         rule: BotRule | None) -> int:
    """A comment on a PR's diff, from the repository-wide /pulls/comments list."""
    comment_id = _need(comment, "id", "review comment")
    reply_to = comment.get("in_reply_to_id")
    _upsert(db, "review_comments", _checked(f"review comment {comment_id}", {
        "id": comment_id, "repo_id": repo_id, "pull_number": _pull_number(comment, "review comment", comment_id),
        "user_id": upsert_user(db, comment.get("user"), prov, rule),
        "created_at": utc(_need(comment, "created_at", "review comment", str), "created_at"),
        "updated_at": utc(_need(comment, "updated_at", "review comment", str), "updated_at"),
        "in_reply_to_id": reply_to if isinstance(reply_to, int) and not isinstance(reply_to, bool) else None,
        **prov.columns(),
    }))
    return comment_id


def write_event(db: sqlite_utils.Database, repo_id: int, event: dict, prov: Provenance, rule: BotRule | None) -> int:
    event_id = _need(event, "id", "event")
    issue = event.get("issue")
    number = _need(issue, "number", "event's issue")
    source = ((event.get("source") or {}).get("issue") or {}) if isinstance(event.get("source"), dict) else {}
    source = source if isinstance(source, dict) else {}
    source_repo = source.get("repository_url") if isinstance(source.get("repository_url"), str) else ""
    row = {
        "id": event_id, "repo_id": repo_id, "item_id": _item_id(db, repo_id, number), "issue_number": number,
        "event": _need(event, "event", "event", str), "actor_id": upsert_user(db, event.get("actor"), prov, rule),
        "created_at": utc(_need(event, "created_at", "event", str), "created_at"),
        "label_name": (event.get("label") or {}).get("name") if isinstance(event.get("label"), dict) else None,
        "assignee_id": upsert_user(db, event.get("assignee"), prov, rule), "commit_id": event.get("commit_id"),
        "source_repo_id": _repo_id_by_url(db, source_repo) if source_repo else None,
        "source_number": source.get("number"), **prov.columns(),
    }
    _upsert(db, "issue_events", _checked(f"event {event_id}", row))
    if row["event"] == "merged" and row["actor_id"] is not None:
        # Who merged a PR: the single-PR endpoint would cost a request per PR; the event says it.
        db.execute("UPDATE items SET merged_by_id = ? WHERE repo_id = ? AND number = ?",
                   [row["actor_id"], repo_id, number])
    return event_id


def write_contributors(db: sqlite_utils.Database, repo_id: int, rows: list[Any], prov: Provenance,
                       rule: BotRule | None) -> int:
    for row in rows:
        if not isinstance(row, dict) or row.get("type") == "Anonymous" or "id" not in row:
            continue  # anonymous contributors have no account to link
        user_id = upsert_user(db, row, prov, rule)
        _upsert(db, "contributors", {"repo_id": repo_id, "user_id": user_id,
                                     "contributions": _need(row, "contributions", "contributor"), **prov.columns()},
                pk=("repo_id", "user_id"))
    return len(rows)


def write_languages(db: sqlite_utils.Database, repo_id: int, languages: Any, prov: Provenance) -> int:
    """Replace a repo's bytes per language (a language GitHub no longer lists is dropped)."""
    if not isinstance(languages, dict) or not all(
            isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in languages.items()):
        raise PayloadError(f"languages of repo {repo_id}: expected {{language: bytes}}, got {str(languages)[:80]}")
    db.execute("DELETE FROM repo_languages WHERE repo_id = ?", [repo_id])
    for language, size in languages.items():
        _upsert(db, "repo_languages", {"repo_id": repo_id, "language": language[:100], "bytes": size,
                                       **prov.columns()}, pk=("repo_id", "language"))
    return len(languages)


# -- commits --------------------------------------------------------------------------------

# GitHub's private commit addresses: `ID+login@users.noreply.github.com` (since 2017) or
# `login@users.noreply.github.com`; bots' logins end in [bot].
_NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?)@users\.noreply\.github\.com$",
                      re.IGNORECASE)
EMAIL_SALT = "email_hash_salt"


def noreply_login(email: Any) -> str | None:
    """The login in a GitHub noreply address, else None."""
    match = _NOREPLY.match(email.strip()) if isinstance(email, str) else None
    return match.group(1) if match else None


def email_hash(db: sqlite_utils.Database, email: Any) -> str | None:
    """HMAC-SHA256 (hex) of the lower-cased, stripped address with the store's own salt: two
    commits by one address share it, and the published store cannot be searched for an address
    (the salt stays behind: store_secrets is never published). None when there is no address."""
    if not isinstance(email, str) or not email.strip():
        return None
    return hmac.new(_salt(db).encode(), email.strip().lower().encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def _salt(db: sqlite_utils.Database) -> str:
    """The store's salt, made once (in the caller's transaction) by the first commit written."""
    row = db.execute("SELECT value FROM store_secrets WHERE name = ?", [EMAIL_SALT]).fetchone()
    if row:
        return row[0]
    db.execute("INSERT INTO store_secrets (name, value) VALUES (?, ?)", [EMAIL_SALT, secrets.token_hex(32)])
    return db.execute("SELECT value FROM store_secrets WHERE name = ?", [EMAIL_SALT]).fetchone()[0]


def write_commit(db: sqlite_utils.Database, repo_id: int, item: dict, prov: Provenance, rule: BotRule | None) -> str:
    """A commit of a repo's commit list. Its e-mail address is kept only as a salted hash (and
    the login of a noreply address); a commit already stored keeps its repo: the first repo of
    the family whose history held it (the upstream is harvested first)."""
    sha = _need(item, "sha", "commit", str)
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        raise PayloadError(f"commit: sha {_safe(sha)[:70]!r} is not a commit id")
    git = item.get("commit") if isinstance(item.get("commit"), dict) else {}
    author = git.get("author") if isinstance(git.get("author"), dict) else {}
    committer = git.get("committer") if isinstance(git.get("committer"), dict) else {}
    stored = db.execute("SELECT repo_id FROM commits WHERE sha = ?", [sha]).fetchone()
    row = {
        "sha": sha, "repo_id": stored[0] if stored else repo_id,
        # an account GitHub could not match is null, or (seen on old commits) an empty object
        "author_id": upsert_user(db, item.get("author") or None, prov, rule),
        "author_name": _text(author.get("name"), 1000), "author_email_hash": email_hash(db, author.get("email")),
        "author_noreply_login": noreply_login(author.get("email")),
        "committer_id": upsert_user(db, item.get("committer") or None, prov, rule),
        # git's dates, which a committer may set to anything: kept when they parse
        "authored_at": utc(author.get("date"), "commit.author.date", plausible=False),
        "committed_at": utc(committer.get("date"), "commit.committer.date", plausible=False),
        "is_merge": int(len(_list(item.get("parents"), "commit", "parents")) > 1), **prov.columns(),
    }
    _upsert(db, "commits", _checked(f"commit {sha[:12]}", row), pk="sha")
    return sha


def committed_at(item: Any) -> str | None:
    """A commit list item's committer date (what `since` filters on), None when unusable."""
    git = item.get("commit") if isinstance(item, dict) else None
    committer = git.get("committer") if isinstance(git, dict) else None
    return utc_or_none(committer.get("date")) if isinstance(committer, dict) else None


def link_items(db: sqlite_utils.Database, repo_id: int) -> None:
    """Fill item_id of comments and events written before their item (lists arrive in any order)."""
    for table in ("comments", "issue_events"):
        db.execute(f"""UPDATE {table} SET item_id = (SELECT id FROM items WHERE items.repo_id = {table}.repo_id
                       AND items.number = {table}.issue_number) WHERE repo_id = ? AND item_id IS NULL""", [repo_id])
    # merged_by for PRs whose merged event was stored before the PR itself
    db.execute("""UPDATE items SET merged_by_id = (SELECT actor_id FROM issue_events e WHERE e.repo_id = items.repo_id
                  AND e.issue_number = items.number AND e.event = 'merged' ORDER BY e.created_at DESC LIMIT 1)
                  WHERE repo_id = ? AND is_pull_request = 1 AND merged_at IS NOT NULL AND merged_by_id IS NULL""",
               [repo_id])


def _item_id(db: sqlite_utils.Database, repo_id: int, number: int) -> int | None:
    row = db.execute("SELECT id FROM items WHERE repo_id = ? AND number = ?", [repo_id, number]).fetchone()
    return row[0] if row else None


def _repo_id_by_url(db: sqlite_utils.Database, url: str) -> int | None:
    tail = url.rstrip("/").split("/repos/", 1)[-1]
    row = db.execute("SELECT repo_id FROM repo_names WHERE full_name = ? ORDER BY last_seen_at DESC LIMIT 1",
                     [tail]).fetchone()
    return row[0] if row else None


# -- harvest bookkeeping ----------------------------------------------------------------------

def start_run(db: sqlite_utils.Database, **fields: Any) -> int:
    with write_transaction(db):
        return db["harvest_runs"].insert({"outcome": "running", **fields}).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, **fields: Any) -> None:
    with write_transaction(db):
        db["harvest_runs"].update(run_id, {"ended_at": utc_text(), **fields})


def sync_state(db: sqlite_utils.Database, repo_id: int, resource: str) -> dict:
    row = db.execute("SELECT cursor, etag, last_modified, next_url, complete FROM sync_state "
                     "WHERE repo_id = ? AND resource = ?", [repo_id, resource]).fetchone()
    keys = ("cursor", "etag", "last_modified", "next_url", "complete")
    return dict(zip(keys, row)) if row else dict.fromkeys(keys)


def save_sync_state(db: sqlite_utils.Database, repo_id: int, resource: str, run_id: int, **fields: Any) -> None:
    _upsert(db, "sync_state", {"repo_id": repo_id, "resource": resource, "last_run_id": run_id,
                               "updated_at": utc_text(), **fields}, pk=("repo_id", "resource"))
