"""``journeys policy show``: the policy a journey's next run would start with, and why."""

from __future__ import annotations

import json
from pathlib import Path

import click

from journeys.cli.group import cli
from journeys.cli.options import policy_option
from journeys.cli.output import printable
from journeys.definitions import loader
from journeys.definitions.model import thaw
from journeys.engine import policy as policy_module

__all__ = ["policy", "show"]


@cli.group()
def policy() -> None:
    """Policies: which capabilities a journey's runs get, and where each setting comes from."""


@policy.command()
@click.argument("file", type=click.Path(path_type=Path))
@policy_option
@click.option("--json", "as_json", is_flag=True, help="Print {journey, policy, origins} as JSON.")
def show(file: Path, policy_file: Path | None, as_json: bool) -> None:
    """Show the policy the next run of the journey in FILE would start with: every field of
    every capability, and where its value came from (built-in, the journey, the policy file's
    default or matching entry, an environment variable), as `journeys run` resolves it."""
    definition = loader.load_definition(file)
    resolved = policy_module.Policies(policy_file).resolve(definition)
    if as_json:
        click.echo(json.dumps(resolved.to_dict(), indent=2))
        return
    rows = [
        (f"  {name}", json.dumps(thaw(value)), resolved.origins[capability][name])
        for capability, fields in resolved.values.items()
        for name, value in fields.items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in (0, 1)]
    click.echo(printable(f"{definition.journey} ({file})"))
    for capability, fields in resolved.values.items():
        click.echo(f"{capability}: {'on' if fields['enabled'] else 'off'}")
        for name, value in fields.items():
            shown = json.dumps(thaw(value))
            origin = resolved.origins[capability][name]
            click.echo(
                printable(f"  {name:<{widths[0] - 2}}  {shown:<{widths[1]}}  {origin}").rstrip()
            )
