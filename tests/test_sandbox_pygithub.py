"""PyGithub, pointed at the simulator by base_url, reads back exactly the world it serves."""

from __future__ import annotations

from collections import defaultdict

import pytest
from conftest import github
from worlds import tiny_world  # its first token is TOKEN

from civicbot.sandbox import World


def iso(moment) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_world() -> dict:
    from civicbot.sandbox.generate import generate_world_dict

    return generate_world_dict(seed=7, scale=0.2)


def visible_repos(world: dict) -> list[dict]:
    return [r for r in world["repos"] if r.get("status", "active") == "active" and not r.get("private")]


def check_world_roundtrip(url: str, world: dict, per_page: int) -> dict:
    """Read every repo's lists through PyGithub and compare them field by field with the world."""
    g = github(url, token=world["tokens"][0]["token"], per_page=per_page)
    w = World(world)
    by_repo = defaultdict(list)
    for kind in ("issues", "comments", "events"):
        for row in world[kind]:
            by_repo[(kind, row["repo_id"])].append(row)
    counts = defaultdict(int)
    for data in visible_repos(world):
        repo = g.get_repo(f"{data['owner']}/{data['name']}")
        assert repo.id == data["id"]
        assert repo.fork == (data.get("fork_parent_id") is not None)
        assert iso(repo.created_at) == data["created_at"]
        assert repo.default_branch == data.get("default_branch", "main")
        assert repo.homepage == data.get("homepage") and repo.archived == data.get("archived", False)
        if data.get("fork_parent_id") is not None:
            assert repo.parent.id == data["fork_parent_id"]

        expected = sorted(by_repo[("issues", data["id"])], key=lambda i: i["number"])
        got = list(repo.get_issues(state="all", sort="created", direction="asc"))
        assert [i.number for i in got] == [i["number"] for i in expected]
        for issue, row in zip(got, expected):
            assert (issue.id, issue.title, issue.body, issue.user.login, issue.state) == (
                row["id"], row["title"], row.get("body"), row["user"], row["state"])
            assert [label.name for label in issue.labels] == row.get("labels", [])
            assert [a.login for a in issue.assignees] == row.get("assignees", [])
            assert (iso(issue.created_at), iso(issue.updated_at), iso(issue.closed_at)) == (
                row["created_at"], row["updated_at"], row.get("closed_at"))
            assert (issue.pull_request is not None) == (row.get("pull_request") is not None)
            assert issue.comments == w.comment_count(data["id"], row["number"])
            counts["issues"] += 1

        expected_prs = [i for i in expected if i.get("pull_request") is not None]
        got_prs = list(repo.get_pulls(state="all", sort="created", direction="asc"))
        assert [p.number for p in got_prs] == [p["number"] for p in expected_prs]
        for pull, row in zip(got_prs, expected_prs):
            pr = row["pull_request"]
            assert iso(pull.merged_at) == pr.get("merged_at") and pull.draft == pr.get("draft", False)
            assert pull.merge_commit_sha == pr.get("merge_commit_sha")
            head_repo = pull.head.repo
            assert (head_repo.id if head_repo is not None else None) == (
                pr["head_repo_id"] if w.repos.get(pr["head_repo_id"] or -1) else None)
            assert pull.head.ref == pr["head_ref"] and pull.base.ref == pr["base_ref"]
            counts["pulls"] += 1
        for row in expected_prs[:3]:  # the single-PR endpoint carries merged_by and sizes
            pull = repo.get_pull(row["number"])
            pr = row["pull_request"]
            assert (pull.merged_by.login if pull.merged_by else None) == (pr.get("merged_by") if pr.get("merged_at") else None)
            assert (pull.additions, pull.deletions) == (pr.get("additions", 0), pr.get("deletions", 0))

        expected_comments = sorted(by_repo[("comments", data["id"])], key=lambda c: c["id"])
        got_comments = list(repo.get_issues_comments())
        assert [c.id for c in got_comments] == [c["id"] for c in expected_comments]
        for comment, row in zip(got_comments, expected_comments):
            assert (comment.body, comment.user.login, iso(comment.created_at), iso(comment.updated_at)) == (
                row["body"], row["user"], row["created_at"], row["updated_at"])
            assert comment.issue_url.endswith(f"/issues/{row['issue_number']}")
            counts["comments"] += 1

        expected_events = sorted(by_repo[("events", data["id"])], key=lambda e: -e["id"])
        got_events = list(repo.get_issues_events())
        assert [e.id for e in got_events] == [e["id"] for e in expected_events]
        for event, row in zip(got_events, expected_events):
            assert (event.event, event.actor.login, iso(event.created_at)) == (
                row["event"], row["actor"] or "ghost", row["created_at"])  # deleted accounts show as ghost
            assert event.issue.number == row["issue_number"]
            # Optional attributes are read from the listed JSON: PyGithub's attribute access and
            # even `raw_data` would fetch each event again from its own URL (a request per event).
            raw = event._rawData
            assert (raw["label"]["name"] if "label" in raw else None) == row.get("label")
            assert (raw["assignee"]["login"] if "assignee" in raw else None) == row.get("assignee")
            assert event.commit_id == row.get("commit_id")
            counts["events"] += 1

        got_labels = [(x.id, x.name, x.color, x.description) for x in repo.get_labels()]
        assert got_labels == [(x["id"], x["name"], x.get("color", "ededed"), x.get("description"))
                              for x in data.get("labels", [])]
        counts["labels"] += len(got_labels)

        forks = {f.id for f in repo.get_forks()}
        assert forks == {r["id"] for r in visible_repos(world) if r.get("fork_parent_id") == data["id"]}
        counts["forks"] += len(forks)

        contributors = [(c.login, c.contributions) for c in repo.get_contributors()]
        assert sorted(contributors) == sorted((c["login"], c["contributions"]) for c in data.get("contributors", []))
        counts["contributors"] += len(contributors)

        if data.get("head"):
            shas = [c.sha for c in repo.get_commits()]
            assert shas == [c["sha"] for c in w.history(data["head"])]
    return dict(counts)


@pytest.mark.parametrize("per_page", [100, 7])
def test_pygithub_reads_tiny_world(sim, per_page):
    counts = check_world_roundtrip(sim.url, tiny_world(), per_page)
    assert counts["issues"] == 5 and counts["comments"] == 3 and counts["events"] == 11


@pytest.mark.parametrize("per_page", [100, 7])
def test_pygithub_reads_generated_world(sim_factory, per_page):
    world = generated_world()
    server = sim_factory(world)
    counts = check_world_roundtrip(server.url, world, per_page)
    visible = {r["id"] for r in visible_repos(world)}
    assert counts["issues"] == sum(1 for i in world["issues"] if i["repo_id"] in visible)
    assert counts["comments"] == sum(1 for c in world["comments"] if c["repo_id"] in visible)
    assert counts["events"] == sum(1 for e in world["events"] if e["repo_id"] in visible)
    assert counts["forks"] > 0 and counts["contributors"] > 0 and counts["labels"] > 0


def test_pygithub_reads_the_tokyo_data_world(sim_factory, shared_data):
    """A world built from the real Tokyo git data (../shared) is served and read back whole."""
    from civicbot.sandbox.tokyo import world_from_tokyo_data

    world = world_from_tokyo_data(shared_data)
    server = sim_factory(world)
    counts = check_world_roundtrip(server.url, world, per_page=100)
    g = github(server.url, token=world["tokens"][0]["token"])
    merged = [p for p in g.get_repo("Tokyo-Metro-Gov/covid19").get_pulls(state="all") if p.merged_at]
    assert len(merged) == 1187
    assert counts["pulls"] >= 1187
    assert len(visible_repos(world)) == 16  # the upstream and its 15 derivatives
