"""Replay real api.github.com recordings from @octokit/fixtures to PyGithub.

The session fixture ``octokit_fixtures_server`` starts @octokit/fixtures-server
(from node_modules) on a free localhost port. ``server.load(name)`` registers
one scenario and returns a :class:`Scenario` whose ``url`` can be used as
PyGithub's ``base_url``. The server answers each recorded request once, in
the recorded order, and rejects any other request with a 404.

The server is given edited copies of the scenarios, written to a temporary
directory (node_modules is never modified). Only request headers that PyGithub
cannot send byte for byte are removed (see ``UNMATCHABLE_REQUEST_HEADERS``).
Recorded responses, methods, paths, query strings, JSON bodies and the
``authorization`` header are still checked as recorded.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from github import Auth, Github

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
SCENARIOS_DIR = NODE_MODULES / "@octokit" / "fixtures" / "scenarios" / "api.github.com"
SERVER_JS = NODE_MODULES / "@octokit" / "fixtures-server" / "bin" / "server.js"

# Every scenario was recorded with this token (see @octokit/fixtures README).
TOKEN = "0000000000000000000000000000000000000001"

# nock compares recorded request headers as exact strings, but PyGithub sends:
# - accept: requests' "*/*" or a preview media type, never the recorded
#   "application/vnd.github.v3+json";
# - content-type: "application/json" without the recorded "; charset=utf-8";
# - content-length: the length of json.dumps() output, which has ", "/": "
#   separators where the recording's JSON.stringify() output has none.
# nock still parses and compares the JSON bodies, so dropping these headers
# does not stop it from checking what PyGithub sends.
UNMATCHABLE_REQUEST_HEADERS = ("accept", "content-type", "content-length")

# The server forgets a scenario when it has been fully replayed or when its
# TTL expires. Scenario.pending() reads "forgotten" as "fully replayed", so the
# TTL must outlast any test run.
SCENARIO_TTL_MS = 60 * 60 * 1000

STARTUP_TIMEOUT_S = 20


@dataclass(frozen=True)
class Scenario:
    """One loaded copy of a recorded scenario on the fixtures server."""

    name: str
    id: str
    url: str
    server_url: str
    recorded: list[dict[str, Any]]

    def github(self, **options: Any) -> Github:
        """Return a PyGithub client pointed at this scenario.

        PyGithub's pauses between requests are turned off because nothing here
        is rate limited. Retries are turned off because each recording is
        answered only once: a retry would be compared with the next recorded
        request, and a recorded error should reach the test straight away.
        """
        settings: dict[str, Any] = {
            "auth": Auth.Token(TOKEN),
            "base_url": self.url,
            "seconds_between_requests": 0,
            "seconds_between_writes": 0,
            "retry": None,
        }
        settings.update(options)
        return Github(**settings)

    def rewrite(self, value: Any) -> Any:
        """Rewrite recorded URLs the way the server does before answering.

        This does what fixtures-server's lib/additions.js does: every
        "https://HOST/" in a string value becomes "SERVER/HOST/ID/". This lets
        a test compare what PyGithub returns with the recording.
        """
        if isinstance(value, str):
            return re.sub(
                r"https?://([^/]+)/",
                lambda match: f"{self.server_url}/{match.group(1)}/{self.id}/",
                value,
            )
        if isinstance(value, list):
            return [self.rewrite(item) for item in value]
        if isinstance(value, dict):
            return {key: self.rewrite(item) for key, item in value.items()}
        return value

    def response(self, index: int) -> Any:
        """The recorded response body of request ``index``, as the server sends it."""
        return self.rewrite(self.recorded[index]["response"])

    def recorded_requests(self) -> list[str]:
        """Every recorded request as "METHOD /path?query", in recorded order."""
        return [f"{entry['method'].upper()} {entry['path']}" for entry in self.recorded]

    def pending(self) -> list[str]:
        """Recorded requests not replayed yet, in the form used by recorded_requests().

        There is no endpoint that lists them, so this sends a request the
        scenario never expects and reads the server's answer. A scenario still
        in progress gets a 404 that lists its pending requests. A fully
        replayed scenario is forgotten, so the server answers 'not found'.
        """
        answer = requests.get(f"{self.url}/", headers={"Accept": "*/*"}, timeout=10).json()
        if answer.get("error") == f'Fixture "{self.id}" not found':
            return []
        pending = []
        for entry in answer["detail"]["pending"]:
            method, url = entry.split(" ", 1)
            parts = urlsplit(url)
            pending.append(f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else ""))
        return pending


@dataclass(frozen=True)
class FixturesServer:
    url: str

    def load(self, name: str) -> Scenario:
        """Register a new, separate copy of scenario ``name`` and return it."""
        answer = requests.post(f"{self.url}/fixtures", json={"scenario": name}, timeout=10)
        answer.raise_for_status()
        loaded = answer.json()
        recorded = json.loads((SCENARIOS_DIR / name / "normalized-fixture.json").read_text())
        return Scenario(name, loaded["id"], loaded["url"], self.url, recorded)


def _write_matchable_scenarios(target: Path) -> None:
    for source in SCENARIOS_DIR.glob("*/normalized-fixture.json"):
        exchanges = json.loads(source.read_text())
        for exchange in exchanges:
            for header in UNMATCHABLE_REQUEST_HEADERS:
                exchange["reqheaders"].pop(header, None)
        scenario_dir = target / source.parent.name
        scenario_dir.mkdir()
        (scenario_dir / "normalized-fixture.json").write_text(json.dumps(exchanges))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def octokit_fixtures_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixturesServer]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not on PATH; it is needed to run @octokit/fixtures-server")
    if not SERVER_JS.is_file() or not SCENARIOS_DIR.is_dir():
        pytest.skip(f"@octokit/fixtures and @octokit/fixtures-server are not in {NODE_MODULES}; run `npm ci`")

    workdir = tmp_path_factory.mktemp("octokit-fixtures")
    scenarios = workdir / "scenarios"
    scenarios.mkdir()
    _write_matchable_scenarios(scenarios)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                node,
                str(SERVER_JS),
                f"--port={port}",
                # The server builds scenario URLs from this value. Without it
                # they use "localhost", which may resolve to ::1 only.
                f"--fixtures-url={url}",
                f"--fixtures={scenarios}/*/normalized-fixture.json",
                f"--ttl={SCENARIO_TTL_MS}",
                "--log-level=warn",
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"fixtures-server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if requests.get(f"{url}/ping", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"fixtures-server not ready after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield FixturesServer(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
