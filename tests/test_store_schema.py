"""The store's schema: opening, migrations, constraints, concurrency, and docs/schema.md kept in step."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils
from conftest import ROOT

from civicbot.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    MigrationError,
    SchemaTooNewError,
    from_utc_text,
    migrate,
    open_store,
    schema_version,
    utc_text,
)

FAMILY_TABLES = {
    "schema_version", "harvest_runs", "users", "repos", "repo_names", "labels", "items", "item_labels",
    "item_assignees", "comments", "issue_events", "contributors", "sync_state",
    "discoveries", "candidates", "repo_compare",  # migration 2
    "gfi_candidates", "label_audit", "gfi_evaluation",  # migration 3
    "job_runs", "heartbeat",  # migration 4
    "listed_sites", "upstream_commits",  # migration 8
    "repo_languages",  # migration 9
    "reviews", "review_comments",  # migration 11
    "commits", "store_secrets",  # migration 12
    "repo_fingerprints",  # migration 13
}
N = SCHEMA_VERSION  # tests below add migrations after the real ones
TOKYO = {"id": 248988339, "full_name": "Tokyo-Metro-Gov/covid19", "owner": "Tokyo-Metro-Gov", "name": "covid19"}


def tables(db: sqlite_utils.Database) -> set[str]:
    return {name for name in db.table_names() if not name.startswith("sqlite_")}


def schema_sql(db: sqlite_utils.Database) -> list[tuple]:
    return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def issue(number: int, **extra) -> dict:
    return {"id": 9000 + number, "repo_id": TOKYO["id"], "number": number, "state": "open",
            "created_at": "2020-03-03T09:15:00Z", "updated_at": "2020-03-04T00:00:00Z", **extra}


# --- opening and migrating ---------------------------------------------------------------------


def test_a_fresh_open_creates_every_table_with_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "var" / "family" / "tokyo.db"  # parent folders do not exist yet
    db = open_store(path)
    assert path.exists()
    assert tables(db) == FAMILY_TABLES
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert schema_version(db) == SCHEMA_VERSION == len(MIGRATIONS)
    rows = list(db["schema_version"].rows)
    assert [row["version"] for row in rows] == list(range(1, N + 1))
    assert all(row["applied_at"].endswith("Z") for row in rows)
    db.close()


def test_reopening_is_a_no_op(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path)
    db["repos"].insert(TOKYO)
    before, versions = schema_sql(db), list(db["schema_version"].rows)
    db.close()

    db = open_store(path)
    assert schema_sql(db) == before
    assert list(db["schema_version"].rows) == versions
    assert migrate(db) == []
    assert db["repos"].get(TOKYO["id"])["full_name"] == TOKYO["full_name"]
    db.close()


def test_a_version_0_file_gets_migrated(tmp_path):
    # A file that predates the store: SQLite made it, but no migration ever ran on it.
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.close()

    db = open_store(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert tables(db) == FAMILY_TABLES | {"notes"}
    assert db.execute("SELECT text FROM notes").fetchone() == ("kept",)
    db.close()


def test_an_older_file_gets_the_missing_migrations_in_order(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path)
    db["repos"].insert(TOKYO)
    db.close()

    ran = []

    def add_funding_url(db):
        ran.append(N + 1)
        db.execute("ALTER TABLE repos ADD COLUMN funding_url TEXT")

    def index_funding_url(db):
        ran.append(N + 2)
        db.execute("CREATE INDEX idx_repos_funding_url ON repos (funding_url)")  # needs migration 2

    newer = MIGRATIONS + [Migration(N + 1, "add repos.funding_url", add_funding_url),
                          Migration(N + 2, "index repos.funding_url", index_funding_url)]
    db = open_store(path, migrations=newer)
    assert ran == [N + 1, N + 2]
    assert [row["version"] for row in db["schema_version"].rows] == list(range(1, N + 3))
    assert "funding_url" in db["repos"].columns_dict
    assert db["repos"].get(TOKYO["id"])["full_name"] == TOKYO["full_name"]
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # back on after migrating
    db.close()

    db = open_store(path, migrations=newer)
    assert ran == [N + 1, N + 2]  # nothing ran again
    db.close()


def test_migration_5_keeps_the_label_audit_and_accepts_pending(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path, migrations=MIGRATIONS[:4])  # a store from before crash-safe labelling
    db["repos"].insert(TOKYO)
    row = {"run_key": "r1", "repo_id": TOKYO["id"], "number": 3, "action": "applied", "reason": "p 0.9",
           "label": "good first issue", "dry_run": 0}
    db["label_audit"].insert(row)
    with pytest.raises(sqlite3.IntegrityError):
        db["label_audit"].insert({**row, "action": "pending"})
    before = list(db["label_audit"].rows)
    db.close()
    db = open_store(path, migrations=MIGRATIONS[:5])
    assert schema_version(db) == 5
    assert list(db["label_audit"].rows) == before
    db["label_audit"].insert({**row, "action": "pending"})
    with pytest.raises(sqlite3.IntegrityError):
        db["label_audit"].insert({**row, "action": "half-done"})
    assert {r["name"] for r in db.query("PRAGMA index_list(label_audit)")} == {
        "idx_label_audit_repo_id_at", "idx_label_audit_item_id"}
    assert schema_sql(db) == schema_sql(open_store(tmp_path / "fresh.db", migrations=MIGRATIONS[:5]))


def test_migration_6_keeps_the_run_rows_and_adds_quota_pid_and_started_by(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path, migrations=MIGRATIONS[:5])  # a store from before status read the quota
    db["harvest_runs"].insert({"outcome": "complete", "requests_made": 3})
    db["job_runs"].insert({"job": "harvest", "outcome": "complete"})
    db.close()
    db = open_store(path, migrations=MIGRATIONS[:6])
    assert schema_version(db) == 6
    assert [(r["outcome"], r["requests_made"], r["quota_left"], r["pid"]) for r in db["harvest_runs"].rows] == [
        ("complete", 3, None, None)]
    assert [(r["job"], r["started_by"], r["pid"]) for r in db["job_runs"].rows] == [("harvest", "schedule", None)]
    with pytest.raises(sqlite3.IntegrityError):
        db["job_runs"].insert({"job": "harvest", "outcome": "complete", "started_by": "cron"})
    assert schema_sql(db) == schema_sql(open_store(tmp_path / "fresh.db", migrations=MIGRATIONS[:6]))


def test_migration_7_keeps_the_label_audit_and_accepts_refused_and_uncommented_labels(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path, migrations=MIGRATIONS[:6])  # a store from before safe labelling
    db["repos"].insert(TOKYO)
    row = {"run_key": "r1", "repo_id": TOKYO["id"], "number": 3, "action": "pending", "reason": "p 0.9",
           "label": "good first issue", "dry_run": 0}
    db["label_audit"].insert(row)
    for action in ("labelled_without_comment", "refused"):
        with pytest.raises(sqlite3.IntegrityError):
            db["label_audit"].insert({**row, "action": action})
    before = list(db["label_audit"].rows)
    db.close()
    db = open_store(path, migrations=MIGRATIONS[:7])
    assert schema_version(db) == 7
    assert list(db["label_audit"].rows) == before
    for action in ("labelled_without_comment", "refused"):
        db["label_audit"].insert({**row, "action": action})
    with pytest.raises(sqlite3.IntegrityError):
        db["label_audit"].insert({**row, "action": "half-done"})
    assert {r["name"] for r in db.query("PRAGMA index_list(label_audit)")} == {
        "idx_label_audit_repo_id_at", "idx_label_audit_item_id"}
    assert schema_sql(db) == schema_sql(open_store(tmp_path / "fresh.db", migrations=MIGRATIONS[:7]))


def test_migration_8_keeps_discoveries_and_allows_site_list(tmp_path):
    path = tmp_path / "tokyo.db"
    db = open_store(path, migrations=MIGRATIONS[:7])  # a store from before site lists
    db["repos"].insert({"id": TOKYO["id"], "full_name": TOKYO["full_name"], "owner": TOKYO["owner"], "name": "covid19"})
    db["discoveries"].insert({"repo_id": TOKYO["id"], "method": "upstream", "evidence": "the configured upstream"})
    db["repo_compare"].insert({"repo_id": TOKYO["id"], "ahead_by": 1, "merge_base_sha": "a" * 40})
    with pytest.raises(sqlite3.IntegrityError):
        db["discoveries"].insert({"repo_id": TOKYO["id"], "method": "site_list"})
    db.close()
    db = open_store(path)
    assert [(r["method"], r["evidence"]) for r in db["discoveries"].rows] == [("upstream", "the configured upstream")]
    db["discoveries"].insert({"repo_id": TOKYO["id"], "method": "site_list", "evidence": "listed"})
    assert [(r["merge_base_sha"], r["first_divergence_sha"]) for r in db["repo_compare"].rows] == [("a" * 40, None)]
    assert schema_sql(db) == schema_sql(open_store(tmp_path / "fresh.db"))


def test_a_failing_migration_rolls_back_and_keeps_the_previous_version(tmp_path):
    path = tmp_path / "tokyo.db"
    open_store(path).close()

    def half_done(db):
        db.execute("CREATE TABLE funders (id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(MigrationError, match=rf"migration {N + 1} \(add funders\) failed"):
        open_store(path, migrations=MIGRATIONS + [Migration(N + 1, "add funders", half_done)])

    db = open_store(path)
    assert schema_version(db) == N
    assert "funders" not in db.table_names()
    db.close()


def test_a_file_newer_than_the_code_is_refused(tmp_path):
    path = tmp_path / "from-the-future.db"
    db = open_store(path)
    db["schema_version"].insert({"version": SCHEMA_VERSION + 1, "description": "a later civicbot's change",
                                 "applied_at": utc_text()})
    db.close()

    with pytest.raises(SchemaTooNewError) as raised:
        open_store(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message and f"schema version {SCHEMA_VERSION} " in message
    assert (raised.value.found, raised.value.supported) == (SCHEMA_VERSION + 1, SCHEMA_VERSION)


def test_migrations_must_be_numbered_in_order(tmp_path):
    with pytest.raises(ValueError, match="numbered"):
        open_store(tmp_path / "x.db", migrations=[Migration(2, "skips 1", lambda db: None)])


# --- concurrency -------------------------------------------------------------------------------


def test_a_reader_does_not_block_a_writer(tmp_path):
    path = tmp_path / "tokyo.db"
    # No busy timeout: if the reader's locks ever got in the writer's way, it would fail at once
    # with "database is locked" instead of waiting.
    writer = open_store(path, busy_timeout_ms=0)
    stop, errors, reads = threading.Event(), [], [0]

    def read_like_datasette():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            while not stop.is_set():
                conn.execute("BEGIN")
                first = conn.execute("SELECT count(*) FROM harvest_runs").fetchone()[0]
                time.sleep(0.0005)  # hold the read transaction while the writer commits
                again = conn.execute("SELECT count(*) FROM harvest_runs").fetchone()[0]
                conn.execute("COMMIT")
                assert first == again, "a read transaction sees one snapshot"
                reads[0] += 1
        except Exception as error:  # reported to the test thread below
            errors.append(error)
        finally:
            conn.close()

    reader = threading.Thread(target=read_like_datasette)
    reader.start()
    try:
        for n in range(300):
            writer["harvest_runs"].insert({"config_name": "tokyo", "requests_made": n})
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert reads[0] > 0
    assert writer["harvest_runs"].count == 300
    writer.close()


def test_two_processes_opening_a_new_file_migrate_it_once(tmp_path):
    path = tmp_path / "tokyo.db"
    start, errors = threading.Barrier(4), []

    def open_it():  # each thread has its own connection, as separate processes would
        start.wait()
        try:
            open_store(path).close()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = open_store(path)
    assert [row["version"] for row in db["schema_version"].rows] == list(range(1, N + 1))
    db.close()


# --- constraints -------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path):
    db = open_store(tmp_path / "tokyo.db")
    yield db
    db.close()


def test_repos_status_accepts_the_four_states_and_rejects_others(db):
    for n, status in enumerate(["active", "renamed", "gone", "taken_down"]):
        db["repos"].insert({**TOKYO, "id": n + 1, "status": status})
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db["repos"].insert({**TOKYO, "status": "deleted"})
    assert db["repos"].count == 4


def test_foreign_keys_reject_an_item_whose_repo_does_not_exist(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        db["items"].insert(issue(1))
    assert db["items"].count == 0


def test_timestamps_must_be_utc_text(db):
    for not_utc_text in ["2020-03-03T09:15:00+00:00", "2020-03-03 09:15:00", "2020-03-03T09:15:00.123Z"]:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            db["repos"].insert({**TOKYO, "created_at": not_utc_text})
    tokyo_time = datetime(2020, 3, 3, 18, 15, tzinfo=timezone(timedelta(hours=9)))
    assert utc_text(tokyo_time) == "2020-03-03T09:15:00Z"
    with pytest.raises(ValueError, match="time zone"):
        utc_text(datetime(2020, 3, 3))


def test_a_user_is_a_bot_exactly_when_a_reason_is_given(db):
    db["users"].insert({"id": 1, "login": "dependabot[bot]", "type": "Bot", "is_bot": True, "bot_reason": "type"})
    for wrong in [{"is_bot": True}, {"is_bot": False, "bot_reason": "type"}, {"is_bot": True, "bot_reason": "vibes"}]:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            db["users"].insert({"id": 2, "login": "someone", **wrong})


def test_github_rows_upsert_by_id_and_keep_what_they_do_not_mention(db):
    # What the row writers will do: parents first, upsert by GitHub's ids, update for details.
    run_id = db["harvest_runs"].insert({"config_name": "tokyo"}).last_pk
    db["users"].upsert({"id": 7, "login": "hal", "type": "User", "run_id": run_id}, pk="id")
    db["repos"].upsert({**TOKYO, "topics": ["covid19", "civictech"], "run_id": run_id}, pk="id")
    first_seen = db["repos"].get(TOKYO["id"])["first_seen_at"]
    db["repos"].upsert({**TOKYO, "stargazers_count": 6000, "last_seen_at": "2099-01-01T00:00:00Z"}, pk="id")
    db["items"].upsert(issue(2, user_id=7, is_pull_request=True, head_repo_id=123456789), pk="id")
    db["items"].update(9002, {"additions": 10, "merged_by_id": 7, "pull_fetched_at": utc_text()})
    db["labels"].upsert({"id": 55, "repo_id": TOKYO["id"], "name": "good first issue"}, pk="id")
    db["item_labels"].upsert({"item_id": 9002, "label_id": 55}, pk=("item_id", "label_id"))
    db["sync_state"].upsert({"repo_id": TOKYO["id"], "resource": "issues", "cursor": "2020-03-04T00:00:00Z",
                             "last_run_id": run_id}, pk=("repo_id", "resource"))

    repo = db["repos"].get(TOKYO["id"])
    assert repo["first_seen_at"] == first_seen and repo["stargazers_count"] == 6000
    assert repo["run_id"] == run_id and repo["status"] == "active"
    assert db.execute("SELECT value FROM repos, json_each(repos.topics)").fetchall() == [("covid19",), ("civictech",)]
    assert db["items"].get(9002)["additions"] == 10
    assert db["repos"].count_where("full_name = ?", ["tokyo-metro-gov/COVID19"]) == 1  # GitHub ignores case
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_writers_upserts_keep_what_a_row_does_not_name_and_rewriting_changes_nothing(db):
    from civicbot.store import write

    run_id = write.start_run(db, config_name="tokyo", api_url="http://x", civicbot_version="0")
    prov = write.Provenance(run_id, "2020-03-05T00:00:00Z")
    user = {"id": 7, "login": "hal", "type": "User"}
    labels = [{"id": 55, "name": "good first issue"}, {"id": 56, "name": "bug"}]
    with db.atomic():
        write.upsert_repo(db, {**TOKYO, "owner": {"id": 1, "login": "Tokyo-Metro-Gov"}}, prov, None)
    issue_side = {"id": 9002, "number": 2, "state": "open", "title": "Fix", "user": user, "labels": labels,
                  "assignees": [user], "created_at": "2020-03-03T00:00:00Z", "updated_at": "2020-03-04T00:00:00Z",
                  "pull_request": {"merged_at": None}}
    pull = {"id": 4_000_009_002, "number": 2, "head": {"ref": "fix", "sha": "a" * 40, "repo": {"id": TOKYO["id"]}},
            "base": {"ref": "main"}, "merged_at": None, "draft": False}

    def write_all():
        with db.atomic():
            write.write_issue(db, TOKYO["id"], issue_side, prov, None)
            write.write_pull(db, TOKYO["id"], pull, prov, None)
            write.save_sync_state(db, TOKYO["id"], "issues", run_id, cursor="2020-03-04T00:00:00Z", complete=1)

    def dump():
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
                for t in ("users", "items", "labels", "item_labels", "item_assignees")}

    write_all()
    first = dump()
    write_all()
    assert dump() == first  # a page written twice (a resumed run) leaves the store as it was
    item = db["items"].get(9002)
    assert (item["head_ref"], item["head_repo_id"], item["pull_fetched_at"]) == ("fix", TOKYO["id"], prov.harvested_at)
    # The issues list brings the item again, one label fewer: the pull's details stay, the label goes.
    with db.atomic():
        write.write_issue(db, TOKYO["id"], {**issue_side, "title": "Fixed", "labels": labels[:1]}, prov, None)
    item = db["items"].get(9002)
    assert (item["title"], item["head_ref"], item["base_ref"]) == ("Fixed", "fix", "main")
    assert db.execute("SELECT label_id FROM item_labels").fetchall() == [(55,)]
    assert db.execute("SELECT resource, cursor, complete FROM sync_state").fetchall() == [
        ("issues", "2020-03-04T00:00:00Z", 1)]


def test_the_metrics_access_paths_use_indexes(db):
    def plan(sql):
        return " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())

    assert "idx_items_repo_id_created_at" in plan("SELECT * FROM items WHERE repo_id = 1 AND created_at >= '2020'")
    assert "idx_comments_user_id_created_at" in plan("SELECT * FROM comments WHERE user_id = 1 ORDER BY created_at")
    assert "idx_issue_events_event_created_at" in plan(
        "SELECT * FROM issue_events WHERE event = 'labeled' AND created_at > '2020'")
    assert "idx_item_labels_label_id" in plan("SELECT * FROM item_labels WHERE label_id = 5")
    assert "idx_repos_parent_id" in plan("SELECT * FROM repos WHERE parent_id = 1")


# --- docs/schema.md ----------------------------------------------------------------------------

DOC = ROOT / "docs" / "schema.md"


def documented_tables() -> dict[str, dict[str, str]]:
    """{table: {column: type}} from docs/schema.md's '### `table`' sections and their column rows."""
    text = DOC.read_text(encoding="utf-8").split("\n## Tables\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, dict[str, str]] = {}
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        table = re.match(r"`(\w+)`", section).group(1)
        found[table] = dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.M))
    return found


def test_the_docs_describe_every_table_and_column_with_its_type(db):
    docs = documented_tables()
    assert set(docs) == tables(db), "docs/schema.md's tables and the database's differ"
    for table in tables(db):
        actual = {column.name: column.type for column in db[table].columns}
        assert docs[table] == actual, f"docs/schema.md's columns of {table} differ from the database's"


def test_the_docs_name_every_index_and_the_rules(db):
    text = DOC.read_text(encoding="utf-8")
    indexes = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")]
    assert indexes and [name for name in indexes if f"`{name}`" not in text] == []
    for rule in ["YYYY-MM-DDTHH:MM:SSZ", "Nothing is ever deleted", "e-mail", "## Migrations"]:
        assert rule in text


def test_stored_utc_text_is_read_back_in_the_projects_zone():
    """from_utc_text, the inverse of utc_text, in a zone: 05:19 UTC is 14:19 the same day in Tokyo,
    15:00 UTC the next day; text without an offset is UTC (as stored); text that is no time is an error."""
    from datetime import date
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    moment = from_utc_text("2020-02-29T05:19:00Z", tokyo)
    assert (moment.date(), moment.hour, moment.tzinfo) == (date(2020, 2, 29), 14, tokyo)
    assert from_utc_text("2020-02-28T15:00:00Z", tokyo).date() == date(2020, 2, 29)
    assert utc_text(from_utc_text("2020-03-01T00:00:00Z", tokyo)) == "2020-03-01T00:00:00Z"
    assert from_utc_text("2020-03-01T00:00:00") == datetime(2020, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        from_utc_text("after harvest")
