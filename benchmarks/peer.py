"""civicbot side by side with github-to-sqlite on the same simulated GitHub (`--only peer`, default scale 1).

github-to-sqlite (Simon Willison's, from PyPI) is the closest existing tool: it too harvests
GitHub's REST API into SQLite. Both harvest the same repos of a generated world (seed 1: every
active repo that has issues) and the resources they both harvest: issues, pull requests, issue
comments. Per repetition, each tool in turn (civicbot, then github-to-sqlite) gets a fresh empty
database, a first harvest and then a no-change refresh on the same database; each run is the
wall clock of one subprocess, and the simulator's request log says how many requests and quota
units it cost. Everything runs at 0 ms and at 50 ms per response (real GitHub has a round trip).

github-to-sqlite runs in its own virtualenv (var/peer-venv, or CIVICBOT_PEER_VENV), installed
with pip at PEER_VERSION when missing; its code is never changed. Its hard-coded
https://api.github.com is redirected by a sitecustomize.py on the subprocess's PYTHONPATH that
wraps requests.Session.request: URLs out go to the simulator (under its /api/v3 prefix), and the
simulator's URLs in answers (Link headers, bodies) come back as api.github.com / github.com, so
the tool sees what GitHub would send. Its commands for a repo (`issues`, `pull-requests`,
`issue-comments`, in its README's order) run in one Python process for all repos, through its
click CLI: one process start per run, as civicbot has, rather than three per repo.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harvest import sim_admin

PEER = "github-to-sqlite"
PEER_VERSION = "2.9.1"  # the latest on PyPI on 2026-11-26
PEER_VENV_ENV = "CIVICBOT_PEER_VENV"  # an existing venv to use (installed into only when its version differs)
LATENCIES_MS = (0, 50)
REPETITIONS = 3
TOKEN_ENV = "CIVICBOT_BENCH_TOKEN"

# Put on the peer's PYTHONPATH; Python imports it at start-up, before github-to-sqlite.
SITECUSTOMIZE = r'''
"""Redirects github-to-sqlite's requests to the civicbot GitHub simulator (benchmarks/peer.py)."""
import os

import requests

API, WEB = b"https://api.github.com", b"https://github.com"
SIM_API = os.environ["PEER_SIM_API"].encode()  # the simulator's API root, under /api/v3
SIM_WEB = SIM_API.rsplit(b"/api/v3", 1)[0]  # where its html_url fields point (the bare host)
_request = requests.Session.request


def _back(data):
    # API first: its URLs start with the web root too.
    return data.replace(SIM_API, API).replace(SIM_WEB, WEB)


def request(self, method, url, *args, **kwargs):
    if not url.startswith(API.decode()):
        raise RuntimeError(f"benchmark: github-to-sqlite asked {url}, which the simulator does not serve")
    response = _request(self, method, SIM_API.decode() + url[len(API):], *args, **kwargs)
    response.url = _back(response.url.encode()).decode()
    if "Link" in response.headers:  # paging follows these
        response.headers["Link"] = _back(response.headers["Link"].encode()).decode()
    response._content = _back(response.content or b"")
    return response


requests.Session.request = request
'''

# Run with the peer venv's Python: every repo's three commands, in one process.
PEER_DRIVER = r"""
import sys
from github_to_sqlite.cli import cli
db, repos = sys.argv[1], sys.argv[2:]
for repo in repos:
    for command in ("issues", "pull-requests", "issue-comments"):
        cli.main([command, db, repo], prog_name="github-to-sqlite", standalone_mode=False)
"""


class PeerUnavailable(RuntimeError):
    """github-to-sqlite could not be installed (e.g. no package index)."""


def peer_venv() -> Path:
    return Path(os.environ.get(PEER_VENV_ENV) or "var/peer-venv")


def ensure_peer(venv: Path) -> str:
    """The peer's venv, created and github-to-sqlite installed at PEER_VERSION if needed; its python."""
    python = venv.absolute() / "bin" / "python"  # absolute: the runs start in a temp dir; not resolve(), a symlink
    version = "import importlib.metadata as m; print(m.version('github-to-sqlite'))"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        have = subprocess.run([str(python), "-c", version], capture_output=True, text=True)
        if have.stdout.strip() != PEER_VERSION:
            subprocess.run([str(python), "-m", "pip", "install", "-q", f"{PEER}=={PEER_VERSION}"],
                           check=True, capture_output=True, text=True, timeout=600)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        stderr = exc.stderr or ""  # bytes after a timeout, even with text=True
        detail = (stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr).strip().splitlines()[-3:]
        raise PeerUnavailable(f"cannot install {PEER}=={PEER_VERSION} into {venv}: {' / '.join(detail) or exc}")
    return str(python)


def _timed(sim_url: str, token: str, argv: list[str], env: dict, cwd: Path) -> dict:
    """One subprocess run: wall seconds and the simulator requests it made (log cleared first)."""
    sim_admin(f"{sim_url}/_sim/requests", "DELETE")
    # A full quota for every run: 3 repetitions x 2 tools would otherwise share one hour's 5,000.
    sim_admin(f"{sim_url}/_sim/quota", "POST", {"token": token, "remaining": 5000})
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    log = sim_admin(f"{sim_url}/_sim/requests")
    statuses = [r["status"] for r in log["requests"]]
    return {"seconds": round(seconds, 3), "requests": log["count"], "quota": log["quota_used"],
            "not_modified": statuses.count(304), "errors": sum(s >= 400 or s == 0 for s in statuses)}


def _civicbot_config(tmp: Path, sim_url: str, repos: list[str], db: Path) -> Path:
    """The same repos; only repo, issues, pulls and comments; no discovery beyond the list."""
    config = {
        "name": "peer-bench", "upstream": repos[0],
        "github": {"base_url": sim_url, "token_env": [TOKEN_ENV]},
        "harvest": {"resources": ["repo", "issues", "pulls", "comments"]},
        "discovery": {"forks": {"enabled": False}, "shared_root": {"enabled": False},
                      "listed": [{"repo": r} for r in repos[1:]]},
        "database": {"path": str(db)},
    }
    path = tmp / f"{db.stem}.yml"
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")  # JSON is YAML
    return path


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def stored(civicbot_db: Path, peer_db: Path) -> dict:
    """What each tool stored: counts, and whether the same issues, PRs and comments (by GitHub id)."""
    civic = {
        "issues": _rows(civicbot_db, "SELECT id FROM items WHERE NOT is_pull_request"),
        "prs": _rows(civicbot_db, "SELECT id FROM items WHERE is_pull_request"),
        "pulls": _rows(civicbot_db, "SELECT repo_id, number FROM items WHERE pull_fetched_at IS NOT NULL"),
        "comments": _rows(civicbot_db, "SELECT id FROM comments"),
    }
    peer = {
        "issues": _rows(peer_db, "SELECT id FROM issues WHERE type = 'issue'"),
        "prs": _rows(peer_db, "SELECT id FROM issues WHERE type = 'pull'"),
        "pulls": _rows(peer_db, "SELECT repo, number FROM pull_requests"),
        "comments": _rows(peer_db, "SELECT id FROM issue_comments"),
    }
    # The redirection is invisible to the tool: it stored GitHub's URLs, not the simulator's.
    foreign = _rows(peer_db, """
        SELECT (SELECT count(*) FROM issue_comments WHERE issue_url NOT LIKE 'https://api.github.com/repos/%')
             + (SELECT count(*) FROM pull_requests WHERE url NOT LIKE 'https://github.com/%')""")
    return {"civicbot": {k: len(v) for k, v in civic.items()}, PEER: {k: len(v) for k, v in peer.items()},
            "same": {k: set(civic[k]) == set(peer[k]) for k in civic}, "peer_saw_github_urls": foreign[0][0] == 0}


def _repos_with_issues(world: dict) -> tuple[list[str], int]:
    """Active public repos with at least one issue or PR, most items first (the upstream leads),
    and their number of issues + PRs. Deleted and taken-down repos answer 404 / 451."""
    counts: dict[int, int] = {}
    for item in world["issues"]:
        counts[item["repo_id"]] = counts.get(item["repo_id"], 0) + 1
    repos = [r for r in world["repos"] if r["status"] == "active" and not r["private"] and counts.get(r["id"])]
    repos.sort(key=lambda r: (-counts[r["id"]], r["id"]))
    return [f"{r['owner']}/{r['name']}" for r in repos], sum(counts[r["id"]] for r in repos)


def _median(runs: list[dict], phase: str, key: str) -> float:
    return statistics.median(run[phase][key] for run in runs)


def _ratio(peer: float, civic: float) -> float | None:
    return round(peer / civic, 2) if civic else None  # None: civicbot spent nothing (e.g. 0 quota)


def bench_peer(scales: list[float], *, repetitions: int = REPETITIONS,
               latencies: tuple[float, ...] = LATENCIES_MS) -> list[dict]:
    from civicbot.sandbox import SandboxServer, World
    from civicbot.sandbox.generate import DEMO_TOKEN, generate_world_dict

    peer_python = ensure_peer(peer_venv())
    rows = []
    for scale in scales:
        data = generate_world_dict(seed=1, scale=scale)
        repos, items = _repos_with_issues(data)
        for latency in latencies:
            with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp_name, \
                    SandboxServer(World(data), latency_ms=latency) as sim:
                tmp = Path(tmp_name)
                (tmp / "redirect").mkdir()
                (tmp / "redirect" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
                base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GITHUB_TOKEN")}
                civic_env = {**base_env, TOKEN_ENV: DEMO_TOKEN}
                peer_env = {**base_env, "GITHUB_TOKEN": DEMO_TOKEN, "PYTHONPATH": str(tmp / "redirect"),
                            "PEER_SIM_API": f"{sim.url}/api/v3"}
                runs: dict[str, list[dict]] = {"civicbot": [], PEER: []}
                load_before = round(os.getloadavg()[0], 2)
                for rep in range(repetitions):
                    civic_db, peer_db = tmp / f"civicbot-{rep}.db", tmp / f"peer-{rep}.db"
                    config = _civicbot_config(tmp, sim.url, repos, civic_db)
                    civic_argv = [sys.executable, "-m", "civicbot.cli", "harvest", "--quiet", "-c", str(config)]
                    peer_argv = [peer_python, "-c", PEER_DRIVER, str(peer_db), *repos]
                    for tool, argv, env in (("civicbot", civic_argv, civic_env), (PEER, peer_argv, peer_env)):
                        run = {phase: _timed(sim.url, DEMO_TOKEN, argv, env, tmp)
                               for phase in ("first", "refresh")}  # dicts keep order: first, then refresh
                        runs[tool].append(run)
                        print(f"peer     scale {scale:>6} latency {latency:>3g} ms rep {rep + 1} {tool:16} "
                              f"first {run['first']['seconds']:7.2f} s {run['first']['requests']:>5} req "
                              f"{run['first']['quota']:>5} quota  refresh {run['refresh']['seconds']:7.2f} s "
                              f"{run['refresh']['requests']:>5} req {run['refresh']['quota']:>5} quota", flush=True)
                    check = stored(civic_db, peer_db)  # the last repetition's databases, after the refresh
                row = {"scale": scale, "latency_ms": latency, "repetitions": repetitions, "peer": PEER,
                       "peer_version": PEER_VERSION, "repos": len(repos), "repo_names": repos,
                       "items": items, "load_average_before": load_before,
                       "load_average_after": round(os.getloadavg()[0], 2), "stored": check, "runs": runs}
                for tool in runs:
                    row[tool] = {phase: {key: _median(runs[tool], phase, key)
                                         for key in ("seconds", "requests", "quota", "not_modified", "errors")}
                                 for phase in ("first", "refresh")}
                row["ratios"] = {phase: {key: _ratio(row[PEER][phase][key], row["civicbot"][phase][key])
                                         for key in ("seconds", "requests", "quota")} for phase in ("first", "refresh")}
                c, p = row["civicbot"], row[PEER]
                row["targets"] = {
                    "first_no_slower": c["first"]["seconds"] <= p["first"]["seconds"],
                    "refresh_20x_faster": p["refresh"]["seconds"] >= 20 * c["refresh"]["seconds"],
                    "refresh_50x_less_quota": p["refresh"]["quota"] > 0
                                              and p["refresh"]["quota"] >= 50 * c["refresh"]["quota"],
                }
                rows.append(row)
                _print_table(row)
    return rows


def _print_table(row: dict) -> None:
    c, p, r = row["civicbot"], row[PEER], row["ratios"]
    print(f"\npeer     scale {row['scale']} ({row['items']:,} issues+PRs in the repos), {row['repos']} repos, "
          f"latency {row['latency_ms']:g} ms, median of {row['repetitions']} ({PEER} {PEER_VERSION}; load average "
          f"{row['load_average_before']} -> {row['load_average_after']})")
    print(f"  {'':22}{'civicbot':>12}{PEER:>18}{'peer/civicbot':>15}")
    for phase in ("first", "refresh"):
        for key, label in (("seconds", "wall s"), ("requests", "requests"), ("quota", "quota units")):
            ratio = r[phase][key]
            shown = f"{ratio:.2f}" if ratio is not None else ("inf" if p[phase][key] else "-")
            print(f"  {phase + ' ' + label:22}{c[phase][key]:>12g}{p[phase][key]:>18g}{shown:>15}")
    s = row["stored"]
    print("  stored (civicbot / peer): " + ", ".join(
        f"{k} {s['civicbot'][k]:,} / {s[PEER][k]:,}{'' if s['same'][k] else ' (DIFFERENT ids)'}" for k in s["same"]))
    print("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in row["targets"].items()) + "\n",
          flush=True)
