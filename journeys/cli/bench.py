"""``journeys bench``: the performance suite, a thin door to ``python -m benchmarks``.

The suite is not part of the installed package: it is a tool of the source checkout (it
measures against DBOS Transact and a PostgreSQL, and a top-level ``benchmarks`` package in
site-packages would collide with any other project's). So this command finds the checkout's
``benchmarks/`` directory, first beside the ``journeys`` package it runs from (an editable
install, ``pip install -e '.[bench]'``), then in the current directory (a checkout with a plain
install), loads it from there by path (not whatever ``benchmarks`` the import path holds), and
hands it the arguments. Nothing of it is imported unless this command runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import click

import journeys
from journeys.cli.group import cli
from journeys.errors import JourneyError

__all__ = ["bench", "find_suite"]


@cli.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def bench(arguments: tuple[str, ...]) -> None:
    """Run the performance suite and print one table: each figure beside its anchor measured
    in the same run, with its mark (the same as python -m benchmarks; --help for its
    options). Needs the source checkout; pip install -e '.[bench]' adds DBOS Transact."""
    suite = find_suite([Path(journeys.__file__).resolve().parents[1], Path.cwd()])
    suite.main(list(arguments), prog="journeys bench")


def find_suite(places: Sequence[Path]) -> ModuleType:
    """``benchmarks.suite`` from the first of ``places`` that holds ``benchmarks/suite.py``."""
    for place in places:
        folder = place / "benchmarks"
        if (folder / "suite.py").is_file() and (folder / "__init__.py").is_file():
            return _load(folder)
    raise JourneyError(
        "the performance suite is not here: it ships with the source checkout, not with the"
        f" installed package (looked in {', '.join(str(p / 'benchmarks') for p in places)});"
        " run it from a checkout: pip install -e '.[bench]', then journeys bench (or"
        " python -m benchmarks)"
    )


def _load(folder: Path) -> ModuleType:
    loaded = sys.modules.get("benchmarks")
    if loaded is None:
        spec = importlib.util.spec_from_file_location(
            "benchmarks", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = loaded
        spec.loader.exec_module(loaded)
    elif Path(loaded.__path__[0]).resolve() != folder.resolve():
        raise JourneyError(
            f"another package called benchmarks is already imported (from"
            f" {loaded.__path__[0]}); run python -m benchmarks from {folder.parent} instead"
        )
    return importlib.import_module("benchmarks.suite")
