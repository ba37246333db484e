"""The cold-start prior: exclusions, near-duplicates, the shipped file, blending, evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from civicbot.triage import prior, prior_eval

REAL_ISSUES = ROOT.parent / "shared" / "data" / "real-issues"
MODEL = ROOT / "civicbot" / "triage" / "prior_model.json"


@pytest.fixture
def real_issues() -> Path:
    if not (REAL_ISSUES / "issues.jsonl").exists():
        pytest.skip(f"../shared/data/real-issues is absent ({REAL_ISSUES}); it is read from beside the project")
    return REAL_ISSUES


def row(repo, title, body="", gfi=False, **extra):
    return {"repo": repo, "title": title, "body_excerpt": body, "gfi": gfi, "labels": [], **extra}


@pytest.mark.parametrize("repo", ["Tokyo-Metro-Gov/covid19", "tokyo-metropolitan-gov/covid19", "code4nagoya/covid19",
                                  "someone/COVID-19-site", "someone/covid_19_dashboard", "x/stopcovid19-web",
                                  "StopCovid/app"])
def test_reserved_repositories_never_reach_training(repo):
    rows = [row(repo, "誤字の修正", "「こんにちわ」を「こんにちは」に", gfi=True), row("a/b", "Crash on start", "traceback")]
    kept = prior.training_rows(rows)
    assert [r["repo"] for r in kept] == ["a/b"]
    assert prior.reserved(repo)


def test_ordinary_repositories_are_not_reserved():
    assert not any(prior.reserved(r) for r in ["codeforjapan/mapprint", "VOICEVOX/voicevox", "a/covid", "b/19"])


def test_real_training_set_holds_no_reserved_repository(real_issues):
    rows = prior.load_corpus(real_issues)
    kept = prior.training_rows(rows + [row("Tokyo-Metro-Gov/covid19", "追加", "x", gfi=True)])
    assert kept and not any(re.search(r"covid[-_]?19|stopcovid", r["repo"], re.I) for r in kept)
    # and the evaluation folds are the same rows: nothing reserved is tuned or scored on either
    assert len(kept) == len(prior.training_rows(rows))


def test_templated_near_duplicates_are_dropped_and_distinct_issues_kept():
    template = ("Hi, this is a first-timers-only issue. Update the file src/module{}.js line {} "
                "to replace the old text with the new text. Claim it by commenting.")
    rows = [row(f"publiclab/repo{i % 3}", f"Update module {i}", template.format(i, i * 7), gfi=True) for i in range(20)]
    rows += [row("a/b", "ダークモードで文字が読めない", "設定画面の背景色が黒で文字も黒"),
             row("a/b", "Add CSV export", "Users want to download the table as CSV")]
    kept = prior.dedupe(rows)
    assert len(kept) == 3 and kept[0] is rows[0]


def test_shipped_model_is_small_pickle_free_with_provenance():
    spec = json.loads(MODEL.read_text(encoding="utf-8"))
    assert MODEL.stat().st_size < 300_000
    assert spec["format"] == "civicbot-gfi-prior/2"
    assert len(spec["text_coef"]) == spec["hashing"]["n_features"] == prior.HASH_FEATURES
    assert spec["C"] in spec["C_grid"] == list(prior.C_GRID)
    assert spec["form_features"] == prior.FORM_FEATURES
    provenance = spec["provenance"]
    assert re.fullmatch(r"[0-9a-f]{64}", provenance["sha256"])
    assert provenance["trained_rows"] + provenance["near_duplicates_dropped"] + provenance["reserved_dropped"] \
        == provenance["rows"]
    assert "covid" in provenance["exclusions"]
    assert set(spec["metrics"]["corpus"]["methods"]) == {"prior", "keyword", "recgfi"}


def test_shipped_model_matches_the_corpus_it_names(real_issues):
    import hashlib
    spec = json.loads(MODEL.read_text(encoding="utf-8"))
    assert hashlib.sha256((real_issues / "issues.jsonl").read_bytes()).hexdigest() == spec["provenance"]["sha256"]


def test_packaged_prior_loads_with_importlib_resources_and_ranks_sensibly():
    p = prior.load()
    probs = p.probability(["README のリンク切れを修正", "Segfault when loading large files under heavy load"],
                          ["「こちら」のリンクを https://example.org/new に置き換える\n- [ ] README.md", ""])
    assert ((probs > 0) & (probs < 1)).all()
    assert probs[0] > probs[1]


def test_prior_reads_only_the_opening_of_the_body_as_the_corpus_does():
    p = prior.load()
    body = "「文言」を修正してください。\n" * 30  # longer than BODY_CHARS
    a, b = p.probability(["x", "x"], [body, body[:prior.BODY_CHARS] + "Traceback error " * 500])
    assert a == pytest.approx(b)


def test_own_weight_rises_smoothly_with_the_projects_own_history():
    weights = [prior.own_weight(n) for n in (0, 1, 5, prior.BLEND_K, 300)]
    assert weights[0] == 0 and weights[3] == pytest.approx(0.5)
    assert all(a < b for a, b in zip(weights, weights[1:])) and weights[-1] < 1


class Snap:
    def __init__(self, title, body):
        self.title, self.text = title, f"{title}\n{body}"


def test_blend_is_the_prior_without_history_and_moves_towards_the_own_model():
    snaps = [Snap("README の誤字", "「こんにちわ」→「こんにちは」"), Snap("Crash", "Traceback: error")]
    alone = prior.load().balanced([s.title for s in snaps], [s.text.split("\n", 1)[1] for s in snaps])
    own = np.array([0.0, 1.0])
    assert prior.blend(snaps, own, 0) == pytest.approx(alone)
    half = prior.blend(snaps, own, prior.BLEND_K)
    assert half == pytest.approx(0.5 * alone + 0.5 * own)


def test_fast_metrics_agree_with_sklearn():
    from sklearn.metrics import average_precision_score, roc_auc_score
    rng = np.random.default_rng(3)
    for i in range(50):
        y = np.r_[0, 1, rng.integers(0, 2, 40)]
        s = rng.integers(0, 4, 42).astype(float) if i % 2 else rng.random(42)
        assert prior_eval.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
        assert prior_eval.average_precision(y, s) == pytest.approx(average_precision_score(y, s))


def test_bootstrap_interval_contains_the_estimate_and_resamples_repos():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30).astype(str), 10)
    y = (rng.random(300) < 0.3).astype(int)
    score = y + rng.normal(0, 1, 300)
    estimate, low, high = prior_eval.interval(y, score, groups, prior_eval.roc_auc)
    assert low < estimate < high and high - low > 0.01


def test_keyword_baseline_reads_the_title_only():
    scores = prior_eval.keyword_scores([row("a/b", "Fix typo in docs"), row("a/b", "誤字"), row("a/b", "Crash", "typo")])
    assert list(scores) == [1.0, 1.0, 0.0]


def test_balanced_takes_the_corpus_base_rate_out_and_keeps_the_order():
    p = prior.load()
    titles, bodies = ["README の誤字", "Crash", "Add dark mode"], ["「こんにちわ」→「こんにちは」", "Traceback", ""]
    calibrated, balanced = p.probability(titles, bodies), p.balanced(titles, bodies)
    assert (balanced > calibrated).all()  # the corpus holds fewer GFIs than non-GFIs
    assert np.argsort(balanced).tolist() == np.argsort(calibrated).tolist()


def test_digits_are_folded_so_issue_numbers_do_not_move_the_prior():
    p = prior.load()
    a, b = p.probability(["お知らせの文言を修正 (5)", "お知らせの文言を修正 (12)"], ["v1.2 の表示", "v10.20 の表示"])
    assert a == b


def test_triage_scores_with_the_prior_when_the_project_has_no_history(sim_factory, tmp_path):
    from test_triage import setup

    from civicbot.triage.model import Heuristic
    from civicbot.triage.score import score_family
    _, config, db = setup(sim_factory, tmp_path)
    result = score_family(db, config, write=False)
    assert result.model == "heuristic" and result.positives == 1 and result.candidates
    snaps = [c.snapshot for c in result.candidates]
    w = 1 / (1 + prior.BLEND_K)  # one maintainer-added GFI label: the prior weighs 30/31
    expected = (w * Heuristic().predict(snaps)[1]
                + (1 - w) * prior.load().balanced([s.title for s in snaps], [s.text.split("\n", 1)[1] for s in snaps]))
    assert [c.probability for c in result.candidates] == pytest.approx(expected.tolist())
    broken = [c.probability for c in result.candidates if c.snapshot.title == "it is broken"]
    assert broken and broken[0] < min(c.probability for c in result.candidates if "文言" in c.snapshot.title)


def test_benchmark_scores_synthetic_issues_and_trains_when_the_corpus_is_there():
    from benchmarks.prior import bench_prior, synthetic

    titles, bodies = synthetic(50)
    assert len(set(titles)) > 10 and all(bodies)
    rows = bench_prior([200])
    synthetic_row = rows[-1]
    assert synthetic_row["case"] == "score synthetic open issues" and synthetic_row["issues"] == 200
    train_row = rows[0]
    assert train_row["case"] == "train on the corpus"
    assert ("skipped" in train_row) != (REAL_ISSUES / "issues.jsonl").exists()


def test_evaluation_is_leave_repos_out_with_japanese_subsets_and_kana_dojo_apart():
    rng = np.random.default_rng(2)
    rows = []
    for i in range(120):
        repo = "lingdojo/kana-dojo" if i % 10 == 0 else f"org{i % 8}/repo"
        gfi = bool(rng.random() < 0.3)
        ja = i % 2 == 0
        title = (f"誤字の修正 {i}" if ja else f"Fix typo {i}") if gfi else (f"起動時にクラッシュ {i}" if ja else f"Crash {i}")
        rows.append(row(repo, title, f"body {rng.integers(1e9)} " + ("small" if gfi else "trace"), gfi=gfi,
                        language_guess="ja" if ja else "en", author=f"u{i % 5}", created="2024-01-01"))
    result = prior_eval.evaluate_rows(rows)
    assert set(result["methods"]) == {"prior", "keyword", "recgfi"}
    assert result["repos"] == 9 and result["issues"] == 120
    assert set(result["subsets"]) == {"ja", "ja_without_kana_dojo"}
    assert set(result["apply_threshold"]) == {"all", "not_ja", "ja", "ja_without_kana_dojo"}
    assert result["apply_threshold"]["all"]["issues"] == 120
    assert result["subsets"]["ja"]["issues"] == 60
    assert result["subsets"]["ja_without_kana_dojo"]["issues"] == 60 - sum(
        r["repo"] == "lingdojo/kana-dojo" and r["language_guess"] == "ja" for r in rows)
    assert result["methods"]["prior"]["roc_auc"][0] > 0.8  # the words separate the classes in every repo


def test_train_command_writes_a_loadable_model_with_provenance(tmp_path):
    import hashlib

    words = ["お知らせ", "地図", "凡例", "README", "設定", "ボタン", "表", "グラフ", "ヘッダー", "フッター"]
    rows = [row(f"org{i % 6}/r", f"{words[i % 10]}の誤字を修正" if i % 3 == 0 else f"{words[i % 10]}でクラッシュ",
                f"{words[(i * 7) % 10]} {words[(i * 3) % 10]} {'「文言」' if i % 3 == 0 else 'Traceback'}", gfi=i % 3 == 0)
            for i in range(60)] + [row("Tokyo-Metro-Gov/covid19", "文言の修正", "x", gfi=True)]
    (tmp_path / "issues.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "model.json"
    with pytest.raises(SystemExit) as done:
        prior.main(["train", "--data", str(tmp_path), "--out", str(out), "--no-evaluate"])
    assert done.value.code == 0
    spec = json.loads(out.read_text(encoding="utf-8"))
    provenance = spec["provenance"]
    assert provenance["sha256"] == hashlib.sha256((tmp_path / "issues.jsonl").read_bytes()).hexdigest()
    assert provenance["rows"] == 61 and provenance["reserved_dropped"] == 1 and provenance["trained_rows"] >= 20
    model = prior.Prior(spec)
    a, b = model.probability(["地図の誤字を修正", "地図でクラッシュ"], ["「文言」", "Traceback"])
    assert a > b


@pytest.mark.parametrize("kind, positives, ja, en", [
    ("heuristic", 0, "だけで計算", "alone; the history holds no maintainer-added GFI label"),
    ("heuristic", 5, "ヒューリスティック、重み 0.14", "heuristic (weight 0.14) blended with the cold-start prior"),
    ("model", 30, "重み 0.50", "own model (calibrated logistic regression trained on 30 maintainer-added GFI labels, "
                              "weight 0.50) blended with the cold-start prior"),
])
def test_statement_says_how_the_score_was_blended_in_japanese_then_english(kind, positives, ja, en):
    from civicbot.triage.score import ScoreResult

    statement = ScoreResult(model=kind, positives=positives, min_history=30).statement
    japanese, english = statement.split("\n")
    assert ja in japanese and en in english
    provenance = prior.load().spec["provenance"]
    assert f"{provenance['trained_rows']} real issues from {provenance['trained_repos']} repositories" in english
    w = prior.own_weight(positives)
    assert f"weight {1 - w:.2f})" in english  # the prior's share


def test_with_the_prior_alone_apply_at_the_default_threshold_labels_no_well_specified_japanese_issue(
        sim_factory, tmp_path):
    """docs/triage.md (what --apply does for a young project): the tests' well-specified Japanese issues
    score about 0.45 with the prior alone, under the default threshold 0.5, which stays the safety limit."""
    from test_triage import UPSTREAM, setup

    from civicbot.config import TriageSettings
    from civicbot.triage.policy import run_label_policy

    assert TriageSettings().threshold == 0.5
    _, config, db = setup(sim_factory, tmp_path, threshold=TriageSettings().threshold, allowlist=[UPSTREAM])
    dry = run_label_policy(db, config, apply=False)
    assert dry.decisions and all("< threshold 0.5: --apply would not add it" in d.reason for d in dry.decisions)
    assert max(float(d.reason.split("probability ")[1].split()[0]) for d in dry.decisions) == pytest.approx(0.45, abs=0.02)
    applied = run_label_policy(db, config, apply=True)
    assert applied.decisions == []
    assert any("below the threshold: best was 0.4" in n for n in applied.notes)


def test_repeated_grouped_splits_keep_repos_apart_start_with_the_shipped_split_and_average_it():
    rows = []
    for i in range(96):
        gfi = i % 4 == 0
        rows.append(row(f"org{i % 11}/repo", ("Fix typo " if gfi else "Crash ") + str(i),
                        "small wording" if gfi else "traceback", gfi=gfi, language_guess="en"))
    _, _, y, groups = prior.arrays(rows)
    splits = [list(prior_eval.grouped_folds(y, groups, split=s)) for s in range(3)]
    for folds in splits:
        assert all(not set(groups[a]) & set(groups[b]) for a, b in folds)
    assert [sorted(set(groups[b])) for _, b in splits[0]] != [sorted(set(groups[b])) for _, b in splits[1]]
    single = prior_eval.evaluate_rows(rows)
    repeated = prior_eval.evaluate_rows(rows, repeats=2)
    assert "repeated" not in single and repeated["methods"] == single["methods"]  # split 0 is the shipped one
    prior_figures = repeated["repeated"]["methods"]["prior"]
    assert repeated["repeated"]["splits"] == 2 and len(prior_figures["per_split"]["roc_auc"]) == 2
    assert prior_figures["per_split"]["roc_auc"][0] == single["methods"]["prior"]["roc_auc"][0]
    assert prior_figures["roc_auc"][0] == pytest.approx(np.mean(prior_figures["per_split"]["roc_auc"]), abs=2e-3)
    assert prior_figures["roc_auc"][1] <= prior_figures["roc_auc"][0] <= prior_figures["roc_auc"][2]
    assert "mean over 2 grouped splits" in prior_eval.table({"protocol": "p", "reserved": "r", "corpus": repeated})


def test_evaluation_says_what_apply_would_take_with_the_prior_alone_per_language():
    y = np.array([1, 0, 1, 0, 0, 1])
    even = np.array([0.9, 0.8, 0.55, 0.5, 0.2, 0.1])
    ja = np.array([True, True, False, False, False, True])
    table = prior_eval.apply_threshold(y, even, {"all": np.ones(6, bool), "ja": ja, "not_ja": ~ja})
    assert table["all"]["reach"] == {"0.5": [4, 2], "0.7": [2, 1]}
    assert table["ja"] == {"issues": 3, "positives": 2, "median": 0.8, "reach": {"0.5": [2, 1], "0.7": [2, 1]}}
    assert table["not_ja"]["reach"] == {"0.5": [2, 1], "0.7": [0, 0]}
    # even odds: the calibrated probability with the base rate taken out, as Prior.balanced does
    assert prior.even_odds(np.array([0.2, 0.5]), 0.2) == pytest.approx([0.5, 0.8])
    p = prior.load()
    rate = p.spec["provenance"]["trained_positives"] / p.spec["provenance"]["trained_rows"]
    assert p.balanced(["README の誤字"], [""]) == pytest.approx(prior.even_odds(p.probability(["README の誤字"], [""]), rate))
