"""The harvester's HTTP client against the simulator: paging, conditional requests, faults."""

from __future__ import annotations

import time

import pytest
import requests
from worlds import TOKEN

from civicbot.config import Config
from civicbot.harvest.client import (
    BadResponse,
    GitHubClient,
    NotFound,
    Page,
    RateLimited,
    TakenDown,
    TransientError,
    make_github,
)

REPO = "/repos/Tokyo-Metro-Gov/covid19"
ISSUES = REPO + "/issues"


def config(url: str, **retry) -> Config:
    retry = {"total": 3, "backoff_factor": 0.001, "max_rate_limit_wait": 60, **retry}
    return Config.model_validate({
        "name": "tokyo-covid19", "upstream": "Tokyo-Metro-Gov/covid19",
        "github": {"base_url": url, "per_page": 7, "timeout": 5, "rate_limit_reserve": 10, "retry": retry,
                   "throttle": {"seconds_between_requests": 0, "seconds_between_writes": 0}},
    })


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(sim, **retry) -> tuple[GitHubClient, Sleeps]:
    sleeps = Sleeps()
    return GitHubClient(config(sim.url, **retry), [TOKEN], sleep=sleeps), sleeps


def log(sim) -> list[dict]:
    return requests.get(f"{sim.url}/_sim/requests").json()["requests"]


def faulty(sim_factory, **rule):
    return sim_factory(faults={"seed": 1, "rules": [{"path": ISSUES, **rule}]})


def assert_clean(exc: BaseException) -> None:
    assert TOKEN not in str(exc) and TOKEN not in repr(exc)


def test_make_github_uses_config(sim):
    g = make_github(config(sim.url), TOKEN)
    assert g.per_page == 7
    assert g.get_repo("Tokyo-Metro-Gov/covid19").id == 10


def test_pages_of_seven_every_item_once(sim):
    c, _ = client(sim)
    pages = list(c.list_pages(REPO + "/issues/events"))
    ids = [e["id"] for p in pages for e in p.items]
    assert len(pages) == 2 and [len(p.items) for p in pages] == [7, 4]
    assert sorted(ids) == list(range(3001, 3012))
    assert pages[0].next_url and pages[1].next_url is None and pages[0].etag
    assert c.requests_made == 2 == len(log(sim))
    assert "per_page=7" in log(sim)[1]["query"]
    assert c.quota.remaining == 4998 and c.quota.limit == 5000 and c.quota.reset
    assert not c.reserve_reached


def test_conditional_first_page_costs_no_quota(sim):
    c, _ = client(sim)
    etag = next(iter(c.list_pages(ISSUES, {"state": "all"}))).etag
    before = requests.get(f"{sim.url}/_sim/requests").json()["quota_used"]
    pages = list(c.list_pages(ISSUES, {"state": "all"}, etag=etag))
    assert pages == [Page(status=304, not_modified=True, etag=pages[0].etag,
                          rate_remaining=pages[0].rate_remaining, rate_reset=pages[0].rate_reset)]
    after = requests.get(f"{sim.url}/_sim/requests").json()
    assert after["quota_used"] == before and after["requests"][-1]["status"] == 304
    assert c.get_json(REPO, etag=c.get_json(REPO).etag).not_modified


def test_get_json_and_renamed_repo_followed(sim):
    c, _ = client(sim)
    assert c.get_json(REPO).body["id"] == 10
    moved = c.get_json("/repos/tokyo-metropolitan-gov/covid19")
    assert moved.body["id"] == 10 and moved.body["full_name"] == "Tokyo-Metro-Gov/covid19"


@pytest.mark.parametrize("path,exc", [
    ("/repos/gone/covid19-deleted", NotFound),
    ("/repos/nobody/nothing", NotFound),
    ("/repos/gone/covid19-blocked", TakenDown),
])
def test_not_found_and_taken_down(sim, path, exc):
    c, _ = client(sim)
    with pytest.raises(exc) as err:
        c.get_json(path)
    assert path in str(err.value) and str(err.value.status) in str(err.value)
    assert_clean(err.value)
    with pytest.raises(exc):
        list(c.list_pages(path + "/issues"))


def test_bad_shape(sim):
    c, _ = client(sim)
    with pytest.raises(BadResponse) as err:
        list(c.list_pages(REPO))  # an object where a list belongs
    assert REPO in str(err.value)
    with pytest.raises(BadResponse):
        c.get_json(ISSUES)  # a list where an object belongs


def test_503_twice_then_success(sim_factory):
    sim = faulty(sim_factory, kind="503", times=2)
    c, _ = client(sim)
    assert len([i for p in c.list_pages(ISSUES, {"state": "all"}) for i in p.items]) == 4
    assert [x["status"] for x in log(sim)] == [503, 503, 200]


def test_503_persisting_is_transient(sim_factory):
    sim = faulty(sim_factory, kind="503")
    c, _ = client(sim, total=2)
    with pytest.raises(TransientError) as err:
        list(c.list_pages(ISSUES))
    assert ISSUES in str(err.value)
    assert_clean(err.value)
    assert len(log(sim)) == 3


def test_429_with_retry_after_uses_injected_sleep(sim_factory):
    sim = faulty(sim_factory, kind="429", retry_after=5, times=1)
    c, sleeps = client(sim)
    started = time.monotonic()
    assert len(next(iter(c.list_pages(ISSUES))).items) == 2
    assert sleeps == [5] and time.monotonic() - started < 2
    assert [x["status"] for x in log(sim)] == [429, 200]


def test_429_beyond_max_wait_is_rate_limited(sim_factory):
    sim = faulty(sim_factory, kind="429", retry_after=600)
    c, sleeps = client(sim)
    with pytest.raises(RateLimited) as err:
        list(c.list_pages(ISSUES))
    assert sleeps == [] and err.value.wait == 600
    assert_clean(err.value)


def test_quota_exhausted_is_rate_limited_with_reset(sim):
    requests.post(f"{sim.url}/_sim/quota", json={"token": TOKEN, "remaining": 0, "reset_in": 3600})
    c, sleeps = client(sim, max_rate_limit_wait=60)
    with pytest.raises(RateLimited) as err:
        c.get_json(REPO)
    assert err.value.reset is not None and abs(err.value.reset - (time.time() + 3600)) < 60
    assert "rate limit" in str(err.value) and REPO in str(err.value)
    assert_clean(err.value)
    assert sleeps == []


def test_reserve_reached(sim):
    requests.post(f"{sim.url}/_sim/quota", json={"token": TOKEN, "remaining": 11, "reset_in": 3600})
    c, _ = client(sim)
    c.get_json(REPO)
    assert c.quota.remaining == 10 and c.reserve_reached


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_truncate_and_reset_retried(sim_factory, kind):
    sim = faulty(sim_factory, kind=kind, times=2)
    c, _ = client(sim)
    assert len(next(iter(c.list_pages(ISSUES))).items) == 2
    assert [x["status"] for x in log(sim)][-1] == 200 and len(log(sim)) == 3


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_truncate_and_reset_persisting_are_transient(sim_factory, kind):
    sim = faulty(sim_factory, kind=kind)
    c, _ = client(sim, total=2)
    with pytest.raises(TransientError) as err:
        list(c.list_pages(ISSUES))
    assert ISSUES in str(err.value)
    assert_clean(err.value)
    assert len(log(sim)) == 3


def test_client_never_imports_the_sandbox():
    from pathlib import Path

    import civicbot.harvest.client as module

    assert "sandbox" not in Path(module.__file__).read_text()


def test_the_client_its_errors_and_its_graphql_side_are_modules_under_600_lines():
    from pathlib import Path

    from civicbot.harvest import client, errors, graphql_client

    assert client.GitHubClient.graphql is graphql_client.GraphQLRequests.graphql
    assert client.TokenRefused is errors.TokenRefused  # still importable from the client
    for module in (client, errors, graphql_client):
        assert len(Path(module.__file__).read_text(encoding="utf-8").splitlines()) < 600, module.__name__
