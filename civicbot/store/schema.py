"""What the database looks like: the timestamp rule and the numbered migrations that build it.

docs/schema.md describes every table and column; tests/test_store_schema.py keeps the two in step.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable, NamedTuple

import sqlite_utils

# GitHub's own format, always UTC: text in this shape sorts in time order, so the metrics can
# compare and range-scan timestamps as plain strings.
UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# GitHub opened in 2008: an earlier date, or one more than a day ahead of this clock, is a broken
# or hostile answer. Taken as a cursor it would hide every later change; read by the metrics it
# would overflow their arithmetic. Writers refuse such dates, readers ignore any already stored.
PLAUSIBLE_FROM = "2008-01-01T00:00:00Z"


def plausible_until(now: datetime | None = None) -> str:
    """The latest plausible timestamp: a day after `now` (default: this clock), as stored text."""
    global _until
    if now is not None:
        return utc_text(now + timedelta(days=1))
    minute = int(time.time() // 60)  # every stored date is checked: work it out once a minute
    if _until[0] != minute:
        _until = (minute, utc_text(datetime.now(timezone.utc) + timedelta(days=1)))
    return _until[1]


_until: tuple[int, str] = (-1, "")


def is_plausible(text: str, until: str | None = None) -> bool:
    """Whether stored UTC text lies between 2008 and `until` (default: plausible_until())."""
    return PLAUSIBLE_FROM <= text <= (until or plausible_until())


def from_utc_text(text: str, zone: tzinfo | None = None) -> datetime:
    """Stored UTC text (`utc_text`'s, or an ISO time with its offset) as a moment in `zone` (default
    UTC): how every stage shows a stored time in the project's zone. Text without an offset is UTC,
    as stored; text that is no time raises ValueError."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone or timezone.utc)


def utc_text(moment: datetime | None = None) -> str:
    """`moment` (default: now) as stored: `YYYY-MM-DDTHH:MM:SSZ` in UTC."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; civicbot stores UTC and will not guess")
    return moment.astimezone(timezone.utc).strftime(UTC_FORMAT)


class Migration(NamedTuple):
    number: int
    description: str
    apply: Callable[[sqlite_utils.Database], None]


# Shorthands for the DDL below, expanded by _ddl(). They are part of migration 1's meaning:
# change them only together with a new migration, never in place.
#   `col UTC`   a timestamp column that rejects anything but the stored format;
#   `col FLAG`  a boolean stored as 0/1 (what sqlite-utils writes for Python bools);
#   `NOW`       the current time in the stored format, for DEFAULTs.
_UTC_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z"
_SHORTHANDS = [
    (re.compile(r"\b(\w+) UTC\b"), rf"\1 TEXT CHECK (\1 GLOB '{_UTC_GLOB}')"),
    (re.compile(r"\b(\w+) FLAG\b"), r"\1 INTEGER CHECK (\1 IN (0, 1))"),
    (re.compile(r"\bNOW\b"), "(strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"),
]


def _ddl(script: str) -> list[str]:
    for pattern, replacement in _SHORTHANDS:
        script = pattern.sub(replacement, script)
    return [statement.strip() for statement in script.split(";") if statement.strip()]


# Every table filled from GitHub ends with the same provenance pair (perceval's idea: each row
# says when it was fetched and by which run).
_FAMILY_TABLES = """
CREATE TABLE harvest_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at UTC NOT NULL DEFAULT NOW,
    ended_at UTC,
    outcome TEXT NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'complete', 'partial', 'rate_limited', 'failed', 'interrupted')),
    config_name TEXT,
    api_url TEXT,
    civicbot_version TEXT,
    requests_made INTEGER NOT NULL DEFAULT 0,
    quota_used INTEGER,
    items_written INTEGER NOT NULL DEFAULT 0,
    error TEXT
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL COLLATE NOCASE,
    type TEXT,
    is_bot FLAG NOT NULL DEFAULT 0,
    bot_reason TEXT CHECK (bot_reason IN ('type', '[bot] suffix', 'config login', 'config pattern')),
    name TEXT,
    company TEXT,
    location TEXT,
    html_url TEXT,
    avatar_url TEXT,
    created_at UTC,
    profile_fetched_at UTC,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    CHECK ((bot_reason IS NOT NULL) = (is_bot = 1))
);
CREATE INDEX idx_users_login ON users (login);

CREATE TABLE repos (
    id INTEGER PRIMARY KEY,
    full_name TEXT NOT NULL COLLATE NOCASE,
    owner TEXT NOT NULL COLLATE NOCASE,
    owner_id INTEGER REFERENCES users (id),
    name TEXT NOT NULL COLLATE NOCASE,
    description TEXT,
    homepage TEXT,
    html_url TEXT,
    language TEXT,
    license_spdx_id TEXT,
    default_branch TEXT,
    fork FLAG NOT NULL DEFAULT 0,
    parent_id INTEGER,
    source_id INTEGER,
    root_commit_sha TEXT,
    archived FLAG NOT NULL DEFAULT 0,
    created_at UTC,
    updated_at UTC,
    pushed_at UTC,
    stargazers_count INTEGER,
    forks_count INTEGER,
    subscribers_count INTEGER,
    open_issues_count INTEGER,
    topics TEXT CHECK (topics IS NULL OR (json_valid(topics) AND json_type(topics) = 'array')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'renamed', 'gone', 'taken_down')),
    status_checked_at UTC,
    first_seen_at UTC NOT NULL DEFAULT NOW,
    last_seen_at UTC NOT NULL DEFAULT NOW,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_repos_full_name ON repos (full_name);
CREATE INDEX idx_repos_owner_id ON repos (owner_id);
CREATE INDEX idx_repos_parent_id ON repos (parent_id);
CREATE INDEX idx_repos_source_id ON repos (source_id);
CREATE INDEX idx_repos_root_commit_sha ON repos (root_commit_sha);

CREATE TABLE repo_names (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    full_name TEXT NOT NULL COLLATE NOCASE,
    first_seen_at UTC NOT NULL DEFAULT NOW,
    last_seen_at UTC NOT NULL DEFAULT NOW,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (repo_id, full_name)
);
CREATE INDEX idx_repo_names_full_name ON repo_names (full_name);

CREATE TABLE labels (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    name TEXT NOT NULL COLLATE NOCASE,
    color TEXT,
    description TEXT,
    is_default FLAG NOT NULL DEFAULT 0,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_labels_repo_id_name ON labels (repo_id, name);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    number INTEGER NOT NULL,
    is_pull_request FLAG NOT NULL DEFAULT 0,
    title TEXT,
    body TEXT,
    html_url TEXT,
    user_id INTEGER REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    state_reason TEXT,
    locked FLAG NOT NULL DEFAULT 0,
    comments INTEGER,
    author_association TEXT,
    created_at UTC NOT NULL,
    updated_at UTC NOT NULL,
    closed_at UTC,
    closed_by_id INTEGER REFERENCES users (id),
    merged_at UTC,
    merged_by_id INTEGER REFERENCES users (id),
    merge_commit_sha TEXT,
    head_repo_id INTEGER,
    head_ref TEXT,
    head_sha TEXT,
    base_ref TEXT,
    draft FLAG,
    commits INTEGER,
    additions INTEGER,
    deletions INTEGER,
    changed_files INTEGER,
    pull_fetched_at UTC,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE UNIQUE INDEX idx_items_repo_id_number ON items (repo_id, number);
CREATE INDEX idx_items_repo_id_created_at ON items (repo_id, created_at);
CREATE INDEX idx_items_repo_id_updated_at ON items (repo_id, updated_at);
CREATE INDEX idx_items_repo_id_state ON items (repo_id, state);
CREATE INDEX idx_items_user_id ON items (user_id);

CREATE TABLE item_labels (
    item_id INTEGER NOT NULL REFERENCES items (id),
    label_id INTEGER NOT NULL REFERENCES labels (id),
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (item_id, label_id)
);
CREATE INDEX idx_item_labels_label_id ON item_labels (label_id);

CREATE TABLE item_assignees (
    item_id INTEGER NOT NULL REFERENCES items (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (item_id, user_id)
);
CREATE INDEX idx_item_assignees_user_id ON item_assignees (user_id);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    item_id INTEGER REFERENCES items (id),
    issue_number INTEGER NOT NULL,
    user_id INTEGER REFERENCES users (id),
    body TEXT,
    html_url TEXT,
    author_association TEXT,
    created_at UTC NOT NULL,
    updated_at UTC NOT NULL,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_comments_item_id_created_at ON comments (item_id, created_at);
CREATE INDEX idx_comments_user_id_created_at ON comments (user_id, created_at);
CREATE INDEX idx_comments_repo_id_issue_number ON comments (repo_id, issue_number);
CREATE INDEX idx_comments_repo_id_updated_at ON comments (repo_id, updated_at);

CREATE TABLE issue_events (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    item_id INTEGER REFERENCES items (id),
    issue_number INTEGER NOT NULL,
    event TEXT NOT NULL,
    actor_id INTEGER REFERENCES users (id),
    created_at UTC NOT NULL,
    label_name TEXT,
    assignee_id INTEGER REFERENCES users (id),
    commit_id TEXT,
    source_repo_id INTEGER,
    source_number INTEGER,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_issue_events_item_id_created_at ON issue_events (item_id, created_at);
CREATE INDEX idx_issue_events_event_created_at ON issue_events (event, created_at);
CREATE INDEX idx_issue_events_repo_id_issue_number ON issue_events (repo_id, issue_number);
CREATE INDEX idx_issue_events_actor_id_created_at ON issue_events (actor_id, created_at);
CREATE INDEX idx_issue_events_source ON issue_events (source_repo_id, source_number);

CREATE TABLE contributors (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    contributions INTEGER NOT NULL,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (repo_id, user_id)
);
CREATE INDEX idx_contributors_user_id ON contributors (user_id);

CREATE TABLE sync_state (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    resource TEXT NOT NULL,
    cursor TEXT,
    etag TEXT,
    last_modified TEXT,
    next_url TEXT,
    complete FLAG NOT NULL DEFAULT 0,
    last_run_id INTEGER REFERENCES harvest_runs (id),
    updated_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (repo_id, resource)
);
"""


def create_family_tables(db: sqlite_utils.Database) -> None:
    for statement in _ddl(_FAMILY_TABLES):
        db.execute(statement)


_DISCOVERY_TABLES = """
CREATE TABLE discoveries (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    method TEXT NOT NULL CHECK (method IN ('upstream', 'fork', 'shared_root', 'listed')),
    parent_id INTEGER,
    evidence TEXT,
    first_found_at UTC NOT NULL DEFAULT NOW,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (repo_id, method)
);
CREATE INDEX idx_discoveries_parent_id ON discoveries (parent_id);

CREATE TABLE candidates (
    full_name TEXT PRIMARY KEY COLLATE NOCASE,
    repo_id INTEGER,
    source TEXT,
    root_commit_sha TEXT,
    outcome TEXT CHECK (outcome IN ('shared_root', 'different_root', 'empty', 'gone', 'fork')),
    checked_at UTC,
    run_id INTEGER REFERENCES harvest_runs (id)
);

CREATE TABLE repo_compare (
    repo_id INTEGER PRIMARY KEY REFERENCES repos (id),
    base_repo_id INTEGER,
    status TEXT,
    ahead_by INTEGER,
    behind_by INTEGER,
    merge_base_sha TEXT,
    merge_base_date UTC,
    checked_at UTC,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
"""


def create_discovery_tables(db: sqlite_utils.Database) -> None:
    for statement in _ddl(_DISCOVERY_TABLES):
        db.execute(statement)


_TRIAGE_TABLES = """
CREATE TABLE gfi_candidates (
    item_id INTEGER PRIMARY KEY REFERENCES items (id),
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    number INTEGER NOT NULL,
    title TEXT,
    score REAL NOT NULL,
    probability REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
    reasons_ja TEXT CHECK (reasons_ja IS NULL OR (json_valid(reasons_ja) AND json_type(reasons_ja) = 'array')),
    reasons_en TEXT CHECK (reasons_en IS NULL OR (json_valid(reasons_en) AND json_type(reasons_en) = 'array')),
    model TEXT NOT NULL,
    history_positives INTEGER,
    scored_at UTC NOT NULL DEFAULT NOW,
    run_key TEXT
);
CREATE INDEX idx_gfi_candidates_repo_id_probability ON gfi_candidates (repo_id, probability);

CREATE TABLE label_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at UTC NOT NULL DEFAULT NOW,
    run_key TEXT NOT NULL,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    item_id INTEGER REFERENCES items (id),
    number INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('proposed', 'applied', 'skipped', 'failed')),
    reason TEXT NOT NULL,
    label TEXT NOT NULL,
    dry_run FLAG NOT NULL,
    actor TEXT,
    probability REAL,
    model TEXT
);
CREATE INDEX idx_label_audit_repo_id_at ON label_audit (repo_id, at);
CREATE INDEX idx_label_audit_item_id ON label_audit (item_id);

CREATE TABLE gfi_evaluation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    evaluated_at UTC NOT NULL DEFAULT NOW,
    run_key TEXT NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('walk_forward', 'holdout')),
    ground_truth TEXT NOT NULL,
    method TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    ci_low REAL,
    ci_high REAL,
    n_items INTEGER NOT NULL,
    n_positive INTEGER NOT NULL,
    n_repos INTEGER NOT NULL
);
"""


def create_triage_tables(db: sqlite_utils.Database) -> None:
    for statement in _ddl(_TRIAGE_TABLES):
        db.execute(statement)


_DAEMON_TABLES = """
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL CHECK (job IN ('harvest', 'metrics', 'triage', 'label', 'publish')),
    started_at UTC NOT NULL DEFAULT NOW,
    ended_at UTC,
    outcome TEXT NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'complete', 'partial', 'rate_limited', 'interrupted', 'failed')),
    error TEXT,
    exit_code INTEGER,
    details TEXT CHECK (details IS NULL OR json_valid(details))
);
CREATE INDEX idx_job_runs_job_started_at ON job_runs (job, started_at);

CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at UTC NOT NULL,
    beat_at UTC NOT NULL,
    state TEXT NOT NULL
);
"""


def create_daemon_tables(db: sqlite_utils.Database) -> None:
    for statement in _ddl(_DAEMON_TABLES):
        db.execute(statement)


def allow_pending_labels(db: sqlite_utils.Database) -> None:
    """label_audit gains the action 'pending': a write to GitHub announced before it is made.

    SQLite cannot change a CHECK in place, so the table is rebuilt (SQLite's documented recipe:
    new table, copy, drop, rename, indexes) inside the migration's transaction.
    """
    _widen_check(db, _TRIAGE_TABLES, "label_audit",
                 "CHECK (action IN ('proposed', 'applied', 'skipped', 'failed'))",
                 "CHECK (action IN ('proposed', 'pending', 'applied', 'skipped', 'failed'))")


def _widen_check(db: sqlite_utils.Database, script: str, table: str, old_check: str, new_check: str) -> None:
    """Rebuild `table` (created by `script`) with `new_check` for `old_check`: SQLite's documented
    recipe (new table, copy, drop, rename, indexes), inside the migration's transaction."""
    statements = _ddl(script)
    create = next(s for s in statements if s.startswith(f"CREATE TABLE {table} "))
    indexes = [s for s in statements if s.startswith(f"CREATE INDEX idx_{table}_")]
    assert old_check in create, f"the migration that made {table} changed: migrations are never edited"
    db.execute(create.replace(f"CREATE TABLE {table} ", f"CREATE TABLE {table}_new ").replace(old_check, new_check))
    db.execute(f"INSERT INTO {table}_new SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for statement in indexes:
        db.execute(statement)


def record_quota_and_trigger(db: sqlite_utils.Database) -> None:
    """harvest_runs keeps the quota its run left; both run tables keep their process and job_runs
    says what started a job.

    `civicbot status` reads the quota from the last run, manual or scheduled, and lists manual
    runs among the jobs; a `running` row whose process is gone is settled by the next run.
    """
    for statement in _ddl("""
        ALTER TABLE harvest_runs ADD COLUMN quota_left INTEGER;
        ALTER TABLE harvest_runs ADD COLUMN quota_reset_at UTC;
        ALTER TABLE harvest_runs ADD COLUMN pid INTEGER;
        ALTER TABLE job_runs ADD COLUMN pid INTEGER;
        ALTER TABLE job_runs ADD COLUMN started_by TEXT NOT NULL DEFAULT 'schedule'
            CHECK (started_by IN ('schedule', 'command'))
    """):
        db.execute(statement)


def allow_refused_and_uncommented_labels(db: sqlite_utils.Database) -> None:
    """label_audit gains 'labelled_without_comment' (counted by the caps, its comment completed
    by a later run) and 'refused' (the allowlisted name no longer names the repo id it had)."""
    old_check = "CHECK (action IN ('proposed', 'pending', 'applied', 'skipped', 'failed'))"
    new_check = ("CHECK (action IN ('proposed', 'pending', 'applied', 'labelled_without_comment', 'skipped', "
                 "'refused', 'failed'))")
    table = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'label_audit'").fetchone()[0]
    indexes = [r[0] for r in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                        "AND tbl_name = 'label_audit' AND sql IS NOT NULL")]
    assert old_check in table, "migration 5's label_audit changed: migrations are never edited"
    # migration 5's rename left the name quoted in sqlite_master: `CREATE TABLE "label_audit" (`
    head, _, body = table.partition("(")
    db.execute("CREATE TABLE label_audit_new (" + body.replace(old_check, new_check))
    db.execute("INSERT INTO label_audit_new SELECT * FROM label_audit")
    db.execute("DROP TABLE label_audit")
    db.execute("ALTER TABLE label_audit_new RENAME TO label_audit")
    for statement in indexes:
        db.execute(statement)


_SITE_LIST_TABLES = """
CREATE TABLE listed_sites (
    entry TEXT PRIMARY KEY,
    site_url TEXT,
    repo_full_name TEXT COLLATE NOCASE,
    region TEXT,
    operator TEXT,
    pref_code TEXT,
    muni_code TEXT,
    listed_in TEXT NOT NULL,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_listed_sites_repo_full_name ON listed_sites (repo_full_name);

CREATE TABLE upstream_commits (
    sha TEXT PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    committed_at UTC,
    parents TEXT
);

ALTER TABLE repo_compare ADD COLUMN first_divergence_sha TEXT;
ALTER TABLE repo_compare ADD COLUMN first_divergence_date UTC;
ALTER TABLE repo_compare ADD COLUMN method TEXT
"""


def add_site_list_and_first_divergence(db: sqlite_utils.Database) -> None:
    """Discovery from the upstream's own list of derived sites (method 'site_list', the table
    listed_sites) and, beside the last sync (merge base), where a derivative started: its first
    divergence. discoveries is rebuilt to widen its CHECK (SQLite cannot alter one in place)."""
    _widen_check(db, _DISCOVERY_TABLES, "discoveries",
                 "CHECK (method IN ('upstream', 'fork', 'shared_root', 'listed'))",
                 "CHECK (method IN ('upstream', 'fork', 'shared_root', 'listed', 'site_list'))")
    for statement in _ddl(_SITE_LIST_TABLES):
        db.execute(statement)


_LANGUAGES_TABLES = """
CREATE TABLE repo_languages (
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    language TEXT NOT NULL,
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW,
    PRIMARY KEY (repo_id, language)
)
"""


def add_repo_languages(db: sqlite_utils.Database) -> None:
    """Code size per repo and language (GitHub's languages endpoint), for the public-value estimate."""
    for statement in _ddl(_LANGUAGES_TABLES):
        db.execute(statement)


def add_profile_etag(db: sqlite_utils.Database) -> None:
    """users keeps the ETag of its profile (GET /users/{login}): a refresh asks conditionally and a
    304 costs no quota; profile_status says whether the last fetch found the account ('gone': 404)."""
    for statement in _ddl("""
        ALTER TABLE users ADD COLUMN profile_etag TEXT;
        ALTER TABLE users ADD COLUMN profile_status TEXT CHECK (profile_status IN ('found', 'gone'))
    """):
        db.execute(statement)


_REVIEW_TABLES = """
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    pull_number INTEGER NOT NULL,
    user_id INTEGER REFERENCES users (id),
    state TEXT,
    submitted_at UTC,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_reviews_repo_id_pull_number ON reviews (repo_id, pull_number);
CREATE INDEX idx_reviews_user_id_submitted_at ON reviews (user_id, submitted_at);

CREATE TABLE review_comments (
    id INTEGER PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    pull_number INTEGER,
    user_id INTEGER REFERENCES users (id),
    created_at UTC NOT NULL,
    updated_at UTC NOT NULL,
    in_reply_to_id INTEGER,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_review_comments_repo_id_pull_number ON review_comments (repo_id, pull_number);
CREATE INDEX idx_review_comments_user_id_created_at ON review_comments (user_id, created_at)
"""


def create_review_tables(db: sqlite_utils.Database) -> None:
    """Code review: `reviews` (a review's state per PR) and `review_comments` (comments on the diff)."""
    for statement in _ddl(_REVIEW_TABLES):
        db.execute(statement)


_COMMIT_TABLES = """
CREATE TABLE commits (
    sha TEXT PRIMARY KEY,
    repo_id INTEGER NOT NULL REFERENCES repos (id),
    author_id INTEGER REFERENCES users (id),
    author_name TEXT,
    author_email_hash TEXT,
    author_noreply_login TEXT COLLATE NOCASE,
    committer_id INTEGER REFERENCES users (id),
    authored_at UTC,
    committed_at UTC,
    is_merge FLAG NOT NULL DEFAULT 0,
    run_id INTEGER REFERENCES harvest_runs (id),
    harvested_at UTC NOT NULL DEFAULT NOW
);
CREATE INDEX idx_commits_repo_id_committed_at ON commits (repo_id, committed_at);
CREATE INDEX idx_commits_author_id_authored_at ON commits (author_id, authored_at);
CREATE INDEX idx_commits_author_email_hash ON commits (author_email_hash);

CREATE TABLE store_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

UPDATE sync_state SET resource = 'root_commit' WHERE resource = 'commits'
"""


def add_commits(db: sqlite_utils.Database) -> None:
    """Dated commits of every repo (`commits`) and the store's own secrets (`store_secrets`: the
    salt of the e-mail hashes, never published). The root-commit lookup's sync state, which was
    called `commits`, becomes `root_commit`: `commit_list` is the new list's."""
    for statement in _ddl(_COMMIT_TABLES):
        db.execute(statement)


_BATCH_DETECTION = """
ALTER TABLE repos ADD COLUMN node_id TEXT;

CREATE TABLE repo_fingerprints (
    repo_id INTEGER PRIMARY KEY REFERENCES repos (id),
    fingerprint TEXT NOT NULL,
    checked_at UTC,
    rest_pass_at UTC
);

ALTER TABLE harvest_runs ADD COLUMN graphql_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE harvest_runs ADD COLUMN graphql_points INTEGER;
ALTER TABLE harvest_runs ADD COLUMN graphql_left INTEGER;
ALTER TABLE harvest_runs ADD COLUMN graphql_reset_at UTC
"""


def add_batch_detection(db: sqlite_utils.Database) -> None:
    """Batch change detection over GraphQL: each repo's GraphQL id (`repos.node_id`, filled by the
    next REST answer that carries it: no raw JSON is stored to backfill from), the fingerprint of
    its last GraphQL answer (`repo_fingerprints`), and the GraphQL points of each run."""
    for statement in _ddl(_BATCH_DETECTION):
        db.execute(statement)


# Append only: a released migration is never edited, since databases out there already ran it.
MIGRATIONS: list[Migration] = [
    Migration(1, "create the project family tables", create_family_tables),
    Migration(2, "derivative discovery: discoveries, candidates, repo_compare", create_discovery_tables),
    Migration(3, "good-first-issue triage: gfi_candidates, label_audit, gfi_evaluation", create_triage_tables),
    Migration(4, "scheduled daemon: job_runs, heartbeat", create_daemon_tables),
    Migration(5, "crash-safe labelling: label_audit action 'pending'", allow_pending_labels),
    Migration(6, "status: harvest_runs quota_left, quota_reset_at; pid and job_runs.started_by",
              record_quota_and_trigger),
    Migration(7, "safe labelling: label_audit actions 'labelled_without_comment' and 'refused'",
              allow_refused_and_uncommented_labels),
    Migration(8, "site lists and first divergence: listed_sites, upstream_commits, discoveries 'site_list', "
                 "repo_compare first_divergence_sha/_date, method", add_site_list_and_first_divergence),
    Migration(9, "code size: repo_languages", add_repo_languages),
    Migration(10, "profiles: users.profile_etag, profile_status", add_profile_etag),
    Migration(11, "code review: reviews, review_comments", create_review_tables),
    Migration(12, "dated commits: commits, store_secrets; sync_state 'commits' becomes 'root_commit'", add_commits),
    Migration(13, "batch change detection: repos.node_id, repo_fingerprints, harvest_runs graphql_*",
              add_batch_detection),
]

SCHEMA_VERSION = MIGRATIONS[-1].number
