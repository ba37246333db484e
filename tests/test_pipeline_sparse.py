"""The whole pipeline on sparse families: harvest, metrics, derivatives, summary, publish bundle.

A young civic project may have no issues, no comments, one repo or a single day of activity; each
stage must finish on such a store and say "0", never crash. CI runs this file on the newest pandas
(`make test`) and again on the oldest the project allows (.ci/run: pandas 2.2), so it stays small:
a few tiny worlds and the ../shared Tokyo world (skipped when absent).
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
from harvest_helpers import family_config
from worlds import tiny_world

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics import write_all_metrics
from civicbot.metrics.report import show_derivatives, show_summary
from civicbot.publish.bundle import build_bundle
from civicbot.store import open_store

# pandas announces its next breaking changes as FutureWarnings: here they fail, on either version.
pytestmark = [pytest.mark.pipeline, pytest.mark.filterwarnings("error::FutureWarning")]


def _without(kind: str) -> dict:
    world = tiny_world()
    if kind == "comments":
        world["comments"] = []
    elif kind == "issues":
        world["issues"] = [i for i in world["issues"] if i.get("pull_request")]
    elif kind == "prs":
        world["issues"] = [i for i in world["issues"] if not i.get("pull_request")]
    elif kind == "events":
        world["events"] = []
    elif kind == "items":  # no issues, no PRs, no comments, no events: only repos
        world["issues"], world["comments"], world["events"] = [], [], []
    elif kind == "derivatives":  # one repo: the upstream alone
        world["repos"] = [r for r in world["repos"] if r["id"] == 10]
        keep = {10}
        world["issues"] = [i for i in world["issues"] if i["repo_id"] in keep]
        for issue in world["issues"]:
            if issue.get("pull_request"):
                issue["pull_request"]["head_repo_id"] = None
    elif kind == "days":  # everything on one day
        for rows in (world["issues"], world["comments"], world["events"]):
            for row in rows:
                for key in ("created_at", "updated_at", "closed_at"):
                    if row.get(key):
                        row[key] = "2020-03-03T0" + row[key][12] + ":00:00Z"
                if (row.get("pull_request") or {}).get("merged_at"):
                    row["pull_request"]["merged_at"] = "2020-03-03T09:00:00Z"
    items = {(i["repo_id"], i["number"]) for i in world["issues"]}
    world["comments"] = [c for c in world["comments"] if (c["repo_id"], c["issue_number"]) in items]
    world["events"] = [e for e in world["events"] if (e["repo_id"], e["issue_number"]) in items]
    pulls = {(i["repo_id"], i["number"]) for i in world["issues"] if i.get("pull_request")}
    for key in ("reviews", "review_comments"):  # a review belongs to a pull request still there
        world[key] = [r for r in world.get(key, []) if (r["repo_id"], r["pull_number"]) in pulls]
    return world


def _run(world: dict, sim_factory, tmp_path, capsys, **config_extra) -> tuple:
    sim = sim_factory(copy.deepcopy(world))
    config = family_config(world, sim.url, tmp_path / "family.db")
    if config_extra:
        config = config.model_validate({**config.model_dump(mode="json"), **config_extra})
    db = open_store(config.database.path)
    token = world["tokens"][0]["token"]
    assert harvest(config, db, GitHubClient(config, [token])).outcome == "complete"
    counts = write_all_metrics(db, config)
    assert show_derivatives(config) == 0
    assert show_summary(config, date(2020, 2, 1), date(2020, 4, 30), []) == 0
    assert show_summary(config, date(2019, 1, 1), date(2019, 1, 1), []) == 0  # an empty window
    assert show_summary(config, date(2020, 3, 3), date(2020, 3, 3), ["upstream"]) == 0  # a single day
    build_bundle(config, tmp_path / "bundle", run_inspect=False)
    capsys.readouterr()
    return config, db, counts


@pytest.mark.parametrize("missing", ["comments", "issues", "prs", "events", "items", "derivatives", "days"])
def test_pipeline_on_sparse_worlds(missing, sim_factory, tmp_path, capsys):
    world = _without(missing)
    config, db, counts = _run(world, sim_factory, tmp_path, capsys)
    for table in ("activity", "contributors_summary", "metrics_periodic", "derivatives", "accounts", "pr_kinds"):
        assert table in db.table_names(), table
    people = db.execute("SELECT count(*) FROM contributors_summary").fetchone()[0]
    if missing == "items":
        assert counts["activity"] == counts["metrics_periodic"] == 0
    assert people > 0  # commit authors count even without a dated contribution
    if missing == "comments":
        assert db.execute("SELECT count(*) FROM contributors_summary WHERE first_pr_responded = 1").fetchone()[0] == 0


def test_pipeline_on_the_shared_tokyo_world(shared_data, sim_factory, tmp_path, capsys):
    from civicbot.sandbox.tokyo import PLACEHOLDERS, world_from_tokyo_data

    world = world_from_tokyo_data(shared_data)  # no issues and no comments: the real trap of issue 16
    assert world["comments"] == []
    config, db, counts = _run(world, sim_factory, tmp_path, capsys, placeholders=sorted(PLACEHOLDERS))
    assert counts["contributors_summary"] > 150 and counts["derivatives"] == 15
