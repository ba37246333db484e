"""The tables of issue 17 that other branches create (migrations 9-11), with exactly the agreed
columns, made here only when the store lacks them: identity and people-count tests run before and
after those branches merge."""

from __future__ import annotations

AGREED = {
    "commits": """CREATE TABLE commits (
        sha TEXT PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repos (id),
        author_id INTEGER REFERENCES users (id), author_name TEXT, author_email_hash TEXT,
        author_noreply_login TEXT, committer_id INTEGER REFERENCES users (id), authored_at TEXT,
        committed_at TEXT, is_merge INTEGER NOT NULL DEFAULT 0, run_id INTEGER, harvested_at TEXT)""",
    "reviews": """CREATE TABLE reviews (
        id INTEGER PRIMARY KEY, repo_id INTEGER, pull_number INTEGER, user_id INTEGER REFERENCES users (id),
        state TEXT, submitted_at TEXT, run_id INTEGER, harvested_at TEXT)""",
    "review_comments": """CREATE TABLE review_comments (
        id INTEGER PRIMARY KEY, repo_id INTEGER, pull_number INTEGER, user_id INTEGER, created_at TEXT,
        updated_at TEXT, in_reply_to_id INTEGER, run_id INTEGER, harvested_at TEXT)""",
}


def ensure_issue17_tables(db) -> None:
    """Create `commits`, `reviews`, `review_comments` and `users.profile_etag` where absent."""
    tables = set(db.table_names())
    for name, ddl in AGREED.items():
        if name not in tables:
            db.execute(ddl)
    if "profile_etag" not in {c.name for c in db["users"].columns}:
        db.execute("ALTER TABLE users ADD COLUMN profile_etag TEXT")
    db.conn.commit()
