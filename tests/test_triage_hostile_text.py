"""Hostile issue text (issue 15, point 2): the expressions civicbot runs on text anyone can write are
linear, they find what the earlier expressions found, and a triage stops between two issues when asked.

Speed is measured by `python -m benchmarks --only hostile-text` (docs/performance.md), never
asserted here: these tests check correctness on the worst-case bodies and that long random text
gives the same features as the earlier expressions wherever those can be run in reasonable time.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sizes import HYPOTHESIS_EXAMPLES

from civicbot.config import Config
from civicbot.publish.bundle import REMOVED, SECRET, scrub
from civicbot.store import open_store
from civicbot.triage import features as F
from civicbot.triage.features import History
from civicbot.triage.score import TriageInterrupted, score_family

SIZE = 65_536  # GitHub's largest issue body, in characters
NOW = "2020-04-01T00:00:00Z"

# The expressions as they were before issue 15: the reference. Quadratic on the worst cases, so
# run here only on short texts or short runs.
OLD_FILE_PATH_RE = re.compile(r"(?:[\w.-]+/)*[\w.-]+\.(?:json|vue|ts|js|md|yml|yaml|py|html|css|scss|csv|png|svg|txt)\b")
OLD_CLOSING_RE = re.compile(r"(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s*#(\d+)", re.IGNORECASE)
OLD_LIST_RE = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+", re.MULTILINE)
OLD_CHECKBOX_RE = re.compile(r"^\s*[-*]\s+\[[ xX]\]", re.MULTILINE)

TEXT_FEATURES = ["len_title", "len_body", "n_lines", "ja_share", "n_list_items", "n_checkboxes", "n_code_blocks",
                 "n_inline_code", "n_links", "n_file_paths", "n_quotes", "small_task_words", "debug_words"]


def history(issues: dict[str, tuple[str, str]], pulls: dict[str, str] | None = None) -> History:
    """A one-repo History: issues numbered 1, 2, ... in order, pull requests from 100 on."""
    items = [dict(id=n, repo_id=1, number=n, is_pull_request=0, title=title, body=body, user_id=1, state="open",
                  created_at="2020-03-01T00:00:00Z", closed_at=None, merged_at=None)
             for n, (title, body) in enumerate(issues.values(), start=1)]
    items += [dict(id=n, repo_id=1, number=n, is_pull_request=1, title=key, body=body, user_id=1, state="open",
                   created_at="2020-03-01T00:00:00Z", closed_at=None, merged_at=None)
              for n, (key, body) in enumerate((pulls or {}).items(), start=100)]
    return History(Config(name="t", upstream="o/r"), items, [], [], {1: {"id": 1, "login": "someone", "is_bot": 0}},
                   {1: "o/r"})


def text_features(h: History, item_id: int) -> dict[str, float]:
    numeric = h.snapshot(item_id, NOW).numeric
    return {f: numeric[f] for f in TEXT_FEATURES}


def closing(h: History) -> dict[str, list[int]]:
    return {pr["title"]: sorted(n for (_, n), prs in h.closing_prs.items() if pr in prs)
            for pr in h.items.values() if pr["is_pull_request"]}


# --- ordinary text: the same features as before -------------------------------------------------

ORDINARY = {
    "checklist_ja": ("お知らせの文言を修正",
                     "## 対象ファイル\n- `data/news.json`\n\n## やること\n- [ ] 「お知らせ」を「新着情報」に変更\n"
                     "- [ ] 表示の確認\n\n小さな修正です。"),
    "locale_ja": ("タイ語翻訳の追加",
                  "`assets/locales/th.json` に未翻訳のキーがあります。\n\n```json\n\"ConfirmedCasesTable\": \"\"\n```\n\n"
                  "- [ ] workerページ\n- [ ] ConfirmedCasesTable"),
    "bug_en": ("TypeError on the patients page",
               "When I run `yarn dev` I get an error:\n\n```\nTypeError: Cannot read property 'map' of undefined\n"
               "    at components/DataTable.vue:42\n```\n\nSee https://github.com/tokyo-metropolitan-gov/covid19/issues/123 "
               "and docs/README.md.\n\n1. Open the page\n2. Click the tab\n3. See the error\n"),
    "template_ja": ("検査実施件数のグラフを追加",
                    "## 👏 解決する issue / Resolved Issues\n- close #12\n\n## ⛏ 変更内容 / Details of Changes\n"
                    "- `components/TimeBarChart.vue` を修正\n  - nested item\n* star item\n+ plus item\n\n"
                    "## 📸 スクリーンショット / Screenshots\n![screenshot](https://user-images.example.com/89223038.png)"),
    "blank_lines": ("表記ゆれ",
                    "やること:\n\n\n- [x] 「陽性患者数」の表記を統一\n\n  * [ ] 英語版 \"Number of positive cases\" の翻訳\n\n"
                    "10. 番号付き\n\n\tdata/patients.csv と static/img/logo.svg, nuxt.config.ts を確認\n\n\n"),
    "paths": ("Paths everywhere",
              "see src/a.b/c.json, ./lib/x.min.js, ../foo/bar.test.ts; http://example.com/path/file.html?x=1 and a.jsonp, "
              "archive.tar.gz, README.md. Also .github/workflows/ci.yml/ and a//b.yaml, 東京都/data.json, "
              "assets/locales/ja.json-old and node_modules/@nuxt/x.vue."),
    "quotes": ("typo: 誤字",
               "typo: 『誤字』 in 「お知らせ」 and \"alt\" text, broken link on README; Spelling error in the stack trace.\n"
               "「閉じていない quote\n\"also open"),
    "crlf": ("CRLF body", "- item one\r\n- item two\r\n\r\n- [ ] task\r\n* [X] done\r\n\r\n1.\tnumbered\r\n"),
    "empty": ("A title only", ""),
}

# Computed with the code before issue 15 (civicbot/triage/features.py at 381d37e) and frozen.
ORDINARY_FEATURES = {
    "checklist_ja": [10, 82, 8, 0.4731182795698925, 3, 2, 0, 1, 0, 1, 2, 1, 0],
    "locale_ja": [8, 120, 8, 0.17829457364341086, 2, 2, 1, 1, 0, 1, 1, 2, 0],
    "bug_en": [30, 271, 13, 0.0, 3, 0, 1, 1, 1, 2, 0, 1, 4],
    "template_ja": [13, 243, 11, 0.12840466926070038, 5, 0, 0, 1, 1, 2, 0, 0, 0],
    "blank_lines": [4, 146, 13, 0.2185430463576159, 3, 2, 0, 0, 0, 3, 2, 3, 0],
    "paths": [16, 251, 1, 0.011194029850746268, 0, 0, 0, 0, 1, 10, 0, 1, 0],
    "quotes": [8, 119, 3, 0.109375, 0, 0, 0, 0, 0, 0, 3, 8, 2],
    "crlf": [9, 65, 8, 0.0, 5, 2, 0, 0, 0, 0, 0, 0, 0],
    "empty": [12, 0, 0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
}

PULLS = {
    "closes": "Closes #12",
    "fix_colon": "fix: #3",
    "two": "Fixes  #4, resolves:\n#5",
    "glued": "fixed#6 and CLOSE : #7",
    "space_after_hash": "closes # 8",
    "upper": "FIXES #9 in the title\nresolve #10",
    "none": "a refactoring, no issue",
}
PULLS_CLOSING = {"closes": [12], "fix_colon": [3], "two": [4, 5], "glued": [6, 7], "space_after_hash": [],
                 "upper": [9, 10], "none": []}


def test_ordinary_issues_keep_their_features():
    h = history(ORDINARY, PULLS)
    for n, key in enumerate(ORDINARY, start=1):
        assert text_features(h, n) == dict(zip(TEXT_FEATURES, ORDINARY_FEATURES[key])), key
    assert closing(h) == PULLS_CLOSING


def test_a_generated_family_keeps_its_features():
    """Every issue and PR of a generated family (2,010 items): the same text features and `close #N`
    links as the code before issue 15 computed (digest and totals frozen from it)."""
    import hashlib
    import json

    from civicbot.sandbox.generate import generate_world_dict

    world = generate_world_dict(seed=21, scale=0.2)
    items = [dict(id=i["id"], repo_id=i["repo_id"], number=i["number"],
                  is_pull_request=int(bool(i.get("pull_request"))), title=i["title"], body=i.get("body"), user_id=1,
                  state=i["state"], created_at=i["created_at"], closed_at=i.get("closed_at"), merged_at=None)
             for i in world["issues"]]
    h = History(Config(name="t", upstream="o/r"), items, [], [], {1: {"id": 1, "login": "someone", "is_bot": 0}}, {})
    rows = [[round(h.snapshot(i["id"], "2030-01-01T00:00:00Z").numeric[f], 12) for f in TEXT_FEATURES] for i in items]
    links = sorted([rid, n, pr["id"]] for (rid, n), prs in h.closing_prs.items() for pr in prs)
    totals = {f: round(sum(r[k] for r in rows), 6) for k, f in enumerate(TEXT_FEATURES)}
    assert totals == {"len_title": 46705, "len_body": 247452, "n_lines": 12748, "ja_share": 386.40515,
                      "n_list_items": 4454, "n_checkboxes": 276, "n_code_blocks": 199, "n_inline_code": 1618,
                      "n_links": 413, "n_file_paths": 2021, "n_quotes": 65, "small_task_words": 576,
                      "debug_words": 252}
    assert len(items) == 2010 and len(links) == 27
    digest = hashlib.sha256(json.dumps([rows, links]).encode()).hexdigest()
    assert digest == "98c47404b65f99920d9f16f922e2e35d9d31d0e07c4f82ed7603d44758fcb276"


# --- the worst cases, at GitHub's maximum size ---------------------------------------------------


def fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# name -> (body of `size` characters, the features it must get). Each is the input that made one
# of the earlier expressions quadratic, or one just like it that does hold a match.
WORST_ISSUES = {
    "path_run": (lambda n: fill("a", n), {"n_file_paths": 0}),
    "path_segments": (lambda n: fill("ab/", n), {"n_file_paths": 0}),
    "path_dots": (lambda n: fill("a.", n), {"n_file_paths": 0}),
    "japanese_run": (lambda n: fill("あ", n), {"n_file_paths": 0}),
    "one_long_path": (lambda n: fill("ab/", n - 7) + "xy.json", {"n_file_paths": 1}),
    "json_segments": (lambda n: fill("a.json/", n), {"n_file_paths": 1}),
    "blank_lines": (lambda n: fill("\n", n), {"n_list_items": 0, "n_checkboxes": 0}),
    "checkbox_gap": (lambda n: "- " + fill("\n", n - 5) + "[ ]", {"n_list_items": 1, "n_checkboxes": 1}),
    "list_gap": (lambda n: "- " + fill("\n", n - 2), {"n_list_items": 1, "n_checkboxes": 0}),
    "digit_lines": (lambda n: fill("\n", n // 2) + fill("1", n - n // 2), {"n_list_items": 0}),
    "number_after_blank_lines": (lambda n: fill("\n", n - 4) + "1. a", {"n_list_items": 1}),
    "open_quotes": (lambda n: fill("「", n), {"n_quotes": 0}),
    "far_quote": (lambda n: "「" + fill("a", n - 2) + "」", {"n_quotes": 0}),
    "links": (lambda n: fill("https://", n), {"n_links": 1}),
}
WORST_PULLS = {  # PR bodies: History reads their `close #N`
    "closing_gap": (lambda n: "fix" + fill(" ", n - 3), []),
    "closing_far": (lambda n: "fix" + fill(" ", n - 5) + "#1", [1]),
    "closing_colon_gap": (lambda n: "closes:" + fill(" ", n - 9) + "#1", [1]),
}
WORST_SCRUB = {
    "local_part_run": (lambda n: "gh " + fill("a", n - 3), False),
    "at_without_domain_dot": (lambda n: fill("a", n // 2) + "@" + fill("a", n - n // 2 - 1), False),
    "dotted_domain": (lambda n: "a@" + fill("a.", n - 2), False),
    "long_address": (lambda n: fill("a", n - 12) + "@example.com", True),
}


def old_counts(text: str) -> dict[str, int]:
    return {"n_file_paths": len(OLD_FILE_PATH_RE.findall(text)), "n_list_items": len(OLD_LIST_RE.findall(text)),
            "n_checkboxes": len(OLD_CHECKBOX_RE.findall(text))}


def new_counts(text: str) -> dict[str, int]:
    return {"n_file_paths": F.count_file_paths(text), "n_list_items": len(F.LIST_RE.findall(text)),
            "n_checkboxes": len(F.CHECKBOX_RE.findall(text))}


@pytest.mark.parametrize("name", sorted(WORST_ISSUES))
def test_a_worst_case_issue_body_is_scored(name):
    make, expected = WORST_ISSUES[name]
    body = make(SIZE)
    assert len(body) == SIZE
    h = history({name: ("hostile", body)})
    features = text_features(h, 1)
    assert {k: features[k] for k in expected} == expected
    assert features["len_body"] == SIZE
    # the same construction, short enough for the earlier expressions: the same counts
    for size in (60, 601):
        short = make(size)
        assert new_counts(short) == old_counts(short), size


@pytest.mark.parametrize("name", sorted(WORST_PULLS))
def test_a_worst_case_pull_request_body_is_read(name):
    make, expected = WORST_PULLS[name]
    body = make(SIZE)
    assert len(body) == SIZE
    assert closing(history({"an issue": ("an issue", "")}, {name: body})) == {name: expected}
    for size in (60, 601):
        assert F.CLOSING_RE.findall(make(size)) == OLD_CLOSING_RE.findall(make(size))


@pytest.mark.parametrize("name", sorted(WORST_SCRUB))
def test_a_worst_case_text_is_scrubbed(name):
    make, removed = WORST_SCRUB[name]
    text = make(SIZE)
    assert len(text) == SIZE
    assert scrub(text) == (REMOVED if removed else text)
    for size in (60, 601):
        assert scrub(make(size)) == SECRET.sub(REMOVED, make(size))


def test_the_model_reads_a_bounded_prefix_of_the_text():
    """The character n-grams see the first MODEL_TEXT_CHARS characters; the other features all of it."""
    body = fill("- [ ] `data/news.json`\n", SIZE)
    h = history({"long": ("long", body), **ORDINARY})
    snapshot = h.snapshot(1, NOW)
    assert snapshot.row()["text"] == f"long\n{body}"[:F.MODEL_TEXT_CHARS]
    units = SIZE // 23  # whole lines; the cut one at the end keeps its "- [ ]" but not its path
    assert (snapshot.numeric["n_file_paths"], snapshot.numeric["n_checkboxes"]) == (units, units + 1)
    for n, (title, body) in enumerate(ORDINARY.values(), start=2):  # ordinary issues: all of their text
        assert h.snapshot(n, NOW).row()["text"] == f"{title}\n{body}"


def test_a_whole_family_of_hostile_issues_is_scored(tmp_path):
    """score_family on a store whose open issues all have worst-case bodies: it ends and writes them."""
    db = open_store(tmp_path / "h.db")
    config = Config.model_validate({"name": "t", "upstream": "o/r", "database": {"path": str(tmp_path / "h.db")}})
    db["users"].insert({"id": 1, "login": "someone", "type": "User", "is_bot": 0})
    db["repos"].insert({"id": 1, "full_name": "o/r", "owner": "o", "owner_id": 1, "name": "r", "fork": 0,
                        "created_at": "2020-01-01T00:00:00Z", "status": "active"})
    bodies = [make(SIZE) for make, _ in WORST_ISSUES.values()]
    db["items"].insert_all([{"id": n, "repo_id": 1, "number": n, "is_pull_request": 0, "title": f"hostile {n}",
                             "body": body, "user_id": 1, "state": "open", "created_at": "2020-03-01T00:00:00Z",
                             "updated_at": "2020-03-01T00:00:00Z"} for n, body in enumerate(bodies, start=1)])
    result = score_family(db, config, now=NOW)
    assert result.model == "heuristic" and len(result.candidates) == len(bodies)
    assert db.execute("SELECT count(*) FROM gfi_candidates").fetchone()[0] == len(bodies)


# --- random text: the same as the earlier expressions ----------------------------------------------

# The expressions' special characters, Japanese, and pieces that make their matches.
CHARS = list("/._-abcxyz0189 \n\t\r`#:[]*+「」『』\"@%あ漢ア") + ["\u3000", "\x0b", "é", "٣"]
PIECES = CHARS + ["```", ".json", ".js", ".jsonp", ".md", ".ts", ".yaml", ".scss", "x.py", "//", "- ", "* ",
                  "1. ", "[ ]", "[x]", "fix", "Closes", "resolved", "#12", "http://", "https://", "ghp_",
                  "github_pat_", "Ab1" * 7, ".com", "@example.jp", "typo", "error", "エラー", "翻訳"]
SHORT_TEXT = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


def assert_like_the_old_expressions(text: str) -> None:
    assert new_counts(text) == old_counts(text)
    assert F.CLOSING_RE.findall(text) == OLD_CLOSING_RE.findall(text)
    expected = SECRET.sub(REMOVED, text) if "@" in text or "gh" in text else text
    assert scrub(text) == expected


@settings(max_examples=HYPOTHESIS_EXAMPLES, derandomize=True, deadline=None)
@given(text=SHORT_TEXT | st.text(alphabet=st.sampled_from(CHARS), max_size=300))
def test_random_text_matches_the_earlier_expressions(text):
    assert_like_the_old_expressions(text)


# Long text: up to 65,536 characters, from pieces repeated many times (long runs of one pattern)
# and pieces of ordinary length.
LONG_TEXT = st.lists(st.tuples(SHORT_TEXT, st.integers(min_value=1, max_value=8000)), min_size=1, max_size=12).map(
    lambda parts: "".join(piece * times for piece, times in parts)[:SIZE])

FEASIBLE = 1_500  # the earlier expressions are quadratic in a run's length: compare only below this


def longest(pattern: str, text: str) -> int:
    return max((len(m) for m in re.findall(pattern, text)), default=0)


@settings(max_examples=20, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=LONG_TEXT)
def test_long_random_text_is_scored(text):
    h = history({"random": ("random", text)}, {"random pr": text})
    features = text_features(h, 1)
    assert features["len_body"] == len(text) <= SIZE
    closing(h)
    scrub(text)
    # The reference where it runs in reasonable time: file paths run by run (a match never leaves
    # a run of path characters), the rest on the whole text when its runs are short.
    runs = re.findall(r"[\w./-]+", text)
    if all(len(r) <= FEASIBLE for r in runs):
        assert features["n_file_paths"] == sum(len(OLD_FILE_PATH_RE.findall(r)) for r in runs)
    if longest(r"\s+", text) <= FEASIBLE:
        assert features["n_list_items"] == len(OLD_LIST_RE.findall(text))
        assert features["n_checkboxes"] == len(OLD_CHECKBOX_RE.findall(text))
        assert F.CLOSING_RE.findall(text) == OLD_CLOSING_RE.findall(text)
    if longest(r"[A-Za-z0-9._%+-]+", text) <= FEASIBLE and ("@" in text or "gh" in text):
        assert scrub(text) == SECRET.sub(REMOVED, text)


def test_file_paths_one_run_at_a_time():
    """Hand-picked runs where greed and `\\b` decide the count."""
    cases = ["a.json", "a.json/", "a.json//b.md", "a.json-x", "a.json.md", "x/.json", "/a.json", ".json",
             "a.jsonp", "a.tsx", "a.ts.bak", "a/b/c", "a/b/c.md/d", "a/b.md/c.md/d", "a.md/b/.md", "a-b_c.d/e.yml",
             "a.json/b.json-c/d", "a.json-c/d", "ab.md.md.md", "東京/データ.csv", "a..json", "a/b//c.json"]
    for text in cases:
        for wrapped in (text, f" {text} ", f"x{text}", f"{text}x", f"「{text}」"):
            assert F.count_file_paths(wrapped) == len(OLD_FILE_PATH_RE.findall(wrapped)), wrapped


# --- the stop flag -----------------------------------------------------------------------------------


class StopAfter(threading.Event):
    """A stop flag that sets itself at its `after`-th check and records where each check was made."""

    def __init__(self, after: float = float("inf")):
        super().__init__()
        self.after, self.checks = after, []

    def is_set(self) -> bool:
        caller = sys._getframe(2)  # is_set <- check_stop <- the loop that checks
        self.checks.append((caller.f_code.co_name, caller.f_lineno))
        if len(self.checks) > self.after:
            self.set()
        return super().is_set()


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A generated family (scale 0.05) loaded into a store; min_history 5 so the model is trained."""
    from civicbot.sandbox.generate import write_world

    sys.path.insert(0, str(ROOT))  # `benchmarks` is a top-level directory, not an installed package
    try:
        from benchmarks.load_world import load
    finally:
        sys.path.remove(str(ROOT))
    tmp = tmp_path_factory.mktemp("family")
    write_world(tmp / "world.json", seed=21, scale=0.05)
    load(tmp / "world.json", tmp / "family.db")
    config = Config.model_validate({"name": "t", "upstream": "Tokyo-Metro-Gov/covid19",
                                    "database": {"path": str(tmp / "family.db")},
                                    "bots": {"logins": ["covid19-data-updater"]}, "triage": {"min_history": 5}})
    db = open_store(config.database.path)
    first = score_family(db, config, now="2021-01-01T00:00:00Z")
    assert first.model == "model" and first.candidates
    return config, db


def candidates(db) -> list[dict]:
    return [dict(r) for r in db.query("SELECT * FROM gfi_candidates ORDER BY item_id")]


def test_a_set_stop_flag_interrupts_before_anything(family):
    config, db = family
    before = candidates(db)
    stop = threading.Event()
    stop.set()
    with pytest.raises(TriageInterrupted, match="gfi_candidates unchanged"):
        score_family(db, config, now="2021-01-02T00:00:00Z", stop=stop)
    assert candidates(db) == before


def test_a_stop_flag_set_mid_scoring_writes_nothing(family):
    """Interrupted at the first check of every check point (loading, each issue of the training
    history, between fits, each open issue, each candidate's reasons, before the write): each time
    TriageInterrupted and gfi_candidates as it was. Unset, the flag changes nothing."""
    config, db = family
    counting = StopAfter()
    complete = score_family(db, config, now="2021-01-02T00:00:00Z", stop=counting, write=False)
    where = {}
    for k, place in enumerate(counting.checks):
        where.setdefault(place, k)
    functions = {name for name, _ in where}
    assert {"score_family", "__init__", "examples_at_creation", "fit"} <= functions
    assert sum(name == "fit" for name, _ in where) == 2  # before and after the explainer's fit
    n_items, n_issues = db.execute("SELECT count(*), sum(is_pull_request = 0) FROM items").fetchone()
    # the start, each item as the history is built, each issue of the training history, before and
    # after the explainer's fit, each open issue, before predicting, each candidate's reasons, the write
    assert len(counting.checks) == 1 + n_items + n_issues + 2 + n_issues + 1 + len(complete.candidates) + 1
    before = candidates(db)
    for place, k in sorted(where.items(), key=lambda kv: kv[1]):
        stop = StopAfter(after=k)
        with pytest.raises(TriageInterrupted):
            score_family(db, config, now="2021-01-02T00:00:00Z", stop=stop)
        assert stop.checks[-1] == place and len(stop.checks) == k + 1
        assert candidates(db) == before, place
    last = StopAfter(after=len(counting.checks))  # never fires: the run completes and writes
    result = score_family(db, config, now="2021-01-02T00:00:00Z", stop=last)
    assert len(last.checks) == len(counting.checks)
    assert [c["run_key"] for c in candidates(db)] == [result.run_key] * len(result.candidates)


# --- the daemon ----------------------------------------------------------------------------------------


def daemon_for(tmp_path: Path, **schedule):
    from civicbot.daemon import Daemon

    config = Config.model_validate({"name": "t", "upstream": "o/r", "database": {"path": str(tmp_path / "d.db")},
                                    "schedule": schedule})
    open_store(config.database.path).conn.close()
    return Daemon(config, [])


def job_runs(daemon) -> list[dict]:
    db = open_store(daemon.config.database.path)
    try:
        return [dict(r) for r in db.query("SELECT job, outcome, exit_code, error FROM job_runs ORDER BY id")]
    finally:
        db.conn.close()


def test_the_daemon_records_a_triage_stopped_mid_scoring(family, tmp_path):
    from civicbot.daemon import Daemon

    config, db = family
    before = candidates(db)
    daemon = Daemon(config, [])
    daemon.stop = StopAfter(after=40)  # set as SIGTERM would, 40 checks into the run
    daemon._run_one("triage")
    run = job_runs(daemon)[-1]
    assert (run["job"], run["outcome"], run["exit_code"]) == ("triage", "interrupted", 1)
    assert "gfi_candidates unchanged" in run["error"]
    assert candidates(db) == before
    assert daemon.current_job is None


def test_the_daemon_records_a_label_job_stopped_while_scoring(family, tmp_path):
    from civicbot.daemon import Daemon

    config, db = family
    audit = db.execute("SELECT count(*) FROM label_audit").fetchone()[0]
    daemon = Daemon(config, [])
    daemon.stop = StopAfter(after=40)  # set as SIGTERM would, 40 checks into its scoring
    daemon._run_one("label")
    run = job_runs(daemon)[-1]
    assert (run["job"], run["outcome"], run["exit_code"]) == ("label", "interrupted", 1)
    assert db.execute("SELECT count(*) FROM label_audit").fetchone()[0] == audit  # no decision made


def test_a_long_job_is_reported(tmp_path, caplog):
    daemon = daemon_for(tmp_path, job_warn_seconds=60)
    caplog.set_level(logging.WARNING, logger="civicbot.daemon")
    seen = []

    def slow_triage(details):  # the clock is passed in: no waiting
        started = daemon.current_job[1]
        for offset in (30, 61, 90, 125, 179):
            daemon.warn_long_job(now=started + offset)
            seen.append(len(caplog.records))
        return "complete", 0, None

    daemon._job_triage = slow_triage
    daemon.warn_long_job()  # no job running: nothing
    daemon._run_one("triage")
    assert seen == [0, 1, 1, 2, 2]  # at 60 s, then at each further 60 s
    assert [r.getMessage() for r in caplog.records] == [
        "job triage has run for 61 s (schedule.job_warn_seconds: 60)",
        "job triage has run for 125 s (schedule.job_warn_seconds: 60)"]
    daemon.warn_long_job(now=time.monotonic() + 10_000)  # the job ended: nothing
    assert len(caplog.records) == 2
    assert job_runs(daemon)[-1]["outcome"] == "complete"


def test_the_heartbeat_thread_reports_a_long_job(tmp_path):
    daemon = daemon_for(tmp_path, job_warn_seconds=0.001, heartbeat_seconds=0.01)
    reported = threading.Event()
    records = []

    class Catch(logging.Handler):
        def emit(self, record):
            if "has run for" in record.getMessage():
                records.append(record)
                reported.set()

    handler = Catch()
    logger = logging.getLogger("civicbot.daemon")
    logger.addHandler(handler)
    daemon.current_job = ("triage", time.monotonic())  # as _run_one sets it
    beater = threading.Thread(target=daemon._heartbeat_loop, name="heartbeat", daemon=True)
    beater.start()
    try:
        assert reported.wait(30)
    finally:
        daemon.stop.set()
        beater.join(30)
        logger.removeHandler(handler)
    assert re.fullmatch(r"job triage has run for \d+ s \(schedule\.job_warn_seconds: 0\.001\)", records[0].getMessage())
    assert records[0].threadName == "heartbeat" and records[0].levelno == logging.WARNING


def test_the_hostile_text_benchmark_runs(monkeypatch, capsys):
    """`python -m benchmarks --only hostile-text`, its one-body part: sane rows (no timing asserted)."""
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a top-level directory, not an installed package
    from benchmarks.hostile_text import ISSUE_BODIES, PULL_BODIES, SCRUB_BODIES, bench_bodies

    rows = bench_bodies()
    assert [r["case"] for r in rows] == [*ISSUE_BODIES, *PULL_BODIES, *SCRUB_BODIES]
    assert all(r["chars"] == SIZE and r["seconds"] >= 0 for r in rows)
    by_case = {r["case"]: r for r in rows}
    assert by_case["ordinary_long"]["features"]["n_file_paths"] > 1000
    assert by_case["path_run"]["features"]["n_file_paths"] == 0
    assert not any(r["changed"] for r in rows if r["kind"] == "scrub")
    assert "hostile  issue path_run" in capsys.readouterr().out
