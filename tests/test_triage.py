"""Good-first-issue triage: time-safe features, the model and its fallback, the labelling policy
against the GitHub simulator (labels really appear, as civicbot's account), and the evaluation."""

from __future__ import annotations

import json
import random

import pytest
import requests
from click.testing import CliRunner
from harvest_helpers import family_config
from worlds import TOKEN, tiny_world

from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store
from civicbot.triage.features import History
from civicbot.triage.model import GFIModel, examples_at_creation
from civicbot.triage.policy import run_label_policy
from civicbot.triage.score import score_family
from civicbot.triage.writer import GitHubWriter

UPSTREAM = "Tokyo-Metro-Gov/covid19"
GOOD_BODY = ("## 対象ファイル\n- `data/news.json`\n\n## やること\n- [ ] 「お知らせ」を「新着情報」に変更\n"
             "- [ ] 表示の確認\n\n小さな修正です。")


def triage_world() -> dict:
    """The tiny world plus open issues in the upstream: well specified ones, and ones to leave alone."""
    world = tiny_world()

    def issue(number, title, body=GOOD_BODY, **extra):
        world["issues"].append({"id": 1000 + number, "repo_id": 10, "number": number, "title": title, "body": body,
                                "user": "maintainer", "state": "open", "created_at": f"2020-03-{number:02d}T00:00:00Z",
                                "updated_at": f"2020-03-{number:02d}T00:00:00Z", **extra})

    for n in (5, 10, 11, 12):
        issue(n, f"お知らせの文言を修正 ({n})")
    issue(6, "英語版の文言を修正", )          # claimed in a comment
    issue(7, "凡例の文言を修正")              # a PR is linked
    issue(8, "トップページの文言を修正")       # a maintainer removed the GFI label
    issue(13, "it is broken", body="broken")  # below the threshold
    issue(9, "#7 の対応", body="close #7", pull_request={"head_repo_id": 11, "head_ref": "fix-7",
                                                         "base_ref": "development"})
    world["comments"].append({"id": 2010, "repo_id": 10, "issue_number": 6, "user": "newcomer",
                              "body": "これ、やります！", "created_at": "2020-03-06T05:00:00Z",
                              "updated_at": "2020-03-06T05:00:00Z"})
    world["events"] += [
        {"id": 3020, "repo_id": 10, "issue_number": 7, "event": "cross-referenced", "actor": "newcomer",
         "created_at": "2020-03-09T00:00:00Z", "source": {"repo_id": 10, "issue_number": 9}},
        {"id": 3021, "repo_id": 10, "issue_number": 8, "event": "labeled", "actor": "civicbot-demo",
         "created_at": "2020-03-08T01:00:00Z", "label": "good first issue"},
        {"id": 3022, "repo_id": 10, "issue_number": 8, "event": "unlabeled", "actor": "maintainer",
         "created_at": "2020-03-08T02:00:00Z", "label": "good first issue"},
    ]
    return world


def setup(sim_factory, tmp_path, world=None, **triage):
    # The policy's threshold below the well-specified issues' blended probability (the prior alone,
    # at even odds, puts them at about 0.45; "it is broken" at about 0.14): these tests exercise the
    # policy (caps, allowlist, claims), not the prior's level.
    triage.setdefault("threshold", 0.4)
    world = world or triage_world()
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "t.db", throttle={"seconds_between_writes": 0})
    config = config.model_copy(update={"triage": config.triage.model_copy(update=triage)})
    db = open_store(config.database.path)
    assert harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None)).outcome == "complete"
    return sim, config, db


def writer(config) -> GitHubWriter:
    return GitHubWriter(GitHubClient(config, [TOKEN], sleep=lambda s: None), config.triage.allowlist)


def live_labels(sim, number: int) -> list[str]:
    rows = requests.get(f"{sim.url}/repos/{UPSTREAM}/issues/{number}/labels",
                        headers={"Authorization": f"token {TOKEN}"}).json()
    return [x["name"] for x in rows]


def audit(db) -> list[dict]:
    return list(db.query("SELECT * FROM label_audit ORDER BY id"))


# --- the policy against the simulator -----------------------------------------------------------


def test_dry_run_proposes_records_and_writes_nothing(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM])
    result = run_label_policy(db, config, writer=writer(config), apply=False)
    assert result.score.model == "heuristic"  # the tiny history has no maintainer-added GFI label to learn from
    proposed = [d.number for d in result.decisions if d.action == "proposed" and d.repo == UPSTREAM]
    assert proposed == [5, 10, 11, 12, 13]  # a ranking: the top triage.top_per_repo (5), best first (ties: lowest numbers)
    assert "cap per run" in result.decisions[3].reason and "< threshold" in result.decisions[4].reason
    rows = audit(db)
    assert len(rows) == 6 and all(r["dry_run"] == 1 and r["actor"] == "civicbot-demo" for r in rows)
    for n in (5, 10, 11, 12):
        assert "good first issue" not in live_labels(sim, n)


def test_apply_adds_labels_as_civicbot_and_is_idempotent(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=2,
                            max_per_repo_per_week=10)
    first = run_label_policy(db, config, writer=writer(config), apply=True)
    applied = sorted(d.number for d in first.decisions if d.action == "applied")
    assert applied == [5, 10]
    for n in applied:
        assert "good first issue" in live_labels(sim, n)
    events = requests.get(f"{sim.url}/repos/{UPSTREAM}/issues/events",
                          headers={"Authorization": f"token {TOKEN}"}).json()
    ours = {(e["issue"]["number"], e["actor"]["login"]) for e in events
            if e["event"] == "labeled" and e["label"]["name"] == "good first issue" and e["created_at"] > "2021"}
    assert ours == {(5, "civicbot-demo"), (10, "civicbot-demo")}

    second = run_label_policy(db, config, writer=writer(config), apply=True)  # store not re-harvested
    again = {d.number: d.action for d in second.decisions}
    assert again[5] == again[10] == "skipped"
    assert sorted(n for n, a in again.items() if a == "applied") == [11, 12]
    # harvest again: the labels are now in the store, and a third run finds nothing to do
    harvest(config, db, GitHubClient(config, [TOKEN], sleep=lambda s: None))
    third = run_label_policy(db, config, writer=writer(config), apply=True)
    assert [d for d in third.decisions if d.action == "applied"] == []
    assert sum(1 for r in audit(db) if r["action"] == "applied") == 4


def test_never_touches_assigned_claimed_linked_or_person_removed_issues(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=20,
                            max_per_repo_per_week=20)
    before = {n: live_labels(sim, n) for n in (3, 6, 7, 8, 13)}
    result = run_label_policy(db, config, writer=writer(config), apply=True)
    touched = {d.number for d in result.decisions}
    assert touched == {5, 10, 11, 12}
    assert {n: live_labels(sim, n) for n in (3, 6, 7, 8, 13)} == before
    assert "good first issue" not in live_labels(sim, 8)  # removed by a person: never re-added


def test_apply_outside_the_allowlist_only_proposes(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=["someone/else"])
    result = run_label_policy(db, config, writer=writer(config), apply=True)
    assert {d.action for d in result.decisions} == {"proposed", "skipped"}
    assert all("allowlist" in d.reason for d in result.decisions if d.action == "proposed")
    assert "good first issue" not in live_labels(sim, 5)


def test_weekly_cap_and_threshold(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=3,
                            max_per_repo_per_week=1)
    run_label_policy(db, config, writer=writer(config), apply=True)
    run_label_policy(db, config, writer=writer(config), apply=True)
    assert sum(1 for r in audit(db) if r["action"] == "applied") == 1
    assert any("cap per week" in r["reason"] for r in audit(db))

    strict = config.model_copy(update={"triage": config.triage.model_copy(update={"threshold": 0.99})})
    assert run_label_policy(db, strict, writer=writer(strict), apply=True).decisions == []


def test_optional_bilingual_comment(sim_factory, tmp_path):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=1, comment=True)
    run_label_policy(db, config, writer=writer(config), apply=True)
    comments = requests.get(f"{sim.url}/repos/{UPSTREAM}/issues/5/comments",
                            headers={"Authorization": f"token {TOKEN}"}).json()
    assert len(comments) == 1 and "[civicbot]" in comments[0]["body"] and "good first issue" in comments[0]["body"]
    assert "ラベル" in comments[0]["body"] and "Labelled" in comments[0]["body"]


class Killed(BaseException):
    """Stands for SIGKILL in-process: nothing after it runs (not even `except Exception`)."""


def comments_by_civicbot(sim, number: int) -> int:
    rows = requests.get(f"{sim.url}/repos/{UPSTREAM}/issues/{number}/comments",
                        headers={"Authorization": f"token {TOKEN}"}).json()
    return sum(c["body"].startswith("[civicbot]") for c in rows)


@pytest.mark.parametrize("killed_after", ["label", "comment", "before_label"])
def test_a_write_killed_midway_is_settled_by_the_next_run(sim_factory, tmp_path, killed_after):
    sim, config, db = setup(sim_factory, tmp_path, allowlist=[UPSTREAM], max_per_repo_per_run=1,
                            max_per_repo_per_week=10, comment=True)
    dying = writer(config)
    real = {"label": dying.add_label, "comment": dying.comment}

    def die(step):
        def call(*args, **kwargs):
            if killed_after != "before_label":
                real[step](*args, **kwargs)  # GitHub did it; the process dies before hearing back
            raise Killed()
        return call

    step = "label" if killed_after in ("label", "before_label") else "comment"
    setattr(dying, {"label": "add_label", "comment": "comment"}[step], die(step))
    with pytest.raises(Killed):
        run_label_policy(db, config, writer=dying, apply=True)
    rows = audit(db)
    assert [(r["number"], r["action"]) for r in rows] == [(5, "pending")]  # announced, never confirmed
    assert ("good first issue" in live_labels(sim, 5)) == (killed_after != "before_label")

    result = run_label_policy(db, config, writer=writer(config), apply=True)
    rows = audit(db)
    assert not [r for r in rows if r["action"] == "pending"]
    assert "good first issue" in live_labels(sim, 5)
    assert comments_by_civicbot(sim, 5) == 1  # posted once: by the settling, the first run or the retry
    applied_5 = [r for r in rows if r["number"] == 5 and r["action"] == "applied"]
    assert len(applied_5) == 1
    if killed_after == "before_label":
        assert rows[0]["action"] == "failed" and "decided again" in rows[0]["reason"]
        assert [d.number for d in result.decisions if d.action == "applied"] == [5]
    else:
        assert rows[0]["action"] == "applied" and "interrupted" in rows[0]["reason"]
        assert ("comment was missing" in rows[0]["reason"]) == (killed_after == "label")
        assert {d.number: d.action for d in result.decisions}[5] == "skipped"  # never labelled twice
        assert [d.number for d in result.decisions if d.action == "applied"] == [10]  # the next one instead


def test_cli_triage_and_label_dry_run(sim_factory, tmp_path, monkeypatch):
    from civicbot.cli import main

    sim, config, db = setup(sim_factory, tmp_path)
    path = tmp_path / "c.yml"
    path.write_text(json.dumps(json.loads(config.model_dump_json())), encoding="utf-8")
    monkeypatch.setenv("CIVICBOT_TEST_TOKEN", TOKEN)
    out = CliRunner().invoke(main, ["triage", "-c", str(path), "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["model"] == "heuristic" and "heuristic" in body["statement"] and body["candidates"] == 6
    assert {r["number"] for r in db.query("SELECT number FROM gfi_candidates WHERE repo_id = 10")} == {5, 10, 11, 12, 13}
    top = next(db.query("SELECT * FROM gfi_candidates ORDER BY probability DESC"))
    assert json.loads(top["reasons_ja"]) and json.loads(top["reasons_en"])
    out = CliRunner().invoke(main, ["label", "-c", str(path)])
    assert out.exit_code == 0, out.output
    assert "dry run" in out.output and "proposed" in out.output
    assert "good first issue" not in live_labels(sim, 5)


# --- a generated world: time safety and the model -----------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from civicbot.sandbox import SandboxServer, World

    world = generate_world_dict(seed=21, scale=0.2)
    server = SandboxServer(World(world)).start()
    try:
        config = family_config(world, server.url, tmp_path_factory.mktemp("gen") / "g.db")
        db = open_store(config.database.path)
        assert harvest(config, db, GitHubClient(config, [DEMO_TOKEN], sleep=lambda s: None)).outcome == "complete"
    finally:
        server.stop()
    return config, db


def _raw(db):
    q = lambda sql: [dict(r) for r in db.query(sql)]  # noqa: E731
    return (q("SELECT id, repo_id, number, is_pull_request, title, body, user_id, state, created_at, closed_at, "
              "merged_at FROM items"),
            q("SELECT id, item_id, user_id, body, created_at FROM comments"),
            q("SELECT id, repo_id, item_id, event, actor_id, created_at, label_name, assignee_id, source_repo_id, "
              "source_number FROM issue_events"),
            {u["id"]: u for u in q("SELECT id, login, is_bot FROM users")},
            {r["id"]: r["full_name"] for r in q("SELECT id, full_name FROM repos")})


def test_scores_are_time_safe(generated):
    config, db = generated
    items, comments, events, users, repos = _raw(db)
    cutoff = "2020-06-01T00:00:00Z"  # the generated family's issues come mostly in spring 2020
    now = "2030-01-01T00:00:00Z"

    def scores(history):
        train = [(ex.snapshot, ex.outcome.label("GT-M", cutoff)) for ex in examples_at_creation(history, now)
                 if ex.snapshot.as_of < cutoff]
        train = [(s, int(y)) for s, y in train if y is not None]
        model = GFIModel().fit([s for s, _ in train], [y for _, y in train])
        open_then = [i["id"] for i in history.issues() if i["created_at"] < cutoff]
        snaps = [history.snapshot(i, cutoff) for i in sorted(open_then)]
        return [s.numeric for s in snaps], model.predict(snaps)[1]

    full = History(config, items, comments, events, users, repos)
    rng = random.Random(5)
    kept_events = [e for e in events if e["created_at"] < cutoff or rng.random() < 0.3]
    kept_comments = [c for c in comments if c["created_at"] < cutoff or rng.random() < 0.3]
    rng.shuffle(kept_events)
    rng.shuffle(kept_comments)
    cut = History(config, items, kept_comments, kept_events, users, repos)
    nothing_later = History(config, items, [c for c in comments if c["created_at"] < cutoff],
                            [e for e in events if e["created_at"] < cutoff], users, repos)
    (f1, p1), (f2, p2), (f3, p3) = scores(full), scores(cut), scores(nothing_later)
    assert f1 == f2 == f3
    assert p1.tolist() == pytest.approx(p2.tolist()) and p1.tolist() == pytest.approx(p3.tolist())
    assert len(p1) > 100


def test_the_model_is_used_with_enough_history_and_labels_of_civicbot_never_count(generated):
    config, db = generated
    result = score_family(db, config, write=False)
    assert result.model == "model" and result.positives >= config.triage.min_history
    # declaring the maintainers who labelled as civicbot's own account removes their labels from the truth
    labellers = {r["login"] for r in db.query(
        "SELECT DISTINCT u.login FROM issue_events e JOIN users u ON u.id = e.actor_id "
        "WHERE e.event = 'labeled' AND lower(e.label_name) = 'good first issue'")}
    blind = score_family(db, config, write=False, extra_bot_logins=labellers)
    assert blind.model == "heuristic" and blind.positives == 0 and "heuristic" in blind.statement


def test_walk_forward_evaluation_reports_roc_auc(generated, tmp_path):
    from civicbot.triage.evaluate import run_evaluation

    config, db = generated
    report = run_evaluation(db, config, out_path=tmp_path / "eval.md", bootstrap=50, truths=("GT-M",))
    model = report.figure("GT-M", "model", "roc_auc")
    print(f"\nGT-M walk-forward: {report.summary()}")
    assert model.value > 0.6
    assert model.low is not None and model.low <= model.value <= model.high
    assert report.figure("GT-M", "random", "roc_auc").value < model.value
    text = (tmp_path / "eval.md").read_text(encoding="utf-8")
    assert "| model |" in text and "| random |" in text and "ROC-AUC" in text
    rows = list(db.query("SELECT * FROM gfi_evaluation WHERE run_key = ?", [report.run_key]))
    assert len(rows) == 4 * 5 and {r["method"] for r in rows} == {"model", "recgfi", "heuristic", "random"}
