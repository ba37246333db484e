"""The side-by-side benchmark with github-to-sqlite runs end to end (benchmarks/peer.py).

Only the harness is checked: speed is measured by `python -m benchmarks --only peer`, never
asserted in a test. github-to-sqlite is installed from PyPI into var/peer-venv on first use
(CIVICBOT_PEER_VENV names an existing venv instead); without a package index the test skips.
"""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT))  # benchmarks/ is a folder of the project, not an installed package

from benchmarks import peer  # noqa: E402


def test_both_tools_store_the_same_items_and_the_ratios_are_computed(monkeypatch):
    monkeypatch.chdir(ROOT)  # var/peer-venv is relative to the project, as for `python -m benchmarks`
    try:
        peer.ensure_peer(peer.peer_venv())
    except peer.PeerUnavailable as exc:
        pytest.skip(f"github-to-sqlite cannot be installed here: {exc}")

    [row] = peer.bench_peer([0.05], repetitions=1, latencies=(0,))

    assert row["peer_version"] == peer.PEER_VERSION and row["repos"] >= 2
    stored = row["stored"]
    assert all(stored["same"].values()), stored  # same issues, PRs and comments, by GitHub id
    assert stored["civicbot"]["issues"] > 0 and stored["civicbot"]["pulls"] > 0 and stored["civicbot"]["comments"] > 0
    assert stored["peer_saw_github_urls"]  # the redirection stayed invisible to github-to-sqlite
    for tool in ("civicbot", peer.PEER):
        for phase in ("first", "refresh"):
            assert row[tool][phase]["requests"] > 0 and row[tool][phase]["errors"] == 0, (tool, phase, row[tool])
    # github-to-sqlite has no incremental mode: its refresh reads everything again, at full price...
    assert row[peer.PEER]["refresh"]["quota"] == row[peer.PEER]["first"]["quota"] > 0
    # ...where civicbot's conditional requests answer 304, which costs no quota.
    assert row["civicbot"]["refresh"]["quota"] == 0 and row["civicbot"]["refresh"]["not_modified"] > 0
    ratios = row["ratios"]
    assert ratios["first"]["seconds"] > 0 and ratios["first"]["requests"] > 0 and ratios["refresh"]["seconds"] > 0
    assert ratios["refresh"]["quota"] is None  # peer quota / 0
    assert row["targets"]["refresh_50x_less_quota"] is True
    assert set(row["targets"]) == {"first_no_slower", "refresh_20x_faster", "refresh_50x_less_quota"}
