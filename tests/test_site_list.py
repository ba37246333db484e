"""Discovery from the upstream's own list of derived sites (issue 16, point 7): the parser, and
the harvest against the simulator (contents API, conditional), the restarted-history copy that
only the list finds, and listed sites without a repo counted as regional sites."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from harvest_helpers import small_family

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.harvest.site_list import github_repo, parse_site_list
from civicbot.metrics.diffusion import write_diffusion

SITE_LIST = (Path(__file__).parent / "data" / "FORKED_SITES.md").read_text(encoding="utf-8")
TOKEN = "ghp_site_list"
RESTARTED = "codefortoda/covid19-saitama"


# -- the parser ----------------------------------------------------------------------------------

def test_a_realistic_forked_sites_file_gives_every_entry_once():
    entries = parse_site_list(SITE_LIST)
    assert len(entries) == 24  # 22 table rows and 2 list items; prose links are not entries
    by_repo = {e.repo: e for e in entries if e.repo}
    assert len(by_repo) == 19
    sapporo = by_repo["codeforsapporo/covid19"]
    assert (sapporo.region, sapporo.operator, sapporo.site_url) == ("北海道", "Code for Sapporo",
                                                                    "https://stopcovid19.hokkaido.dev/")
    # /tree/branch links, trailing slashes, .git and <autolinks> all name the repo
    assert {"codefortoda/covid19-saitama", "Code-for-Fukuoka/covid19", "code4shiogama/covid19-miyagi",
            "covid19-yamanashi/covid19", "civictechzenchiba/covid19-chiba", "CodeForNiigata/covid19"} <= set(by_repo)
    # a *.github.io page is the site, never taken for a repo
    assert by_repo[RESTARTED].site_url == "https://codefortoda.github.io/covid19-saitama/"
    assert by_repo["code4shiogama/covid19-miyagi"].site_url == "https://code4shiogama.github.io/covid19-miyagi/"
    assert by_repo["codeforjapan/kobe-stopcovid19"].region == "兵庫県神戸市"


def test_sites_without_a_github_repo_are_kept_with_their_region():
    without = {e.site_url: e for e in parse_site_list(SITE_LIST) if e.repo is None}
    assert set(without) == {
        "https://www.pref.kanagawa.jp/docs/ga4/covid19/", "https://web.pref.hyogo.lg.jp/kk03/corona_kanjyajyokyo.html",
        "https://stopcovid19-nara.netlify.app/", "https://okinawa.stopcovid19.jp/", "https://covid19.codeforaomori.org/"}
    assert without["https://covid19.codeforaomori.org/"].region == "青森県"
    assert without["https://covid19.codeforaomori.org/"].operator == "Code for Aomori"
    assert without["https://stopcovid19-nara.netlify.app/"].region == "奈良県"


def test_list_items_and_links_about_a_repo():
    entries = parse_site_list("# Sites\n\nSee [the guide](https://github.com/Tokyo-Metro-Gov/covid19/blob/development/README.md).\n\n"
                              "- 岩手県 [岩手県版](https://iwate-covid19.github.io/) ([GitHub](https://github.com/iwate-covid19/iwate-covid19.github.io))\n"
                              "* https://github.com/someone/covid19-gifu/ 岐阜県\n"
                              "1. 石川県: <https://github.com/Code-for-Kanazawa/covid19.git>\n")
    assert [(e.repo, e.site_url, e.region) for e in entries] == [
        ("iwate-covid19/iwate-covid19.github.io", "https://iwate-covid19.github.io/", "岩手県"),
        ("someone/covid19-gifu", None, "岐阜県"),
        ("Code-for-Kanazawa/covid19", None, "石川県"),
    ]


@pytest.mark.parametrize("url, repo", [
    ("https://github.com/codeforsapporo/covid19", "codeforsapporo/covid19"),
    ("https://github.com/codeforsapporo/covid19/", "codeforsapporo/covid19"),
    ("http://www.github.com/codefortoda/covid19-saitama/tree/development/", "codefortoda/covid19-saitama"),
    ("https://github.com/civictechzenchiba/covid19-chiba.git", "civictechzenchiba/covid19-chiba"),
    ("https://github.com/Tokyo-Metro-Gov/covid19/blob/development/FORKED_SITES.md", None),
    ("https://github.com/Tokyo-Metro-Gov/covid19/issues/12", None),
    ("https://github.com/orgs/codeforjapan/repositories", None),
    ("https://github.com/codeforsapporo", None),
    ("https://codefortoda.github.io/covid19-saitama/", None),
])
def test_github_repo_links(url, repo):
    assert github_repo(url) == repo


# -- discovery end to end -------------------------------------------------------------------------

def _sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


def site_list_world() -> dict:
    """An upstream whose FORKED_SITES.md lists a fork, a copy sharing its root, a restarted
    history (neither a fork nor sharing the root: found only through the list) and sites
    without a repo."""
    commits = [
        {"sha": _sha("root"), "message": "init", "author": None, "date": "2020-03-01T00:00:00Z", "parents": []},
        {"sha": _sha("u1"), "message": "u1", "author": None, "date": "2020-03-05T00:00:00Z", "parents": [_sha("root")]},
        {"sha": _sha("fork"), "message": "北海道版", "author": None, "date": "2020-03-06T00:00:00Z", "parents": [_sha("u1")]},
        {"sha": _sha("copy"), "message": "千葉県版", "author": None, "date": "2020-03-07T00:00:00Z", "parents": [_sha("u1")]},
        {"sha": _sha("restart"), "message": "埼玉県版 (new history)", "author": None, "date": "2020-03-13T00:00:00Z",
         "parents": []},
    ]

    def repo(rid, full_name, head, **extra):
        owner, name = full_name.split("/")
        return {"id": rid, "owner": owner, "name": name, "created_at": "2020-03-01T00:00:00Z",
                "updated_at": "2020-03-20T00:00:00Z", "pushed_at": "2020-03-20T00:00:00Z",
                "default_branch": "development", "head": _sha(head), **extra}

    repos = [
        repo(1, "Tokyo-Metro-Gov/covid19", "u1", description="東京都 新型コロナウイルス感染症対策サイト",
             files={"FORKED_SITES.md": SITE_LIST}),
        repo(2, "codeforsapporo/covid19", "fork", fork_parent_id=1),
        repo(3, "civictechzenchiba/covid19-chiba", "copy"),
        repo(4, RESTARTED, "restart", description="埼玉県 新型コロナウイルス感染症対策サイト"),
    ]
    users = [{"id": 10 + r["id"], "login": r["owner"], "type": "Organization"} for r in repos]
    users.append({"id": 9, "login": "demo", "type": "User"})
    return {"format": "civicbot-sandbox-world/1", "now": "2020-03-29T00:00:00Z",
            "tokens": [{"token": TOKEN, "login": "demo"}], "users": users, "commits": commits, "repos": repos,
            "issues": [], "comments": [], "events": []}


def discovery(**site_list) -> dict:
    return {"shared_root": {"search_queries": [], "topics": []}, "site_list": site_list}


def _methods(db) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, method in db.execute("SELECT r.full_name, d.method FROM discoveries d JOIN repos r ON r.id = d.repo_id"):
        found.setdefault(name, set()).add(method)
    return found


@pytest.fixture
def listed(sim_factory, tmp_path):
    sim = sim_factory(site_list_world())
    config, db, result = small_family(site_list_world(), sim.url, tmp_path / "s.db", discovery(), TOKEN)
    return sim, config, db, result


def test_the_restarted_history_copy_is_found_only_through_the_upstreams_list(listed, sim_factory, tmp_path):
    _, _, db, result = listed
    found = _methods(db)
    assert found[RESTARTED] == {"site_list"}
    assert found["codeforsapporo/covid19"] == {"fork", "site_list"}
    assert found["civictechzenchiba/covid19-chiba"] == {"site_list", "shared_root"}
    evidence = db.execute("SELECT evidence FROM discoveries d JOIN repos r ON r.id = d.repo_id "
                          "WHERE r.full_name = ? AND method = 'site_list'", [RESTARTED]).fetchone()[0]
    assert evidence == "listed in Tokyo-Metro-Gov/covid19 FORKED_SITES.md: 埼玉県"
    # listed repos that are not on GitHub (most of this list here) do not fail the run
    assert not db.execute("SELECT 1 FROM repos WHERE full_name = 'FukushimaDevs/covid19'").fetchone()
    # without the list, nothing else finds it
    sim = sim_factory(site_list_world())
    _, off, _ = small_family(site_list_world(), sim.url, tmp_path / "off.db", discovery(enabled=False), TOKEN)
    assert RESTARTED not in _methods(off)


def test_a_second_harvest_with_the_list_unchanged_costs_no_quota(listed):
    sim, config, db, _ = listed
    requests.delete(f"{sim.url}/_sim/requests")
    again = harvest(config, db, GitHubClient(config, [TOKEN]))
    assert again.outcome == "complete" and again.quota_used == 0
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    assert not [r for r in log if "/contents/" in r["path"]]  # the upstream was not pushed: not even asked
    assert _methods(db)[RESTARTED] == {"site_list"}  # and still harvested from the stored list
    # after a push (seen here as a new pushed_at) the file is asked conditionally: 304, no quota
    with db.conn:
        db.execute("UPDATE sync_state SET cursor = '2020-03-19T00:00:00Z FORKED_SITES.md' WHERE resource = 'site_list'")
    requests.delete(f"{sim.url}/_sim/requests")
    third = harvest(config, db, GitHubClient(config, [TOKEN]))
    assert third.outcome == "complete" and third.quota_used == 0
    contents = [r for r in requests.get(f"{sim.url}/_sim/requests").json()["requests"] if "/contents/" in r["path"]]
    assert [(r["path"], r["status"]) for r in contents] == [("/repos/Tokyo-Metro-Gov/covid19/contents/FORKED_SITES.md", 304)]


def test_listed_sites_without_a_repo_count_as_regional_sites(listed):
    _, config, db, _ = listed
    write_diffusion(db, config)
    sites = {r["site_url"]: r for r in db.query("SELECT * FROM listed_sites WHERE repo_full_name IS NULL")}
    assert sites["https://www.pref.kanagawa.jp/docs/ga4/covid19/"]["pref_code"] == "14"
    assert sites["https://covid19.codeforaomori.org/"]["pref_code"] == "02"
    by_pref = {r["pref_code"]: r for r in db.query("SELECT * FROM diffusion_by_prefecture")}
    assert (by_pref["14"]["derivatives"], by_pref["14"]["listed_sites"], by_pref["14"]["regional_sites"]) == (0, 1, 1)
    assert by_pref["11"]["derivatives"] == 1  # the restarted copy, placed by its listed region
    row = db.execute("SELECT pref_code, region_source FROM derivatives WHERE full_name = ?", [RESTARTED]).fetchone()
    assert tuple(row) == ("11", "site_list")
    # a city named by the list is the area (兵庫県神戸市 -> 28100), kept with the entry
    kobe = db.execute("SELECT pref_code, muni_code FROM listed_sites WHERE repo_full_name = "
                      "'codeforjapan/kobe-stopcovid19'").fetchone()
    assert tuple(kobe) == ("28", "28100")


def test_the_generated_world_lists_its_restarted_history_in_forked_sites():
    from civicbot.sandbox.generate import family_truth, generate_world_dict

    world = generate_world_dict(3, 0.2)
    upstream = next(r for r in world["repos"] if r["owner"] == "Tokyo-Metro-Gov" and r["name"] == "covid19")
    listed = {e.repo.lower() for e in parse_site_list(upstream["files"]["FORKED_SITES.md"]) if e.repo}
    truth = family_truth(world)
    restarted = {f"{r['owner']}/{r['name']}".lower() for r in world["repos"]
                 if r["id"] in truth["restarted"] and r.get("head")}
    assert restarted and restarted <= listed


def test_the_tokyo_world_lists_all_15_regional_sites_saitama_included(shared_data):
    from civicbot.sandbox.tokyo import world_from_tokyo_data

    world = world_from_tokyo_data(shared_data)
    upstream = next(r for r in world["repos"] if r["owner"] == "Tokyo-Metro-Gov")
    entries = {e.repo: e.region for e in parse_site_list(upstream["files"]["FORKED_SITES.md"])}
    assert len(entries) == 15 and entries[RESTARTED] == "埼玉県"
    assert entries["codeforjapan/kobe-stopcovid19"] == "兵庫県神戸市"
