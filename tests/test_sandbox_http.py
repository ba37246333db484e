"""The simulator behaves like api.github.com wherever a client can tell."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from conftest import ROOT, github
from github import GithubException, RateLimitExceededException, UnknownObjectException
from worlds import READONLY_TOKEN, TOKEN

AUTH = {"Authorization": f"token {TOKEN}"}
UPSTREAM = "/repos/Tokyo-Metro-Gov/covid19"


def requests_log(sim, after: int = 0) -> list[dict]:
    return requests.get(f"{sim.url}/_sim/requests", params={"after": after}).json()["requests"]


def test_link_headers_carry_every_parameter_and_the_simulators_address(sim):
    r = requests.get(f"{sim.url}{UPSTREAM}/issues", headers=AUTH,
                     params={"state": "all", "since": "2020-01-01T00:00:00Z", "sort": "updated",
                             "direction": "asc", "per_page": 2})
    links = requests.utils.parse_header_links(r.headers["Link"])
    assert {link["rel"] for link in links} == {"next", "last"}
    for link in links:
        url = urlparse(link["url"])
        assert f"{url.scheme}://{url.netloc}" == sim.url
        query = parse_qs(url.query)
        assert query["state"] == ["all"] and query["since"] == ["2020-01-01T00:00:00Z"]
        assert query["sort"] == ["updated"] and query["direction"] == ["asc"] and query["per_page"] == ["2"]
    second = requests.get(links[0]["url"], headers=AUTH)
    rels = {link["rel"] for link in requests.utils.parse_header_links(second.headers["Link"])}
    assert rels == {"prev", "first"}  # the last page has no next
    for field in ("url", "repository_url", "comments_url", "html_url"):
        assert r.json()[0][field].startswith(sim.url)


def test_per_page_is_capped_at_100_and_junk_means_default(sim):
    assert len(requests.get(f"{sim.url}{UPSTREAM}/issues?state=all&per_page=500", headers=AUTH).json()) == 4
    assert requests.get(f"{sim.url}{UPSTREAM}/issues?per_page=abc", headers=AUTH).status_code == 200


def test_issue_list_filters(sim):
    def numbers(**params):
        return [i["number"] for i in requests.get(f"{sim.url}{UPSTREAM}/issues", headers=AUTH, params=params).json()]

    assert numbers() == [4, 3]  # default: open only, newest first
    assert numbers(state="all", direction="asc") == [1, 2, 3, 4]
    assert numbers(state="all", sort="updated", direction="asc", since="2020-03-05T00:00:00Z") == [3, 4]
    assert numbers(state="all", since="2020-03-05T09:00:00+09:00") == [4, 3]  # offsets are honoured
    assert numbers(state="all", labels="good first issue") == [3]
    bad = requests.get(f"{sim.url}{UPSTREAM}/issues?state=bogus", headers=AUTH)
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"


def test_conditional_request_is_free_and_sees_writes(sim):
    url = f"{sim.url}{UPSTREAM}/issues?state=all"
    first = requests.get(url, headers=AUTH)
    etag, remaining = first.headers["ETag"], int(first.headers["x-ratelimit-remaining"])
    again = requests.get(url, headers={**AUTH, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining  # a 304 costs nothing
    assert requests_log(sim)[-1]["quota"] == 0
    by_date = requests.get(url, headers={**AUTH, "If-Modified-Since": first.headers["Last-Modified"]})
    assert by_date.status_code == 304

    issue = github(sim.url).get_repo("Tokyo-Metro-Gov/covid19").get_issue(3)
    issue.create_comment("ありがとう")
    after = requests.get(url, headers={**AUTH, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert {i["number"]: i["comments"] for i in after.json()}[3] == 2
    assert int(after.headers["x-ratelimit-remaining"]) == remaining - 2  # the comment and this read


def test_pygithub_single_object_update_uses_the_etag(sim):
    repo = github(sim.url).get_repo("Tokyo-Metro-Gov/covid19")
    assert repo.update() is True  # lazy: the first read fetches, and keeps ETag / Last-Modified
    assert repo.etag.startswith('W/"') and repo.last_modified.endswith("GMT")
    assert repo.update() is False  # 304 Not Modified


def test_writes_change_later_reads_and_events(sim):
    repo = github(sim.url).get_repo("Tokyo-Metro-Gov/covid19")
    issue = repo.get_issue(3)
    issue.add_to_labels("help wanted")
    assert [x.name for x in repo.get_issue(3).labels] == ["good first issue", "翻訳", "help wanted"]
    assert "help wanted" in [x.name for x in repo.get_labels()]  # unknown labels are created
    issue.remove_from_labels("good first issue")
    newest = list(repo.get_issues_events())[:2]
    events = [(e.event, e.raw_data["label"]["name"], e.actor.login) for e in newest]
    assert events == [("unlabeled", "good first issue", "civicbot-demo"), ("labeled", "help wanted", "civicbot-demo")]
    with pytest.raises(GithubException) as missing:
        issue.remove_from_labels("no such label")
    assert missing.value.status == 404 and missing.value.data["message"] == "Label does not exist"
    comment = issue.create_comment("This looks like a good first issue / 初めての方向けです")
    assert comment.user.login == "civicbot-demo"
    assert [c.id for c in repo.get_issues_comments()][-1] == comment.id


def test_write_needs_a_token_that_may_write(sim):
    url = f"{sim.url}{UPSTREAM}/issues/3/labels"
    assert requests.post(url, json={"labels": ["x"]}).status_code == 401
    denied = requests.post(url, json={"labels": ["x"]}, headers={"Authorization": f"Bearer {READONLY_TOKEN}"})
    assert denied.status_code == 403 and "not accessible" in denied.json()["message"]
    assert requests.post(url, json={"labels": "x"}, headers=AUTH).status_code == 422
    assert requests.post(f"{sim.url}{UPSTREAM}/issues/3/comments", json={}, headers=AUTH).status_code == 422


def test_tokens_and_buckets(sim):
    bad = requests.get(f"{sim.url}{UPSTREAM}", headers={"Authorization": "token nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    anonymous = requests.get(f"{sim.url}{UPSTREAM}")
    assert anonymous.headers["x-ratelimit-limit"] == "60"
    bearer = requests.get(f"{sim.url}{UPSTREAM}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.headers["x-ratelimit-limit"] == "5000" and bearer.headers["x-ratelimit-resource"] == "core"
    search = requests.get(f"{sim.url}/search/repositories?q=covid19", headers=AUTH)
    assert search.headers["x-ratelimit-resource"] == "search" and search.headers["x-ratelimit-limit"] == "30"
    limits = requests.get(f"{sim.url}/rate_limit", headers=AUTH).json()
    assert limits["resources"]["core"]["used"] == 1 and limits["resources"]["search"]["used"] == 1
    assert requests.get(f"{sim.url}/user").status_code == 401
    assert requests.get(f"{sim.url}/user", headers=AUTH).json()["login"] == "civicbot-demo"


def test_quota_exhausted_gives_githubs_403(sim):
    requests.post(f"{sim.url}/_sim/quota", json={"token": TOKEN, "remaining": 0, "reset_in": 3600})
    r = requests.get(f"{sim.url}{UPSTREAM}", headers=AUTH)
    assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"
    assert r.json()["message"].startswith("API rate limit exceeded for user ID ")
    assert r.json()["documentation_url"].endswith("rate-limits-for-the-rest-api")
    assert int(r.headers["x-ratelimit-reset"]) > time.time() + 3000
    with pytest.raises(RateLimitExceededException):
        github(sim.url).get_repo("Tokyo-Metro-Gov/covid19").get_issue(1).title
    anon = requests.post(f"{sim.url}/_sim/quota", json={"ip": "127.0.0.1", "remaining": 0}).json()
    assert anon["identity"] == "ip:127.0.0.1"
    assert "good news" in requests.get(f"{sim.url}{UPSTREAM}").json()["message"]


def test_renamed_repo_answers_301_and_pygithub_follows(sim):
    r = requests.get(f"{sim.url}/repos/tokyo-metropolitan-gov/covid19/issues?state=all", headers=AUTH,
                     allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["Location"] == f"{sim.url}/repositories/10/issues?state=all"
    repo = github(sim.url).get_repo("tokyo-metropolitan-gov/covid19")
    assert repo.id == 10 and repo.full_name == "Tokyo-Metro-Gov/covid19"
    assert len(list(repo.get_issues(state="all"))) == 4
    assert github(sim.url).get_repo(10).full_name == "Tokyo-Metro-Gov/covid19"


def test_deleted_taken_down_empty_and_private_repos(sim):
    g = github(sim.url)
    with pytest.raises(UnknownObjectException):
        g.get_repo("gone/covid19-deleted").id
    blocked = requests.get(f"{sim.url}/repos/gone/covid19-blocked", headers=AUTH)
    assert blocked.status_code == 451 and blocked.json()["block"]["reason"] == "dmca"
    with pytest.raises(GithubException) as err:
        g.get_repo("gone/covid19-blocked").id
    assert err.value.status == 451
    empty = requests.get(f"{sim.url}/repos/copycat/empty/commits", headers=AUTH)
    assert empty.status_code == 409 and empty.json()["message"] == "Git Repository is empty."
    assert requests.get(f"{sim.url}/repos/copycat/secret", headers=AUTH).status_code == 404
    forks = [f["full_name"] for f in requests.get(f"{sim.url}{UPSTREAM}/forks", headers=AUTH).json()]
    assert forks == ["codeforsapporo/covid19hokkaido"]  # the deleted fork is gone from the list


def test_admin_changes_repo_status_and_name(sim):
    requests.post(f"{sim.url}/_sim/world", json={"repo": "copycat/covid19-city", "action": "rename",
                                                "to": "copycat/covid19-machida"}).raise_for_status()
    moved = requests.get(f"{sim.url}/repos/copycat/covid19-city", headers=AUTH, allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/repositories/13")
    requests.post(f"{sim.url}/_sim/world", json={"repo": "copycat/covid19-machida", "action": "status",
                                                "status": "deleted"}).raise_for_status()
    assert requests.get(f"{sim.url}/repositories/13", headers=AUTH).status_code == 404
    bad = requests.post(f"{sim.url}/_sim/world", json={"repo": "no/such", "action": "status"})
    assert bad.status_code == 400 and "no repo" in bad.json()["message"]


def test_commits_find_the_root_and_compare_counts_ahead_and_behind(sim):
    g = github(sim.url, per_page=1)
    commits = g.get_repo("codeforsapporo/covid19hokkaido").get_commits()
    assert commits.totalCount == 3
    assert commits.reversed[0].sha == "dc76e9f0c0006e8f919e0c515c66dbba3982f785"  # sha("root")
    cmp = g.get_repo("Tokyo-Metro-Gov/covid19").compare("development", "codeforsapporo:development")
    assert (cmp.status, cmp.ahead_by, cmp.behind_by) == ("diverged", 1, 1)
    same = requests.get(f"{sim.url}{UPSTREAM}/compare/development...development", headers=AUTH).json()
    assert same["status"] == "identical" and same["ahead_by"] == 0
    foreign = requests.get(f"{sim.url}{UPSTREAM}/compare/development...nobody:main", headers=AUTH)
    assert foreign.status_code == 404


def test_search_repositories_subset(sim):
    def names(q):
        r = requests.get(f"{sim.url}/search/repositories", params={"q": q}, headers=AUTH)
        assert r.status_code == 200, r.text
        return sorted(i["full_name"] for i in r.json()["items"])

    assert names("covid19") == ["Tokyo-Metro-Gov/covid19", "copycat/covid19-city"]  # forks excluded by default
    assert "codeforsapporo/covid19hokkaido" in names("covid19 fork:true")
    assert names("covid19 fork:only") == ["codeforsapporo/covid19hokkaido", "hokkaido-dev/covid19hokkaido"]
    assert names("topic:covid19-japan") == ["Tokyo-Metro-Gov/covid19"]
    assert names("tokyo in:readme") == ["Tokyo-Metro-Gov/covid19", "copycat/covid19-city"]
    assert names("北海道 fork:true") == ["codeforsapporo/covid19hokkaido"]
    assert names("user:copycat covid19") == ["copycat/covid19-city"]
    missing = requests.get(f"{sim.url}/search/repositories", headers=AUTH)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "q"
    assert [r.full_name for r in github(sim.url).search_repositories("city in:description")] == ["copycat/covid19-city"]


def test_enterprise_style_base_url(sim):
    g = github(f"{sim.url}/api/v3", per_page=2)
    repo = g.get_repo("Tokyo-Metro-Gov/covid19")
    issues = list(repo.get_issues(state="all"))
    assert [i.number for i in issues] == [4, 3, 2, 1]
    assert issues[0].url == f"{sim.url}/api/v3/repos/Tokyo-Metro-Gov/covid19/issues/4"
    assert requests.get(f"{sim.url}/_sim/requests").json()["count"] == 2  # two pages, both under /api/v3


def test_request_counter_records_every_request(sim):
    requests.get(f"{sim.url}{UPSTREAM}", headers=AUTH)
    requests.get(f"{sim.url}/repos/no/such", headers=AUTH)
    log = requests.get(f"{sim.url}/_sim/requests").json()
    assert log["count"] == 2 and log["quota_used"] == 2
    assert [(r["method"], r["path"], r["status"], r["login"]) for r in log["requests"]] == [
        ("GET", UPSTREAM, 200, "civicbot-demo"), ("GET", "/repos/no/such", 404, "civicbot-demo")]
    requests.delete(f"{sim.url}/_sim/requests")
    assert requests.get(f"{sim.url}/_sim/requests").json()["count"] == 0


def test_request_log_file(sim_factory, tmp_path):
    server = sim_factory(log_path=tmp_path / "requests.jsonl")
    requests.get(f"{server.url}{UPSTREAM}/labels", headers=AUTH)
    rows = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert [(r["path"], r["status"], r["quota"]) for r in rows] == [(f"{UPSTREAM}/labels", 200, 1)]


def test_cli_serve_prints_its_address_and_serves(tmp_path):
    from worlds import tiny_world

    world = tmp_path / "world.json"
    world.write_text(json.dumps(tiny_world()), encoding="utf-8")
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, "-m", "civicbot.cli", "sandbox", "serve", "--world", str(world),
                             "--port", "0", "--url-file", str(url_file)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            if url_file.exists() and url_file.read_text().strip():
                break
            time.sleep(0.1)
        url = url_file.read_text().strip()
        assert requests.get(f"{url}{UPSTREAM}").json()["id"] == 10
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert f"base URL:  {url}" in output
    assert f"GraphQL:   {url}/graphql" in output  # GitHub's schema is built before the first query


def test_cli_rejects_a_bad_world(tmp_path):
    world = tmp_path / "world.json"
    world.write_text('{"format": "civicbot-sandbox-world/1", "users": []}', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "civicbot.cli", "sandbox", "validate", str(world)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "'repos' is a required property" in result.stderr


def test_list_repositories_of_a_user_and_of_an_organization(sim_factory):
    from worlds import tiny_world

    world = tiny_world()
    world["tokens"].append({"token": "copycat-token", "login": "copycat"})
    sim = sim_factory(world)

    def names(path, token=TOKEN, **params):
        r = requests.get(f"{sim.url}{path}", params=params, headers={"Authorization": f"token {token}"})
        assert r.status_code == 200, r.text
        return [x["full_name"] for x in r.json()]

    # default: type=owner, sort=full_name asc; the private repo only for its owner's token
    assert names("/users/copycat/repos") == ["copycat/covid19-city", "copycat/empty"]
    assert names("/users/copycat/repos", token="copycat-token") == [
        "copycat/covid19-city", "copycat/empty", "copycat/secret"]
    assert names("/users/COPYCAT/repos", sort="created") == ["copycat/covid19-city", "copycat/empty"]  # desc
    assert names("/users/copycat/repos", sort="created", direction="asc") == ["copycat/empty", "copycat/covid19-city"]
    assert names("/users/copycat/repos", sort="full_name", direction="desc") == ["copycat/empty", "copycat/covid19-city"]
    page = requests.get(f"{sim.url}/users/copycat/repos?per_page=1&page=2", headers=AUTH)
    assert [x["full_name"] for x in page.json()] == ["copycat/empty"]
    assert {link["rel"] for link in requests.utils.parse_header_links(page.headers["Link"])} == {"prev", "first"}
    first = page.json()[0]
    assert first["fork"] is False and first["owner"]["login"] == "copycat" and first["url"].startswith(sim.url)
    assert names("/users/gone/repos") == []  # deleted and taken down are left out
    assert names("/users/codeforsapporo/repos") == ["codeforsapporo/covid19hokkaido"]  # an org works here too
    # member (simulated as for author_association: merged a PR in the repo)
    assert names("/users/maintainer/repos") == []
    assert names("/users/maintainer/repos", type="member") == names("/users/maintainer/repos", type="all") == [
        "Tokyo-Metro-Gov/covid19"]

    assert names("/orgs/codeforsapporo/repos") == ["codeforsapporo/covid19hokkaido"]
    assert names("/orgs/codeforsapporo/repos", type="forks") == ["codeforsapporo/covid19hokkaido"]
    assert names("/orgs/codeforsapporo/repos", type="sources") == []
    assert names("/orgs/Tokyo-Metro-Gov/repos", type="public") == ["Tokyo-Metro-Gov/covid19"]
    for path in ("/users/nobody/repos", "/orgs/nobody/repos", "/orgs/copycat/repos"):  # copycat is a User
        missing = requests.get(f"{sim.url}{path}", headers=AUTH)
        assert missing.status_code == 404 and missing.json()["message"] == "Not Found", path
    bad = requests.get(f"{sim.url}/users/copycat/repos?sort=stars", headers=AUTH)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sort"

    g = github(sim.url, per_page=1)
    assert [r.full_name for r in g.get_user("copycat").get_repos()] == ["copycat/covid19-city", "copycat/empty"]
    assert [r.name for r in g.get_user("copycat").get_repos(sort="created", direction="asc")] == ["empty", "covid19-city"]
    assert [r.full_name for r in g.get_organization("codeforsapporo").get_repos(type="forks")] == [
        "codeforsapporo/covid19hokkaido"]
    with pytest.raises(UnknownObjectException):
        list(g.get_user("nobody").get_repos())


def test_latency_holds_every_api_answer_and_observers_see_each_request(sim_factory):
    import time

    import requests as http

    sim = sim_factory(latency_ms=120)
    seen = []
    sim.app.observers.append(lambda entry: seen.append((entry["method"], entry["path"], entry["status"])))
    started = time.perf_counter()
    response = http.get(f"{sim.url}/repos/Tokyo-Metro-Gov/covid19", headers={"Authorization": f"token {TOKEN}"})
    api_seconds = time.perf_counter() - started
    assert http.get(f"{sim.url}/_sim/health").json()["requests"] == 1  # admin routes are not logged
    assert response.status_code == 200
    assert api_seconds >= 0.12  # a lower bound: held at least the latency, however loaded the machine
    assert seen == [("GET", "/repos/Tokyo-Metro-Gov/covid19", 200)]


def test_the_app_and_its_routes_are_modules_under_600_lines_each_with_a_handler_for_every_route():
    from pathlib import Path

    from civicbot.sandbox import account_routes, answers, app, repo_routes

    for module in (app, answers, repo_routes, account_routes):
        assert len(Path(module.__file__).read_text(encoding="utf-8").splitlines()) < 600, module.__name__
    for rule in app.URLS.iter_rules():
        kind, name = rule.endpoint
        handlers = [m for m in ("get", "post", "delete") if hasattr(app.Simulator, f"{m}_{name}")]
        assert handlers, rule.rule
