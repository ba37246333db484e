"""Crash safety: `civicbot harvest` and `civicbot label --apply` killed with SIGKILL at seeded random
requests, then resumed, end exactly where uninterrupted runs end.

Each kill lands at a chosen request of the simulator: half of them before its answer is sent (the
client dies waiting), half a random 0-80 ms after it (the client dies parsing a page, inside a
write transaction, between two repos...). The kills are spread over the whole work: the next kill
comes a random 1..2g requests after the previous one, g being the uninterrupted run's requests
divided by the kills planned for it.

Size (tests/sizes.py, docs/testing.md): CIVICBOT_CRASH_KILLS (default 25: 18 in the harvest, 7 in
the labelling) and CIVICBOT_CRASH_SCALE (default 0.2: a family of about 2,000 issues and PRs).
CI runs the defaults.
"""

from __future__ import annotations

import copy
import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest
from conftest import ROOT
from harvest_helpers import assert_store_equals_world, canonical_dump, family_config, write_config
from sizes import CRASH_KILLS, CRASH_SCALE

from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict
from civicbot.store import open_store

KILLS, SCALE = CRASH_KILLS, CRASH_SCALE
LABEL_KILLS = max(1, round(KILLS * 7 / 25))
HARVEST_KILLS = max(1, KILLS - LABEL_KILLS)
GFI = "good first issue"
ENV = {**os.environ, "CIVICBOT_TEST_TOKEN": DEMO_TOKEN}


def harvest_phase(path: str) -> str:
    """Where in a harvest a request belongs (for the report of where the kills landed)."""
    if path.startswith("/search/") or path.endswith(("/forks", "/commits")) or "/compare/" in path:
        return "discovery"
    return "pages"


class Killer:
    """Kills the current child process at seeded random requests of a simulator."""

    def __init__(self, sim, rng: random.Random, mean_gap: float, phase=harvest_phase):
        self.rng, self.mean_gap, self.phase = rng, max(mean_gap, 1.0), phase
        self.proc: subprocess.Popen | None = None
        self.seen = 0
        self.next_at = self._gap()
        self.landed: list[tuple[str, str, str]] = []  # (phase, when, "METHOD path")
        self._lock = threading.RLock()  # the observer kills while holding it
        self._killed: set[subprocess.Popen] = set()  # runs already sent SIGKILL
        sim.app.observers.append(self._observe)

    def _gap(self) -> int:
        return self.rng.randint(1, max(1, round(2 * self.mean_gap)))

    def _observe(self, entry: dict) -> None:
        with self._lock:
            self.seen += 1
            proc = self.proc
            if proc is None or self.seen < self.next_at:
                return
            self.next_at = self.seen + self._gap()
            where = (self.phase(entry["path"]), f"{entry['method']} {entry['path']}")
            if self.rng.random() < 0.5:
                self._kill(proc, where, "before the answer")
            else:
                delay = self.rng.uniform(0, 0.08)
                threading.Timer(delay, self._kill, (proc, where, f"{delay * 1000:.0f} ms after the answer")).start()

    def _kill(self, proc: subprocess.Popen, where: tuple[str, str], when: str) -> None:
        with self._lock:
            # A killed child is not reaped at once (poll() is still None): a second kill planned
            # for the same run, e.g. by a delayed timer, must not count again.
            if proc is self.proc and proc.poll() is None and proc not in self._killed:
                proc.send_signal(signal.SIGKILL)
                self._killed.add(proc)
                self.landed.append((where[0], when, where[1]))

    def run_until(self, command: list[str], kills: int, attempts: int = 200) -> int:
        """Start `command` again and again until `kills` of its runs died by SIGKILL; completed runs."""
        completed = 0
        for _ in range(attempts):
            if len(self.landed) >= kills:
                break
            with self._lock:
                self.proc = subprocess.Popen(command, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, text=True)
            _, err = self.proc.communicate(timeout=300)
            if self.proc.returncode not in (0, -signal.SIGKILL):
                raise AssertionError(f"{command[3]} exited {self.proc.returncode}: {err[-2000:]}")
            completed += self.proc.returncode == 0
        with self._lock:
            self.proc = None
        assert len(self.landed) >= kills, (len(self.landed), kills)
        return completed


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "civicbot.cli", *args]


@pytest.mark.timeout(1800)
def test_sigkill_at_random_requests_during_harvest_and_labelling_then_resume(sim_factory, tmp_path):
    world = generate_world_dict(seed=15, scale=SCALE)
    ref_sim, sim = sim_factory(copy.deepcopy(world)), sim_factory(copy.deepcopy(world))  # labelling writes
    base = family_config(world, sim.url, tmp_path / "crash.db", throttle={"seconds_between_writes": 0})
    triage = {"allowlist": sorted({f"{r['owner']}/{r['name']}" for r in world["repos"]}), "threshold": 0.0,
              "max_per_repo_per_run": 1000, "max_per_repo_per_week": 1000, "comment": True}
    config = base.model_copy(update={"triage": base.triage.model_copy(update=triage)})
    crash_yml = write_config(config, tmp_path / "crash.yml")
    ref_config = config.model_copy(update={"github": config.github.model_copy(update={"base_url": ref_sim.url})})
    ref_yml = write_config(ref_config, tmp_path / "ref.yml", path=tmp_path / "ref.db")

    # The uninterrupted runs: what the killed ones must end at.
    requests_made = []
    for command in (cli("harvest", "--quiet", "-c", str(ref_yml)), cli("label", "--apply", "-c", str(ref_yml))):
        done = subprocess.run(command, env=ENV, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        requests_made.append(len(ref_sim.app.requests) - sum(requests_made))
    ref_harvest_requests, ref_label_requests = requests_made
    ref = open_store(tmp_path / "ref.db")
    ref_applied = _applied(ref)
    assert len(ref_applied) >= LABEL_KILLS * 2, "too few candidates to kill the labelling meaningfully"

    # The harvest, killed HARVEST_KILLS times, then run to the end.
    killer = Killer(sim, random.Random(25), ref_harvest_requests / HARVEST_KILLS)
    completed = killer.run_until(cli("harvest", "--quiet", "-c", str(crash_yml)), HARVEST_KILLS)
    final = subprocess.run(cli("harvest", "--quiet", "-c", str(crash_yml)), env=ENV, cwd=ROOT,
                           capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    db = open_store(tmp_path / "crash.db")
    assert_store_equals_world(db, world)
    assert_same_tables(canonical_dump(db, sim.url), canonical_dump(ref, ref_sim.url))  # table by table, no duplicate row
    harvest_landed = list(killer.landed)

    # The labelling, killed LABEL_KILLS times, then run to the end.
    sim.app.observers.clear()
    killer = Killer(sim, random.Random(26), ref_label_requests / LABEL_KILLS, phase=lambda path: "labelling")
    killer.run_until(cli("label", "--apply", "-c", str(crash_yml)), LABEL_KILLS)
    final = subprocess.run(cli("label", "--apply", "-c", str(crash_yml)), env=ENV, cwd=ROOT,
                           capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    label_landed = list(killer.landed)

    db = open_store(tmp_path / "crash.db")
    audit = list(db.query("SELECT a.*, r.full_name FROM label_audit a JOIN repos r ON r.id = a.repo_id"))
    assert not [a for a in audit if a["action"] == "pending"], "half-done labelling left in label_audit"
    assert _applied(db) == ref_applied  # the same issues labelled as by one uninterrupted run
    assert len([a for a in audit if a["action"] == "applied"]) == len(ref_applied)  # each recorded once
    assert _labelled_on_github(sim) == _labelled_on_github(ref_sim) >= ref_applied
    comments = _civicbot_comments(sim)
    assert comments == _civicbot_comments(ref_sim) and set(comments) == ref_applied
    assert set(comments.values()) == {1}  # one comment per labelled issue, none twice
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not db.execute("PRAGMA foreign_key_check").fetchall()

    landed = harvest_landed + label_landed
    report = "\n".join(f"  {p:9} {when:26} {what}" for p, when, what in landed)
    print(f"\n{len(landed)} SIGKILLs ({len(harvest_landed)} harvest, {len(label_landed)} labelling; "
          f"{completed} harvest runs completed between kills):\n{report}")
    assert len(landed) == KILLS
    phases = {p for p, _, _ in harvest_landed}
    assert {"discovery", "pages"} <= phases, phases
    assert any("before" in when for _, when, _ in landed) and any("after" in when for _, when, _ in landed)


def assert_same_tables(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for table in want:
        extra, missing = set(got[table]) - set(want[table]), set(want[table]) - set(got[table])
        assert not extra and not missing, (table, sorted(extra, key=repr)[:2], sorted(missing, key=repr)[:2])


def _applied(db) -> set[tuple[str, int]]:
    return {(r["full_name"], r["number"]) for r in db.query(
        "SELECT r.full_name, a.number FROM label_audit a JOIN repos r ON r.id = a.repo_id WHERE a.action = 'applied'")}


def _names(sim) -> dict[int, str]:
    return {r["id"]: f"{r['owner']}/{r['name']}" for r in sim.app.world.data["repos"]}


def _labelled_on_github(sim) -> set[tuple[str, int]]:
    names = _names(sim)
    labelled = set()
    for item in sim.app.world.data["issues"]:
        labels = [name.lower() for name in item.get("labels", [])]
        assert labels.count(GFI) <= 1, item
        if GFI in labels:
            labelled.add((names[item["repo_id"]], item["number"]))
    return labelled


def _civicbot_comments(sim) -> Counter:
    names = _names(sim)
    return Counter((names[c["repo_id"]], c["issue_number"]) for c in sim.app.world.data["comments"]
                   if (c.get("body") or "").startswith("[civicbot]"))
