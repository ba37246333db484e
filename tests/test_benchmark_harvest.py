"""The harvest benchmark runs end to end on a tiny world and reports sane figures (no timing asserted:
speed lives in the benchmarks)."""

from __future__ import annotations

from conftest import ROOT


def test_harvest_benchmark_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a top-level directory, not an installed package
    from benchmarks.harvest import bench_harvest

    [row] = bench_harvest([0.05], [0], workdir=tmp_path)
    assert (row["scale"], row["latency_ms"]) == (0.05, 0)
    assert row["stored"]["repos"] == row["family_repos"] > 1
    assert row["stored"]["items"] == row["family_items"] > 0
    assert row["full"]["requests"] >= row["floor"] > 0
    # Nothing is cached yet: every request costs quota but the free GET /rate_limit that a first
    # harvest asks before it creates the store (civicbot.harvest.report.preflight).
    # Batch change detection's GraphQL requests spend points, not quota.
    assert row["full"]["graphql_requests"] > 0
    assert row["full"]["quota"] == row["full"]["requests"] - 1 - row["full"]["graphql_requests"]
    # No change: every core request answers 304 or is skipped; only the shared-root searches
    # (which the harvester sends without an ETag) spend their own bucket.
    assert row["refresh"]["core_quota"] == 0
    assert row["refresh"]["search_quota"] == row["refresh"]["by_kind"]["search"]
    assert row["refresh"]["not_modified"] > 0
    # Commits: the commit list costs requests on the first harvest, nothing on a refresh.
    assert row["stored"]["commits"] > 0 and row["full"]["commit_list_requests"] >= row["family_repos"] - 1
    assert row["refresh"]["commit_list_quota"] == 0
    assert row["edited"] >= 1 and row["after_change"]["core_quota"] > 0
    assert row["edits_stored"] == row["edited"]  # every edit reached the store, wherever it was made
    for phase in ("full", "refresh", "after_change"):
        assert row[phase]["seconds"] > 0 and row[phase]["peak_rss_mb"] > 0
    assert row["items_per_s"] > 0 and row["rows_per_s"] >= row["items_per_s"]
    assert "harvest  scale   0.05" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())  # the world, store and config went with their temp dir
