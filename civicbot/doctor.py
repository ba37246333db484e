"""`civicbot doctor`: check a deployment before leaving it alone for months (docs/deploy.md).

Each check prints OK or FAIL with what to fix. Exit status 0 when every check passes, 1 otherwise.
Nothing is written: the database is opened read-only, and only GET /user and GET /rate_limit are
sent (neither costs quota). No message ever shows the token.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import click


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def run_checks(config_path: str, environ=os.environ) -> list[Check]:
    from civicbot.config import ConfigError, load_config, resolve_tokens

    checks: list[Check] = []
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        schedule = [i for i in exc.errors if i.path.startswith("schedule")]
        if schedule:
            checks.append(Check("schedule", False, f"{schedule[0]}; fix the cron line (5 fields, or 6 with seconds "
                                                   "first)"))
        checks.append(Check("config", False, f"{exc}; fix the file (see docs/config.md)"))
        return checks
    checks.append(Check("config", True, f"{config_path} loads (family {config.name})"))
    checks.append(_schedule(config))

    tokens: list[str] = []
    try:
        tokens = resolve_tokens(config, environ)
        checks.append(Check("token", bool(tokens),
                            f"{len(tokens)} token(s) found" if tokens else
                            f"no token: set {' or '.join(config.github.token_env)} or github.token_file "
                            "(unauthenticated: 60 requests an hour)"))
    except ConfigError as exc:
        checks.append(Check("token", False, f"{exc}"))
    checks.extend(_api(config, tokens[0] if tokens else None))
    checks.extend(_database(config))
    checks.append(_automation(config))
    checks.append(_identities(config))
    checks.append(_publish_dir(config))
    checks.append(_plugins())
    return checks


def _schedule(config) -> Check:
    from civicbot.daemon import next_runs

    try:
        upcoming = next_runs(config)
    except Exception as exc:  # noqa: BLE001
        return Check("schedule", False, f"{type(exc).__name__}: {exc}; fix schedule in the config")
    return Check("schedule", True, ", ".join(f"{job} next {when}" for job, when in upcoming.items()))


def _api(config, token: str | None) -> list[Check]:
    import requests

    base = config.github.base_url
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "civicbot-doctor"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    timeout = min(config.github.timeout, 10)

    def get(path: str):
        # No redirect is followed: the token goes to base_url's host only (docs/harvest.md).
        return requests.get(f"{base}{path}", headers=headers, timeout=timeout, allow_redirects=False)

    try:
        rate = get("/rate_limit")
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return [Check("api", False, f"{base} is unreachable ({reason}, timeout {timeout:g} s); check "
                                    "github.base_url, the network and any proxy")]
    rate_body = _json_object(rate)
    if rate.status_code == 200 and rate_body is None:
        return [Check("api", False, f"{base} answers, but not as GitHub's API does (HTTP 200, "
                                    f"{rate.headers.get('content-type') or 'no content type'}); check github.base_url "
                                    "(GitHub Enterprise: https://HOST/api/v3)")]
    checks = [Check("api", True, f"{base} answers (HTTP {rate.status_code})")]
    if token:
        try:
            user = get("/user")
        except requests.RequestException as exc:
            user = None
            checks.append(Check("token valid", False, f"GET /user failed ({type(exc).__name__}); run doctor again"))
        if user is not None and user.status_code == 200:
            login = (_json_object(user) or {}).get("login", "?")
            scopes = user.headers.get("x-oauth-scopes")
            detail = f"valid, as {login}; scopes: {scopes or 'none reported (fine-grained token)'}"
            checks.append(Check("token valid", True, detail))
        elif user is not None:
            checks.append(Check("token valid", False, f"GET /user answered {user.status_code}: the token is wrong, "
                                                      "expired or revoked; make a new one (read-only public repos)"))
    if rate.status_code == 200:
        core = (rate_body.get("resources") or {}).get("core") or rate_body.get("rate") or {}
        core = core if isinstance(core, dict) else {}
        remaining, reserve = core.get("remaining"), config.github.rate_limit_reserve
        ok = isinstance(remaining, int) and remaining > reserve
        checks.append(Check("quota", ok, f"{remaining} of {core.get('limit')} left, reserve {reserve}"
                            + ("" if ok else "; wait for the reset, use another token, or lower "
                                             "github.rate_limit_reserve")))
    else:
        checks.append(Check("quota", False, f"GET /rate_limit answered {rate.status_code}; check the token"))
    return checks


def _json_object(response) -> dict | None:
    """The answer's JSON object, or None for anything else (an HTML page, a list, nesting too deep)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _database(config) -> list[Check]:
    from civicbot.store.schema import SCHEMA_VERSION

    path = Path(config.database.path)
    if not path.exists():
        return [Check("database", False, f"no database at {path}; run `civicbot harvest -c ...` once "
                                         "(or check database.path and the working directory)")]
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [Check("database", False, f"{path} is not a civicbot database ({exc}); check database.path")]
    checks = [Check("database", True, f"{path} exists")]
    if version < SCHEMA_VERSION:
        checks.append(Check("schema", False, f"schema version {version}, current is {SCHEMA_VERSION}; any civicbot "
                                             "command that opens it (e.g. `civicbot status`) migrates it"))
    elif version > SCHEMA_VERSION:
        checks.append(Check("schema", False, f"schema version {version} is newer than this civicbot's "
                                             f"{SCHEMA_VERSION}; upgrade civicbot"))
    else:
        checks.append(Check("schema", True, f"version {version} (current)"))
    checks.append(Check("wal", mode == "wal", "journal_mode wal" if mode == "wal" else
                        f"journal_mode {mode}: Datasette cannot read while the harvest writes; run "
                        f"`sqlite3 {path} 'PRAGMA journal_mode=WAL'` (or `civicbot status -c ...`)"))
    return checks


def _read_accounts(config, name: str, read, nothing: str):
    """`read(db)` on the store opened read-only; a Check instead when there is no store or it fails."""
    import sqlite_utils

    path = Path(config.database.path)
    if not path.exists():
        return Check(name, True, f"no database yet: {nothing}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return read(sqlite_utils.Database(conn))
    except Exception as exc:  # noqa: BLE001 (a store from before a harvest: reported, not fatal)
        return Check(name, False, f"could not read accounts ({type(exc).__name__}: {exc})")
    finally:
        conn.close()


def _automation(config) -> Check:
    """Accounts detected as automation (not listed in config): a maintainer confirms or overrules them."""
    from civicbot.metrics.people import account_frame

    frame = _read_accounts(config, "automation", lambda db: account_frame(db, config), "nothing detected")
    if isinstance(frame, Check):
        return frame
    found = frame[frame["detected"] == 1].sort_values(["prs", "login"], ascending=[False, True])
    if found.empty:
        return Check("automation", True, "no account detected as automation beyond the configured bots")
    listed = ", ".join(f"{r.login} ({r.reason})" for r in found.itertuples())
    return Check("automation", True, f"treated as automation: {listed}; confirm them in bots.logins, or list "
                                     "people in bots.not_bots")


def _identities(config) -> Check:
    """Accounts that may be one person (civicbot.metrics.people.likely_duplicates): a maintainer
    confirms each in config `identities`, or leaves them apart."""
    from civicbot.metrics.people import likely_duplicates

    pairs = _read_accounts(config, "identities", lambda db: likely_duplicates(db, config), "no likely duplicate")
    if isinstance(pairs, Check):
        return pairs
    if not pairs:
        return Check("identities", True, "no likely duplicate account")
    listed = "; ".join(f"{' / '.join(p['logins'])} ({p['why']})" for p in pairs)
    snippet = "\n".join("  " + p["identities"] for p in pairs)
    return Check("identities", True, f"{len(pairs)} pair(s) of accounts may be one person: {listed}. If they are, "
                                     f"add to the config under identities:\n{snippet}")


def _publish_dir(config) -> Check:
    target = Path(config.schedule.publish_dir)
    probe = target
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return Check("publish dir", False, f"{target}: {probe} is a file, not a folder; fix schedule.publish_dir")
    if not os.access(probe, os.W_OK):
        return Check("publish dir", False, f"{target}: {probe} is not writable; fix schedule.publish_dir or "
                                           "its permissions")
    return Check("publish dir", True, f"{target} is writable")


def _plugins() -> Check:
    missing = [name for name in ("datasette", "datasette_dashboards") if importlib.util.find_spec(name) is None]
    if missing:
        return Check("datasette", False, f"not importable: {', '.join(missing)}; run `pip install -e .`")
    return Check("datasette", True, "datasette and datasette_dashboards importable")


@click.command()
@click.option("-c", "--config", "config_path", required=True, metavar="FILE",
              help="Project family configuration (config/*.yml).")
def doctor(config_path: str) -> None:
    """Check the config, token, API, database, Datasette plugins and schedule; OK/FAIL each.

    Exit status: 0 all OK, 1 something to fix.
    """
    checks = run_checks(config_path)
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if not c.ok]
    click.echo(f"{len(checks) - len(failed)} OK, {len(failed)} FAIL")
    raise SystemExit(1 if failed else 0)
