"""Shared fixtures: the GitHub simulator on a free loopback port, and PyGithub clients for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from worlds import TOKEN, tiny_world  # noqa: E402

from civicbot.sandbox import FaultPlan, SandboxServer, World  # noqa: E402

# Fixtures of helper modules, found by pytest for every test file (a fixture imported into a test
# file would be an unused import there, and each parameter naming it a redefinition).
pytest_plugins = ["octokit_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "tokyo-covid19"


@pytest.fixture
def sim_factory():
    """Start simulators: `sim_factory(world_dict_or_World, faults=FaultPlan|dict)`; all stop at teardown."""
    servers: list[SandboxServer] = []

    def make(world=None, faults=None, **kwargs) -> SandboxServer:
        world = world if isinstance(world, World) else World(world if world is not None else tiny_world())
        if isinstance(faults, dict):
            faults = FaultPlan.from_json(faults)
        server = SandboxServer(world, faults=faults, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sim(sim_factory) -> SandboxServer:
    """The simulator serving tests/worlds.py's tiny world; `sim.url` is PyGithub's base_url."""
    return sim_factory()


def github(url: str, token: str | None = TOKEN, per_page: int = 100, **kwargs):
    """A PyGithub client as civicbot configures it: no throttle against a local server."""
    from github import Auth, Github

    auth = Auth.Token(token) if token else None
    kwargs.setdefault("retry", None)
    return Github(auth=auth, base_url=url, per_page=per_page, seconds_between_requests=0,
                  seconds_between_writes=0, lazy=True, **kwargs)


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "tokyo_prs.csv").exists():
        pytest.skip(f"../shared/data/tokyo-covid19 is absent ({SHARED_DATA}); it is read from beside the project")
    return SHARED_DATA


def pytest_report_header(config) -> list[str]:
    """The versions of the ranges civicbot relies on, so a CI log says which end was tested."""
    from importlib.metadata import version

    return ["civicbot deps: " + ", ".join(f"{name} {version(name)}" for name in
                                         ("pandas", "numpy", "sqlite-utils", "datasette", "PyGithub"))]
