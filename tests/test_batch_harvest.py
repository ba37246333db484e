"""Batch change detection end to end on the simulator's /graphql (issue 20, acceptance 1 and 3):
a refresh with detection on stores exactly what today's REST-only refresh stores, after edits of
every kind, asks REST only about the repos that changed, and survives GraphQL's faults."""

from __future__ import annotations

import copy
import io
import json

import pytest
from harvest_helpers import canonical_dump, family_config
from rich.console import Console

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.report import _summary, show_status
from civicbot.harvest.run import harvest
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store

pytest.importorskip("civicbot.sandbox.graphql", reason="the simulator has no /graphql yet (branch wt-gqlsim)")

SEED, SCALE = 5, 0.1


def stores(world, sim, tmp_path, **github):
    """Two stores of one family: `on` with batch detection, `off` as today (REST only)."""
    out = {}
    for name, enabled in (("on", True), ("off", False)):
        config = family_config(world, sim.url, tmp_path / f"{name}.db", review_budget=100_000, **github)
        config = config.model_copy(update={"harvest": config.harvest.model_copy(update={
            "batch": config.harvest.batch.model_copy(update={"enabled": enabled})})})
        out[name] = (config, open_store(config.database.path))
    return out


def run(config, db):
    result = harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None))
    assert result.outcome == "complete" and not result.failed, result
    return result


def hidden_fork(world) -> dict:
    """A leaf fork kept out of the world until the test 'creates' it (its parent's fork count then rises)."""
    parents = {r.get("fork_parent_id") for r in world["repos"]}
    return next(r for r in world["repos"] if r.get("fork_parent_id") and r["id"] not in parents
                and r.get("status", "active") == "active" and not r.get("private"))


def edit_every_kind(sim, world, new_fork_id: int) -> set[int]:
    """Issue and PR edits, a comment, labels (with their events), a close, a merge, a new fork, a
    rename, a deletion and a push, as GitHub would show them; returns the repos they touch."""
    w = sim.app.world
    upstream = next(r for r in w.repos.values() if r.full_name == "Tokyo-Metro-Gov/covid19")
    forks = [r for r in w.repos.values() if r.data.get("fork_parent_id") and r.status == "active"
             and r.id != new_fork_id and not r.data.get("private")]
    with_items = [r for r in forks if r.items]
    quiet = [r for r in forks if r not in with_items and not r.forks]
    issues = [i for i in upstream.items if not i.get("pull_request")]
    pulls = [i for i in upstream.items if i.get("pull_request") and not i["pull_request"].get("merged_at")
             and i["state"] == "open"]
    w.edit_item(upstream, issues[0], {"title": "Edited title", "body": "Edited body"})
    w.add_comment(upstream, issues[1], "A new comment", "gapideha")
    w.add_labels(upstream, issues[2], ["good first issue", "a label never seen"], "gapideha")
    open_issue = next(i for i in issues[3:] if i["state"] == "open")
    w.edit_item(upstream, open_issue, {"state": "closed", "closed_at": "2021-04-01T00:00:00Z"})
    touched = {upstream.id}
    if pulls:
        pr = pulls[0]
        w.edit_item(upstream, pr, {"state": "closed", "closed_at": "2021-04-01T00:00:00Z", "pull_request": {
            **pr["pull_request"], "merged_at": "2021-04-01T00:00:00Z", "merged_by": "gapideha",
            "merge_commit_sha": "e" * 40}})
    w.edit_item(with_items[0], with_items[0].items[0], {"title": "Edited in a fork"})
    touched.add(with_items[0].id)
    renamed, deleted, pushed = quiet[0], quiet[1], quiet[2]
    w.rename_repo(renamed, renamed.data["owner"], renamed.data["name"] + "-renamed")
    w.set_status(deleted, "deleted")
    w.push(pushed, [{"sha": "f" * 40, "message": "A push", "author": pushed.data["owner"],
                     "author_name": pushed.data["owner"], "author_email": "pusher@example.com",
                     "date": "2021-04-01T00:00:00Z"}])
    touched |= {renamed.id, deleted.id, pushed.id}
    new = w.repos[new_fork_id]
    w.set_status(new, "active")
    parent = w.repos[new.data["fork_parent_id"]]
    parent.forks.append(new)
    touched |= {new.id, parent.id}
    return touched


def test_a_refresh_with_batch_detection_stores_what_a_rest_refresh_stores(sim_factory, tmp_path, capsys):
    world = generate_world_dict(seed=SEED, scale=SCALE)
    new_fork = hidden_fork(world)
    sim = sim_factory(copy.deepcopy(world))
    w = sim.app.world
    w.set_status(w.repos[new_fork["id"]], "deleted")  # not there yet, nor counted by its parent
    w.repos[new_fork["fork_parent_id"]].forks.remove(w.repos[new_fork["id"]])
    both = stores(world, sim, tmp_path)
    for _ in range(2):  # the first harvest, then a refresh that stores every repo's fingerprint
        for config, db in both.values():
            run(config, db)
    start = len(sim.app.requests)
    quiet = run(*both["on"])
    log = sim.app.requests[start:]
    assert quiet.unchanged == quiet.repos and quiet.graphql_requests >= 1
    assert {e["path"] for e in log} == {"/graphql"}  # no REST at all, fork owners' repo lists included

    touched = edit_every_kind(sim, world, new_fork["id"])
    start = len(sim.app.requests)
    result = run(*both["on"])
    log = sim.app.requests[start:]
    run(*both["off"])
    names = {r.id: {r.full_name.lower(), *(n.lower() for n in r.data.get("former_names", []))}
             for r in w.repos.values()}
    asked = {rid for rid, known in names.items() for e in log
             if any(e["path"].lower().startswith(f"/repos/{n}/") or e["path"].lower() == f"/repos/{n}"
                    for n in known) or e["path"].startswith(f"/repositories/{rid}")}
    assert asked == touched, (asked - touched, touched - asked)  # REST only where something changed
    assert result.unchanged == result.repos - len(touched)

    dumps = {name: canonical_dump(db) for name, (_, db) in both.items()}
    for table in dumps["off"]:
        assert dumps["on"][table] == dumps["off"][table], table
    assert result.graphql_points >= result.graphql_requests >= 1

    # `civicbot status` and the summary line: GraphQL requests, points and points left beside REST's
    config = both["on"][0]
    assert show_status(config, as_json=True) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["runs"][0]["graphql_requests"] == result.graphql_requests
    assert shown["runs"][0]["graphql_points"] == result.graphql_points
    assert shown["quota"]["graphql"]["remaining"] is not None and shown["quota"]["remaining"] is not None
    assert show_status(config) == 0
    assert "GraphQL points left: " in capsys.readouterr().out
    out = io.StringIO()
    _summary(config, result, GitHubClient(config, [DEMO_TOKEN]), Console(file=out, width=400), json_log=False)
    assert (f"{result.requests_made} requests (GraphQL: {result.graphql_requests} requests, "
            f"{result.graphql_points} points, {result.unchanged} repos unchanged)") in out.getvalue()


@pytest.mark.parametrize("fault", [
    {"kind": "502"},
    {"kind": "partial"},
    {"kind": "stall", "stall_seconds": 3},
])
def test_graphql_faults_send_repos_to_rest_and_lose_nothing(sim_factory, tmp_path, fault):
    world = generate_world_dict(seed=SEED, scale=SCALE)
    sim = sim_factory(copy.deepcopy(world))
    both = stores(world, sim, tmp_path, timeout=1, total_timeout=2)
    for _ in range(2):
        for config, db in both.values():
            run(config, db)
    w = sim.app.world
    upstream = next(r for r in w.repos.values() if r.full_name == "Tokyo-Metro-Gov/covid19")
    w.edit_item(upstream, upstream.items[0], {"title": "Edited while GraphQL fails"})
    sim.app.faults = type(sim.app.faults).from_json({"rules": [{"path": "/graphql", "rate": 1.0, **fault}]})
    result = run(*both["on"])
    assert result.unchanged < result.repos  # what GraphQL could not vouch for went to REST
    sim.app.faults = type(sim.app.faults).from_json({"rules": []})
    run(*both["off"])
    dumps = {name: canonical_dump(db) for name, (_, db) in both.items()}
    for table in dumps["off"]:
        assert dumps["on"][table] == dumps["off"][table], table


def test_a_store_from_before_migration_13_learns_the_graphql_ids_on_its_next_refresh(sim_factory, tmp_path):
    world = generate_world_dict(seed=SEED, scale=SCALE)
    sim = sim_factory(copy.deepcopy(world))
    config, db = stores(world, sim, tmp_path)["on"]
    run(config, db)
    db.execute("UPDATE repos SET node_id = NULL")  # as migration 13 leaves an existing store
    db.execute("DELETE FROM repo_fingerprints")
    db.conn.commit()
    first = run(config, db)  # each repo object asked whole once: a 304 would carry no id
    assert first.graphql_requests == 0 and first.unchanged == 0
    assert db.execute("SELECT count(*) FROM repos WHERE node_id IS NULL AND status = 'active'").fetchone()[0] == 0
    run(config, db)  # asked by GraphQL before its REST pass: the fingerprints are stored
    assert run(config, db).unchanged == first.repos
