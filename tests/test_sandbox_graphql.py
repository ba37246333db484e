"""The simulator's POST /graphql: GitHub's schema, answers equal to REST's, errors, points, faults."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
import requests
from graphql import parse, validate
from worlds import READONLY_TOKEN, TOKEN

from civicbot.harvest.batch import CHANGES_QUERY
from civicbot.sandbox.generate import generate_world_dict
from civicbot.sandbox.graphql import SCHEMA_PATH, SchemaMissing, github_schema
from civicbot.sandbox.render import node_id

pytestmark = pytest.mark.skipif(not SCHEMA_PATH.exists(), reason=f"{SCHEMA_PATH} is absent: run npm install")

AUTH = {"Authorization": f"bearer {TOKEN}"}
REST_AUTH = {"Authorization": f"token {TOKEN}"}
UPSTREAM_ID = node_id("Repository", 10)


def gql(sim, query: str, variables: dict | None = None, headers: dict | None = None, path: str = "/graphql"):
    return requests.post(sim.url + path, json={"query": query, "variables": variables or {}},
                         headers=AUTH if headers is None else headers, timeout=30)


def changes(sim, ids: list[str]) -> dict:
    r = gql(sim, CHANGES_QUERY, {"ids": ids})
    assert r.status_code == 200, r.text
    return r.json()


def rest_pages(sim, path: str, **params) -> list:
    url, rows = f"{sim.url}{path}", []
    params = {"per_page": 100, **params}
    while url:
        r = requests.get(url, headers=REST_AUTH, params=params)
        assert r.status_code == 200, (path, r.status_code)
        rows += r.json()
        url, params = r.links.get("next", {}).get("url"), None
    return rows


def rest_expectation(sim, repo_id: int) -> dict | None:
    """What CHANGES_QUERY must answer for a repo, read from the REST routes (None: REST refuses it)."""
    r = requests.get(f"{sim.url}/repositories/{repo_id}", headers=REST_AUTH)
    if r.status_code != 200:
        return None
    repo = r.json()
    full = repo["full_name"]
    commits = requests.get(f"{sim.url}/repos/{full}/commits", headers=REST_AUTH,
                           params={"sha": repo["default_branch"], "per_page": 1})
    head = commits.json()[0]["sha"] if commits.status_code == 200 and commits.json() else None
    labels = sorted(rest_pages(sim, f"/repos/{full}/labels"), key=lambda x: x["id"])  # created order
    items = rest_pages(sim, f"/repos/{full}/issues", state="all", sort="updated", direction="desc")
    issues = [i for i in items if "pull_request" not in i]
    pulls = [i for i in items if "pull_request" in i]

    def newest(rows):
        return {"nodes": [{"number": max(i["number"] for i in rows)}] if rows else []}

    return {
        "id": repo["node_id"], "databaseId": repo["id"], "nameWithOwner": full, "isPrivate": repo["private"],
        "updatedAt": repo["updated_at"], "pushedAt": repo["pushed_at"], "forkCount": repo["forks_count"],
        "stargazerCount": repo["stargazers_count"],
        "defaultBranchRef": {"target": {"oid": head}} if head else None,
        "labels": {"totalCount": len(labels),
                   "nodes": [{"name": x["name"], "color": x["color"], "description": x["description"]} for x in labels]},
        "issues": {"totalCount": len(issues), "nodes": [{"number": i["number"], "updatedAt": i["updated_at"]}
                                                        for i in issues[:1]]},
        "pullRequests": {"totalCount": len(pulls), "nodes": [{"number": i["number"], "updatedAt": i["updated_at"]}
                                                             for i in pulls[:1]]},
        "newestIssue": newest(issues), "newestPullRequest": newest(pulls),
    }


def assert_graphql_equals_rest(sim, repo_ids: list[int]) -> dict:
    ids = [node_id("Repository", i) for i in repo_ids]
    answer = changes(sim, ids)
    missing = []
    for i, (repo_id, got) in enumerate(zip(repo_ids, answer["data"]["nodes"])):
        expected = rest_expectation(sim, repo_id)
        assert got == expected, repo_id
        if expected is None:
            missing.append(i)
    assert [e["path"] for e in answer.get("errors", [])] == [["nodes", i] for i in missing]
    assert all(e["type"] == "NOT_FOUND" for e in answer.get("errors", []))
    return answer


# -- the schema -----------------------------------------------------------------------------

def test_civicbots_query_is_valid_against_githubs_schema():
    assert validate(github_schema(), parse(CHANGES_QUERY)) == []


def test_a_missing_schema_says_what_to_run(tmp_path):
    with pytest.raises(SchemaMissing, match="npm install"):
        github_schema(tmp_path / "schema.graphql")


def test_without_the_schema_graphql_answers_500_saying_what_to_run(sim, tmp_path):
    sim.app.graphql.schema_path = tmp_path / "schema.graphql"
    r = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]})
    assert r.status_code == 500 and "run `npm install`" in r.json()["message"]


def test_invalid_queries_get_githubs_errors_without_data(sim):
    r = gql(sim, "query { repository(owner: \"Tokyo-Metro-Gov\", name: \"covid19\") { nameWithOwner stars } }")
    body = r.json()
    assert r.status_code == 200 and "data" not in body
    assert "stars" in body["errors"][0]["message"] and body["errors"][0]["locations"] == [{"line": 1, "column": 79}]
    parse_error = gql(sim, "query { nodes(ids: [) }").json()
    assert "data" not in parse_error and parse_error["errors"][0]["locations"]
    missing_variable = gql(sim, CHANGES_QUERY).json()  # $ids is required
    assert "data" not in missing_variable and "$ids" in missing_variable["errors"][0]["message"]
    for wrong in ({"ids": {"x": 1}}, {"ids": [UPSTREAM_ID], "n": "many"}):  # variables of the wrong type
        typed = gql(sim, "query($ids: [ID!]!, $n: Int = 1) { nodes(ids: $ids) { id ... on Repository { "
                         "labels(first: $n) { totalCount } } } }", wrong)
        assert typed.status_code == 200 and "data" not in typed.json(), typed.text
    no_query = requests.post(sim.url + "/graphql", json={}, headers=AUTH).json()
    assert no_query == {"errors": [{"message": "A query attribute must be specified and must be a string."}]}
    log = requests.get(f"{sim.url}/_sim/requests").json()
    assert log["graphql"] == 6 and log["graphql_points"] == 0  # refused before running: no points


# -- answers agree with REST -------------------------------------------------------------------

def test_answers_equal_rest_for_every_repo_of_a_generated_world_before_and_after_edits(sim_factory):
    world = generate_world_dict(seed=3, scale=0.05)
    world["tokens"].append({"token": TOKEN, "login": world["tokens"][0]["login"]})
    sim = sim_factory(world)
    repo_ids = sorted(r["id"] for r in world["repos"])
    before = assert_graphql_equals_rest(sim, repo_ids)
    assert before.get("errors")  # the generated world has a deleted and a taken-down repo

    by_id = {n["databaseId"]: n for n in before["data"]["nodes"] if n}
    active = [r for r in world["repos"] if r.get("status", "active") == "active"]
    with_items = [r for r in active if by_id[r["id"]]["issues"]["totalCount"]]
    commented, labelled = with_items[0], with_items[-1]
    renamed, pushed, deleted = active[1], active[2], active[3]

    def admin(body):
        r = requests.post(f"{sim.url}/_sim/world", json=body)
        assert r.status_code == 200, r.text

    full = lambda r: by_id[r["id"]]["nameWithOwner"]  # noqa: E731
    number = by_id[commented["id"]]["newestIssue"]["nodes"][0]["number"]
    admin({"repo": full(commented), "action": "comment", "number": number, "user": commented["owner"], "body": "hi"})
    label_number = by_id[labelled["id"]]["newestIssue"]["nodes"][0]["number"]
    r = requests.post(f"{sim.url}/repos/{full(labelled)}/issues/{label_number}/labels", headers=REST_AUTH,
                      json={"labels": ["needs-triage"]})
    assert r.status_code == 200
    new_name = f"{renamed['owner']}/renamed-{renamed['name']}"  # the world's dicts change in place
    admin({"repo": full(renamed), "action": "rename", "to": new_name})
    admin({"repo": full(pushed), "action": "push", "commits": [
        {"sha": "f" * 40, "message": "new data", "author": pushed["owner"], "date": "2099-01-01T00:00:00Z"}]})
    admin({"repo": full(deleted), "action": "status", "status": "deleted"})

    after = assert_graphql_equals_rest(sim, repo_ids)
    now = {n["databaseId"]: n for n in after["data"]["nodes"] if n}
    assert now[commented["id"]]["issues"]["nodes"][0]["number"] == number  # the comment made it the latest
    assert now[commented["id"]]["issues"] != by_id[commented["id"]]["issues"]
    assert "needs-triage" in [x["name"] for x in now[labelled["id"]]["labels"]["nodes"]]
    assert now[renamed["id"]]["nameWithOwner"] == new_name
    assert now[pushed["id"]]["defaultBranchRef"] == {"target": {"oid": "f" * 40}}
    assert now[pushed["id"]]["pushedAt"] > by_id[pushed["id"]]["pushedAt"]
    assert deleted["id"] not in now and len(after["errors"]) == len(before["errors"]) + 1


def test_node_and_repository_fields(sim):
    query = """query($id: ID!) {
      node(id: $id) { id ... on Repository { nameWithOwner } }
      byName: repository(owner: "Tokyo-Metro-Gov", name: "covid19") { id databaseId }
      byFormerName: repository(owner: "tokyo-metropolitan-gov", name: "covid19") { nameWithOwner }
      gone: repository(owner: "nobody", name: "nothing") { id }
    }"""
    body = gql(sim, query, {"id": UPSTREAM_ID}).json()
    assert body["data"]["node"] == {"id": UPSTREAM_ID, "nameWithOwner": "Tokyo-Metro-Gov/covid19"}
    assert body["data"]["byName"] == {"id": UPSTREAM_ID, "databaseId": 10}
    assert body["data"]["byFormerName"] == {"nameWithOwner": "Tokyo-Metro-Gov/covid19"}
    assert body["data"]["gone"] is None
    assert body["errors"] == [{"type": "NOT_FOUND", "path": ["gone"], "locations": [{"line": 5, "column": 7}],
                               "message": "Could not resolve to a Repository with the name 'nobody/nothing'."}]


def test_unknown_garbled_deleted_taken_down_and_private_ids_are_null_with_not_found(sim):
    # 14 deleted, 15 taken down, 17 private to copycat (TOKEN is civicbot-demo's)
    ids = [UPSTREAM_ID, "garbage!", node_id("Repository", 999)] + [node_id("Repository", i) for i in (14, 15, 17)]
    rest = {rid: requests.get(f"{sim.url}/repositories/{rid}", headers=REST_AUTH).status_code for rid in (14, 15, 17)}
    assert rest == {14: 404, 15: 451, 17: 404}
    body = changes(sim, ids)
    assert body["data"]["nodes"][0]["nameWithOwner"] == "Tokyo-Metro-Gov/covid19"
    assert body["data"]["nodes"][1:] == [None] * 5
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("NOT_FOUND", ["nodes", i]) for i in range(1, 6)]
    assert body["errors"][0]["message"] == "Could not resolve to a node with the global id of 'garbage!'"
    # GitHub places a node's error at `nodes(ids: $ids)` in the query sent
    line, text = next((n, t) for n, t in enumerate(CHANGES_QUERY.splitlines(), 1) if "nodes(ids:" in t)
    assert body["errors"][0]["locations"] == [{"line": line, "column": text.index("nodes") + 1}]


def test_a_private_repo_resolves_for_its_owners_token(sim_factory):
    from worlds import tiny_world

    world = tiny_world()
    world["tokens"].append({"token": "owner-token", "login": "copycat"})
    sim = sim_factory(world)
    body = gql(sim, CHANGES_QUERY, {"ids": [node_id("Repository", 17)]},
               headers={"Authorization": "bearer owner-token"}).json()
    assert body["data"]["nodes"][0]["isPrivate"] is True and "errors" not in body


def test_dry_run_costs_nothing(sim):
    body = gql(sim, '{ rateLimit(dryRun: true) { cost remaining } repository(owner: "Tokyo-Metro-Gov", '
                    'name: "covid19") { issues(first: 100) { nodes { labels(first: 100) { totalCount } } } } }').json()
    assert body["data"]["rateLimit"] == {"cost": 1, "remaining": 5000}
    assert requests.get(f"{sim.url}/_sim/requests").json()["graphql_points"] == 0


def test_issues_and_pull_requests_page_by_cursor_in_rests_order(sim):
    rest = rest_pages(sim, "/repos/Tokyo-Metro-Gov/covid19/issues", state="all", direction="asc")
    query = """query($after: String) { repository(owner: "Tokyo-Metro-Gov", name: "covid19") {
      issues(first: 1, after: $after) { totalCount edges { cursor node { number title state } }
                                         pageInfo { hasNextPage endCursor } }
      merged: pullRequests(last: 5, states: [MERGED]) { nodes { number state merged } }
      open: pullRequests(first: 5, states: [OPEN]) { nodes { id fullDatabaseId number } } } }"""
    numbers, after = [], None
    while True:
        repo = gql(sim, query, {"after": after}).json()["data"]["repository"]
        edge = repo["issues"]["edges"][0]
        numbers.append(edge["node"]["number"])
        if not repo["issues"]["pageInfo"]["hasNextPage"]:
            break
        after = repo["issues"]["pageInfo"]["endCursor"]
    assert numbers == [i["number"] for i in rest if "pull_request" not in i]
    merged = [i["number"] for i in rest if (i.get("pull_request") or {}).get("merged_at")]
    assert [n["number"] for n in repo["merged"]["nodes"]] == merged and all(n["merged"] for n in repo["merged"]["nodes"])
    pulls = {p["number"]: p for p in rest_pages(sim, "/repos/Tokyo-Metro-Gov/covid19/pulls")}
    assert {n["number"]: (n["id"], int(n["fullDatabaseId"])) for n in repo["open"]["nodes"]} == \
        {k: (p["node_id"], p["id"]) for k, p in pulls.items()}


def test_issue_and_pull_request_ids_resolve_like_rests_node_ids(sim):
    rest = rest_pages(sim, "/repos/Tokyo-Metro-Gov/covid19/issues", state="all")
    pull = requests.get(f"{sim.url}/repos/Tokyo-Metro-Gov/covid19/pulls/2", headers=REST_AUTH).json()
    ids = [i["node_id"] for i in rest] + [pull["node_id"]]
    body = gql(sim, "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Issue { number } "
                    "... on PullRequest { number } } }", {"ids": ids}).json()
    got = [(n["__typename"], n.get("number")) for n in body["data"]["nodes"]]
    # REST's issue list shows a PR's issue id too: it resolves to the PR
    assert got[:-1] == [("PullRequest" if "pull_request" in i else "Issue", i["number"]) for i in rest]
    assert got[-1] == ("PullRequest", 2) and "errors" not in body


def test_a_field_the_simulator_does_not_model_is_an_error_not_an_invented_value(sim):
    body = gql(sim, "query($id: ID!) { node(id: $id) { ... on Repository { nameWithOwner homepageUrl } } }",
               {"id": UPSTREAM_ID}).json()
    assert body["errors"][0]["message"] == "The simulator does not serve Repository.homepageUrl."
    assert body["errors"][0]["path"] == ["node", "homepageUrl"]


# -- authentication, points, limits ----------------------------------------------------------

def test_no_token_is_401_and_a_bad_token_is_bad_credentials(sim):
    anonymous = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}, headers={})
    assert anonymous.status_code == 401 and "authenticated" in anonymous.json()["message"]
    bad = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}, headers={"Authorization": "bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"


def test_points_follow_githubs_cost_rule_and_are_counted_apart_from_rest(sim):
    one = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]})
    # 1 request for nodes + 5 connections x 1 node = 6 requests -> 0.06 -> at least 1 point
    assert one.json()["data"]["rateLimit"] == {"limit": 5000, "cost": 1, "remaining": 4999,
                                               "resetAt": one.json()["data"]["rateLimit"]["resetAt"]}
    assert one.headers["x-ratelimit-resource"] == "graphql" and one.headers["x-ratelimit-used"] == "1"
    reset = datetime.fromtimestamp(int(one.headers["x-ratelimit-reset"]), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert one.json()["data"]["rateLimit"]["resetAt"] == reset
    hundred = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID] * 100}).json()
    assert hundred["data"]["rateLimit"]["cost"] == 5  # 1 + 5 x 100 = 501 requests -> 5 points
    assert hundred["data"]["rateLimit"]["remaining"] == 4994
    assert gql(sim, "{ rateLimit { used remaining } }").json()["data"]["rateLimit"] == {"used": 7, "remaining": 4993}
    nested = gql(sim, """{ repository(owner: "Tokyo-Metro-Gov", name: "covid19") {
        issues(first: 100) { nodes { labels(first: 60) { totalCount } } } } rateLimit { cost nodeCount } }""").json()
    assert nested["data"]["rateLimit"] == {"cost": 1, "nodeCount": 100 + 100 * 60}  # 1 + 100 requests -> 1
    deep = gql(sim, """{ repository(owner: "Tokyo-Metro-Gov", name: "covid19") {
        issues(first: 100) { nodes { labels(first: 50) { nodes { issues(first: 40) { totalCount } } } } } }
        rateLimit { cost } }""").json()
    assert deep["data"]["rateLimit"]["cost"] == 51  # 1 + 100 + 100 x 50 = 5101 requests -> 51
    requests.get(f"{sim.url}/repos/Tokyo-Metro-Gov/covid19", headers=REST_AUTH)
    log = requests.get(f"{sim.url}/_sim/requests").json()
    assert (log["count"], log["graphql"], log["graphql_points"], log["quota_used"]) == (6, 5, 1 + 5 + 1 + 1 + 51, 1)
    assert [r["points"] for r in log["requests"]] == [1, 5, 1, 1, 51, 0]
    rate = requests.get(f"{sim.url}/rate_limit", headers=REST_AUTH).json()["resources"]
    assert rate["graphql"]["used"] == 59 and rate["core"]["used"] == 1


def test_node_limits_are_enforced_like_githubs(sim):
    too_many = gql(sim, '{ repository(owner: "Tokyo-Metro-Gov", name: "covid19") { labels(first: 101) { totalCount } } }')
    assert too_many.json() == {"errors": [{
        "type": "EXCESSIVE_PAGINATION", "path": ["repository", "labels"], "locations": [{"line": 1, "column": 59}],
        "message": "Requesting 101 records on the `labels` connection exceeds the `first` limit of 100 records."}]}
    unbounded = gql(sim, '{ repository(owner: "Tokyo-Metro-Gov", name: "covid19") { labels { totalCount } } }').json()
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES" and "data" not in unbounded
    huge = gql(sim, """query($n: Int = 100) { repository(owner: "Tokyo-Metro-Gov", name: "covid19") {
        issues(first: $n) { nodes { labels(first: 100) { nodes { issues(first: 100) { totalCount } } } } } } }""").json()
    assert huge["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED" and "1,010,100" in huge["errors"][0]["message"]
    ids = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID] * 101}).json()
    assert ids["errors"][0]["type"] == "EXCESSIVE_PAGINATION" and "data" not in ids
    assert requests.get(f"{sim.url}/_sim/requests").json()["graphql_points"] == 0


def test_a_spent_budget_answers_rate_limited_without_touching_rest(sim):
    r = requests.post(f"{sim.url}/_sim/quota", json={"token": TOKEN, "resource": "graphql", "remaining": 0})
    assert r.json()["limit"] == 5000
    limited = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]})
    assert limited.status_code == 200
    assert limited.json() == {"errors": [{"type": "RATE_LIMITED",
                                          "message": limited.json()["errors"][0]["message"]}]}
    assert limited.json()["errors"][0]["message"].startswith("API rate limit exceeded for user ID ")
    assert limited.headers["x-ratelimit-remaining"] == "0" and limited.headers["x-ratelimit-resource"] == "graphql"
    assert requests.get(f"{sim.url}/repos/Tokyo-Metro-Gov/covid19", headers=REST_AUTH).status_code == 200
    requests.post(f"{sim.url}/_sim/quota", json={"token": TOKEN, "resource": "graphql", "remaining": 4})
    assert gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID] * 100}).json()["errors"][0]["type"] == "RATE_LIMITED"
    assert gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}).json()["data"]["rateLimit"]["remaining"] == 3


def test_a_tokens_graphql_limit_comes_from_the_world(sim_factory):
    from worlds import tiny_world

    world = tiny_world()
    for token in world["tokens"]:
        token["graphql_limit"] = 7
    sim = sim_factory(world)
    assert changes(sim, [UPSTREAM_ID])["data"]["rateLimit"]["limit"] == 7
    other = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}, headers={"Authorization": f"token {READONLY_TOKEN}"})
    assert other.json()["data"]["rateLimit"]["remaining"] == 6  # a budget per login


def test_enterprise_path(sim):
    r = gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}, path="/api/graphql")
    assert r.json()["data"]["nodes"][0]["databaseId"] == 10
    assert requests.get(f"{sim.url}/_sim/requests").json()["graphql"] == 1


@pytest.mark.parametrize("suffix", ["", "/api/v3"])
def test_pygithubs_requester_reaches_graphql_from_the_rest_base_url(sim, suffix):
    from conftest import github

    headers, data = github(sim.url + suffix).requester.graphql_query(CHANGES_QUERY, {"ids": [UPSTREAM_ID]})
    assert data["data"]["nodes"][0]["nameWithOwner"] == "Tokyo-Metro-Gov/covid19"
    assert headers["x-ratelimit-resource"] == "graphql"


# -- faults and latency ------------------------------------------------------------------------

def test_faults_apply_to_graphql(sim_factory):
    sim = sim_factory(faults={"seed": 1, "rules": [{"kind": "502", "path": "/graphql", "times": 1}]})
    assert gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}).status_code == 502
    assert gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}).status_code == 200
    log = requests.get(f"{sim.url}/_sim/requests").json()
    assert [(r["status"], r["fault"], r["points"]) for r in log["requests"]] == [(502, "502", 0), (200, None, 1)]


def test_reset_and_truncate_apply_to_graphql(sim_factory, caplog):
    sim = sim_factory(faults={"rules": [{"kind": "reset", "path": "/graphql", "times": 1},
                                        {"kind": "truncate", "path": "/graphql", "times": 1}]})
    with pytest.raises(requests.ConnectionError):
        gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}).json()
    assert changes(sim, [UPSTREAM_ID])["data"]["nodes"][0]["databaseId"] == 10
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    assert [(r["status"], r["fault"]) for r in log] == [(0, "reset"), (200, "truncate"), (200, None)]
    # the reset POST's body is drained, never parsed by the server as a request of its own
    assert not [r for r in caplog.records if r.name == "werkzeug" and "Bad request" in r.getMessage()]


def test_a_stall_outlasts_the_clients_timeout(sim_factory):
    sim = sim_factory(faults={"rules": [{"kind": "stall", "path": "/graphql", "times": 1, "stall_seconds": 1.5}]})
    with pytest.raises(requests.Timeout):
        requests.post(sim.url + "/graphql", json={"query": CHANGES_QUERY, "variables": {"ids": [UPSTREAM_ID]}},
                      headers=AUTH, timeout=0.3)


def test_partial_fault_nulls_every_second_node_with_an_error(sim_factory):
    sim = sim_factory(faults={"rules": [{"kind": "partial", "path": "/graphql", "times": 1}]})
    ids = [UPSTREAM_ID, node_id("Repository", 11), node_id("Repository", 12)]
    body = changes(sim, ids)
    assert [n and n["databaseId"] for n in body["data"]["nodes"]] == [10, None, 12]
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("SERVICE_UNAVAILABLE", ["nodes", 1])]
    assert changes(sim, ids)["data"]["nodes"][1]["databaseId"] == 11  # times=1: then it recovers


def test_latency_holds_graphql_answers(sim_factory):
    sim = sim_factory(latency_ms=120)
    started = time.perf_counter()
    assert gql(sim, CHANGES_QUERY, {"ids": [UPSTREAM_ID]}).status_code == 200
    assert time.perf_counter() - started >= 0.12  # a lower bound, however loaded the machine
