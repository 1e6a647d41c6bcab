"""Options and arguments the commands share: the store, handler modules, inputs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from journeys.cli.output import Progress
from journeys.definitions import source
from journeys.engine.engine import DEFAULT_STORE, Engine
from journeys.errors import InputError, JourneyError
from journeys.handlers.registry import default_registry

__all__ = [
    "db_option",
    "handlers_option",
    "input_option",
    "inputs_option",
    "json_option",
    "open_engine",
    "parse_inputs",
    "policy_option",
    "yaml_value",
]

db_option = click.option(
    "--db",
    "db",
    envvar="JOURNEYS_DB",
    default=DEFAULT_STORE,
    show_default=True,
    help="The store: sqlite:///file.db or postgresql://user@host/db (also JOURNEYS_DB).",
)
handlers_option = click.option(
    "--handlers",
    "handler_modules",
    multiple=True,
    metavar="MODULE_OR_PATH",
    help="Import a handler module (dotted name or .py path) so its handlers register. Repeatable.",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print only the run as JSON on stdout."
)


input_option = click.option(
    "--input",
    "-i",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input; the value is read as YAML (3 is a number, true a boolean). Repeatable.",
)
inputs_option = click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(path_type=Path),
    help="A YAML or JSON file of inputs (--input values override it).",
)
policy_option = click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="A policy file layered over the journey's own policies (see policies/; default:"
    " JOURNEYS_POLICY_FILE).",
)


def open_engine(
    db: str,
    handler_modules: Sequence[str] = (),
    *,
    quiet: bool = False,
    new: bool = False,
    policies: Path | None = None,
    lease: float = 30.0,
) -> Engine:
    """An engine on ``db`` with the handler modules loaded. Only ``run`` (``new=True``) may
    create a store: the other commands read runs that must already exist."""
    if not new:
        _existing(db)
    if handler_modules and "" not in sys.path and os.getcwd() not in sys.path:
        # as `python -m` does: --handlers myapp.handlers finds the project's own packages
        sys.path.insert(0, os.getcwd())
    for module in handler_modules:
        default_registry.load(module)
    default_registry.load_entry_points()
    listener = None if quiet else Progress().show
    return Engine(db, listener=listener, policies=policies, lease=lease)


def _existing(db: str) -> None:
    if db.startswith("sqlite:///") and db not in ("sqlite:///", "sqlite:///:memory:"):
        path = Path(db.removeprefix("sqlite:///"))
        if not path.exists():
            raise JourneyError(
                f"no store at {path}: no run was started with --db {db} (or JOURNEYS_DB)"
            )


def parse_inputs(inputs_file: Path | None, pairs: Sequence[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if inputs_file is not None:
        document = source.parse(source.read(inputs_file), str(inputs_file))
        if document.data is not None and not isinstance(document.data, dict):
            raise InputError(f"{inputs_file}: inputs must be a mapping of names to values")
        inputs.update(document.data or {})
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--input {pair!r}: write KEY=VALUE (for example -i order_id=A-1)")
        inputs[key.strip()] = yaml_value(text, f"--input {key.strip()}") if text else ""
    return inputs


def yaml_value(text: str, where: str) -> Any:
    """A value as YAML reads it (3 is a number, true a boolean); text with a `#` is taken as
    it is, since YAML would read the rest of it as a comment and silently drop it.

    JSON is read as JSON first: YAML reads nearly all of it, but not the surrogate pairs that
    Python's and JavaScript's encoders write for characters beyond U+FFFF (``"\\ud83d\\ude00"``).
    JSON with a duplicate key or NaN is left to the YAML reader, which reports it."""
    if "#" in text and text.lstrip()[:1] not in ("'", '"', "[", "{"):
        return text
    if text.lstrip()[:1] in ('"', "[", "{") and len(text) <= source.MAX_BYTES:
        try:
            return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
        except (ValueError, RecursionError):  # deep nesting: the YAML reader names its limit
            pass
    return source.parse(text, where).data


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a duplicate key")
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON data")
