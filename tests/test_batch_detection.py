"""Batch change detection (issue 20): the GraphQL answer read, the skip decision, the client's
POST /graphql and its bookkeeping, with recorded answers and a tiny fake endpoint (no simulator)."""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT

from civicbot.config import Config
from civicbot.harvest.batch import CHANGES_QUERY, BatchDetection, count_points, fingerprint, read_answer
from civicbot.harvest.client import GitHubClient, TokenRefused, TransientError
from civicbot.harvest.graphql_client import graphql_url
from civicbot.harvest.run import HarvestResult
from civicbot.store import open_store
from civicbot.store.schema import utc_text
from civicbot.store.transaction import write_transaction

IDS = ["R_kgDOA1", "R_kgDOA2", "R_kgDOA3"]


def node(node_id: str, database_id: int, **changes) -> dict:
    """A Repository node as GitHub answers CHANGES_QUERY (recorded shape)."""
    base = {
        "id": node_id, "databaseId": database_id, "nameWithOwner": f"someone/covid19-{database_id}",
        "isPrivate": False, "updatedAt": "2024-05-01T00:00:00Z", "pushedAt": "2024-04-30T12:00:00Z",
        "forkCount": 2, "stargazerCount": 5, "defaultBranchRef": {"target": {"oid": "a" * 40}},
        "labels": {"totalCount": 1, "nodes": [{"name": "bug", "color": "d73a4a", "description": None}]},
        "issues": {"totalCount": 3, "nodes": [{"number": 3, "updatedAt": "2024-04-01T00:00:00Z"}]},
        "pullRequests": {"totalCount": 1, "nodes": [{"number": 4, "updatedAt": "2024-04-02T00:00:00Z"}]},
        "newestIssue": {"nodes": [{"number": 3}]}, "newestPullRequest": {"nodes": [{"number": 4}]},
    }
    base.update(changes)
    return base


RATE = {"limit": 5000, "cost": 1, "remaining": 4999, "resetAt": "2024-05-01T01:00:00Z"}


def answer(*nodes, errors=None) -> dict:
    body = {"data": {"rateLimit": RATE, "nodes": list(nodes)}}
    if errors:
        body["errors"] = errors
    return body


# --- reading an answer ------------------------------------------------------------------------


def test_a_whole_answer_vouches_for_every_repo():
    read = read_answer(IDS, answer(node(IDS[0], 1), node(IDS[1], 2), node(IDS[2], 3)))
    assert set(read.fingerprints) == set(IDS) and not read.doubts and read.rate_limit == RATE


def test_a_null_node_a_partial_error_or_another_node_sends_only_that_repo_to_rest():
    errors = [{"type": "NOT_FOUND", "path": ["nodes", 0], "message": f"Could not resolve to a node with the global id of '{IDS[0]}'"},
              {"type": "INTERNAL", "path": ["nodes", 1, "issues"], "message": "Something went wrong"}]
    read = read_answer(IDS, answer(None, node(IDS[1], 2), node(IDS[2], 3)), {IDS[0]: 1, IDS[1]: 2, IDS[2]: 3})
    assert set(read.doubts) == {IDS[0]} and set(read.fingerprints) == {IDS[1], IDS[2]}
    read = read_answer(IDS, answer(None, node(IDS[1], 2), node(IDS[2], 3), errors=errors))
    assert set(read.doubts) == {IDS[0], IDS[1]} and set(read.fingerprints) == {IDS[2]}
    # a node with another id, or another repository's database id
    read = read_answer(IDS, answer(node(IDS[1], 1), node(IDS[1], 9), node(IDS[2], 3)), {IDS[0]: 1, IDS[1]: 2, IDS[2]: 3})
    assert set(read.doubts) == {IDS[0], IDS[1]} and set(read.fingerprints) == {IDS[2]}


@pytest.mark.parametrize("body", [
    {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]},
    {"errors": [{"message": "Parse error on \"}\" (RCURLY) at [3, 4]", "locations": [{"line": 3, "column": 4}]}]},
    answer(node(IDS[0], 1), node(IDS[1], 2), node(IDS[2], 3), errors=[{"message": "timeout"}]),  # unplaced
    answer(node(IDS[0], 1), node(IDS[1], 2)),  # one node short
    {"data": None}, [], "<html>502</html>",
])
def test_any_answer_that_cannot_be_placed_sends_every_repo_to_rest(body):
    read = read_answer(IDS, body)
    assert not read.fingerprints and set(read.doubts) == set(IDS)
    assert read.rate_limited == (isinstance(body, dict) and "RATE_LIMITED" in json.dumps(body))


def test_every_field_asked_changes_the_fingerprint():
    """A change to any field of the answer (each is there for some table) is a change."""
    base = node(IDS[0], 1)
    changed = {"nameWithOwner": "someone/renamed", "isPrivate": True, "updatedAt": "2024-05-02T00:00:00Z",
               "pushedAt": "2024-05-02T00:00:00Z", "forkCount": 3, "stargazerCount": 6,
               "defaultBranchRef": {"target": {"oid": "b" * 40}},
               "labels": {"totalCount": 1, "nodes": [{"name": "bug", "color": "000000", "description": None}]},
               "issues": {"totalCount": 3, "nodes": [{"number": 2, "updatedAt": "2024-04-03T00:00:00Z"}]},
               "pullRequests": {"totalCount": 2, "nodes": [{"number": 4, "updatedAt": "2024-04-02T00:00:00Z"}]},
               "newestIssue": {"nodes": [{"number": 5}]}, "newestPullRequest": {"nodes": [{"number": 6}]}}
    asked = {line.split("(")[0].split("{")[0].split(":")[0].strip() for line in CHANGES_QUERY.splitlines()[6:-3]}
    assert asked == set(changed), "every field of CHANGES_QUERY has a change here"
    assert fingerprint(base) == fingerprint(copy.deepcopy(base))
    for key, value in changed.items():
        assert fingerprint(node(IDS[0], 1, **{key: value})) != fingerprint(base), key


def test_the_query_is_valid_against_githubs_schema():
    schema_file = ROOT / "node_modules" / "@octokit" / "graphql-schema" / "schema.graphql"
    graphql = pytest.importorskip("graphql", reason="graphql-core is not installed (pip install -e '.[test]')")
    if not schema_file.exists():
        pytest.skip("node_modules/@octokit/graphql-schema is absent: run `npm install`")
    # The published SDL repeats fields and breaks interface rules GitHub itself does not enforce:
    # read as GitHub serves it, the query validated against it.
    schema = graphql.build_schema(schema_file.read_text(encoding="utf-8"), assume_valid_sdl=True, assume_valid=True)
    assert graphql.validate(schema, graphql.parse(CHANGES_QUERY)) == []


@pytest.mark.parametrize("base, url", [
    ("https://api.github.com", "https://api.github.com/graphql"),
    ("https://ghe.example.jp/api/v3", "https://ghe.example.jp/api/graphql"),
    ("https://ghe.example.jp/api/v3/", "https://ghe.example.jp/api/graphql"),
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123/graphql"),
])
def test_the_graphql_endpoint_follows_base_url(base, url):
    assert graphql_url(base) == url


def test_points_are_counted_from_rate_limit():
    client = StubClient(whole)
    count_points(client, {"limit": 5000, "cost": 2, "remaining": 4990, "resetAt": "2024-05-01T01:00:00Z"})
    count_points(client, {"limit": 5000, "cost": 1, "remaining": 4989, "resetAt": "2024-05-01T01:00:00Z"})
    assert client.graphql_points == 3 and client.graphql_quota.remaining == 4989
    assert client.graphql_quota.reset == int(datetime(2024, 5, 1, 1, tzinfo=timezone.utc).timestamp())


# --- the client's POST /graphql ---------------------------------------------------------------


class FakeGraphQL:
    """A loopback endpoint answering POST {prefix}/graphql from a list of (status, body) answers."""

    def __init__(self, answers: list[tuple[int, object]], prefix: str = ""):
        self.answers, self.seen = list(answers), []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                fake.seen.append((self.path, self.headers.get("authorization"), json.loads(body)))
                status, answer_body = fake.answers.pop(0) if fake.answers else (500, {"message": "no answer left"})
                data = json.dumps(answer_body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (("x-ratelimit-resource", "graphql"), ("x-ratelimit-limit", "5000"),
                                   ("x-ratelimit-remaining", "4321"), ("x-ratelimit-reset", "1714525200")):
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_graphql():
    made = []

    def make(answers, prefix=""):
        made.append(FakeGraphQL(answers, prefix))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def config_for(url: str, tmp_path, **batch) -> Config:
    return Config.model_validate({
        "name": "t", "upstream": "Tokyo-Metro-Gov/covid19",
        "github": {"base_url": url, "retry": {"total": 2, "backoff_factor": 0.01, "max_rate_limit_wait": 5}},
        "database": {"path": str(tmp_path / "t.db")}, "harvest": {"batch": batch},
    })


def test_the_client_posts_the_query_with_the_token_and_counts_it_apart_from_rest(fake_graphql, tmp_path):
    fake = fake_graphql([(502, {"message": "Server Error"}), (200, answer(node(IDS[0], 1)))], prefix="/api/v3")
    sleeps = []
    client = GitHubClient(config_for(fake.url, tmp_path), ["tok"], sleep=sleeps.append)
    body = client.graphql(CHANGES_QUERY, {"ids": IDS[:1]})
    assert body["data"]["nodes"][0]["id"] == IDS[0]
    assert [p for p, _, _ in fake.seen] == ["/api/graphql"] * 2  # the 502 retried, GHE's path
    assert fake.seen[0][1].lower() in ("token tok", "bearer tok") and fake.seen[0][2]["variables"] == {"ids": IDS[:1]}
    assert len(sleeps) == 1
    assert (client.graphql_requests, client.requests_made, client.quota_used) == (2, 0, 0)
    assert client.graphql_quota.remaining == 4321 and client.quota.remaining is None  # REST's quota untouched


def test_a_persistent_502_and_a_401_raise(fake_graphql, tmp_path):
    fake = fake_graphql([(502, {"message": "Server Error"})] * 3 + [(401, {"message": "Bad credentials"})])
    client = GitHubClient(config_for(fake.url, tmp_path), ["tok"], sleep=lambda s: None)
    with pytest.raises(TransientError):
        client.graphql(CHANGES_QUERY, {"ids": IDS})
    with pytest.raises(TokenRefused):
        client.graphql(CHANGES_QUERY, {"ids": IDS})


# --- the decision -----------------------------------------------------------------------------


class StubClient:
    """GitHubClient's GraphQL side, answering from a function of the ids asked."""

    def __init__(self, respond):
        from civicbot.harvest.client import Quota

        self.respond, self.asked = respond, []
        self.graphql_points, self.graphql_quota = 0, Quota()
        self.has_token = True  # GraphQL answers no one without a token

    def graphql(self, query, variables):
        self.asked.append(list(variables["ids"]))
        return self.respond(variables["ids"])


RESOURCES = ["labels", "issues", "pulls", "comments", "events", "review_comments", "reviews", "contributors",
             "commits", "languages", "forks"]
STATES = ["labels", "issues", "pulls", "comments", "events", "review_comments", "contributors", "root_commit",
          "commit_list", "languages", "forks"]


def harvester(tmp_path, respond, **batch):
    config = config_for("http://127.0.0.1:1", tmp_path, **batch)
    db = open_store(config.database.path)
    h = type("H", (), {})()
    h.config, h.db, h.client, h.full = config, db, StubClient(respond), False
    h.resources, h.result = set(RESOURCES), HarvestResult(run_id=1, outcome="running")
    for rid in (1, 2, 3, 4):
        db["repos"].insert({"id": rid, "full_name": f"o/r{rid}", "owner": "o", "name": f"r{rid}",
                            "node_id": IDS[rid - 1] if rid <= 3 else None})
        for state in STATES:
            db["sync_state"].insert({"repo_id": rid, "resource": state, "complete": 1})
    return h


def whole(ids):
    return answer(*[node(i, IDS.index(i) + 1) for i in ids])


def test_a_repo_is_skipped_only_when_its_answer_matches_after_a_complete_recent_pass(tmp_path):
    h = harvester(tmp_path, whole)
    batch = BatchDetection(h)
    assert not batch.unchanged(1, [2, 3, 4])  # nothing stored yet: REST
    assert h.client.asked == [IDS]  # one request for the three repos with a node id; repo 4 has none
    for rid in (1, 2, 3, 4):
        batch.passed(rid)  # the REST passes: the answers taken before them are kept
    assert h.db.execute("SELECT count(*) FROM repo_fingerprints").fetchone()[0] == 3  # none vouched for repo 4

    batch = BatchDetection(h)  # the next run
    assert batch.unchanged(1, [2, 3, 4]) and batch.unchanged(2, [3, 4]) and not batch.unchanged(4, [])
    assert batch.skipped_ids == {1, 2} and h.client.asked[1:] == [IDS]

    # what keeps a matching repo out of the skip: an incomplete list, a review the budget left, an old pass
    h.db.execute("UPDATE sync_state SET complete = 0 WHERE repo_id = 1 AND resource = 'comments'")
    h.db.execute("INSERT INTO items (id, repo_id, number, is_pull_request, state, created_at, updated_at) "
                 "VALUES (20, 2, 7, 1, 'open', '2024-04-02T00:00:00Z', '2024-04-02T00:00:00Z')")
    old = utc_text(datetime.now(timezone.utc) - timedelta(hours=25))
    h.db.execute("UPDATE repo_fingerprints SET rest_pass_at = ? WHERE repo_id = 3", [old])
    batch = BatchDetection(h)
    assert [batch.unchanged(r, [1, 2, 3]) for r in (1, 2, 3)] == [False, False, False]
    h.db.execute("UPDATE repo_fingerprints SET rest_pass_at = ? WHERE repo_id = 3",
                 [utc_text(datetime.now(timezone.utc) - timedelta(hours=2))])
    assert BatchDetection(h).unchanged(3, [])
    h2 = harvester(tmp_path / "x", whole, full_pass_hours=1)
    h2.db.execute("INSERT INTO repo_fingerprints VALUES (3, ?, NULL, ?)",
                  [fingerprint(node(IDS[2], 3)), utc_text(datetime.now(timezone.utc) - timedelta(hours=2))])
    assert not BatchDetection(h2).unchanged(3, [])  # full_pass_hours from config


def test_one_write_per_answer_records_every_repo_it_vouches_for_before_their_turn(tmp_path, monkeypatch):
    import civicbot.harvest.batch as batch_module

    h = harvester(tmp_path, whole)
    batch = BatchDetection(h)
    batch.ask(1, [2, 3])
    for rid in (1, 2, 3):
        batch.passed(rid)
    with write_transaction(h.db):
        h.db.execute("UPDATE repo_fingerprints SET checked_at = NULL")
    writes = []

    def counted(db):
        writes.append(len(h.client.asked))  # which answer the write follows
        return write_transaction(db)

    monkeypatch.setattr(batch_module, "write_transaction", counted)
    batch = BatchDetection(h)  # the next run: one answer vouches for all three
    assert batch.unchanged(1, [2, 3])
    # a run killed now has recorded the whole answer, and only what is true of it
    other = open_store(h.config.database.path)
    checked = dict(other.execute("SELECT repo_id, checked_at FROM repo_fingerprints").fetchall())
    assert set(checked) == {1, 2, 3} and len(set(checked.values())) == 1 and None not in checked.values()
    assert batch.unchanged(2, [3]) and batch.unchanged(3, [])
    assert writes == [2]  # one write for the second answer, none per skipped repo


def test_a_changed_answer_or_any_doubt_sends_the_repo_to_rest(tmp_path):
    fingerprints = {}

    def respond(ids):
        return answer(*[fingerprints.get(i, node(i, IDS.index(i) + 1)) for i in ids])

    h = harvester(tmp_path, respond)
    batch = BatchDetection(h)
    batch.ask(1, [2, 3])
    for rid in (1, 2, 3):
        batch.passed(rid)
    fingerprints[IDS[0]] = node(IDS[0], 1, pushedAt="2024-05-03T00:00:00Z")  # a push
    fingerprints[IDS[1]] = None  # deleted, or made private
    assert [BatchDetection(h).unchanged(r, [1, 2, 3]) for r in (1, 2, 3)] == [False, False, True]
    # the stored fingerprint is not the new answer until a REST pass ends
    batch = BatchDetection(h)
    assert not batch.unchanged(1, []) and not BatchDetection(h).unchanged(1, [])
    batch.passed(1)
    assert BatchDetection(h).unchanged(1, [])


@pytest.mark.parametrize("failure", ["5xx", "rate_limited", "reserve", "disabled", "full", "no_token"])
def test_graphql_failures_fall_back_to_rest_never_to_a_skip(tmp_path, failure):
    h = harvester(tmp_path, whole, enabled=failure != "disabled")
    batch = BatchDetection(h)
    batch.on = True  # the run before: detection on, all three stored as unchanged
    batch.ask(1, [2, 3])
    for rid in (1, 2, 3):
        batch.passed(rid)
    if failure == "5xx":
        def respond(ids):
            raise TransientError("/graphql", 502, "Server Error (3 attempts)")
    elif failure == "rate_limited":
        def respond(ids):
            return {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]}
    else:
        respond = whole
    h.client.respond = respond
    h.full = failure == "full"
    h.client.has_token = failure != "no_token"  # GraphQL answers no one without a token: never asked
    batch = BatchDetection(h)
    if failure == "reserve":
        h.client.graphql_quota.remaining = 200  # at graphql_reserve (default 200): not asked
    asked = len(h.client.asked)
    assert [batch.unchanged(r, [1, 2, 3]) for r in (1, 2, 3)] == [False, False, False]
    assert not batch.skipped_ids
    if failure in ("reserve", "disabled", "full", "no_token"):
        assert len(h.client.asked) == asked  # nothing asked
    if failure == "rate_limited":
        assert not batch.on and len(h.client.asked) == asked + 1  # asked once, then off for the run
        assert "rate limit" in h.result.batch_notes[0]
