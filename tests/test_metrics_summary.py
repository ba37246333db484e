"""The impact summary: the real Tokyo figures, windows in the project's time zone, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest
from conftest import ROOT

from civicbot.config import Config
from civicbot.harvest.client import GitHubClient
from civicbot.harvest.run import harvest
from civicbot.metrics.summary import SummaryError, Window, format_summary, impact_summary
from civicbot.store import open_store


@pytest.fixture(scope="module")
def tokyo_store(tmp_path_factory):
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "tokyo_prs.csv").exists():
        pytest.skip(f"../shared/data/tokyo-covid19 is absent ({SHARED_DATA})")
    from civicbot.sandbox import SandboxServer, World
    from civicbot.sandbox.tokyo import PLACEHOLDERS, world_from_tokyo_data

    world = world_from_tokyo_data(SHARED_DATA)
    tmp = tmp_path_factory.mktemp("tokyo")
    with SandboxServer(World(world)) as sim:
        config = Config.model_validate({
            "name": "tokyo", "upstream": "Tokyo-Metro-Gov/covid19", "timezone": "Asia/Tokyo",
            "github": {"base_url": sim.url}, "placeholders": sorted(PLACEHOLDERS),
            "discovery": {"forks": {"enabled": False}, "shared_root": {"enabled": False}},
            "database": {"path": str(tmp / "tokyo.db")}})
        db = open_store(config.database.path)
        assert harvest(config, db, GitHubClient(config, [world["tokens"][0]["token"]])).outcome == "complete"
    return config, db


def test_tokyo_merged_prs_and_authors_match_the_readme(tokyo_store):
    """../shared/data/tokyo-covid19/README.md: 1,187 merged PRs (1,046 without bots), 208 distinct
    authors without bots; 2020-03-03..2020-03-24 JST: 1,015 (931), 199. Of the merges without bots,
    release/sync merges of long-lived branches inside the org repo (development, staging, dev-i18n,
    deploy/*: 174, 165 in the window, counted from tokyo_prs.csv) are not proposals."""
    config, db = tokyo_store
    whole = impact_summary(db, config, Window(date(2020, 2, 1), date(2020, 12, 31)), ["upstream"])["figures"]
    assert (whole["accepted"]["all"], whole["accepted"]["without_bots"]) == (1187, 872)
    assert whole["release_merges"]["all"] == 174 and whole["automation_prs"]["all"] == 141
    assert whole["accepted"]["without_bots"] + whole["release_merges"]["all"] == 1046
    assert whole["accepted_authors"]["without_bots"] == 208
    weeks = impact_summary(db, config, Window(date(2020, 3, 3), date(2020, 3, 24)), ["upstream"])["figures"]
    assert (weeks["accepted"]["all"], weeks["accepted"]["without_bots"]) == (1015, 766)
    assert weeks["release_merges"]["all"] == 165 and weeks["automation_prs"]["all"] == 84
    assert weeks["prs_created"]["without_bots"] == 931
    assert weeks["accepted_authors"]["without_bots"] == 199


def test_windows_are_calendar_days_in_the_project_zone(tokyo_store):
    config, db = tokyo_store
    # The first merged PR is 2020-02-29 14:19 JST (05:19 UTC): inside 02-29 JST, outside 02-28.
    one_day = impact_summary(db, config, Window(date(2020, 2, 29), date(2020, 2, 29)), ["upstream"])["figures"]
    assert one_day["accepted"]["all"] >= 1
    before = impact_summary(db, config, Window(date(2020, 2, 28), date(2020, 2, 28)), ["upstream"])["figures"]
    assert before["accepted"]["all"] == 0
    with pytest.raises(SummaryError, match="ends"):
        impact_summary(db, config, Window(date(2020, 3, 5), date(2020, 3, 1)))
    with pytest.raises(SummaryError, match="no repo"):
        impact_summary(db, config, Window(date(2020, 3, 1), date(2020, 3, 5)), ["nobody/nothing"])


def test_summary_text_is_bilingual(tokyo_store):
    config, db = tokyo_store
    text = format_summary(impact_summary(db, config, Window(date(2020, 3, 3), date(2020, 3, 24)), ["upstream"]))
    assert text.splitlines()[0].startswith("インパクト概要 / impact summary")
    assert "採用 (提案のマージ) / accepted proposals (merged)" in text and "766" in text and "1,015" in text
    assert "release / sync merges (not proposals)" in text and "165" in text
    assert "treated as automation: github-actions, GitHub type Bot" in text
    assert "not a person (placeholder): tokyo-maintainer-placeholder" in text


def test_a_share_of_nothing_reads_none_with_the_reason_never_0_percent(tokyo_store):
    """The Tokyo summary read "0.0%" as the bot share of 0 issues (0 of 0): it is none, and says why."""
    from civicbot.metrics.summary import NO_SHARE, NO_SHARE_REASON

    config, db = tokyo_store
    summary = impact_summary(db, config, Window(date(2020, 3, 3), date(2020, 3, 24)), ["upstream"])
    assert summary["figures"]["issues_created"] == {"without_bots": 0, "all": 0, "bot_share": None}
    text = format_summary(summary)
    rows = {line.split("│")[1].strip(): line.split("│")[4].strip() for line in text.splitlines() if line.count("│") == 5}
    assert rows["issue 作成 / issues created"] == NO_SHARE
    assert rows["採用 (提案のマージ) / accepted proposals (merged)"] == "24.5%"
    assert NO_SHARE_REASON in text and "0.0%" not in rows["issue 作成 / issues created"]


def test_the_whole_period_ends_on_the_datas_last_day(tokyo_store, capsys):
    """`civicbot summary` without --to read "2020-02-29 – 2026-12-06" on the Tokyo store, as if its
    data ran to the day it was read; it ends on the data's last day, as the site's whole period."""
    from civicbot.metrics.report import show_summary

    config, db = tokyo_store
    assert show_summary(config, None, None, ["upstream"], as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["window"] == {"from": "2020-02-29", "to": "2020-03-28",
                                                             "timezone": "Asia/Tokyo"}


def test_cli_summary(tokyo_store, tmp_path):
    config, db = tokyo_store
    import yaml

    path = tmp_path / "tokyo.yml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "civicbot.cli", "summary", "-c", str(path), "--from", "2020-03-03",
                          "--to", "2020-03-24", "--repo", "upstream", "--json"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["figures"]["accepted"] == {"without_bots": 766, "all": 1015,
                                                             "bot_share": round(249 / 1015, 4)}
    bad = subprocess.run([sys.executable, "-m", "civicbot.cli", "summary", "-c", str(path), "--from", "2020-13-01"],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "2020-13-01" in bad.stderr
