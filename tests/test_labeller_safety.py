"""The labeller against a hostile or failing GitHub (issue 15, points 4, 6, 7 and the `label`
command): repos identified by id, one comment per issue whatever answers are lost, the caps
counting a label whose comment failed, and a dry run that needs no API."""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import CliRunner
from test_triage import UPSTREAM, audit, setup, triage_world
from worlds import TOKEN

from civicbot.harvest.client import GitHubClient
from civicbot.triage.policy import COMMENT_MARKER, run_label_policy
from civicbot.triage.writer import GitHubWriter

GFI = "good first issue"
AUTH = {"Authorization": f"token {TOKEN}"}


def no_post_retry(config, token):
    """A Github whose transport never repeats a POST (the HTTP layer's part of issue 15): what is
    left to show is the labeller's own care."""
    from github import Auth, Github, GithubRetry
    from urllib3.util.retry import Retry

    gh = config.github
    return Github(auth=Auth.Token(token), base_url=gh.base_url, per_page=gh.per_page, timeout=5,
                  retry=GithubRetry(total=2, backoff_factor=0, allowed_methods=Retry.DEFAULT_ALLOWED_METHODS),
                  seconds_between_requests=0, seconds_between_writes=0, lazy=True)


def writer(config) -> GitHubWriter:
    return GitHubWriter(GitHubClient(config, [TOKEN], sleep=lambda s: None, github_factory=no_post_retry),
                        config.triage.allowlist)


def rename(sim, repo: str, to: str) -> None:
    r = requests.post(f"{sim.url}/_sim/world", json={"repo": repo, "action": "rename", "to": to})
    assert r.status_code == 200, r.text


def marked_comments(sim, repo_id: int, number: int) -> list[str]:
    rows = requests.get(f"{sim.url}/repositories/{repo_id}/issues/{number}/comments", headers=AUTH).json()
    return [c["body"] for c in rows if COMMENT_MARKER in c["body"]]


def gfi_labelled(sim, repo_id: int, numbers) -> list[int]:
    return [n for n in numbers if GFI in {x["name"] for x in requests.get(
        f"{sim.url}/repositories/{repo_id}/issues/{n}/labels", headers=AUTH).json()}]


# --- point 4: a name that moves to another repo does not take the writes with it ---------------


def world_with_a_look_alike_fork() -> dict:
    """The triage world, and a fork (id 11) holding open issues with the upstream's numbers."""
    world = triage_world()
    for n in (5, 10, 11, 12):
        world["issues"].append({"id": 5000 + n, "repo_id": 11, "number": n, "title": f"fork issue {n}",
                                "body": "fork", "user": "hokkaido-dev", "state": "open",
                                "created_at": "2020-03-05T00:00:00Z", "updated_at": "2020-03-05T00:00:00Z"})
    return world


@pytest.mark.parametrize("case", ["takeover", "renamed"])
def test_a_renamed_or_taken_over_allowlisted_name_is_refused_and_nothing_is_written(sim_factory, tmp_path, case):
    sim, config, db = setup(sim_factory, tmp_path, world=world_with_a_look_alike_fork(), allowlist=[UPSTREAM],
                            max_per_repo_per_run=3, max_per_repo_per_week=10, comment=True)
    # no harvest from here on: the store still knows repo 10 as Tokyo-Metro-Gov/covid19
    rename(sim, UPSTREAM, "Tokyo-Metro-Gov/covid19-old")
    if case == "takeover":
        rename(sim, "codeforsapporo/covid19hokkaido", UPSTREAM)
        assert requests.get(f"{sim.url}/repos/{UPSTREAM}", headers=AUTH).json()["id"] == 11
    sim.app.requests.clear()

    result = run_label_policy(db, config, writer=writer(config), apply=True)

    assert [r for r in sim.app.requests if r["method"] != "GET"] == []  # nothing written anywhere
    assert gfi_labelled(sim, 11, (5, 10, 11, 12)) == [] and gfi_labelled(sim, 10, (5, 10, 11, 12)) == []
    assert all(not marked_comments(sim, rid, n) for rid in (10, 11) for n in (5, 10, 11, 12))
    refused = [r for r in audit(db) if r["action"] == "refused"]
    assert refused and all(r["repo_id"] == 10 and r["dry_run"] == 0 for r in refused)
    assert {d.action for d in result.decisions if d.repo == UPSTREAM} == {"refused"}
    reason = refused[0]["reason"]
    assert "covid19-old" in reason and "renamed or taken over" in reason and "nothing written" in reason
    assert ("is now repo id 11" in reason) == (case == "takeover")


# --- point 6: one comment per issue, whatever answers are lost ----------------------------------


@pytest.mark.parametrize("kind", ["lost_answer", "502"])
def test_a_lost_or_failed_comment_post_leaves_exactly_one_comment(sim_factory, tmp_path, kind):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=1,
                            max_per_repo_per_week=10, comment=True)
    sim.app.faults = type(sim.app.faults).from_json({"seed": 1, "rules": [
        {"kind": kind, "path": "*/issues/5/comments", "method": "POST", "times": 1}]})

    run_label_policy(db, config, writer=writer(config), apply=True)
    posts = [r for r in sim.app.requests if r["method"] == "POST" and r["path"].endswith("/comments")]
    run_label_policy(db, config, writer=writer(config), apply=True)  # a rerun adds no second comment

    assert len(marked_comments(sim, 10, 5)) == 1
    # lost answer: the POST was done, the listing found it, no second POST; 502: not done, posted again
    assert len(posts) == (1 if kind == "lost_answer" else 2)
    row = next(r for r in audit(db) if r["number"] == 5)
    assert row["action"] == "applied", row


# --- point 7: the caps count a label whose comment failed; the comment is completed later -------


def test_a_label_whose_comment_failed_counts_against_the_cap_and_its_comment_is_completed(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=3,
                            max_per_repo_per_week=3, comment=True)
    sim.app.faults = type(sim.app.faults).from_json({"seed": 1, "rules": [
        {"kind": "502", "path": "*/comments", "method": "POST"}]})  # every comment fails in the first run

    run_label_policy(db, config, writer=writer(config), apply=True)
    labelled = gfi_labelled(sim, 10, (5, 10, 11, 12))
    assert len(labelled) == 3  # 4 candidates, cap 3: a label without its comment is still a label
    rows = [r for r in audit(db) if r["action"] == "labelled_without_comment"]
    assert sorted(r["number"] for r in rows) == labelled
    assert all("the comment failed" in r["reason"] for r in rows)
    assert all(not marked_comments(sim, 10, n) for n in labelled)

    sim.app.faults = type(sim.app.faults).from_json({"rules": []})  # GitHub is well again
    second = run_label_policy(db, config, writer=writer(config), apply=True)
    assert [len(marked_comments(sim, 10, n)) for n in labelled] == [1, 1, 1]
    assert gfi_labelled(sim, 10, (5, 10, 11, 12)) == labelled  # the week's cap counted them: no fourth label
    assert {d.action for d in second.decisions} == {"skipped"}
    completed = [r for r in audit(db) if r["number"] in labelled and r["action"] == "applied"]
    assert len(completed) == 3 and all("completed by a later run" in r["reason"] for r in completed)

    run_label_policy(db, config, writer=writer(config), apply=True)
    assert [len(marked_comments(sim, 10, n)) for n in labelled] == [1, 1, 1]


# --- the command: a dry run needs no API; GitHub failures are one line -------------------------


def cli_config(sim, config, tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(json.dumps(json.loads(config.model_dump_json())), encoding="utf-8")
    return str(path)


def test_a_dry_run_with_the_api_down_proposes_and_exits_0(sim_factory, tmp_path, monkeypatch):
    from civicbot.cli import main

    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM])
    path = cli_config(sim, config, tmp_path)
    sim.stop()  # the API is unreachable from here on
    monkeypatch.setenv("CIVICBOT_TEST_TOKEN", TOKEN)
    out = CliRunner().invoke(main, ["label", "-c", path])
    assert out.exit_code == 0, out.output
    assert "dry run" in out.output and "proposed" in out.output and "Tokyo-Metro-Gov/covid19#5" in out.output


@pytest.mark.parametrize("case,message", [("down", "could not be used"), ("bad token", "refused the token"),
                                          ("404", "404")])
def test_apply_stops_on_github_failures_with_one_line_and_exit_3(sim_factory, tmp_path, monkeypatch, case, message):
    from civicbot.cli import main

    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM])
    if case == "404":  # a base_url GitHub answers 404 to
        config = config.model_copy(update={"github": config.github.model_copy(update={"base_url": sim.url + "/nope"})})
    path = cli_config(sim, config, tmp_path)
    if case == "down":
        sim.stop()
    monkeypatch.setenv("CIVICBOT_TEST_TOKEN", "not-a-token" if case == "bad token" else TOKEN)
    out = CliRunner().invoke(main, ["label", "--apply", "-c", path])
    assert out.exit_code == 3, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("civicbot: label stopped") and message in lines[0]
    assert "Traceback" not in out.output and "not-a-token" not in out.output
