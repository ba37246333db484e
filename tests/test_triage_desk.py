"""Issue 19: proposals a maintainer can use (labels set at creation, blocking labels, ranking,
non-decisions explained) and an honest evaluation."""

from __future__ import annotations

import pytest

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


# --- triage evaluate: honest intervals, base rates, why n/a -------------------------------------


def predictions(repos: int, weeks: int, per_week: int, seed: int = 0, positive_first: bool = True):
    """Each repo-week holds `per_week` issues, one positive; scored best first when `positive_first`."""
    import random

    from civicbot.triage.evaluate import METHODS, Predictions

    rng = random.Random(seed)
    p = Predictions()
    for r in range(repos):
        for w in range(weeks):
            for i in range(per_week):
                p.repo.append(r)
                p.week.append(f"2020-W{w:02d}")
                p.y.append(int(i == 0))
                score = (1.0 if i == 0 else rng.random() * 0.9) if positive_first else rng.random()
                for m in METHODS:
                    p.scores[m].append(score)
                    p.probs[m].append(score)
    return p


def test_precision_at_k_intervals_contain_the_estimate_when_a_repo_is_drawn_twice():
    from civicbot.triage.evaluate import figures

    f = figures(predictions(repos=5, weeks=4, per_week=4), bootstrap=100)["model"]
    # the positive is always first: precision@3 is 1/3 in every repo-week, whichever repos are drawn
    assert f["precision@3"].value == pytest.approx(1 / 3)
    assert f["precision@3"].low == pytest.approx(1 / 3) and f["precision@3"].high == pytest.approx(1 / 3)
    assert f["precision@1"].base == pytest.approx(0.25) and f["roc_auc"].base == 0.5
    for seed in range(3):
        figs = figures(predictions(repos=6, weeks=3, per_week=5, seed=seed, positive_first=False), bootstrap=200,
                       seed=seed)
        for method in figs.values():
            for name, fig in method.items():
                assert fig.low <= fig.value <= fig.high, (seed, name, fig)


def test_one_repo_is_bootstrapped_by_issue_not_into_a_zero_width_interval():
    from civicbot.triage.evaluate import _fmt, figures

    f = figures(predictions(repos=1, weeks=8, per_week=6, positive_first=False), bootstrap=200)["model"]
    for name in ("roc_auc", "pr_auc", "brier", "precision@1", "precision@3"):
        assert f[name].low < f[name].high, name
        assert f[name].low <= f[name].value <= f[name].high, name
    assert "(base 0.500)" in _fmt(f["roc_auc"]) and "(base 0.167)" in _fmt(f["pr_auc"])


def test_every_n_a_says_why():
    from civicbot.triage.evaluate import METRICS, Predictions, _fmt, figures

    none_positive = predictions(repos=2, weeks=2, per_week=3)
    none_positive.y = [0] * len(none_positive.y)
    f = figures(none_positive, bootstrap=50)["model"]
    assert _fmt(f["roc_auc"]) == "n/a: no positive among the test issues"
    assert _fmt(f["precision@1"]) == "n/a: no repo-week with a positive issue"
    empty = figures(Predictions(), bootstrap=50)["random"]
    assert all(_fmt(empty[m]).startswith("n/a: no test issue") for m in METRICS)
