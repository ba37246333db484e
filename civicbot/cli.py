"""The `civicbot` command: thin click wrappers over the library's stage functions."""

from __future__ import annotations

import importlib

import click

from . import __version__

# Commands that live in other packages, imported only when invoked, so that the product's
# code never loads the simulator unless the user asks for it.
LAZY_COMMANDS = {"sandbox": "civicbot.sandbox.cli:sandbox"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="civicbot")
def main() -> None:
    """civicbot: harvest a civic project family from GitHub, measure it and publish it."""


if __name__ == "__main__":  # pragma: no cover
    main()
