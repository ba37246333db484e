"""`civicbot sandbox ...`: run the GitHub simulator and make worlds for it."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import click

from .faults import FaultPlan, FaultPlanError
from .world import World, WorldError


@click.group()
def sandbox() -> None:
    """A local GitHub API simulator, REST and GraphQL (for the demo, tests and benchmarks)."""


@sandbox.command()
@click.option("--world", "world_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="World JSON file (see docs/simulator.md).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it on loopback).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--faults", "faults_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fault plan JSON: {\"seed\": 1, \"rules\": [...]}.")
@click.option("--request-log", type=click.Path(dir_okay=False, path_type=Path),
              help="Append every request (method, path, status, quota) to this JSON-lines file.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Hold every API answer this long (a network round trip, for benchmarks).")
@click.option("--url-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the server's base URL to this file once it listens (for scripts).")
def serve(world_path: Path, host: str, port: int, faults_path: Path | None, request_log: Path | None,
          url_file: Path | None, latency_ms: float) -> None:
    """Serve a world over HTTP until interrupted."""
    from .server import SandboxServer

    click.echo(f"GitHub simulator: loading {world_path}...")  # seconds for a large world: say so first
    try:
        world = World.load(world_path)
        faults = FaultPlan.from_json(json.loads(faults_path.read_text(encoding="utf-8"))) if faults_path else None
    except (WorldError, FaultPlanError, json.JSONDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        server = SandboxServer(world, host=host, port=port, faults=faults, log_path=request_log,
                               latency_ms=latency_ms)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    counts = {k: len(world.data[k]) for k in ("repos", "issues", "comments", "events")}
    click.echo(f"GitHub simulator serving {world_path} ({counts['repos']} repos, {counts['issues']} issues and PRs, "
               f"{counts['comments']} comments, {counts['events']} events)")
    click.echo(f"  base URL:  {server.url}")
    click.echo(f"  GraphQL:   {_graphql_status(server.url)}")
    tokens = ", ".join(t["token"] for t in world.data.get("tokens", [])) or "(none: anonymous only)"
    click.echo(f"  tokens:    {tokens}")
    click.echo(f"  requests:  {server.url}/_sim/requests   (Ctrl-C to stop)")
    if url_file:
        url_file.write_text(server.url + "\n", encoding="utf-8")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


def _graphql_status(url: str) -> str:
    """Build GitHub's schema now (a second) so the first GraphQL answer is not the slow one."""
    from .graphql import SchemaMissing, github_schema

    try:
        github_schema()
    except SchemaMissing as exc:
        return f"off ({exc})"
    return f"{url}/graphql"


@sandbox.command()
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0.01, max=1000),
              help="1.0 is about 10,000 issues and PRs; 100 reaches 1,000,000.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def generate(seed: int, scale: float, output: Path) -> None:
    """Generate a deterministic world shaped like the Tokyo COVID-19 family."""
    from .generate import write_world

    output.parent.mkdir(parents=True, exist_ok=True)
    write_world(output, seed=seed, scale=scale)
    click.echo(f"wrote {output} (seed {seed}, scale {scale})")


@sandbox.command("tokyo-world")
@click.option("--data", "data_dir", default="../shared/data/tokyo-covid19", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder with tokyo_prs.csv and derivatives.csv.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def tokyo_world(data_dir: Path, output: Path) -> None:
    """Build a world from the real Tokyo data (merged PRs and 15 derivatives)."""
    from .tokyo import world_from_tokyo_data

    if not (data_dir / "tokyo_prs.csv").exists():
        raise click.ClickException(f"{data_dir}: no tokyo_prs.csv here (is ../shared beside the project?)")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(world_from_tokyo_data(data_dir), ensure_ascii=False), encoding="utf-8")
    click.echo(f"wrote {output}")


@sandbox.command()
@click.argument("world_path", type=click.Path(dir_okay=False, path_type=Path))
def validate(world_path: Path) -> None:
    """Check a world file against the schema and its internal references."""
    try:
        world = World.load(world_path)
    except WorldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{world_path}: valid ({len(world.repos)} repos, {len(world.data['issues'])} issues and PRs)")
