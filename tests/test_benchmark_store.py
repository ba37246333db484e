"""`python -m benchmarks --store DIR`: a kept store is found from any folder, and an empty one is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT

from civicbot.config import load_config

SCALE = 0.01  # a few repos: enough to load a store


@pytest.fixture
def kept_store(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # `benchmarks` is a top-level directory, not an installed package
    from benchmarks.__main__ import _store

    return _store


def test_a_store_kept_from_one_folder_is_reused_from_another(kept_store, tmp_path, monkeypatch):
    first, other = tmp_path / "first", tmp_path / "other"
    first.mkdir(), other.mkdir()
    monkeypatch.chdir(first)
    with kept_store(SCALE, "kept") as (folder, config, counts):  # a relative DIR
        loaded = counts
    kept = first / "kept" / f"scale-{SCALE:g}"
    # a bench.yml written by an older run names its database relative to the folder it ran from
    (kept / "bench.yml").write_text(f"name: bench\nupstream: Tokyo-Metro-Gov/covid19\n"
                                    f"database: {{path: 'kept/scale-{SCALE:g}/bench.db'}}\n", encoding="utf-8")
    monkeypatch.chdir(other)
    with kept_store(SCALE, str(first / "kept")) as (folder, config, counts):
        path = Path(load_config(config).database.path)
        assert path.is_absolute() and path == kept / "bench.db" and counts == loaded
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM repos").fetchone()[0] > 0
    assert not (other / "kept").exists()


@pytest.mark.parametrize("damage", ["missing", "empty"])
def test_a_kept_store_without_its_data_is_refused_saying_what_to_do(kept_store, tmp_path, monkeypatch, damage):
    monkeypatch.chdir(tmp_path)
    with kept_store(SCALE, "kept"):
        pass
    db = tmp_path / "kept" / f"scale-{SCALE:g}" / "bench.db"
    db.unlink()
    if damage == "empty":
        db.write_bytes(b"")
    with pytest.raises(SystemExit) as refused:
        with kept_store(SCALE, str(tmp_path / "kept")):
            pytest.fail("an empty store was benchmarked")
    message = str(refused.value)
    assert "missing or empty" in message and f"delete {db.parent}" in message and "\n" not in message
    assert db.exists() == (damage == "empty")  # never created by the check
