"""The whole suite: every figure of the performance issue in one table, each beside its anchor.

``python -m benchmarks`` and ``journeys bench`` run :func:`main`. Groups run one after the
other (``--only`` picks some); within a group, each figure's contenders take turns round by
round (:mod:`benchmarks._timing`). The header names the date, the machine and the versions; the
notes under the table say what each run costs in commits and statements, ours and DBOS's.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import _setup, dbos_peer, durability, engine, plan, policy, replay, workers
from benchmarks._timing import Figure, figures_table

__all__ = ["GROUPS", "main"]

Measure = Callable[[_setup.Settings, list[str]], list[Figure]]

GROUPS: dict[str, Measure] = {
    "engine": engine.figures,
    "durability": durability.figures,
    "policy": policy.figures,
    "plan": plan.figures,
    "replay": replay.figures,
    "workers": workers.figures,
}
"""The groups of figures, in the order the table shows them."""


def _versions() -> str:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    names = ("journeys", "transitions", "SQLAlchemy", "psycopg", "Jinja2", "dbos")
    import sqlite3

    return (
        f"Python {platform.python_version()}, "
        + ", ".join(f"{name} {version(name)}" for name in names)
        + f", SQLite {sqlite3.sqlite_version}"
    )


def header(settings: _setup.Settings) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    quick = " (quick: a smoke run, not figures to quote)" if settings.quick else ""
    lines = [
        f"# journeys performance suite, {when}{quick}",
        f"{platform.node()}: {os.cpu_count()} cores, {platform.system()} {platform.release()},"
        f" load average at the start {load}",
        _versions(),
        f"PostgreSQL: {'yes' if settings.postgres else 'not run'}; DBOS Transact:"
        f" {'yes' if dbos_peer.available() else dbos_peer.INSTALL}",
        "Each figure: median of its rounds ± half their range; the ratio is taken round by round,"
        " its range in brackets.",
    ]
    return "\n".join(lines)


def run(settings: _setup.Settings, groups: Sequence[str], out: Callable[[str], None]) -> None:
    """Measure ``groups`` and print the table, then the notes and the suite's wall time."""
    began = time.perf_counter()
    out(header(settings))
    figures: list[Figure] = []
    notes: list[str] = []
    for name in groups:
        started = time.perf_counter()
        figures += GROUPS[name](settings, notes)
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    out("")
    out(figures_table(figures))
    out("")
    out("\n".join(f"- {note}" for note in notes))
    out(f"\nwall time of the suite: {time.perf_counter() - began:.0f} s")


def parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(
        prog=prog,
        description="Run the performance suite and print one table of figures and anchors.",
    )
    arguments.add_argument(
        "--only",
        action="append",
        choices=list(GROUPS),
        help="run only this group (repeatable); default: all of them",
    )
    arguments.add_argument(
        "--quick", action="store_true", help="a smoke run: short rounds, small tables"
    )
    arguments.add_argument(
        "--postgres",
        metavar="URL",
        default=_setup.default_postgres(),
        help="the PostgreSQL to measure (default: JOURNEYS_BENCH_POSTGRES_URL, else"
        " JOURNEYS_TEST_POSTGRES_URL; none: those figures say they were not run)",
    )
    arguments.add_argument(
        "--cache",
        metavar="DIR",
        type=Path,
        default=_setup.default_cache(),
        help="where the replay benchmark keeps its 1,000,000-entry log between runs",
    )
    return arguments


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m benchmarks") -> None:
    """Parse ``argv`` (default: the command line's), run the suite, print its table."""
    options = parser(prog).parse_args(argv)
    with tempfile.TemporaryDirectory(dir=os.environ.get("JOURNEYS_BENCH_DIR")) as folder:
        settings = _setup.Settings(
            Path(folder), options.postgres or None, quick=options.quick, cache=options.cache
        )
        run(settings, options.only or list(GROUPS), lambda line: print(line, flush=True))
