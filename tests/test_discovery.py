"""Finding every regional derivative, placing it on the map, and the diffusion tables."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import requests
from conftest import ROOT

from civicbot.config import Config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.diffusion import write_diffusion
from civicbot.regions import match_region
from civicbot.store import open_store

TOKYO_ROOT = "d2a15089aff26265dd661b9e3dd91056ff34ec39"
RESTARTED = "codefortoda/covid19-saitama"


def tokyo_config(url: str, db_path, **discovery) -> Config:
    return Config.model_validate({
        "name": "tokyo-test", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo",
        "github": {"base_url": url},
        # The restarted-history site is listed, with no region hint: regions must come from names.
        # The upstream's FORKED_SITES.md would find them all first (tests/test_site_list.py):
        # here they must be found by shared history.
        "discovery": {"listed": [{"repo": RESTARTED}], "site_list": {"enabled": False},
                      "shared_root": {"search_queries": ["covid19 in:name"]}, **discovery},
        "database": {"path": str(db_path)},
        # Reviews cost a request per PR, spread over runs by the budget (tests/test_reviews.py):
        # left out here, where a second harvest must show that no candidate is checked again.
        "harvest": {"review_budget": 0},
    })


@pytest.fixture
def tokyo(shared_data, sim_factory, tmp_path):
    from civicbot.sandbox.tokyo import world_from_tokyo_data

    world = world_from_tokyo_data(shared_data)
    sim = sim_factory(world)
    config = tokyo_config(sim.url, tmp_path / "tokyo.db")
    db = open_store(config.database.path)
    result = harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]]))
    assert result.outcome == "complete", result
    write_diffusion(db, config)
    rows = list(csv.DictReader((shared_data / "derivatives.csv").open(encoding="utf-8")))
    return world, sim, config, db, rows


def test_tokyo_derivatives_are_found_by_shared_history(tokyo):
    world, sim, config, db, rows = tokyo
    assert all(r.get("fork_parent_id") is None for r in world["repos"])  # none is marked as a fork
    found = {}
    for name, method in db.execute("SELECT r.full_name, d.method FROM discoveries d JOIN repos r ON r.id = d.repo_id"):
        found.setdefault(name.lower(), set()).add(method)
    sharing = [r["repo"] for r in rows if r["shares_tokyo_root"] == "True"]
    assert len(sharing) == 14
    for repo in sharing:
        assert "shared_root" in found[repo.lower()], repo
    assert found[RESTARTED.lower()] == {"listed"}  # only the listing finds the restarted history
    evidence = db.execute("SELECT evidence FROM discoveries WHERE method = 'shared_root' LIMIT 1").fetchone()[0]
    assert TOKYO_ROOT in evidence
    outcomes = dict(db.execute("SELECT outcome, count(*) FROM candidates GROUP BY outcome").fetchall())
    assert outcomes.get("shared_root") == 14


def test_tokyo_regions_come_from_owner_and_name_alone(tokyo):
    world, sim, config, db, rows = tokyo
    table = {r["full_name"].lower(): r for r in db.query("SELECT * FROM derivatives")}
    assert len(table) == 15
    for row in rows:
        owner, name = row["repo"].split("/")
        match = match_region(owner, name)  # no description, no homepage, no config hint
        assert match is not None and match.pref_code == row["pref_code"], row["repo"]
        stored = table[row["repo"].lower()]
        assert stored["pref_code"] == row["pref_code"] and stored["region_source"] == "matcher"
        assert stored["latitude"] and stored["longitude"]
    assert match_region("codeforjapan", "kobe-stopcovid19").municipality_code == "28100"  # Kobe
    assert match_region("codeforsapporo", "covid19").municipality_code == "01100"  # Sapporo
    assert table["codeforjapan/kobe-stopcovid19"]["municipality_ja"] == "神戸市"


def test_diffusion_tables_agree(tokyo):
    world, sim, config, db, rows = tokyo
    by_pref = list(db.query("SELECT * FROM diffusion_by_prefecture ORDER BY pref_code"))
    assert len(by_pref) == 47 and [r["pref_code"] for r in by_pref] == [f"{i:02d}" for i in range(1, 48)]
    counts = dict(db.execute("SELECT pref_code, count(*) FROM derivatives GROUP BY pref_code").fetchall())
    assert {r["pref_code"]: r["derivatives"] for r in by_pref if r["derivatives"]} == counts
    assert sum(r["derivatives"] for r in by_pref) == db["derivatives"].count == 15
    daily = list(db.query("SELECT * FROM diffusion_daily ORDER BY date"))
    assert daily[-1]["derivatives"] == 15 and daily[-1]["prefectures"] == len(counts)
    assert all(a["derivatives"] <= b["derivatives"] for a, b in zip(daily, daily[1:]))
    assert sum(d["new_derivatives"] for d in daily) == 15
    # running the functions again gives the same rows
    before = {t: list(db.query(f"SELECT * FROM {t}")) for t in ("derivatives", "diffusion_daily", "diffusion_by_prefecture")}
    write_diffusion(db, config)
    after = {t: list(db.query(f"SELECT * FROM {t}")) for t in before}
    for t in before:
        if t == "derivatives":  # active_90d depends on the clock; everything else must not move
            before[t] = [{k: v for k, v in r.items() if k != "active_90d"} for r in before[t]]
            after[t] = [{k: v for k, v in r.items() if k != "active_90d"} for r in after[t]]
        assert before[t] == after[t]


def test_a_second_harvest_checks_no_candidate_again(tokyo):
    world, sim, config, db, rows = tokyo
    requests.delete(f"{sim.url}/_sim/requests")
    again = harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]]))
    assert again.outcome == "complete" and again.quota_used <= 2  # the search itself is asked again
    commits = [r for r in requests.get(f"{sim.url}/_sim/requests").json()["requests"] if r["path"].endswith("/commits")]
    assert [r for r in commits if "per_page=1" in r["query"].split("&")] == []  # no root commit asked again
    # placing copies (first divergence, last sync) asks their histories conditionally: all unchanged
    assert {r["status"] for r in commits} <= {304}


def test_cli_derivatives_prints_the_tree(tokyo, tmp_path):
    world, sim, config, db, rows = tokyo
    path = tmp_path / "tokyo.yml"
    import yaml

    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "civicbot.cli", "derivatives", "-c", str(path)], cwd=ROOT,
                         capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "Tokyo-Metro-Gov/covid19" in out.stdout and "codeforjapan/kobe-stopcovid19" in out.stdout
    assert "兵庫県 Hyogo (28) 神戸市" in out.stdout and "[listed]" in out.stdout
    assert "15 derivatives, 15 of 47 prefectures reached" in out.stdout or "of 47 prefectures reached" in out.stdout
    as_json = subprocess.run([sys.executable, "-m", "civicbot.cli", "derivatives", "-c", str(path), "--json"],
                             cwd=ROOT, capture_output=True, text=True)
    assert len(json.loads(as_json.stdout)) == 15


def test_generated_family_is_found_whole_and_no_decoy(sim_factory, tmp_path):
    """Known truth: forks of forks, non-fork copies sharing the root (one owned by a fork owner),
    restarted histories that only a listing finds, and decoys sharing only a name."""
    from civicbot.sandbox.generate import family_truth, generate_world_dict

    world = generate_world_dict(seed=4, scale=0.3)
    truth = family_truth(world)
    active = {r["id"] for r in world["repos"] if r.get("status", "active") == "active" and not r.get("private")}
    names = {r["id"]: f"{r['owner']}/{r['name']}" for r in world["repos"]}
    sim = sim_factory(world)
    upstream = names[truth["upstream_id"]]
    config = Config.model_validate({
        "name": "gen", "upstream": upstream, "github": {"base_url": sim.url},
        "discovery": {"forks": {"max_depth": 5},
                      "listed": [{"repo": names[i]} for i in sorted(truth["restarted"] & active)],
                      "shared_root": {"search_queries": ["covid19"], "topics": ["covid19"],
                                      "owners_other_repos": True, "max_candidates": 200}},
        "database": {"path": str(tmp_path / "gen.db")}})
    db = open_store(config.database.path)
    requests.delete(f"{sim.url}/_sim/requests")
    result = harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]]))
    assert result.outcome == "complete", result
    found = {}
    for repo_id, method in db.execute("SELECT repo_id, method FROM discoveries"):
        found.setdefault(repo_id, set()).add(method)
    expected = (truth["forks"] | truth["shared_root"] | truth["restarted"] | {truth["upstream_id"]}) & active
    assert set(found) == expected
    assert not set(found) & truth["decoys"]
    for repo_id in truth["shared_root"] & active:
        assert "shared_root" in found[repo_id], names[repo_id]
    for repo_id in truth["forks"] & active:
        assert "fork" in found[repo_id], names[repo_id]
    checked = dict(db.execute("SELECT repo_id, outcome FROM candidates").fetchall())
    assert {checked[d] for d in truth["decoys"] & active if d in checked} <= {"different_root", "empty"}
    assert any(d in checked for d in truth["decoys"] & active)  # decoys were met, and refused
    # Budget (docs/diffusion.md): two requests per candidate checked for its root commit.
    log = requests.get(f"{sim.url}/_sim/requests").json()["requests"]
    family_paths = {f"/repos/{names[i]}/commits" for i in found}
    candidate_commit_requests = [r for r in log if r["path"].endswith("/commits") and r["path"] not in family_paths]
    assert len(candidate_commit_requests) <= 2 * len(checked)

    # Later runs visit every shared-root derivative again, though no source lists it anew
    # (an owner's unchanged list answers 304): an edit there reaches the store.
    only_shared = sorted((truth["shared_root"] & active) - truth["forks"] - truth["restarted"])
    edited = []
    for repo_id in only_shared:
        item = next((i for i in world["issues"] if i["repo_id"] == repo_id), None)
        if item is not None:
            title = f"edited after the first harvest {repo_id}"
            requests.post(f"{sim.url}/_sim/world", json={"repo": names[repo_id], "action": "edit",
                                                         "number": item["number"], "changes": {"title": title}})
            edited.append((item["id"], title))
    assert edited, "the world has shared-root derivatives with issues"
    assert harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]])).outcome == "complete"
    for item_id, title in edited:
        assert db["items"].get(item_id)["title"] == title


def test_flows_catch_up_and_people_between_sites(sim_factory, tmp_path):
    """ahead/behind and fork points from the compare API, upstream PRs from derivatives, and
    people in several sites, each checked against the world itself."""
    from civicbot.sandbox import World
    from civicbot.sandbox.generate import family_truth, generate_world_dict

    world = generate_world_dict(seed=6, scale=0.1)
    truth = family_truth(world)
    w = World(world)
    sim = sim_factory(world)
    names = {r["id"]: f"{r['owner']}/{r['name']}" for r in world["repos"]}
    config = Config.model_validate({
        "name": "flows", "upstream": names[truth["upstream_id"]], "github": {"base_url": sim.url},
        "discovery": {"forks": {"max_depth": 5}, "shared_root": {"enabled": False}},
        "database": {"path": str(tmp_path / "flows.db")}})
    db = open_store(config.database.path)
    assert harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]])).outcome == "complete"
    write_diffusion(db, config)

    upstream = w.repos[truth["upstream_id"]].data
    up_history = w.ancestors(upstream["head"])
    compared = {r["repo_id"]: r for r in db.query("SELECT * FROM repo_compare")}
    assert compared, "no fork was compared"
    for repo_id, row in compared.items():
        mine = w.ancestors(w.repos[repo_id].data["head"])
        assert (row["ahead_by"], row["behind_by"]) == (len(mine - up_history), len(up_history - mine)), names[repo_id]
        newest_shared = max((w.commits[s] for s in mine & up_history), key=lambda c: (c["date"], c["sha"]))
        assert row["merge_base_sha"] == newest_shared["sha"]

    # Upstream PRs sent from each derivative: its repo as head, or opened by its owner or members.
    table = {r["repo_id"]: r for r in db.query("SELECT * FROM derivatives")}
    up_prs = [i for i in world["issues"] if i["repo_id"] == truth["upstream_id"] and i.get("pull_request")]
    for repo_id, row in table.items():
        repo = w.repos[repo_id].data
        members = {(i.get("pull_request") or {}).get("merged_by") for i in world["issues"] if i["repo_id"] == repo_id}
        members.discard(None)
        expected = sum(1 for p in up_prs if p["pull_request"]["head_repo_id"] == repo_id
                       or p["user"] == repo["owner"] or p["user"] in members)
        assert row["upstream_prs_sent"] == expected, names[repo_id]
    assert any(r["upstream_prs_sent"] for r in table.values())

    # People (not bots, nor the generator's data-update account, which opens PRs as a User: automation,
    # docs/metrics.md) with issues, PRs or comments in more than one repo of the family.
    bots = {u["login"] for u in world["users"] if u["type"] == "Bot" or u["login"].endswith("[bot]")
            or u["login"] == "covid19-data-updater"}
    family = set(table) | {truth["upstream_id"]}
    sites: dict[str, set] = {}
    for row in [*world["issues"], *world["comments"]]:
        if row["repo_id"] in family and row["user"] not in bots:
            sites.setdefault(row["user"], set()).add(row["repo_id"])
    expected_people = {login: len(s) for login, s in sites.items() if len(s) > 1}
    stored = {r["login"]: r["sites"] for r in db.query("SELECT login, sites FROM cross_site_people")}
    assert stored == expected_people and stored
