"""`civicbot triage` (score; `triage evaluate`) and `civicbot label`: thin click wrappers."""

from __future__ import annotations

import json

import click

from civicbot.cli import CONFIG_OPTION, _load


def _open(config):
    from civicbot.store import open_store

    return open_store(config.database.path)


def _writer(config):
    """The writer for `label --apply`; a dry run makes none, so it never needs the API."""
    from civicbot.config import ConfigError, resolve_tokens
    from civicbot.harvest.client import GitHubClient
    from civicbot.triage.writer import GitHubWriter

    try:
        tokens = resolve_tokens(config)
    except ConfigError as exc:
        click.echo(f"civicbot: {exc}", err=True)
        raise SystemExit(2) from None
    if not tokens:
        click.echo("civicbot: --apply needs a token (github.token_env or github.token_file)", err=True)
        raise SystemExit(2)
    return GitHubWriter(GitHubClient(config, tokens), config.triage.allowlist)


# Exit statuses of `civicbot label` (docs/triage.md): 0 done, 2 bad config or arguments,
# 3 GitHub could not be used (unreachable, token refused, odd answer), 75 out of quota or another
# civicbot process (a harvest, the daemon) holds the store.
EXIT_GITHUB, EXIT_QUOTA, EXIT_BUSY = 3, 75, 75


def _github_error(exc: Exception) -> int:
    """One line for a GitHub failure that stops the run (no traceback); its exit status."""
    from civicbot.harvest.client import RateLimited
    from civicbot.triage.writer import QuotaExhausted

    if isinstance(exc, (RateLimited, QuotaExhausted)):
        click.echo(f"civicbot: label stopped, out of GitHub quota: {exc}; run again after the reset", err=True)
        return EXIT_QUOTA
    status = getattr(exc, "status", None)
    if status == 401:
        click.echo("civicbot: label stopped: GitHub refused the token (401); check github.token_env or "
                   "github.token_file", err=True)
    else:
        click.echo(f"civicbot: label stopped: GitHub could not be used: {str(exc)[:300]}", err=True)
    return EXIT_GITHUB


@click.group(invoke_without_command=True)
@click.option("-c", "--config", "config_path", metavar="FILE", help="Project family configuration (config/*.yml).")
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME", help="Score only this repo (repeatable).")
@click.option("--top", default=10, show_default=True, help="Candidates to print.")
@click.option("--json", "as_json", is_flag=True, help="Print the candidates as JSON.")
@click.pass_context
def triage(ctx: click.Context, config_path: str | None, repos: tuple[str, ...], top: int, as_json: bool) -> None:
    """Score open issues as good first issues into gfi_candidates (`triage evaluate`: evaluate)."""
    if ctx.invoked_subcommand is not None:
        return
    if not config_path:
        raise click.UsageError("Missing option '-c' / '--config'.")
    from civicbot.store.runs import command_job
    from civicbot.triage.score import score_family

    config = _load(config_path)
    db = _open(config)
    with command_job(db, "triage") as details:
        result = score_family(db, config, repos=list(repos), extra_bot_logins=None)
        details.update(candidates=len(result.candidates), model=result.model)
    rows = [{"repo": db["repos"].get(c.snapshot.repo_id)["full_name"], "number": c.snapshot.number,
             "title": c.snapshot.title, "probability": round(c.probability, 3), "reasons_ja": c.reasons_ja,
             "reasons_en": c.reasons_en} for c in result.candidates[:top]]
    if as_json:
        click.echo(json.dumps({"model": result.model, "own_weight": round(result.own_weight, 3),
                               "statement": result.statement,
                               "candidates": len(result.candidates), "top": rows}, ensure_ascii=False))
        return
    click.echo(result.statement)
    click.echo(f"{len(result.candidates)} candidates written to gfi_candidates")
    for r in rows:
        click.echo(f"  {r['probability']:.2f}  {r['repo']}#{r['number']}  {r['title']}")
        click.echo(f"        {' / '.join(r['reasons_en'])}  |  {'、'.join(r['reasons_ja'])}")


@triage.command()
@CONFIG_OPTION
@click.option("--out", "out_path", default="var/gfi-evaluation.md", show_default=True, metavar="FILE",
              help="Where to write the Markdown report.")
@click.option("--bootstrap", default=200, show_default=True, help="Bootstrap resamples (by repo; by issue on one repo).")
@click.option("--holdout", is_flag=True, help="Also score the last 20% of time (kept untouched by default).")
def evaluate(config_path: str, out_path: str, bootstrap: int, holdout: bool) -> None:
    """Walk-forward evaluation against baselines; writes a report and gfi_evaluation."""
    from civicbot.triage.evaluate import run_evaluation

    config = _load(config_path)
    db = _open(config)
    report = run_evaluation(db, config, out_path=out_path, bootstrap=bootstrap, holdout=holdout)
    click.echo(report.summary())
    click.echo(f"report written to {out_path}")


@click.command()
@CONFIG_OPTION
@click.option("--apply", "apply", is_flag=True,
              help="Really add the label (only in repos of triage.allowlist). Default: dry run.")
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME", help="Only this repo (repeatable).")
def label(config_path: str, apply: bool, repos: tuple[str, ...]) -> None:
    """Propose (dry run) or add the good-first-issue label; every decision goes to label_audit."""
    from civicbot.harvest.client import HarvestHTTPError
    from civicbot.store.lock import StoreBusy, StoreLock
    from civicbot.store.runs import command_job
    from civicbot.triage.policy import run_label_policy
    from civicbot.triage.writer import QuotaExhausted

    config = _load(config_path)
    writer = _writer(config) if apply else None
    lock = None
    if apply:  # GitHub's side has one writer at a time: not beside a harvest or the daemon
        try:
            lock = StoreLock(config.database.path, "label --apply").acquire()
        except StoreBusy as exc:
            click.echo(f"civicbot: {exc}", err=True)
            raise SystemExit(EXIT_BUSY) from None
    try:
        db = _open(config)
        with command_job(db, "label") as details:
            result = run_label_policy(db, config, writer=writer, apply=apply, repos=list(repos))
            details.update(apply=apply, decisions=len(result.decisions), run_key=result.run_key)
    except (HarvestHTTPError, QuotaExhausted) as exc:
        raise SystemExit(_github_error(exc)) from None
    finally:
        if lock is not None:
            lock.release()
    click.echo(result.score.statement)
    mode = ("dry run: the top triage.top_per_repo open issues per repo, nothing written to GitHub" if not apply
            else "apply: only at or above triage.threshold, within the caps, in triage.allowlist repos")
    click.echo(f"{mode}: {len(result.decisions)} decisions (run {result.run_key}, as {result.actor or 'unknown'})")
    for d in result.decisions:
        click.echo(f"  {d.action:8} {d.repo}#{d.number}  p={d.probability:.2f}  {d.reason}")
    if result.notes:
        click.echo(f"not decided ({len(result.notes)}):")
    for note in result.notes:
        click.echo(f"  {note}")
