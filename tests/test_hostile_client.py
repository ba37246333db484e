"""The HTTP client against a hostile server: the token stays home, every read is bounded, odd
answers become the client's own errors (docs/harvest.md "Hostile or broken answers")."""

from __future__ import annotations

import json

import pytest
import requests
from harvest_helpers import family_config
from hostile_server import Reply, Request, hostile_servers
from worlds import TOKEN, tiny_world

from civicbot.config import Config
from civicbot.harvest.client import (
    BadResponse,
    GitHubClient,
    LimitExceeded,
    OriginRefused,
    RateLimited,
    Refused,
    TokenRefused,
    TransientError,
    make_github,
)
from civicbot.harvest.run import harvest
from civicbot.harvest.transport import Refusal
from civicbot.store import open_store

LIST = "/repos/o/r/issues"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def hostile():
    yield from hostile_servers()


def config(url: str, **github) -> Config:
    settings = {"base_url": url, "per_page": 2, "timeout": 2, "total_timeout": 3, "max_body_mb": 1,
                "retry": {"total": 2, "backoff_factor": 0.001, "max_rate_limit_wait": 60},
                "throttle": {"seconds_between_requests": 0, "seconds_between_writes": 0}}
    for key, value in github.items():
        settings[key] = {**settings[key], **value} if isinstance(value, dict) else value
    return Config.model_validate({"name": "hostile", "upstream": "o/r", "github": settings})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(url: str, **github) -> GitHubClient:
    return GitHubClient(config(url, **github), [TOKEN], sleep=Sleeps())


def page_then(link: str):
    """A handler: the list's first page links to `link`; anything else is an empty page."""
    def handler(req: Request) -> Reply:
        if req.path.startswith(LIST + "?"):
            return Reply.json([{"id": 1}], headers={"Link": f'<{link}>; rel="next"'})
        return Reply.json([])
    return handler


def assert_token_stayed(github, attacker) -> None:
    assert attacker.requests == []
    assert all(r.authorization == f"token {TOKEN}" for r in github.requests)


# -- the token never leaves base_url's origin -------------------------------------------------

LINK_SHAPES = {
    "at-host": "@127.0.0.1:{a}/x",  # PyGithub glued it after host:port: the token went to :a
    "scheme-relative": "//127.0.0.1:{a}/x",
    "other-host": "http://localhost:{p}/x",
    "other-port": "http://127.0.0.1:{a}/x",
    "other-scheme": "https://127.0.0.1:{p}/x",
    "credentials": "http://u:p@127.0.0.1:{p}/x",
    "backslash": "http://127.0.0.1:{p}\\@127.0.0.1:{a}/x",
}


@pytest.mark.parametrize("shape", LINK_SHAPES)
def test_a_next_link_off_the_origin_is_refused_and_gets_no_token(hostile, shape, caplog):
    attacker = hostile(lambda req: Reply.json([{"stolen": True}]))
    holder = {}
    github = hostile(lambda req: page_then(holder["link"])(req))
    holder["link"] = LINK_SHAPES[shape].format(a=attacker.port, p=github.port)
    pages = client(github.url).list_pages(LIST)
    assert next(pages).items == [{"id": 1}]
    with pytest.raises(OriginRefused, match="link refused.*github.base_url") as err:
        next(pages)
    assert isinstance(err.value, TransientError)  # the harvester fails the repo, the run goes on
    assert_token_stayed(github, attacker)
    assert len(github.requests) == 1
    assert "refused" in caplog.text and TOKEN not in caplog.text and TOKEN not in str(err.value)


def test_a_last_link_off_the_origin_is_refused_too(hostile):
    attacker = hostile(lambda req: Reply.json([{"sha": "stolen"}]))
    github = hostile(lambda req: Reply.json([{"sha": "a"}], headers={
        "Link": f'<@127.0.0.1:{attacker.port}/repos/o/r/commits?page=9>; rel="last"'}))
    with pytest.raises(OriginRefused):
        client(github.url).last_item("/repos/o/r/commits", {"per_page": 1})
    assert_token_stayed(github, attacker)


def test_under_an_enterprise_prefix_links_are_followed_inside_it_only(hostile):
    attacker = hostile(lambda req: Reply.json([]))

    def handler(req: Request) -> Reply:
        if req.path.startswith("/api/v3" + LIST + "?"):
            return Reply.json([{"id": 1}], headers={"Link": f'<{github.url}/api/v3{LIST}/more?page=2>; rel="next"'})
        if req.path.startswith("/api/v3" + LIST + "/more"):
            return Reply.json([{"id": 2}], headers={"Link": f'<@127.0.0.1:{attacker.port}/api/v3/x>; rel="next"'})
        return Reply.json([])

    github = hostile(handler)
    pages = client(github.url + "/api/v3").list_pages(LIST)
    assert [next(pages).items, next(pages).items] == [[{"id": 1}], [{"id": 2}]]
    with pytest.raises(OriginRefused):
        next(pages)
    assert github.paths() == [f"/api/v3{LIST}?per_page=2", f"/api/v3{LIST}/more?page=2"]
    # A same-host link outside the API root is refused too: only base_url's path is asked.
    outside = client(github.url + "/api/v3")
    with pytest.raises(OriginRefused):
        outside._relative(f"{github.url}/login?x=1")
    assert_token_stayed(github, attacker)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_off_the_origin_is_refused_and_gets_no_token(hostile, status):
    attacker = hostile(lambda req: Reply.json({"id": 1}))
    github = hostile(lambda req: Reply.redirect(f"http://127.0.0.1:{attacker.port}/repos/o/r", status))
    with pytest.raises(OriginRefused, match="redirect"):
        client(github.url).get_json("/repos/o/r")
    assert_token_stayed(github, attacker)


def test_the_wire_refuses_another_host_whoever_asks(hostile):
    """Below the client (PyGithub used directly, as the labeller does): the same refusals."""
    attacker = hostile(lambda req: Reply.json({}))
    github = hostile(lambda req: Reply.json({}))
    requester = make_github(config(github.url), TOKEN).requester
    for url in (f"@127.0.0.1:{attacker.port}/x", f"http://127.0.0.1:{attacker.port}/x"):
        with pytest.raises((Refusal, AssertionError)):  # AssertionError: PyGithub's own host check
            requester.requestJsonAndCheck("GET", url)
    with pytest.raises(Refusal):
        requester.requestJson("GET", f"@127.0.0.1:{attacker.port}/x")
    with pytest.raises(Refusal):  # a copy PyGithub makes of the requester is guarded too
        requester.withLazy(False).withApiVersion("2022-11-28").requestJson("GET", f"@127.0.0.1:{attacker.port}/x")
    assert attacker.requests == [] and github.requests == []


# -- bounded reads -------------------------------------------------------------------------------

def test_an_endless_body_is_cut_at_max_body_mb(hostile):
    github = hostile(lambda req: Reply.endless())
    with pytest.raises(LimitExceeded, match="max_body_mb"):
        client(github.url).get_json("/repos/o/r")


def test_a_declared_oversize_body_is_refused_before_reading(hostile):
    github = hostile(lambda req: Reply(200, {"Content-Length": str(10**12)}, chunks=iter(()), chunked=False))
    with pytest.raises(LimitExceeded, match="max_body_mb"):
        client(github.url).get_json("/repos/o/r")


def test_a_trickling_body_ends_at_total_timeout(hostile):
    github = hostile(lambda req: Reply.trickle(every=0.5))
    with pytest.raises(LimitExceeded, match="total_timeout"):
        client(github.url, timeout=2, total_timeout=2).get_json("/repos/o/r")
    assert len(github.requests) == 1  # not retried: a refusal is final for this request


def test_trickling_headers_end_at_total_timeout(hostile):
    github = hostile(lambda req: Reply.trickle_headers(every=0.5))
    with pytest.raises(LimitExceeded, match="total_timeout"):
        client(github.url, timeout=2, total_timeout=2).get_json("/repos/o/r")
    assert len(github.requests) == 1  # urllib3 would retry a read error: not after the deadline


def test_a_next_link_to_itself_is_a_loop(hostile):
    holder = {}
    github = hostile(lambda req: Reply.json([{"id": 1}], headers={"Link": f'<{holder["self"]}>; rel="next"'}))
    holder["self"] = f"{github.url}{LIST}?page=1"
    with pytest.raises(LimitExceeded, match="Link loop"):
        list(client(github.url).list_pages(LIST))
    assert len(github.requests) == 2  # the first page, then page=1 once: its link was seen


def test_a_list_stops_at_max_pages(hostile):
    def handler(req: Request) -> Reply:
        page = int(req.path.split("page=")[-1]) if "page=" in req.path.split("?")[-1].replace("per_page", "") else 1
        return Reply.json([{"id": page}], headers={"Link": f'<{holder["url"]}{LIST}?page={page + 1}>; rel="next"'})

    holder = {}
    github = hostile(handler)
    holder["url"] = github.url
    with pytest.raises(LimitExceeded, match=r"max_pages \(5\)"):
        list(client(github.url, max_pages=5).list_pages(LIST))
    assert len(github.requests) == 5


def test_a_search_stops_at_max_pages_too(hostile):
    holder = {"n": 0}

    def handler(req: Request) -> Reply:
        holder["n"] += 1
        return Reply.json({"total_count": 10**6, "items": [{"id": holder["n"]}]},
                          headers={"Link": f'<{github.url}/search/repositories?q=x&page={holder["n"] + 1}>; rel="next"'})

    github = hostile(handler)
    with pytest.raises(LimitExceeded, match="max_pages"):
        list(client(github.url, max_pages=3).search_pages("/search/repositories", {"q": "x"}))
    assert len(github.requests) == 3


def test_a_redirect_loop_stops_at_max_redirects(hostile):
    # /a -> /b -> /a ...: PyGithub follows every 301 on the same host, without limit.
    github = hostile(lambda req: Reply.redirect(github.url + ("/repos/o/b" if req.path.startswith("/repos/o/a")
                                                              else "/repos/o/a")))
    with pytest.raises(LimitExceeded, match=r"max_redirects \(3\)"):
        client(github.url, max_redirects=3).get_json("/repos/o/a")
    assert len(github.requests) == 4


def test_a_redirect_to_itself_is_a_loop(hostile):
    github = hostile(lambda req: Reply.redirect(f"{github.url}/repos/o/a"))
    with pytest.raises(LimitExceeded, match="itself"):
        client(github.url).get_json("/repos/o/a")


# -- odd answers are the client's errors ---------------------------------------------------------

def test_an_html_page_is_a_bad_response(hostile):
    github = hostile(lambda req: Reply.text("<html><body>Sign in to continue</body></html>"))
    with pytest.raises(BadResponse, match="HTML"):
        client(github.url).get_json("/repos/o/r")
    with pytest.raises(BadResponse, match="HTML"):
        list(client(github.url).list_pages(LIST))


def test_deeply_nested_json_is_a_bad_response(hostile):
    deep = "[" * 200_000 + "]" * 200_000
    github = hostile(lambda req: Reply.text(deep, content_type="application/json"))
    with pytest.raises(BadResponse, match="nested too deeply"):
        list(client(github.url).list_pages(LIST))
    # As the body of an error answer too (the message is looked for in it).
    github.handler = lambda req: Reply.text(deep, status=500, content_type="application/json")
    with pytest.raises(TransientError):
        client(github.url).get_json("/repos/o/r")


@pytest.mark.parametrize("status", [429, 403])
def test_a_negative_retry_after_is_a_bad_response(hostile, status):
    github = hostile(lambda req: Reply.json({"message": "You have exceeded a secondary rate limit"}, status,
                                            headers={"Retry-After": "-5"}))
    c = client(github.url)
    with pytest.raises(BadResponse, match="Retry-After '-5'"):
        c.get_json("/repos/o/r")
    assert c._sleep == [] and len(github.requests) == 1


@pytest.mark.parametrize("value", ["99999999999", "1e999", "NaN"])
def test_a_huge_retry_after_is_never_slept(hostile, value):
    github = hostile(lambda req: Reply.json({"message": "You have exceeded a secondary rate limit"}, 403,
                                            headers={"Retry-After": value}))
    c = client(github.url, retry={"secondary_rate_wait": 1})
    with pytest.raises(RateLimited):  # beyond max_rate_limit_wait, or unreadable: bounded waits, then out
        c.get_json("/repos/o/r")
    assert all(s <= 60 for s in c._sleep)


def test_a_5xx_with_a_bad_retry_after_backs_off(hostile):
    github = hostile(lambda req: Reply.json({"message": "down"}, 503, headers={"Retry-After": "-1"}))
    with pytest.raises(TransientError):
        client(github.url).get_json("/repos/o/r")
    assert len(github.requests) == 3  # asked, then retried twice with backoff: the header ignored


def test_a_401_is_token_refused(hostile):
    github = hostile(lambda req: Reply.json({"message": "Bad credentials"}, 401))
    with pytest.raises(TokenRefused, match=r"the token was refused \(HTTP 401\): check github.token_env / token_file"):
        client(github.url).get_json("/repos/o/r")
    with pytest.raises(TokenRefused):
        list(client(github.url).list_pages(LIST))
    assert not issubclass(TokenRefused, TransientError)  # not one repo's failure


# -- writes are never sent twice by the transport ------------------------------------------------

def test_a_post_whose_answer_is_lost_is_sent_once(hostile):
    github = hostile(lambda req: Reply.dropped())
    requester = make_github(config(github.url), TOKEN).requester
    with pytest.raises(requests.exceptions.ConnectionError):
        requester.requestJsonAndCheck("POST", "/repos/o/r/issues/1/comments", input={"body": "hello"})
    assert github.paths("POST") == ["/repos/o/r/issues/1/comments"]
    assert json.loads(github.requests[0].body) == {"body": "hello"}
    # A GET is idempotent: the same lost answer is asked again (retry.total = 2 more times).
    with pytest.raises(requests.exceptions.ConnectionError):
        requester.requestJsonAndCheck("GET", "/repos/o/r")
    assert len(github.paths("GET")) == 3


# -- the harvester ---------------------------------------------------------------------------------

def proxy(hostile, sim, fault):
    """A hostile server in front of the simulator: answers forwarded (its URL rewritten), except
    where `fault(req)` returns a Reply."""
    holder = {}

    def handler(req: Request) -> Reply:
        bad = fault(req)
        if bad is not None:
            return bad
        headers = {k: v for k, v in req.headers.items() if k not in ("host", "content-length", "accept-encoding")}
        r = requests.request(req.method, sim.url + req.path, headers=headers, data=req.body or None,
                             allow_redirects=False, timeout=30)
        keep = {k: v.replace(sim.url, holder["url"]) for k, v in r.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding",
                                     "date", "server")}
        return Reply(r.status_code, keep, r.content.replace(sim.url.encode(), holder["url"].encode()))

    server = hostile(handler)
    holder["url"] = server.url
    return server


def test_a_hostile_answer_fails_its_repo_and_the_run_goes_on_partial(hostile, sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    faults = {"on": False}
    victim = "/repos/copycat/covid19-city/issues?"

    def fault(req: Request) -> Reply | None:
        if faults["on"] and req.path.startswith(victim):
            return Reply.json([], headers={"Link": f'<@127.0.0.1:{attacker.port}{victim}page=2>; rel="next"'})
        if faults["on"] and req.path.startswith("/repos/codeforsapporo/covid19hokkaido/labels"):
            return Reply.text("<html>Sign in</html>")
        if faults["on"] and req.path.startswith("/repos/copycat/empty/labels"):
            return Reply.endless()
        return None

    attacker = hostile(lambda req: Reply.json([]))
    github = proxy(hostile, sim, fault)
    cfg = family_config(world, github.url, tmp_path / "h.db", max_body_mb=1, total_timeout=30)
    db = open_store(cfg.database.path)
    first = harvest(cfg, db, GitHubClient(cfg, [TOKEN], sleep=lambda s: None))
    assert first.outcome == "complete", first
    before = {t: db[t].count for t in ("items", "comments", "issue_events", "repos")}

    faults["on"] = True
    second = harvest(cfg, db, GitHubClient(cfg, [TOKEN], sleep=lambda s: None), full=True)
    assert second.outcome == "partial" and second.exit_code == 3
    assert sorted(second.failed) == ["codeforsapporo/covid19hokkaido", "copycat/covid19-city", "copycat/empty"]
    assert "link refused" in second.failed["copycat/covid19-city"]
    assert "HTML" in second.failed["codeforsapporo/covid19hokkaido"]
    assert "max_body_mb" in second.failed["copycat/empty"]
    assert {t: db[t].count for t in before} == before  # nothing lost
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    run = db.execute("SELECT outcome, error FROM harvest_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert run[0] == "partial" and "copycat/covid19-city" in run[1] and TOKEN not in run[1]
    assert_token_stayed(github, attacker)


def test_a_refused_token_stops_the_harvest(hostile, tmp_path):
    github = hostile(lambda req: Reply.json({"message": "Bad credentials"}, 401))
    world = tiny_world()
    cfg = family_config(world, github.url, tmp_path / "h.db")
    db = open_store(cfg.database.path)
    result = harvest(cfg, db, GitHubClient(cfg, [TOKEN], sleep=lambda s: None))
    assert result.outcome == "failed" and result.exit_code == 77 and "token was refused" in result.error
    assert len(github.requests) == 1  # the first repo's answer stopped the run: no other repo asked
    assert db.execute("SELECT outcome FROM harvest_runs").fetchone()[0] == "failed"


def test_refusals_are_transient_errors_of_the_client():
    assert issubclass(OriginRefused, Refused) and issubclass(LimitExceeded, Refused)
    assert issubclass(Refused, TransientError)


@pytest.mark.parametrize("field, value", [("max_body_mb", 0), ("max_body_mb", 10**30), ("total_timeout", 0),
                                          ("total_timeout", float("inf")), ("max_pages", 0), ("max_pages", 10**30),
                                          ("max_redirects", -1), ("max_redirects", 10**30)])
def test_the_limits_are_bounded_in_the_config(field, value):
    with pytest.raises(ValueError, match=field):
        config("http://127.0.0.1:1", **{field: value})


def test_odd_statuses_and_a_failing_discovery_source_fail_only_themselves(hostile, sim_factory, tmp_path):
    world = tiny_world()
    sim = sim_factory(world)
    faults = {"on": False}

    def fault(req: Request) -> Reply | None:
        if faults["on"] and req.path.startswith("/repos/codeforsapporo/covid19hokkaido/labels"):
            return Reply.json({"message": "Validation Failed"}, 422)  # a status nothing expects
        if faults["on"] and req.path.startswith("/search/repositories"):
            return Reply.dropped()  # the connection is reset, however often it is asked
        return None

    github = proxy(hostile, sim, fault)
    base = family_config(world, github.url, tmp_path / "h.db")
    discovery = base.discovery.model_copy(update={"shared_root": base.discovery.shared_root.model_copy(
        update={"search_queries": ["covid19 in:name"]})})
    cfg = base.model_copy(update={"discovery": discovery})
    db = open_store(cfg.database.path)
    first = harvest(cfg, db, GitHubClient(cfg, [TOKEN], sleep=lambda s: None))
    assert first.outcome == "complete"
    before = {t: db[t].count for t in ("items", "comments", "issue_events", "repos")}

    faults["on"] = True
    result = harvest(cfg, db, GitHubClient(cfg, [TOKEN], sleep=lambda s: None), full=True)
    assert result.outcome == "partial" and result.exit_code == 3, result
    assert sorted(result.failed) == ["codeforsapporo/covid19hokkaido", "discovery search: covid19 in:name"]
    assert "422" in result.failed["codeforsapporo/covid19hokkaido"]
    # Every other repo was harvested, but for the failed fork's own fork, reached through its fork list.
    assert result.repos == first.repos - 2
    assert {t: db[t].count for t in before} == before  # nothing lost
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_harvest_command_says_the_token_was_refused_and_exits_77(hostile, tmp_path):
    import subprocess
    import sys

    from harvest_helpers import write_config

    github = hostile(lambda req: Reply.json({"message": "Bad credentials"}, 401))
    cfg = family_config(tiny_world(), github.url, tmp_path / "h.db")
    yml = write_config(cfg, tmp_path / "h.yml")
    done = subprocess.run([sys.executable, "-m", "civicbot.cli", "harvest", "-c", str(yml)], capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ, "CIVICBOT_TEST_TOKEN": TOKEN})
    assert done.returncode == 77, done.stderr
    assert "the token was refused (HTTP 401): check github.token_env / token_file" in done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stderr
    assert not (tmp_path / "h.db").exists()  # refused before anything was created


@pytest.mark.parametrize("reply", [
    lambda attacker: Reply.text("<html>Sign in to your proxy</html>"),
    lambda attacker: Reply.json([1, 2, 3]),
    lambda attacker: Reply.redirect(f"{attacker.url}/rate_limit"),
    lambda attacker: Reply.json({"message": "Not Found"}, 404),
], ids=["html", "a list", "redirect elsewhere", "404"])
def test_doctor_says_what_is_wrong_with_an_odd_api_without_a_traceback(hostile, tmp_path, reply):
    from civicbot.doctor import _api

    attacker = hostile(lambda req: Reply.json({}))
    answer = reply(attacker)
    github = hostile(lambda req: answer)
    cfg = family_config(tiny_world(), github.url, tmp_path / "h.db")
    checks = _api(cfg, TOKEN)
    assert not all(c.ok for c in checks), [c.line() for c in checks]
    assert attacker.requests == []
