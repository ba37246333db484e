"""Issue 19: proposals a maintainer can use (labels set at creation, blocking labels, ranking,
non-decisions explained) and an honest evaluation."""

from __future__ import annotations

from civicbot.config import Config
from civicbot.triage.features import History
from civicbot.triage.model import examples_at_creation
from civicbot.triage.score import blocking_labels, exclusion

REPO = "Tokyo-Metro-Gov/covid19"


def config(**triage) -> Config:
    return Config.model_validate({"name": "t", "upstream": REPO, "triage": triage})


def history(cfg: Config, events: list[dict]) -> History:
    items = [{"id": n, "repo_id": 1, "number": n, "is_pull_request": 0, "title": f"文言の修正 {n}", "body": "「A」を「B」に",
              "user_id": 10, "state": "open", "created_at": f"2020-03-{n:02d}T00:00:00Z", "closed_at": None,
              "merged_at": None} for n in (1, 2, 3)]
    users = {10: {"id": 10, "login": "maintainer", "is_bot": 0}, 11: {"id": 11, "login": "labeller[bot]", "is_bot": 1}}
    return History(cfg, items, [], events, users, {1: REPO})


def labeled(eid: int, item: int, at: str, actor: int = 10, name: str = "good first issue") -> dict:
    return {"id": eid, "repo_id": 1, "item_id": item, "event": "labeled", "actor_id": actor, "created_at": at,
            "label_name": name, "assignee_id": None, "source_repo_id": None, "source_number": None}


def test_a_gfi_label_set_at_creation_by_a_person_is_a_positive_decided_before_the_label():
    h = history(config(), [labeled(1, 1, "2020-03-01T00:00:00Z"),             # the new-issue form
                           labeled(2, 2, "2020-03-02T00:00:30Z", actor=11)])   # a bot: not a judgement
    examples = {ex.snapshot.number: ex for ex in examples_at_creation(h, now="2021-01-01T00:00:00Z")}
    assert examples[1].outcome.label("GT-M") is True
    assert examples[1].snapshot.labels == set() and examples[1].snapshot.numeric["n_labels"] == 0
    assert examples[1].snapshot.as_of == "2020-03-01T00:00:00Z"
    assert 2 not in examples  # a bot's label at creation: neither positive nor a candidate then
    assert examples[3].outcome.label("GT-M") is False


def test_importance_labels_do_not_block_by_default_and_blocking_labels_can_be_set_per_repo():
    cfg = config()
    assert {"important", "officially-approved"}.isdisjoint(blocking_labels(cfg.triage, REPO))
    assert "waiting" in blocking_labels(cfg.triage, REPO)
    cfg = config(blocking_labels_by_repo={REPO: ["IMPORTANT"]})
    assert "important" in blocking_labels(cfg.triage, REPO.lower())
    assert "important" not in blocking_labels(cfg.triage, "someone/else")
    h = history(cfg, [])
    snap = h.snapshot(3, "2020-04-01T00:00:00Z")
    assert exclusion(h, snap, {"important"}, False) == "blocking label: important"
    assert exclusion(history(config(), []), snap, {"important", "officially-approved"}, False) is None


# --- civicbot label: a ranking, and every non-decision explained --------------------------------


def test_the_dry_run_ranks_the_top_n_per_repo_whatever_the_threshold(sim_factory, tmp_path):
    from test_triage import setup

    from civicbot.triage.policy import run_label_policy

    sim, config, db = setup(sim_factory, tmp_path, threshold=0.99, top_per_repo=2, allowlist=[REPO])
    result = run_label_policy(db, config, apply=False)
    assert [(d.number, d.action) for d in result.decisions if d.repo == REPO] == [(5, "proposed"), (10, "proposed")]
    assert result.decisions[0].reason.startswith("rank 1 of 5 in the repo; probability 0.")
    assert all("< threshold 0.99: --apply would not add it" in d.reason for d in result.decisions)
    assert [d.repo for d in result.decisions].count(REPO) == 2
    assert f"{REPO}: 3 more candidates below the top 2" in "\n".join(result.notes)
    assert any(n.startswith("no decision: no open issue in ") for n in result.notes)
    # --apply keeps the threshold as its safety limit, and says why it decided nothing
    applied = run_label_policy(db, config, apply=True)
    assert applied.decisions == []
    assert any(n.startswith(f"{REPO}: no decision: 5 candidates below the threshold: best was 0.")
               and n.endswith("< threshold 0.99") for n in applied.notes)


def test_label_cli_prints_its_non_decisions_and_its_dry_run_needs_no_api(sim_factory, tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner
    from test_triage import setup

    from civicbot.cli import main

    sim, config, db = setup(sim_factory, tmp_path, threshold=0.99)
    dead = config.model_copy(update={"github": config.github.model_copy(update={"base_url": "http://127.0.0.1:9"})})
    path = tmp_path / "c.yml"
    path.write_text(json.dumps(json.loads(dead.model_dump_json())), encoding="utf-8")
    monkeypatch.setenv("CIVICBOT_TEST_TOKEN", "a-token")  # a token is set, yet the API is down
    out = CliRunner().invoke(main, ["label", "-c", str(path)])
    assert out.exit_code == 0, out.output
    assert "dry run" in out.output and "6 decisions" in out.output
    assert "--apply would not add it" in out.output and "repo not in triage.allowlist" not in out.output
    assert "not decided" in out.output and "no open issue in" in out.output
