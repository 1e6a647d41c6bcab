"""``journeys validate`` and ``journeys schema``: definitions and policy files, checked."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from journeys import schemas
from journeys.cli.group import cli
from journeys.cli.output import printable
from journeys.definitions import loader
from journeys.errors import DefinitionError, JourneyError, Problem

__all__ = ["schema", "validate"]

_YAML_SUFFIXES = (".yaml", ".yml")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the results as JSON (for editors and CI)."
)
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definitions and policy files; folders are searched for *.yaml and *.yml.

    Prints file:line:column: /json/pointer: message for every problem and a summary line; exits
    1 if any file is invalid or missing.
    """
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for file in _yaml_files(paths):
        entry: dict[str, Any] = {"file": str(file), "valid": True, "kind": None, "problems": []}
        try:
            entry["kind"] = loader.check_file(file)
        except DefinitionError as error:
            entry["valid"] = False
            entry["problems"] = list(error.problems)
        results.append(entry)
    elapsed = time.perf_counter() - started
    invalid = [entry for entry in results if not entry["valid"]]
    if as_json:
        _print_json(results, elapsed)
    else:
        for entry in invalid:
            shown = entry["problems"][:_MOST_SHOWN]
            for problem in shown:
                click.echo(printable(str(problem)))
                excerpt = problem.excerpt()
                if excerpt:
                    click.echo(printable(excerpt))
            if len(entry["problems"]) > len(shown):
                more = len(entry["problems"]) - len(shown)
                click.echo(f"{entry['file']}: ... and {more} more problems (--json lists all)")
        click.echo(_summary(results, elapsed))
    if invalid:
        sys.exit(1)


_MOST_SHOWN = 50


def _yaml_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as named, and folders' YAML files recursively, in order; a missing one yields itself
    (so the loader reports it like any other problem)."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                file
                for file in path.rglob("*")
                if file.suffix in _YAML_SUFFIXES
                and (file.is_file() or (file.is_symlink() and not file.is_dir()))
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
            )
            if not found:
                raise JourneyError(f"{path}: no *.yaml or *.yml files in this folder")
            yield from found
        else:
            yield path


def _summary(results: list[dict[str, Any]], elapsed: float) -> str:
    invalid = [entry for entry in results if not entry["valid"]]
    count = sum(len(entry["problems"]) for entry in invalid)
    files = f"{len(results)} file{'s' if len(results) != 1 else ''}"
    if not invalid:
        return f"{files} checked: all valid ({elapsed:.2f}s)"
    return (
        f"{files} checked: {len(results) - len(invalid)} valid, {len(invalid)} invalid,"
        f" {count} problem{'s' if count != 1 else ''} ({elapsed:.2f}s)"
    )


def _print_json(results: list[dict[str, Any]], elapsed: float) -> None:
    def problem(p: Problem) -> dict[str, Any]:
        return {"line": p.line, "column": p.column, "path": p.path, "message": p.message}

    document = {
        "valid": all(entry["valid"] for entry in results),
        "files": [
            {**entry, "problems": [problem(p) for p in entry["problems"]]} for entry in results
        ],
        "summary": _summary(results, elapsed),
    }
    click.echo(json.dumps(document, indent=2))  # ensure_ascii: hostile text arrives escaped


@cli.command()
@click.option("--policy", is_flag=True, help="The schema of policy files instead of definitions.")
@click.option(
    "--path", "show_path", is_flag=True, help="Print the schema file's path, for $schema=."
)
def schema(policy: bool, show_path: bool) -> None:
    """Print the JSON Schema of definitions (or of policy files), for editors.

    Put `# yaml-language-server: $schema=<path>` at the top of a YAML file (the path that
    `journeys schema --path` prints) for completion, help and checking as you type.
    """
    name: schemas.SchemaName = "policy" if policy else "journey"
    click.echo(schemas.path(name) if show_path else schemas.text(name), nl=show_path)
