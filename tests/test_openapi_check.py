"""Prove tests/openapi_check.py on real GitHub responses and on broken ones.

Real responses: the recordings shipped by the npm package @octokit/fixtures
(``scenarios/api.github.com/<scenario>/normalized-fixture.json``).  Every
recorded response of the scenarios below goes through ``validate_response``
(the GETs are the point; ``add-labels-to-issue`` and ``errors`` recorded no
GET at all, so POST/PATCH/DELETE responses are checked too).
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import openapi_check as oc
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DIR = ROOT / "node_modules/@octokit/fixtures/scenarios/api.github.com"
SCENARIOS = (
    "get-repository",
    "paginate-issues",
    "labels",
    "add-labels-to-issue",
    "errors",
    "search-issues",
    "rename-repository",
)

pytestmark = pytest.mark.skipif(not oc.spec_available(), reason=oc.SPEC_MISSING_REASON)

# Recordings that no longer validate because GitHub's description changed
# after they were recorded (octokit/fixtures were recorded around 2018-2020).
# Keyed by (scenario, "METHOD path", status); the value is the exact set of
# errors expected (without the "METHOD path -> status (...): " prefix) and
# the reason.  The test fails if a recording produces any other error, and
# also if a listed error disappears (so the list cannot go stale silently).
_HAS_DISCUSSIONS = (
    "$.has_discussions: required property is missing",
    "full-repository.has_discussions (GitHub Discussions flag) was added to "
    "the API in 2022 and is now `required` in the description; the "
    "recording predates it",
)
KNOWN_EXCEPTIONS: dict[tuple[str, str, int], tuple[set[str], str]] = {
    ("get-repository", "GET /repos/octokit-fixture-org/hello-world", 200): (
        {_HAS_DISCUSSIONS[0]},
        _HAS_DISCUSSIONS[1],
    ),
    ("rename-repository", "PATCH /repos/octokit-fixture-org/rename-repository", 200): (
        {_HAS_DISCUSSIONS[0]},
        _HAS_DISCUSSIONS[1],
    ),
    ("rename-repository", "GET /repositories/1000", 200): (
        {_HAS_DISCUSSIONS[0]},
        _HAS_DISCUSSIONS[1],
    ),
    ("rename-repository", "PATCH /repositories/1000", 200): (
        {_HAS_DISCUSSIONS[0]},
        _HAS_DISCUSSIONS[1],
    ),
    (
        "search-issues",
        "GET /search/issues?q=sesame%20repo%3Aoctokit-fixture-org%2Fsearch-issues",
        200,
    ): (
        {"$.search_type: required property is missing"},
        "search_type (lexical/semantic/hybrid) came with GitHub's semantic "
        "issue search in 2025 and is `required` in the description; the "
        "recording predates it",
    ),
}


def _recordings():
    if not SCENARIOS_DIR.is_dir():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(
                    reason=f"@octokit/fixtures is not installed ({SCENARIOS_DIR} missing); run `npm install`"
                ),
                id="fixtures-missing",
            )
        ]
    params = []
    for scenario in SCENARIOS:
        records = json.loads((SCENARIOS_DIR / scenario / "normalized-fixture.json").read_text())
        for i, rec in enumerate(records):
            if not isinstance(rec.get("response"), (dict, list)) and rec.get("response") not in ("", None):
                continue  # non-JSON body (none in these scenarios today)
            params.append(
                pytest.param(
                    scenario, rec, id=f"{scenario}[{i}]-{rec['method'].upper()}-{rec['status']}"
                )
            )
    return params


def _strip(errors: list[str]) -> set[str]:
    # "GET /x -> 200 (GET /template, response 200): $.a: msg" -> "$.a: msg"
    return {e.split("): ", 1)[1] if "): " in e else e for e in errors}


@pytest.mark.parametrize("scenario,rec", _recordings())
def test_real_github_recording_validates(scenario, rec):
    body = rec["response"] if isinstance(rec["response"], (dict, list)) else oc.NO_BODY
    errors = oc.validate_response(rec["method"], rec["path"], rec["status"], body, rec["headers"])
    key = (scenario, f"{rec['method'].upper()} {rec['path']}", rec["status"])
    if key in KNOWN_EXCEPTIONS:
        expected, reason = KNOWN_EXCEPTIONS[key]
        assert _strip(errors) == expected, (
            f"known exception ({reason}) changed; errors now:\n" + "\n".join(errors)
        )
    else:
        assert errors == [], "\n".join(errors)


def test_at_least_the_gets_were_checked():
    gets = [p for p in _recordings() if len(p.values) == 2 and p.values[1]["method"].lower() == "get"]
    if not gets:
        pytest.skip("@octokit/fixtures is not installed")
    assert len(gets) >= 10  # get-repository 1, paginate-issues 5, labels 2, search 1, rename 2


# ------------------------------------------------------------------ negatives


def _recording(scenario: str, index: int = 0) -> dict:
    path = SCENARIOS_DIR / scenario / "normalized-fixture.json"
    if not path.is_file():
        pytest.skip("@octokit/fixtures is not installed")
    return copy.deepcopy(json.loads(path.read_text())[index])


@pytest.fixture
def issues_page():
    rec = _recording("paginate-issues", 0)
    assert oc.validate_response("GET", rec["path"], 200, rec["response"], rec["headers"]) == []
    return rec


def test_missing_required_field(issues_page):
    del issues_page["response"][1]["title"]
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {"$[1].title: required property is missing"}


def test_missing_required_nested_field(issues_page):
    del issues_page["response"][0]["user"]["login"]
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {"$[0].user.login: required property is missing"}


def test_wrong_type(issues_page):
    issues_page["response"][2]["number"] = "3"
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {"$[2].number: expected type 'integer', got str \"3\""}


def test_null_where_not_nullable(issues_page):
    issues_page["response"][0]["title"] = None
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {"$[0].title: null is not allowed here (type 'string', not nullable)"}


def test_null_where_nullable_is_fine(issues_page):
    body = issues_page["response"]
    body[0]["milestone"] = None  # $ref nullable-milestone
    body[0]["body"] = None  # nullable string
    body[0]["state_reason"] = None  # nullable enum whose list has no null
    assert oc.validate_response("GET", issues_page["path"], 200, body) == []


def test_nullable_enum_still_checks_values(issues_page):
    issues_page["response"][0]["state_reason"] = "bored"
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert len(errors) == 1 and "$[0].state_reason: \"bored\" is not one of" in errors[0]


def test_bad_date_time_format(issues_page):
    issues_page["response"][0]["created_at"] = "yesterday"
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {"$[0].created_at: \"yesterday\" is not a valid 'date-time'"}


def test_one_of_failure_points_inside(issues_page):
    # labels items are oneOf [string, label object]
    issues_page["response"][0]["labels"] = [42]
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {
        "$[0].labels[0]: matches none of the 2 oneOf alternatives; closest is #0: "
        "$[0].labels[0]: expected type 'string', got int 42"
    }
    # the closest alternative is the one that fails deeper, not at the value itself
    issues_page["response"][0]["labels"] = [{"id": 1, "name": 7}]
    errors = oc.validate_response("GET", issues_page["path"], 200, issues_page["response"])
    assert _strip(errors) == {
        "$[0].labels[0]: matches none of the 2 oneOf alternatives; closest is #1: "
        "$[0].labels[0].name: expected type 'string', got int 7"
    }


def test_undocumented_status():
    errors = oc.validate_response("GET", "/repos/o/r", 418, {"message": "teapot"})
    assert len(errors) == 1
    assert "status 418 is not documented for GET /repos/{owner}/{repo}" in errors[0]
    assert "(documented: 200, 301, 403, 404)" in errors[0]


def test_error_body_schema():
    ok = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    assert oc.validate_response("GET", "/repos/o/r", 404, ok) == []
    errors = oc.validate_response("GET", "/repos/o/r", 404, {"message": 404})
    assert _strip(errors) == {"$.message: expected type 'string', got int 404"}
    errors = oc.validate_response("POST", "/repos/o/r/labels", 422, {"message": "Validation Failed"})
    assert _strip(errors) == {"$.documentation_url: required property is missing"}


def test_body_presence_rules():
    assert oc.validate_response("DELETE", "/repos/o/r/labels/x", 204, oc.NO_BODY) == []
    errors = oc.validate_response("DELETE", "/repos/o/r/labels/x", 204, {"a": 1})
    assert len(errors) == 1 and "documents no body for 204" in errors[0]
    errors = oc.validate_response("GET", "/repos/o/r", 200, oc.NO_BODY)
    assert len(errors) == 1 and "a JSON body is documented but the response has none" in errors[0]


def test_unknown_endpoint_is_an_error_not_an_exception():
    errors = oc.validate_response("GET", "/repos/o/r/no-such-thing/1/2", 200, {})
    assert len(errors) == 1 and "no path template matches" in errors[0]


def test_header_checks(issues_page):
    body, path = issues_page["response"], issues_page["path"]
    good = {"Content-Type": "application/json; charset=utf-8", "Link": issues_page["headers"]["link"]}
    assert oc.validate_response("GET", path, 200, body, good) == []
    assert oc.validate_response("GET", path, 200, body, {"content-type": "application/json"}) == []
    bad_link = dict(good, Link="https://api.github.com/x?page=2; rel=next")
    errors = oc.validate_response("GET", path, 200, body, bad_link)
    assert len(errors) == 1 and "header Link: malformed entry" in errors[0]
    bad_rel = dict(good, Link='<https://api.github.com/x?page=2>; rel="nxet"')
    errors = oc.validate_response("GET", path, 200, body, bad_rel)
    assert len(errors) == 1 and "rel='nxet'" in errors[0]
    errors = oc.validate_response("GET", path, 200, body, {"Content-Type": "text/html"})
    assert len(errors) == 1 and "[http] header Content-Type" in errors[0]
    moved = {"message": "Moved Permanently", "url": "https://api.github.com/repositories/1"}
    errors = oc.validate_response("GET", "/repos/o/r", 301, moved, {"Content-Type": "application/json"})
    assert len(errors) == 1 and "[http] header Location: missing on a 301 redirect" in errors[0]


# --------------------------------------------------------------- path matching


@pytest.mark.parametrize(
    "method,path,template,operation_id",
    [
        ("DELETE", "/repos/o/r/issues/3/labels/bug", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "issues/remove-label"),
        ("GET", "/repos/o/r/issues/comments", "/repos/{owner}/{repo}/issues/comments", "issues/list-comments-for-repo"),
        ("GET", "/repos/o/r/issues/3", "/repos/{owner}/{repo}/issues/{issue_number}", "issues/get"),
        ("GET", "/repos/o/r/issues?state=all&per_page=100", "/repos/{owner}/{repo}/issues", "issues/list-for-repo"),
        ("GET", "https://api.github.com/search/issues?q=x", "/search/issues", "search/issues-and-pull-requests"),
        ("GET", "/repos/o/r/labels/good%20first%20issue", "/repos/{owner}/{repo}/labels/{name}", "issues/get-label"),
        ("GET", "/repos/o/r/contents/docs/a/b.md", "/repos/{owner}/{repo}/contents/{path}", "repos/get-content"),
        ("GET", "/repos/o/r/git/ref/heads/main", "/repos/{owner}/{repo}/git/ref/{ref}", "git/get-ref"),
        ("GET", "/repositories", "/repositories", "repos/list-public"),
    ],
)
def test_find_operation(method, path, template, operation_id):
    match = oc.find_operation(method, path)
    got_template, operation = match
    assert got_template == template
    assert operation["operationId"] == operation_id
    assert match.note is None


def test_repositories_id_is_validated_as_get_a_repository():
    spec = oc.load_spec()
    assert not any(p.startswith("/repositories/{") for p in spec["paths"])  # still undocumented
    match = oc.find_operation("GET", "/repositories/1000")
    assert match.template == "/repos/{owner}/{repo}"
    assert match.operation["operationId"] == "repos/get"
    assert "has no GET /repositories/{id}" in match.note
    sub = oc.find_operation("GET", "/repositories/1000/issues?page=2")
    assert sub.operation["operationId"] == "issues/list-for-repo"


def test_find_operation_rejects_unknown():
    with pytest.raises(oc.OperationNotFound, match="no path template matches"):
        oc.find_operation("GET", "/nope/nope")
    with pytest.raises(oc.OperationNotFound, match="documents no GET"):
        oc.find_operation("GET", "/repos/o/r/issues/3/labels/bug")


def test_validation_is_fast_enough(issues_page):
    body = issues_page["response"]
    oc.validate_response("GET", issues_page["path"], 200, body)  # warm the cache
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        oc.validate_response("GET", issues_page["path"], 200, body)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.05, f"{per_call * 1000:.1f} ms per validation of a 3-issue page"


def test_ignore_and_error_cap(issues_page):
    body = [copy.deepcopy(i) for i in issues_page["response"] * 30]  # 90 issues
    for issue in body:
        issue["title"] = None
    errors = oc.validate_response("GET", issues_page["path"], 200, body)
    assert len(errors) == oc.MAX_ERRORS + 1 and errors[-1].endswith(f"(stopped after {oc.MAX_ERRORS} errors)")
    assert oc.validate_response("GET", issues_page["path"], 200, body, ignore=[r"^\$\[\d+\]\.title: null"]) == []
    body[5]["number"] = "6"  # an error the pattern does not cover is still reported
    errors = oc.validate_response("GET", issues_page["path"], 200, body, ignore=[r"\.title: null"])
    assert _strip(errors) == {"$[5].number: expected type 'integer', got str \"6\""}


def test_validate_schema():
    assert oc.validate_schema("basic-error", {"message": "Not Found"}) == []
    assert oc.validate_schema("basic-error", {"message": None}) == [
        "$.message: null is not allowed here (type 'string', not nullable)"
    ]
    assert oc.validate_schema("/components/schemas/validation-error", {"message": "x"}) == [
        "$.documentation_url: required property is missing"
    ]
