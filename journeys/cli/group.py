"""The ``journeys`` command group; each subcommand lives in the module of its concern."""

from __future__ import annotations

import click

from journeys import __version__

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="journeys")
@click.option(
    "--debug",
    is_flag=True,
    envvar="JOURNEYS_DEBUG",
    help="Show a traceback for errors (also JOURNEYS_DEBUG=1).",
)
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Declarative journeys and sagas: validate, plan and run YAML definitions."""
    context.obj = {"debug": debug}
