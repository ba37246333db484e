"""Where a derivative started (first divergence) and how far behind it is (last sync), and the
area a site serves apart from the city of the people who run it (issue 16, points 5 and 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from conftest import ROOT
from harvest_helpers import small_family

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.diffusion import write_diffusion

TOKEN = "ghp_divergence"


def sha(label: str) -> str:
    import hashlib

    return hashlib.sha1(label.encode()).hexdigest()


def commit(label: str, date: str, *parents: str) -> dict:
    return {"sha": sha(label), "message": label, "author": None, "date": date, "parents": [sha(p) for p in parents]}


def repo(rid: int, owner: str, name: str, head: str, created: str, **extra) -> dict:
    return {"id": rid, "owner": owner, "name": name, "created_at": created, "updated_at": created,
            "pushed_at": created, "default_branch": "development", "head": sha(head), **extra}


def divergence_world() -> dict:
    """An upstream u1..u5; a fork that started at u2 and pulled the upstream again at u4; a copy
    (not a fork, same root) that started at u1 and pulled again at u3; a Hokkaido-wide site run
    from Sapporo; a Kobe city site; a Hokkaido site whose config listing names Sapporo (an
    override that stays)."""
    commits = [
        commit("root", "2020-02-28T00:00:00Z"),
        commit("u1", "2020-03-01T00:00:00Z", "root"),
        commit("u2", "2020-03-05T00:00:00Z", "u1"),
        commit("u3", "2020-03-09T00:00:00Z", "u2"),
        commit("u4", "2020-03-11T00:00:00Z", "u3"),
        commit("u5", "2020-03-20T00:00:00Z", "u4"),
        # the fork: own work on u2, then a merge of the upstream at u4, then more own work
        commit("f1", "2020-03-06T00:00:00Z", "u2"),
        commit("f-merge", "2020-03-12T00:00:00Z", "f1", "u4"),
        commit("f2", "2020-03-13T00:00:00Z", "f-merge"),
        # the copy: own work on u1, then a merge of the upstream at u3
        commit("k1", "2020-03-02T00:00:00Z", "u1"),
        commit("k-merge", "2020-03-10T00:00:00Z", "k1", "u3"),
        # region sites: each one own commit
        commit("sapporo", "2020-03-07T00:00:00Z", "u2"),
        commit("kobe", "2020-03-08T00:00:00Z", "u2"),
        commit("listed", "2020-03-08T01:00:00Z", "u2"),
    ]
    tokyo_description = "東京都 新型コロナウイルス感染症対策サイト"
    repos = [
        repo(1, "Tokyo-Metro-Gov", "covid19", "u5", "2020-02-28T00:00:00Z", description=tokyo_description),
        repo(2, "osaka-dev", "covid19", "f2", "2020-03-06T00:00:00Z", fork_parent_id=1,
             description="大阪府 新型コロナウイルス感染症対策サイト"),
        repo(3, "hyogo-dev", "covid19", "k-merge", "2020-03-02T00:00:00Z",
             description="兵庫県 新型コロナウイルス感染症対策サイト"),
        repo(4, "codeforsapporo", "covid19", "sapporo", "2020-03-07T00:00:00Z",
             description="北海道 新型コロナウイルス感染症対策サイト"),
        repo(5, "codeforjapan", "kobe-stopcovid19", "kobe", "2020-03-08T00:00:00Z",
             description="神戸市 新型コロナウイルス感染症対策サイト"),
        repo(6, "code4nagoya", "covid19", "listed", "2020-03-08T00:00:00Z", description=tokyo_description),
    ]
    users = [{"id": 100 + i, "login": r["owner"], "type": "Organization"} for i, r in enumerate(repos)]
    users.append({"id": 99, "login": "demo", "type": "User"})
    return {"format": "civicbot-sandbox-world/1", "now": "2020-03-29T00:00:00Z",
            "tokens": [{"token": TOKEN, "login": "demo"}], "users": users, "commits": commits,
            "repos": repos, "issues": [], "comments": [], "events": []}


DISCOVERY = {"listed": [{"repo": "hyogo-dev/covid19"}, {"repo": "codeforsapporo/covid19"},
                        {"repo": "codeforjapan/kobe-stopcovid19"},
                        # a config region is an override: it stays
                        {"repo": "code4nagoya/covid19", "pref_code": "23", "muni_code": "23100"}],
             "shared_root": {"search_queries": []}, "site_list": {"enabled": False}}


@pytest.fixture
def harvested(sim_factory, tmp_path):
    sim = sim_factory(divergence_world())
    config, db, _ = small_family(divergence_world(), sim.url, tmp_path / "d.db", DISCOVERY, TOKEN)
    write_diffusion(db, config)
    rows = {r["full_name"]: r for r in db.query("SELECT * FROM derivatives")}
    return sim, config, db, rows


def test_a_fork_that_pulled_the_upstream_again_has_both_first_divergence_and_last_sync(harvested):
    _, _, _, rows = harvested
    fork = rows["osaka-dev/covid19"]
    # started from u2 (its oldest own commit's parent); the merge base is u4 (the last sync)
    assert (fork["first_divergence_sha"], fork["first_divergence_date"]) == (sha("u2"), "2020-03-05T00:00:00Z")
    assert (fork["last_sync_sha"], fork["last_sync_date"]) == (sha("u4"), "2020-03-11T00:00:00Z")
    assert (fork["ahead_by"], fork["behind_by"]) == (3, 1)  # f1, the merge, f2 / u5


def test_a_copy_that_pulled_the_upstream_again_is_placed_through_its_history(harvested):
    _, _, db, rows = harvested
    copy = rows["hyogo-dev/covid19"]
    assert "shared_root" in copy["found_by"]
    assert (copy["first_divergence_sha"], copy["first_divergence_date"]) == (sha("u1"), "2020-03-01T00:00:00Z")
    assert (copy["last_sync_sha"], copy["last_sync_date"]) == (sha("u3"), "2020-03-09T00:00:00Z")
    assert (copy["ahead_by"], copy["behind_by"]) == (2, 2)  # k1, the merge / u4, u5
    method = db.execute("SELECT method FROM repo_compare WHERE repo_id = 3").fetchone()[0]
    assert method == "history"


def test_a_second_harvest_places_nothing_again_and_behind_follows_the_upstream(harvested):
    sim, config, db, _ = harvested
    requests.delete(f"{sim.url}/_sim/requests")
    again = harvest(config, db, GitHubClient(config, [TOKEN]))
    assert again.outcome == "complete" and again.quota_used == 0
    placing = [r for r in requests.get(f"{sim.url}/_sim/requests").json()["requests"]
               if "/compare/" in r["path"] or r["path"].endswith("/commits")]
    assert placing and {r["status"] for r in placing} == {304}


def test_a_prefecture_wide_site_run_from_a_city_serves_the_prefecture(harvested):
    _, _, _, rows = harvested
    sapporo = rows["codeforsapporo/covid19"]
    # the title names Hokkaido: that is the area; Sapporo is where its operator is
    assert (sapporo["pref_code"], sapporo["muni_code"]) == ("01", None)
    assert (sapporo["operator_city_code"], sapporo["operator_city"]) == ("01100", "札幌市")
    assert sapporo["region_source"] == "matcher" and "北海道" in sapporo["region_evidence"]
    kobe = rows["codeforjapan/kobe-stopcovid19"]  # a city's own site: the area is the city
    assert (kobe["pref_code"], kobe["muni_code"], kobe["operator_city"]) == ("28", "28100", None)
    nagoya = rows["code4nagoya/covid19"]  # the config's region stays an override
    assert (nagoya["pref_code"], nagoya["muni_code"], nagoya["region_source"]) == ("23", "23100", "config")
    assert nagoya["operator_city"] == "名古屋市"


def test_the_derivatives_command_shows_area_operator_first_divergence_and_last_sync(harvested, tmp_path):
    _, config, _, _ = harvested
    import yaml

    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "civicbot.cli", "derivatives", "-c", str(path)], cwd=ROOT,
                         capture_output=True, text=True, encoding="utf-8", timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "", "COLUMNS": "250"})
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "codeforsapporo/covid19" in x)
    assert "北海道" in line and "operator: 札幌市" in line
    line = next(x for x in out.stdout.splitlines() if "osaka-dev/covid19" in x)
    assert "started 2020-03-05" in line and "last sync 2020-03-11" in line and "+3/-1" in line


def test_a_copy_whose_newest_100_commits_are_all_its_own_is_still_placed(sim_factory, tmp_path):
    world = divergence_world()
    # 150 data updates on top of the copy's merge: its first history page holds no upstream commit
    parent = "k-merge"
    for n in range(150):
        world["commits"].append(commit(f"data-{n}", f"2020-03-{21 + n // 24:02d}T{n % 24:02d}:00:00Z", parent))
        parent = f"data-{n}"
    next(r for r in world["repos"] if r["id"] == 3)["head"] = sha(parent)
    sim = sim_factory(world)
    config, db, _ = small_family(world, sim.url, tmp_path / "big.db", DISCOVERY, TOKEN)
    write_diffusion(db, config)
    copy = next(db.query("SELECT * FROM derivatives WHERE full_name = 'hyogo-dev/covid19'"))
    assert (copy["first_divergence_sha"], copy["last_sync_sha"]) == (sha("u1"), sha("u3"))
    assert (copy["ahead_by"], copy["behind_by"]) == (152, 2)
