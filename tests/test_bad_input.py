"""Malformed and hostile input: store writers, a whole harvest, and configs.

Every bad GitHub payload is either stored safely (and reads back) or refused with one of the
harvester's per-item errors (PayloadError, sqlite3.IntegrityError) naming the field, and a
refused item leaves nothing half-written behind. Every bad config is one line naming the file.
"""

from __future__ import annotations

import copy
import sqlite3

import pytest
from harvest_helpers import assert_store_equals_world, family_config, visible
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sizes import HYPOTHESIS_EXAMPLES

from civicbot.config import ConfigError, load_config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import StoreError, open_store, write

REPO_ID = 1000
PROV = write.Provenance(1, "2021-04-01T00:00:00Z")
ALLOWED = (write.PayloadError, sqlite3.IntegrityError)
TABLES = ("repos", "repo_names", "users", "items", "labels", "item_labels", "item_assignees", "comments",
          "issue_events")
VALID_REPO = {"id": REPO_ID, "full_name": "Tokyo-Metro-Gov/covid19", "owner": {"id": 1, "login": "Tokyo-Metro-Gov"},
              "created_at": "2020-03-01T00:00:00Z"}


def valid_issue(**changes) -> dict:
    issue = {"id": 5001, "number": 7, "state": "open", "title": "A title", "body": "A body",
             "user": {"id": 2, "login": "newcomer", "type": "User"}, "labels": [{"id": 11, "name": "bug"}],
             "assignees": [{"id": 3, "login": "maintainer"}], "created_at": "2020-03-02T00:00:00Z",
             "updated_at": "2020-03-03T00:00:00Z", "closed_at": None, "comments": 1, "locked": False}
    issue.update(changes)
    return issue


def valid_comment(**changes) -> dict:
    comment = {"id": 6001, "issue_url": "https://api.github.com/repos/Tokyo-Metro-Gov/covid19/issues/7",
               "user": {"id": 2, "login": "newcomer"}, "body": "Thanks", "created_at": "2020-03-02T00:00:00Z",
               "updated_at": "2020-03-02T00:00:00Z"}
    comment.update(changes)
    return comment


def valid_event(**changes) -> dict:
    event = {"id": 7001, "event": "labeled", "issue": {"number": 7}, "actor": {"id": 3, "login": "maintainer"},
             "created_at": "2020-03-02T00:00:00Z", "label": {"name": "bug"}}
    event.update(changes)
    return event


def valid_pull(**changes) -> dict:
    pull = {"id": 8001, "number": 9, "state": "open", "title": "A PR", "user": {"id": 2, "login": "newcomer"},
            "created_at": "2020-03-02T00:00:00Z", "updated_at": "2020-03-03T00:00:00Z", "merged_at": None,
            "head": {"ref": "fix", "sha": "a" * 40, "repo": {"id": REPO_ID}}, "base": {"ref": "main"}}
    pull.update(changes)
    return pull


@pytest.fixture
def db(tmp_path):
    store = open_store(tmp_path / "bad.db")
    assert write.start_run(store, config_name="t", api_url="http://x", civicbot_version="0") == PROV.run_id
    with store.atomic():
        write.upsert_repo(store, VALID_REPO, PROV, None)
        # The issue side of valid_pull(), as the issues list stores it before the pulls list is read.
        write.write_issue(store, REPO_ID, valid_issue(id=5009, number=9, pull_request={"merged_at": None}), PROV, None)
    yield store
    store.conn.close()


def counts(db) -> dict[str, int]:
    return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def read_back(db) -> None:
    """Every row of every table decodes (no invalid text stored)."""
    for table in TABLES:
        for row in db.execute(f"SELECT * FROM {table}").fetchall():
            for value in row:
                if isinstance(value, str):
                    value.encode("utf-8")


def apply(db, call) -> Exception | None:
    """Run one writer call as the harvester does (a savepoint); check the contract; the error or None."""
    before = counts(db)
    try:
        with db.atomic():
            call()
    except ALLOWED as exc:
        assert str(exc), "an error without a message"
        assert counts(db) == before, "a refused item left rows behind"
        read_back(db)
        return exc
    except Exception as exc:  # pragma: no cover - the failure this test exists to catch
        pytest.fail(f"{type(exc).__name__} escaped the writer (not a per-item error): {exc!r}"[:500])
    read_back(db)
    return None


CTRL_TITLE = "bad\x00title\x01\x07\x1b[31mred\x7f\u202eevil\r\n\ttab"
HUGE = "x" * (10 * 1024 * 1024)

# (id, writer, payload, field the error must name if refused; None: must be stored)
CASES = [
    ("issue missing id", "issue", {k: v for k, v in valid_issue().items() if k != "id"}, "'id'"),
    ("issue missing number", "issue", {k: v for k, v in valid_issue().items() if k != "number"}, "'number'"),
    ("issue missing created_at", "issue", {k: v for k, v in valid_issue().items() if k != "created_at"}, "created_at"),
    ("issue string id", "issue", valid_issue(id="5001"), "'id'"),
    ("issue boolean id", "issue", valid_issue(id=True), "'id'"),
    ("issue float number", "issue", valid_issue(number=7.0), "'number'"),
    ("issue string number", "issue", valid_issue(number="7"), "'number'"),
    ("issue zero id", "issue", valid_issue(id=0), None),
    ("issue negative number", "issue", valid_issue(number=-1), None),
    ("issue id beyond 64 bits", "issue", valid_issue(id=2 ** 70), "'id'"),
    ("issue comment count beyond 64 bits", "issue", valid_issue(comments=2 ** 64), "comments"),
    ("issue state garbage", "issue", valid_issue(state="merged"), "state"),
    ("issue state null", "issue", valid_issue(state=None), "state"),
    ("issue user a string", "issue", valid_issue(user="newcomer"), "user"),
    ("issue user a list", "issue", valid_issue(user=[{"id": 2, "login": "newcomer"}]), "user"),
    ("issue user without login", "issue", valid_issue(user={"id": 2}), "login"),
    ("issue user null (ghost)", "issue", valid_issue(user=None), None),
    ("issue labels a string", "issue", valid_issue(labels="bug"), "label"),
    ("issue labels an object", "issue", valid_issue(labels={"id": 11, "name": "bug"}), "label"),
    ("issue label null name", "issue", valid_issue(labels=[{"id": 12, "name": None}]), "name"),
    ("issue assignee an int", "issue", valid_issue(assignees=[3]), "user"),
    ("issue labels null", "issue", valid_issue(labels=None, assignees=None), None),
    ("issue title control characters", "issue", valid_issue(title=CTRL_TITLE), None),
    ("issue title lone surrogate", "issue", valid_issue(title="half \ud800 pair"), None),
    ("issue body lone low surrogate", "issue", valid_issue(body="\udfff" * 3), None),
    ("issue html_url lone surrogate", "issue", valid_issue(html_url="https://x/\ud83d"), "html_url"),
    ("issue title an object", "issue", valid_issue(title={"nested": [1, 2]}), None),
    ("issue body 10 MB", "issue", valid_issue(body=HUGE), None),
    ("issue created_at with offset", "issue", valid_issue(created_at="2020-03-02T09:00:00+09:00"), None),
    ("issue created_at garbage", "issue", valid_issue(created_at="yesterday"), "created_at"),
    ("issue closed_at garbage", "issue", valid_issue(closed_at="not a date"), "closed_at"),
    ("issue closed_at a number", "issue", valid_issue(closed_at=1583107200), "closed_at"),
    ("issue updated_at a number", "issue", valid_issue(updated_at=1583107200), "updated_at"),
    ("issue not an object", "issue", ["id", 5001], "expected an object"),
    ("issue null", "issue", None, "expected an object"),
    ("comment issue_url not a number", "comment", valid_comment(issue_url="https://x/issues/seven"), "issue_url"),
    ("comment issue_url null", "comment", valid_comment(issue_url=None), "issue_url"),
    ("comment string id", "comment", valid_comment(id="6001"), "'id'"),
    ("comment body lone surrogate", "comment", valid_comment(body="\ud800"), None),
    ("comment created_at garbage", "comment", valid_comment(created_at="2020-02-30T99:00:00Z"), "created_at"),
    ("event issue null", "event", valid_event(issue=None), "issue"),
    ("event issue a list", "event", valid_event(issue=[7]), "issue"),
    ("event name a number", "event", valid_event(event=5), "event"),
    ("event label a string", "event", valid_event(label="bug"), None),
    ("event source a string", "event", valid_event(source="https://x"), None),
    ("event actor a string", "event", valid_event(actor="maintainer"), "user"),
    ("pull head a string", "pull", valid_pull(head="fix"), None),
    ("pull merged_at garbage", "pull", valid_pull(merged_at="soon"), "merged_at"),
    ("pull boolean number", "pull", valid_pull(number=False), "'number'"),
    ("repo path traversal", "repo", {**VALID_REPO, "id": 1001, "full_name": "../../etc"}, "full_name"),
    ("repo without a slash", "repo", {**VALID_REPO, "id": 1002, "full_name": "etc"}, "full_name"),
    ("repo string id", "repo", {**VALID_REPO, "id": "1003"}, "'id'"),
    ("repo full_name null", "repo", {**VALID_REPO, "id": 1004, "full_name": None}, "full_name"),
    ("repo owner a list", "repo", {**VALID_REPO, "id": 1005, "owner": []}, "user"),
    ("repo parent a string", "repo", {**VALID_REPO, "id": 1006, "full_name": "a/b", "parent": "x/y"}, "parent"),
    ("repo topics a string", "repo", {**VALID_REPO, "id": 1007, "full_name": "a/c", "topics": "covid"}, "topics"),
    ("user id negative", "user", {"id": -5, "login": "neg"}, None),
    ("user login a number", "user", {"id": 50, "login": 50}, "login"),
]


def call_for(db, kind: str, payload):
    if kind == "user":
        return lambda: write.upsert_user(db, payload, PROV, None)
    if kind == "repo":
        return lambda: write.upsert_repo(db, payload, PROV, None)
    writer = {"issue": write.write_issue, "comment": write.write_comment, "event": write.write_event,
              "pull": write.write_pull}[kind]
    return lambda: writer(db, REPO_ID, payload, PROV, None)


@pytest.mark.parametrize("kind, payload, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_payload_is_stored_safely_or_refused_naming_the_field(db, kind, payload, field):
    error = apply(db, call_for(db, kind, payload))
    if field is None:
        assert error is None, f"refused: {error}"
    elif error is not None:
        assert field in str(error), f"the message does not name {field}: {error}"
    else:
        # Stored: that is only acceptable for values that are safe to keep.
        assert kind == "repo" and field == "full_name", f"accepted a payload that should name {field}"


def test_stored_text_is_clean(db):
    apply(db, call_for(db, "issue", valid_issue(title=CTRL_TITLE, body="a\ud800b")))
    title, body = db.execute("SELECT title, body FROM items WHERE id = 5001").fetchone()
    assert "\x00" not in title and "\x1b" not in title and "\x7f" not in title
    assert title.startswith("badtitle") and "\ttab" in title
    assert "\ud800" not in body and body.startswith("a") and body.endswith("b")
    apply(db, call_for(db, "issue", valid_issue(body=HUGE)))
    assert db.execute("SELECT length(body) FROM items WHERE id = 5001").fetchone()[0] <= 1_000_000


def test_offset_timestamps_are_normalised_to_utc(db):
    apply(db, call_for(db, "issue", valid_issue(created_at="2020-03-02T09:00:00+09:00")))
    assert db.execute("SELECT created_at FROM items WHERE id = 5001").fetchone()[0] == "2020-03-02T00:00:00Z"


# --- generated payloads ----------------------------------------------------------------------

TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)  # surrogates included
SCALARS = st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70) | \
    st.floats(allow_nan=True, allow_infinity=True) | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) |
                    st.dictionaries(st.sampled_from(["id", "login", "name", "number", "type", "x"]) | TEXT,
                                    inner, max_size=3), max_leaves=8)
FIELDS = sorted(valid_issue()) + ["pull_request", "closed_by", "draft", "html_url", "state_reason"]


@settings(max_examples=HYPOTHESIS_EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON, min_size=1, max_size=4),
       drop=st.sets(st.sampled_from(sorted(valid_issue())), max_size=2))
def test_generated_issue_payloads_keep_the_contract(db, changes, drop):
    issue = {k: v for k, v in valid_issue(**changes).items() if k not in drop}
    apply(db, call_for(db, "issue", issue))
    apply(db, call_for(db, "pull", {**valid_pull(), **changes}))


# --- a whole harvest of a corrupted world ----------------------------------------------------

def test_harvest_of_a_corrupted_world(sim_factory, tmp_path):
    world = generate_world_dict(seed=31, scale=0.05)
    ids = {r["id"] for r in visible(world)}
    issues = [i for i in world["issues"] if i["repo_id"] in ids]
    comments = [c for c in world["comments"] if c["repo_id"] in ids]
    corrupt = {
        ("issue", issues[0]["id"]): ("title", "ctl\x00\x01\x1b[2Jtitle\u202e\x7fend"),
        ("issue", issues[1]["id"]): ("body", "B" * 1_000_000),
        ("issue", issues[2]["id"]): ("title", "\U0001F600 emoji \u200b zero-width \ufeff bom"),
        ("issue", issues[3]["id"]): ("body", "<script>alert(1)</script>'; DROP TABLE items; --"),
        ("comment", comments[0]["id"]): ("body", "\x00\x08comment\x0b\x0c"),
        ("comment", comments[1]["id"]): ("body", "C" * 1_000_000),
    }
    for kind, rows in (("issue", world["issues"]), ("comment", world["comments"])):
        for row in rows:
            if (kind, row["id"]) in corrupt:
                key, value = corrupt[(kind, row["id"])]
                row[key] = value
    sim = sim_factory(copy.deepcopy(world))
    config = family_config(world, sim.url, tmp_path / "c.db")
    db = open_store(config.database.path)
    result = harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None))
    assert result.outcome == "complete", result.error
    # The corrupted rows are stored faithfully: as the writers keep text (control characters dropped).
    expected = copy.deepcopy(world)
    for kind, rows in (("issue", expected["issues"]), ("comment", expected["comments"])):
        for row in rows:
            if (kind, row["id"]) in corrupt:
                key, _ = corrupt[(kind, row["id"])]
                row[key] = write._text(row[key])
    skipped = " ".join(result.skipped)
    assert all("issues" not in s and "comments" not in s for s in result.skipped), skipped
    assert_store_equals_world(db, expected)
    db.conn.close()


# --- malformed configs -----------------------------------------------------------------------

MINIMAL = "name: t\nupstream: Tokyo-Metro-Gov/covid19\n"

# (id, file text, text expected in the message after "FILE: ")
BAD_CONFIGS = [
    ("anchor fan-out within limits", MINIMAL + "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n",
     "a: unknown key"),
    ("anchor reused as a section", "name: t\nupstream: &u Tokyo-Metro-Gov/covid19\ngithub: *u\n",
     "github: Input should be a valid dictionary"),
    ("alias to an undefined anchor", MINIMAL + "github: *nothing\n", "line 3, column 9: YAML error"),
    ("merge key of a scalar", MINIMAL + "github: {<<: 5}\n", "line 3"),
    ("cyrillic lookalike key", "nаme: t\nupstream: Tokyo-Metro-Gov/covid19\n", "name: Field required"),
    ("fullwidth lookalike key", MINIMAL + "ｇithub: {}\n", "ｇithub: unknown key"),
    ("zero-width space in key", MINIMAL + "git\u200bhub: {}\n", "git\u200bhub: unknown key"),
    ("lookalike in the upstream", "name: t\nupstream: Tokyo-Metro-Gоv/covid19\n", "upstream: owner"),
    ("very long name", f"name: {'a' * 5000}\nupstream: a/b\n", "name: String should have at most 100"),
    ("very long upstream owner", f"name: t\nupstream: {'a' * 100_000}/b\n", "upstream: owner"),
    ("very long unknown key", MINIMAL + f"{'k' * 10_000}: 1\n", "line 3, column 10001: YAML error"),
    ("per_page a word", MINIMAL + "github: {per_page: fifty}\n", "github.per_page: Input should be a valid integer"),
    ("per_page a float string", MINIMAL + "github: {per_page: '50.5'}\n", "github.per_page: Input should be a valid integer"),
    ("timeout a word", MINIMAL + "github: {timeout: soon}\n", "github.timeout: Input should be a valid number"),
    ("max_depth zero as string", MINIMAL + "discovery: {forks: {max_depth: '0'}}\n",
     "discovery.forks.max_depth: Input should be greater than or equal to 1"),
    ("enabled a word", MINIMAL + "discovery: {forks: {enabled: perhaps}}\n",
     "discovery.forks.enabled: Input should be a valid boolean"),
    ("name a number", "name: 42\nupstream: a/b\n", "name: Input should be a valid string"),
    ("upstream a list", "name: t\nupstream: [a/b]\n", "upstream: Input should be a valid string"),
    ("token_env a string", MINIMAL + "github: {token_env: 5}\n", "github.token_env: Input should be a valid list"),
    ("nested unknown section", MINIMAL + "github: {retry: {policy: {max: 3}}}\n",
     "github.retry.policy: unknown key; expected one of: total"),
    ("deeply nested unknown", MINIMAL + "extra: {a: {b: {c: {d: 1}}}}\n", "extra: unknown key"),
    ("duplicate nested key", MINIMAL + "github:\n  per_page: 10\n  per_page: 20\n", "line 5, column 3: YAML error: duplicate key 'per_page'"),
    ("duplicate key differing in case is two keys", MINIMAL + "Name: u\n", "Name: unknown key"),
    ("tab indentation", MINIMAL + "github:\n\tper_page: 10\n", "YAML error"),
    ("tab after a key", "name:\tt\nupstream:\t[\n", "YAML error"),
    ("database path a list", MINIMAL + "database: {path: [a, b]}\n", "database.path: Input is not a valid path"),
    ("database path null byte", MINIMAL + "database: {path: \"var/a\\0b.db\"}\n",
     "database.path: 'var/a\\x00b.db' holds a control character"),
    ("set tag", MINIMAL + "title: {ja: !!set {a, b}}\n", "title.ja: Input should be a valid string"),
    ("python object tag", MINIMAL + "title: !!python/object/apply:os.system [echo hi]\n", "YAML error"),
    ("NUL in the file", "name: t\x00\nupstream: a/b\n", "YAML error"),
    ("byte order mark then a list", "\ufeff- a\n", "the top level must be a mapping"),
    ("bad schedule cron", MINIMAL + "schedule: {harvest: 'every hour'}\n", "schedule.harvest"),
]


def _config_params():
    for case in BAD_CONFIGS:
        if not hasattr(case, "marks"):
            yield pytest.param(*case[1:], id=case[0])
        else:
            yield case


@pytest.mark.parametrize("text, expected", list(_config_params()))
def test_malformed_config_is_one_line_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message, message[:300]
    assert len(message) <= len(f"{path}: ") + 400, message[:300]  # short, whatever value it quotes
    assert message.startswith(f"{path}: "), message[:300]
    assert expected in message, message[:300]


def test_database_path_pointing_at_a_directory(tmp_path):
    """Checked when loading when it exists (a new path is fine); opening the store checks it too."""
    path = tmp_path / "dir.yml"
    path.write_text(MINIMAL + f"database: {{path: '{tmp_path}'}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="database.path: .* is a directory, not a file$"):
        load_config(path)
    with pytest.raises(StoreError, match="is a directory, not a file; the database must be a regular file") as caught:
        open_store(tmp_path).execute("SELECT 1")
    assert "\n" not in str(caught.value)
