"""``journeys plan`` and ``journeys diagram``: what a run will do, before anything runs."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from journeys.cli.group import cli
from journeys.cli.options import (
    input_option,
    inputs_option,
    open_engine,
    parse_inputs,
    policy_option,
)
from journeys.cli.output import printable
from journeys.definitions import durations, loader
from journeys.engine import compiler
from journeys.errors import JourneyError
from journeys.handlers.registry import default_registry
from journeys.planning import builder, graph
from journeys.planning.model import Plan
from journeys.renderers import FORMATS, diagrams, render

__all__ = ["diagram", "plan"]

_NUMBER = re.compile(r"\d+(\.\d+)?")

_SUFFIXES = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
    ".json": "json",
}


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@input_option
@inputs_option
@policy_option
@click.option(
    "--format",
    "-f",
    "format_",
    metavar="md|html|text|json",
    help="The output format (default: from -o's suffix, else md).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option(
    "--template-dir",
    type=click.Path(path_type=Path),
    help="A folder of templates (plan.md.j2, plan.html.j2, ...) used before the built-in ones.",
)
@click.option(
    "--handlers",
    "handler_modules",
    multiple=True,
    metavar="MODULE_OR_PATH",
    help="Handler modules to check the handler names against (without: not checked).",
)
@click.option(
    "--db",
    default=None,
    help="A store whose past runs give the estimates (planning.learn_from_results).",
)
@click.option("--tenant", help="The tenant the run would be for.")
@click.option("--deadline", metavar="DURATION", help="An error if the worst case is longer.")
def plan(
    file: Path,
    pairs: tuple[str, ...],
    inputs_file: Path | None,
    policy_file: Path | None,
    format_: str | None,
    output: Path | None,
    template_dir: Path | None,
    handler_modules: tuple[str, ...],
    db: str | None,
    tenant: str | None,
    deadline: str | None,
) -> None:
    """Print the plan of a run of the journey in FILE: its steps, compensations, estimates,
    policy and diagram, without running anything.

    Without inputs, what depends on them shows as «inputs.name». Exit status 1 when the plan
    has errors (it is printed all the same), or for bad input.
    """
    chosen = _format(format_, output)
    if template_dir is not None and not template_dir.is_dir():
        what = "not a folder" if template_dir.exists() else "no such folder"
        raise JourneyError(f"--template-dir {template_dir}: {what}")
    seconds = None
    if deadline is not None:
        try:
            # on the command line every value is text: "90" is 90 seconds, as in YAML
            number = float(deadline) if _NUMBER.fullmatch(deadline.strip()) else None
            seconds = durations.parse(number if number is not None else deadline)
        except ValueError as error:
            raise JourneyError(f"--deadline: {error}") from None
    definition = loader.load_definition(file)
    inputs = parse_inputs(inputs_file, pairs) if pairs or inputs_file else None
    made: Plan
    if db is not None:
        with open_engine(db, handler_modules, quiet=True, policies=policy_file) as engine:
            made = engine.plan(
                definition,
                inputs,
                tenant=tenant,
                deadline=seconds,
                handlers_checked=bool(handler_modules),
            )
    else:
        if handler_modules:
            open_engine("memory:", handler_modules, quiet=True).close()  # loads them
        made = builder.plan(
            definition,
            inputs,
            tenant=tenant,
            policies=policy_file,
            registry=default_registry,
            handlers_checked=bool(handler_modules),
            deadline=seconds,
        )
    text = render(made, chosen, template_dir)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise JourneyError(f"cannot write {output}: {error.strerror or error}") from None
        click.echo(
            f"plan of {made.journey} written to {output}: {_count(made.steps, 'step')},"
            f" {_count(made.errors, 'error')}, {_count(made.warnings, 'warning')}",
            err=True,
        )
    else:
        # the text and Markdown a terminal shows: escape sequences from a hostile title or doc
        # are shown escaped, never obeyed (HTML and JSON are escaped by their renderers)
        shown = printable(text) if chosen in ("text", "md") else text
        click.echo(shown, nl=not shown.endswith("\n"))
    if made.errors:
        for issue in made.errors:
            click.echo(printable(f"error: {issue.message}"), err=True)
        sys.exit(1)


def _format(format_: str | None, output: Path | None) -> str:
    if format_ is None:
        return _SUFFIXES.get(output.suffix.lower(), "md") if output is not None else "md"
    if format_ not in FORMATS:
        raise JourneyError(f"unknown format {format_!r}: use md, html, text or json")
    return format_


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "-f",
    "format_",
    default="mermaid",
    show_default=True,
    metavar="mermaid|svg|dot",
    help="Mermaid source, an SVG drawing (needs Graphviz's dot) or Graphviz DOT source.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
def diagram(file: Path, format_: str, output: Path | None) -> None:
    """Draw the state machine of the journey in FILE: every state and transition, the
    compensation and rollback paths included."""
    drawers = {"mermaid": diagrams.mermaid, "svg": diagrams.svg, "dot": diagrams.dot}
    drawer = drawers.get(format_)
    if drawer is None:
        raise JourneyError(f"unknown diagram format {format_!r}: use mermaid, svg or dot")
    definition = loader.load_definition(file)
    text = drawer(graph.diagram(compiler.compile(definition)), title=definition.title)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise JourneyError(f"cannot write {output}: {error.strerror or error}") from None
    else:
        shown = printable(text) if format_ != "svg" else text  # as the plan's text, above
        click.echo(shown, nl=not shown.endswith("\n"))


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"
