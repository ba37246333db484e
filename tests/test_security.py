"""The token never leaks, and the published database holds no private data.

The CLI runs as subprocesses (harvest with --json-log and as text, a harvest that fails with
503s, a harvest with a bad token, publish) with a recognisable token in the environment
variable the config names; the token is looked for in every captured output, every file
beside the database and in the publish bundle, and in harvest_runs.error.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from civicbot.sandbox.generate import generate_world_dict

TOKEN = "ghp_" + "civicbotSECRETtoken0123456789abcdef"  # built: no token-like literal is tracked
BAD_TOKEN = "ghp_" + "civicbotBADtoken9876543210fedcbaXYZ"
LOGIN = "civicbot-demo"
PRIVATE_ID = 990_000_001
PRIVATE_MARK = "PRIVATE-civicbot-marker"
ENV = "CIVICBOT_SECURITY_TOKEN"
CLI = [str(Path(sys.executable).parent / "civicbot")]
SECRETS = (TOKEN.encode(), BAD_TOKEN.encode())


def secure_world() -> dict:
    world = generate_world_dict(seed=31, scale=0.05)
    world["tokens"].append({"token": TOKEN, "login": LOGIN})
    upstream = world["repos"][0]
    private = {**copy.deepcopy(upstream), "id": PRIVATE_ID, "owner": LOGIN, "name": "private-notes",
               "private": True, "description": f"{PRIVATE_MARK} repo", "homepage": None, "topics": [],
               "former_names": [], "labels": [], "contributors": [], "stargazers_count": 0}
    private.pop("fork_parent_id", None)
    world["repos"].append(private)
    template = next(i for i in world["issues"] if i["repo_id"] == upstream["id"] and not i.get("pull_request"))
    world["issues"].append({**copy.deepcopy(template), "id": 990_000_002, "repo_id": PRIVATE_ID, "number": 1,
                            "title": f"{PRIVATE_MARK} issue", "body": f"{PRIVATE_MARK} body", "labels": [],
                            "assignees": [], "user": LOGIN})
    return world


def write_config(path: Path, world: dict, url: str, db_path: Path) -> Path:
    upstream = world["repos"][0]
    listed = [{"repo": f"{r['owner']}/{r['name']}"} for r in world["repos"]
              if r.get("fork_parent_id") is None and r["id"] != upstream["id"]]
    assert {"repo": f"{LOGIN}/private-notes"} in listed
    path.write_text(yaml.safe_dump({
        "name": "sec", "upstream": f"{upstream['owner']}/{upstream['name']}",
        "github": {"base_url": url, "token_env": [ENV],
                   "retry": {"total": 1, "backoff_factor": 0.01, "max_rate_limit_wait": 1, "secondary_rate_wait": 0.1}},
        "discovery": {"listed": listed, "forks": {"max_depth": 2}},
        "database": {"path": str(db_path)},
    }), encoding="utf-8")
    return path


def cli(*args: str, token: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    env[ENV] = token
    env["NO_COLOR"] = "1"
    return subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run once: (captured processes, directories to search, config and database paths)."""
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent))
    from civicbot.sandbox import FaultPlan, SandboxServer, World

    tmp = tmp_path_factory.mktemp("security")
    world = secure_world()
    sim = SandboxServer(World(copy.deepcopy(world))).start()
    failing = SandboxServer(World(copy.deepcopy(world)),
                            faults=FaultPlan.from_json({"seed": 1, "rules": [{"kind": "503", "path": "*"}]})).start()
    try:
        db_dir, fail_dir, bad_dir, out_dir = (tmp / "db", tmp / "db-failing", tmp / "db-badtoken", tmp / "bundle")
        for d in (db_dir, fail_dir, bad_dir):
            d.mkdir()
        good = write_config(tmp / "good.yml", world, sim.url, db_dir / "sec.db")
        fail = write_config(tmp / "fail.yml", world, failing.url, fail_dir / "sec.db")
        bad = write_config(tmp / "bad.yml", world, sim.url, bad_dir / "sec.db")
        procs = {
            "harvest --json-log": cli("harvest", "-c", str(good), "--json-log", token=TOKEN),
            "harvest (text)": cli("harvest", "-c", str(good), "--full", token=TOKEN),
            "harvest (503s)": cli("harvest", "-c", str(fail), token=TOKEN),
            "harvest (bad token)": cli("harvest", "-c", str(bad), token=BAD_TOKEN),
            "harvest (bad token, json)": cli("harvest", "-c", str(bad), "--json-log", token=BAD_TOKEN),
            "publish": cli("publish", "-c", str(good), "--out", str(out_dir), token=TOKEN),
        }
        yield {"procs": procs, "dirs": [db_dir, fail_dir, bad_dir, out_dir], "db": db_dir / "sec.db",
               "dbs": [db_dir / "sec.db", fail_dir / "sec.db", bad_dir / "sec.db"], "bundle": out_dir}
    finally:
        sim.stop()
        failing.stop()


def test_the_runs_did_what_they_should(runs):
    procs = runs["procs"]
    assert procs["harvest --json-log"].returncode == 0, procs["harvest --json-log"].stderr[-2000:]
    assert procs["harvest (text)"].returncode == 0, procs["harvest (text)"].stderr[-2000:]
    assert procs["harvest (503s)"].returncode != 0
    assert procs["harvest (bad token)"].returncode != 0
    assert procs["publish"].returncode == 0, procs["publish"].stderr[-2000:]
    assert b'"kind": "repo"' in procs["harvest --json-log"].stdout


@pytest.mark.parametrize("name", ["harvest --json-log", "harvest (text)", "harvest (503s)", "harvest (bad token)",
                                  "harvest (bad token, json)", "publish"])
def test_no_token_in_any_output(runs, name):
    proc = runs["procs"][name]
    for stream, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        for secret in SECRETS:
            assert secret not in data, f"{name} {stream} shows the token"
            assert secret[4:].decode() not in data.decode("utf-8", "replace"), f"{name} {stream}: token body"


def test_no_token_in_any_file(runs):
    files = [p for d in runs["dirs"] for p in d.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "sec.db" in names and len(files) > 10, sorted(names)[:20]
    assert any(p.suffix == ".db" for p in runs["bundle"].iterdir())
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret not in data, f"{path} holds the token"
            assert secret.decode().encode("utf-16-le") not in data, f"{path} holds the token (UTF-16)"


def test_failing_runs_record_errors_without_the_token(runs):
    errors = []
    for db in runs["dbs"]:
        if not db.exists():
            continue
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        errors += [(db.parent.name, outcome, error) for outcome, error in
                   conn.execute("SELECT outcome, error FROM harvest_runs").fetchall()]
        conn.close()
    failed = [e for e in errors if e[1] != "complete"]
    assert any(e[0] == "db-failing" and e[2] for e in failed), errors
    for _, _, error in errors:
        for secret in SECRETS:
            assert secret.decode() not in (error or "")


def test_the_published_database_has_no_private_data(runs):
    live = sqlite3.connect(f"file:{runs['db']}?mode=ro", uri=True)
    harvested = live.execute("SELECT COUNT(*) FROM repos WHERE id = ?", [PRIVATE_ID]).fetchone()[0]
    live.close()
    published = next(p for p in runs["bundle"].iterdir() if p.suffix == ".db")
    conn = sqlite3.connect(f"file:{published}?mode=ro", uri=True)
    leaks = []
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%fts%'"):
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        for column in columns:
            n = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE ?',
                             [f"%{PRIVATE_MARK}%"]).fetchone()[0]
            if n:
                leaks.append(f"{table}.{column}: {n} rows")
        if "repo_id" in columns:
            n = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE repo_id = ?', [PRIVATE_ID]).fetchone()[0]
            if n:
                leaks.append(f"{table}.repo_id = private repo: {n} rows")
    leaks += [f"repos: {n}" for (n,) in conn.execute("SELECT full_name FROM repos WHERE id = ?", [PRIVATE_ID])]
    conn.close()
    # Nothing of the private repo survives in the file's free pages either (the bundle is VACUUMed).
    assert (published.read_bytes().find(PRIVATE_MARK.encode()) < 0) or leaks, "private text in free pages"
    assert harvested == 0, "the harvest stored a private repo"  # civicbot harvests the public record only
    assert not leaks, "; ".join(leaks[:6])


# --- the labeller writes only where the allowlist says -------------------------------------------


def test_the_writer_refuses_a_repo_outside_the_allowlist_before_sending(sim_factory, tmp_path):
    from harvest_helpers import family_config

    from civicbot.harvest.client import GitHubClient
    from civicbot.sandbox.generate import DEMO_TOKEN
    from civicbot.triage.writer import GitHubWriter, OutsideAllowlist

    world = generate_world_dict(seed=32, scale=0.05)
    sim = sim_factory(world)
    config = family_config(world, sim.url, tmp_path / "w.db")
    writer = GitHubWriter(GitHubClient(config, [DEMO_TOKEN]), ["Tokyo-Metro-Gov/covid19"])
    upstream = next(r for r in world["repos"] if f"{r['owner']}/{r['name']}" == "Tokyo-Metro-Gov/covid19")
    other = next(r for r in world["repos"] if r is not upstream)
    # pinning cannot widen the allowlist: a name outside it is ignored
    assert writer.pin({"tokyo-metro-gov/COVID19": upstream["id"], f"{other['owner']}/{other['name']}": other["id"]}) \
        == {upstream["id"]: "tokyo-metro-gov/covid19"}
    assert writer.pin({"Tokyo-Metro-Gov/covid19": other["id"]}) == {upstream["id"]: "tokyo-metro-gov/covid19"}
    for write in (lambda: writer.add_label(other["id"], 1, "good first issue"),
                  lambda: writer.comment(other["id"], 1, "hello"),
                  lambda: writer.post_json("/user/repos", {"name": "x"}),
                  lambda: writer.delete(f"/repos/{other['owner']}/{other['name']}"),
                  lambda: writer.post_json("/repos/Tokyo-Metro-Gov/covid19/issues/1/labels", {"labels": ["x"]}),
                  lambda: writer.add_label(upstream["id"], 1, "good first issue")):  # not checked yet
        with pytest.raises(OutsideAllowlist, match="allowlist|not checked"):
            write()
    assert sim.app.requests == []  # refused before anything was sent
    writer.issue(upstream["id"], 1)  # checks that the id still carries its allowlisted name
    assert "good first issue" in writer.add_label(upstream["id"], 1, "good first issue")
    assert [(r["method"], r["path"]) for r in sim.app.requests] == [
        ("GET", f"/repositories/{upstream['id']}/issues/1"), ("POST", f"/repositories/{upstream['id']}/issues/1/labels")]


def test_a_config_edited_during_a_label_run_cannot_widen_its_allowlist(sim_factory, tmp_path):
    """The allowlist is read once when `civicbot label --apply` starts; widening it in the file while
    the run goes on changes nothing for that run (only the next run reads the new file)."""
    from harvest_helpers import family_config, write_config

    from civicbot.harvest.client import GitHubClient
    from civicbot.harvest.run import harvest
    from civicbot.sandbox.generate import DEMO_TOKEN
    from civicbot.store import open_store

    world = generate_world_dict(seed=33, scale=0.1)
    sim = sim_factory(world)
    upstream = "Tokyo-Metro-Gov/covid19"
    base = family_config(world, sim.url, tmp_path / "edit.db", throttle={"seconds_between_writes": 0})
    config = base.model_copy(update={"triage": base.triage.model_copy(update={
        "allowlist": [upstream], "threshold": 0.0, "max_per_repo_per_run": 1000, "max_per_repo_per_week": 1000})})
    assert harvest(config, open_store(config.database.path), GitHubClient(config, [DEMO_TOKEN])).outcome == "complete"
    path = write_config(config, tmp_path / "edit.yml")
    everything = sorted({f"{r['owner']}/{r['name']}" for r in world["repos"]})
    widened = config.model_copy(update={"triage": config.triage.model_copy(update={"allowlist": everything})})
    edits = []

    def edit_at_first_request(entry):
        if not edits:
            edits.append(entry["path"])
            write_config(widened, path)  # the operator widens the allowlist mid-run

    sim.app.observers.append(edit_at_first_request)
    done = subprocess.run(CLI + ["label", "--apply", "-c", str(path)], capture_output=True, text=True,
                          env={**os.environ, "CIVICBOT_TEST_TOKEN": DEMO_TOKEN})
    assert done.returncode == 0, done.stderr
    assert edits and yaml.safe_load(path.read_text(encoding="utf-8"))["triage"]["allowlist"] == everything
    # POST /graphql only reads (batch change detection); every other non-GET writes.
    writes = [r["path"] for r in sim.app.requests if r["method"] != "GET" and r["path"] != "/graphql"]
    upstream_id = next(r["id"] for r in world["repos"] if f"{r['owner']}/{r['name']}" == upstream)
    assert writes and all(w.startswith(f"/repositories/{upstream_id}/") for w in writes), writes
    db = open_store(config.database.path)
    elsewhere = db.execute("SELECT COUNT(*) FROM label_audit a JOIN repos r ON r.id = a.repo_id "
                           "WHERE a.action = 'proposed' AND r.full_name != ?", [upstream]).fetchone()[0]
    assert elsewhere > 0  # candidates elsewhere existed, and were only proposed
