"""Every fault kind the simulator injects, produced on demand, and deterministic under a seed."""

from __future__ import annotations

import time

import pytest
import requests
from conftest import github
from github import GithubException
from worlds import TOKEN

from civicbot.sandbox import FaultPlan
from civicbot.sandbox.faults import FaultPlanError

AUTH = {"Authorization": f"token {TOKEN}"}
ISSUES = "/repos/Tokyo-Metro-Gov/covid19/issues"


def plan(**rule) -> dict:
    return {"seed": 1, "rules": [{"path": ISSUES, "times": 1, **rule}]}


@pytest.mark.parametrize("kind,status", [("500", 500), ("502", 502), ("503", 503)])
def test_server_errors(sim_factory, kind, status):
    sim = sim_factory(faults=plan(kind=kind))
    r = requests.get(sim.url + ISSUES, headers=AUTH)
    assert r.status_code == status and "message" in r.json()
    assert requests.get(sim.url + ISSUES, headers=AUTH).status_code == 200  # times=1: then it recovers
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    assert [(x["status"], x["fault"], x["quota"]) for x in log] == [(status, kind, 0), (200, None, 1)]


def test_secondary_rate_limit_with_retry_after(sim_factory):
    sim = sim_factory(faults=plan(kind="secondary", retry_after=7))
    r = requests.get(sim.url + ISSUES, headers=AUTH)
    assert r.status_code == 403 and r.headers["Retry-After"] == "7"
    assert r.json()["message"].startswith("You have exceeded a secondary rate limit")


def test_secondary_rate_limit_without_retry_after(sim_factory):
    sim = sim_factory(faults=plan(kind="secondary_no_retry_after"))
    r = requests.get(sim.url + ISSUES, headers=AUTH)
    assert r.status_code == 403 and "Retry-After" not in r.headers
    assert "secondary rate limit" in r.json()["message"]
    with pytest.raises(GithubException) as err:  # PyGithub classifies it from the body
        github(sim_factory(faults=plan(kind="secondary_no_retry_after")).url).get_repo(
            "Tokyo-Metro-Gov/covid19").get_issues().get_page(0)
    assert err.value.status == 403 and type(err.value).__name__ == "RateLimitExceededException"


def test_429_with_retry_after(sim_factory):
    sim = sim_factory(faults=plan(kind="429", retry_after=3))
    r = requests.get(sim.url + ISSUES, headers=AUTH)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"


def test_connection_reset(sim_factory):
    sim = sim_factory(faults=plan(kind="reset"))
    with pytest.raises(requests.ConnectionError):
        requests.get(sim.url + ISSUES, headers=AUTH)
    assert requests.get(sim.url + ISSUES, headers=AUTH).status_code == 200


def test_stall_past_the_client_timeout(sim_factory):
    sim = sim_factory(faults=plan(kind="stall", stall_seconds=1.5))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(sim.url + ISSUES, headers=AUTH, timeout=0.3)
    assert time.monotonic() - started < 1.4
    assert requests.get(sim.url + ISSUES, headers=AUTH, timeout=5).status_code == 200


def test_truncated_body(sim_factory):
    sim = sim_factory(faults=plan(kind="truncate"))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(sim.url + ISSUES, headers=AUTH, timeout=5).json()
    assert len(requests.get(sim.url + ISSUES, headers=AUTH).json()) == 2


def test_lost_answer_performs_the_write_then_cuts_the_connection(sim_factory):
    sim = sim_factory(faults={"seed": 1, "rules": [
        {"kind": "lost_answer", "path": ISSUES + "/3/comments", "method": "POST", "times": 1}]})
    url = sim.url + ISSUES + "/3/comments"
    before = len(requests.get(url, headers=AUTH).json())
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={"body": "hello"}, headers=AUTH)
    bodies = [c["body"] for c in requests.get(url, headers=AUTH).json()]
    assert len(bodies) == before + 1 and bodies[-1] == "hello"  # done, though the client heard nothing
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    assert [(x["method"], x["status"], x["fault"], x["quota"]) for x in log][1] == ("POST", 0, "lost_answer", 1)


def test_pygithub_retries_5xx_through_its_retry_policy(sim_factory):
    from github import GithubRetry

    sim = sim_factory(faults={"seed": 1, "rules": [{"kind": "502", "path": ISSUES, "times": 2}]})
    g = github(sim.url, retry=GithubRetry(total=3, backoff_factor=0.01))
    assert len(list(g.get_repo("Tokyo-Metro-Gov/covid19").get_issues(state="all"))) == 4
    statuses = [x["status"] for x in requests.get(f"{sim.url}/_sim/requests").json()["requests"]]
    assert statuses == [502, 502, 200]


def test_rate_and_patterns_are_deterministic_under_a_seed(sim_factory):
    faults = {"seed": 42, "rules": [{"kind": "503", "path": "/repos/*/issues*", "rate": 0.3}]}

    def run() -> list[int]:
        sim = sim_factory(faults=faults)
        return [requests.get(sim.url + ISSUES, headers=AUTH).status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 5 <= first.count(503) <= 20
    sim = sim_factory(faults=faults)
    assert requests.get(sim.url + "/repos/Tokyo-Metro-Gov/covid19/labels", headers=AUTH).status_code == 200


def test_after_times_and_method(sim_factory):
    sim = sim_factory(faults={"seed": 0, "rules": [
        {"kind": "500", "path": ISSUES + "/*/labels", "method": "POST", "after": 1, "times": 1}]})
    url = sim.url + ISSUES + "/3/labels"
    codes = [requests.post(url, json={"labels": ["a"]}, headers=AUTH).status_code for _ in range(3)]
    assert codes == [200, 500, 200]
    assert requests.get(url, headers=AUTH).status_code == 200


def test_faults_can_be_changed_at_run_time(sim):
    assert requests.put(f"{sim.url}/_sim/faults", json=plan(kind="503")).status_code == 200
    assert requests.get(sim.url + ISSUES, headers=AUTH).status_code == 503
    state = requests.get(f"{sim.url}/_sim/faults").json()
    assert state["rules"][0]["fired"] == 1
    bad = requests.put(f"{sim.url}/_sim/faults", json={"rules": [{"kind": "meteor"}]})
    assert bad.status_code == 400 and "kind must be one of" in bad.json()["message"]


@pytest.mark.parametrize("raw,message", [
    ([], "is an object"),
    ({"rules": [{"kind": "500", "rate": 2}]}, "rate must be between"),
    ({"rules": [{"kind": "500", "colour": "red"}]}, "unknown fields"),
    ({"seed": "x", "rules": []}, "seed must be an integer"),
    ({"rules": [], "extra": 1}, "unknown fault plan keys"),
])
def test_bad_fault_plans_are_named(raw, message):
    with pytest.raises(FaultPlanError, match=message):
        FaultPlan.from_json(raw)
