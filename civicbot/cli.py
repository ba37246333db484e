"""The `civicbot` command: thin click wrappers over the library's stage functions."""

from __future__ import annotations

import importlib
import importlib.util

import click

from . import __version__

# Commands that live in other packages, imported only when invoked, so that the product's
# code never loads the simulator unless the user asks for it.
LAZY_COMMANDS = {
    "sandbox": "civicbot.sandbox.cli:sandbox",
    "serve": "civicbot.publish.commands:serve",
    "publish": "civicbot.publish.commands:publish",
    "triage": "civicbot.triage.commands:triage",
    "label": "civicbot.triage.commands:label",
    "run": "civicbot.daemon:run",
    "doctor": "civicbot.doctor:doctor",
}


def _available(name: str) -> bool:
    try:
        return importlib.util.find_spec(LAZY_COMMANDS[name].partition(":")[0]) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if _available(n))])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[name].partition(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError:  # a stage not installed in this build
                return None
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civicbot")
def main() -> None:
    """civicbot: harvest a civic project family from GitHub, measure it and publish it."""


CONFIG_OPTION = click.option("-c", "--config", "config_path", required=True, metavar="FILE",
                             help="Project family configuration (config/*.yml).")


def _load(config_path: str):
    """The configuration, or exit 2 with the one-line error naming the file and field."""
    from .config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"civicbot: {exc}", err=True)
        raise SystemExit(2) from None


@main.command()
@CONFIG_OPTION
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME", help="Harvest only this repo (repeatable).")
@click.option("--full", is_flag=True, help="Ignore cursors and ETags: read everything again.")
@click.option("--quiet", is_flag=True, help="No progress display; only errors and the summary line.")
@click.option("--json-log", is_flag=True, help="Print progress and the summary as JSON lines (for the scheduler).")
def harvest(config_path: str, repos: tuple[str, ...], full: bool, quiet: bool, json_log: bool) -> None:
    """Harvest the project family into the database (incremental and resumable).

    Ctrl-C (or SIGTERM) stops after the current page; nothing is lost and the same command
    resumes. Exit status: 0 complete, 3 partial (some repos failed), 75 rate limited (run again
    after the reset) or another civicbot process is using the database, 130 interrupted,
    2 something to fix first (configuration, no usable token, base_url unreachable), 1 an
    unexpected error.
    """
    from .harvest.report import run_harvest

    raise SystemExit(run_harvest(_load(config_path), repos=list(repos), full=full, quiet=quiet, json_log=json_log))


@main.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(config_path: str, as_json: bool) -> None:
    """Last harvest runs, per-repo sync state and the quota left."""
    from .harvest.report import show_status

    raise SystemExit(show_status(_load(config_path), as_json=as_json))



@main.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the derivatives as JSON.")
def derivatives(config_path: str, as_json: bool) -> None:
    """Recompute the diffusion tables and print the family tree with regions."""
    from .metrics.report import show_derivatives

    raise SystemExit(show_derivatives(_load(config_path), as_json=as_json))


@main.command()
@CONFIG_OPTION
def metrics(config_path: str) -> None:
    """Recompute every metric table (idempotent; one transaction per table)."""
    from .metrics.report import run_metrics

    raise SystemExit(run_metrics(_load(config_path)))


@main.command()
@CONFIG_OPTION
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="First day (project time zone).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Last day, included.")
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME",
              help="Only these repos ('upstream' for the upstream); default: the whole family.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def summary(config_path: str, start, end, repos: tuple[str, ...], as_json: bool) -> None:
    """The impact summary (bots excluded, bot share beside) for a window and repo set."""
    from .metrics.report import show_summary

    raise SystemExit(show_summary(_load(config_path), start.date() if start else None,
                                  end.date() if end else None, list(repos), as_json=as_json))


@main.command()
@CONFIG_OPTION
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day of the period (project time zone).")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day, included.")
@click.option("--lang", type=click.Choice(["ja", "en"]), default="ja", show_default=True, help="Language of the report.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, metavar="FILE",
              help="Where to write: FILE.html and FILE.pdf (a .html or .pdf ending is replaced).")
@click.option("--no-pdf", is_flag=True, help="Write the HTML only (no Chromium needed).")
def report(config_path: str, start, end, lang: str, out: str, no_pdf: bool) -> None:
    """The printable impact report for sponsors (HTML and PDF) for a period, from the metrics tables."""
    from pathlib import Path

    from .publish.report import run_report

    raise SystemExit(run_report(_load(config_path), start.date(), end.date(), lang, Path(out), pdf=not no_pdf))


if __name__ == "__main__":  # pragma: no cover
    main()
