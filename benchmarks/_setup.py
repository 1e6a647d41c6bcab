"""What every benchmark shares: where it writes, which PostgreSQL it may use, how long it runs,
the journeys it runs and the handlers they call."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy

import journeys
from benchmarks import _timing
from journeys.engine import sqlstore

__all__ = ["Counter", "Settings", "chain", "postgres_schema", "registry", "standalone"]


@dataclass(frozen=True)
class Settings:
    """One run of the suite.

    ``folder``: a scratch directory on the disk under test (SQLite files, the fsync probe).
    ``postgres``: the PostgreSQL to use (``JOURNEYS_BENCH_POSTGRES_URL``, else
    ``JOURNEYS_TEST_POSTGRES_URL``), or None: its figures then say they were not run.
    ``quick``: a smoke run (a few short rounds, small tables), to check that the suite works;
    its figures are too noisy to quote. ``cache``: where the replay table is kept between runs.
    """

    folder: Path
    postgres: str | None
    quick: bool = False
    cache: Path | None = None

    @property
    def seconds(self) -> float:
        """How long each contender runs in each round."""
        return 0.05 if self.quick else 0.4

    @property
    def count(self) -> int:
        """Rounds per figure."""
        return 3 if self.quick else 7


def default_postgres() -> str | None:
    return os.environ.get("JOURNEYS_BENCH_POSTGRES_URL") or os.environ.get(
        "JOURNEYS_TEST_POSTGRES_URL"
    )


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("JOURNEYS_BENCH_CACHE") or Path(base) / "journeys-bench")


def chain(
    n: int,
    *,
    name: str | None = None,
    kind: str = "structured",
    action: str = "bench.noop",
    compensation: str | None = "bench.noop",
    wait_first: bool = False,
    fail_at: int | None = None,
    policies: str = "",
) -> str:
    """The text of a journey of ``n`` milestones ``m1``..``mn`` calling ``action`` (undone by
    ``compensation``); ``wait_first``: the first is a wait milestone; ``fail_at``: that
    milestone calls ``bench.fail`` instead. ``policies``: the YAML of its ``policies:``."""
    lines = [f"journey: {name or f'chain_{n}'}", f"kind: {kind}", "milestones:"]
    for i in range(1, n + 1):
        if i == 1 and wait_first:
            lines.append(f"  - id: m{i}")
            continue
        call = "bench.fail" if i == fail_at else action
        undo = f", compensation: {compensation}" if compensation else ""
        lines.append(f"  - {{id: m{i}, action: {call}{undo}}}")
    if policies:
        lines.append(f"policies: {policies}")
    return "\n".join(lines) + "\n"


class Planned(Exception):
    """The failure a benchmark's saga meets on purpose."""


def registry() -> journeys.Registry:
    """The benchmarks' handlers: ``bench.noop``, ``bench.work`` (10 ms of sleep, standing for
    I/O), ``bench.fail`` (raises at once)."""
    handlers = journeys.Registry()

    def noop(ctx: object) -> None:
        return None

    def work(ctx: object) -> None:
        time.sleep(0.010)

    def fail(ctx: object) -> None:
        raise Planned("step 4 fails on purpose")

    handlers.register("bench.noop", noop)
    handlers.register("bench.work", work)
    handlers.register("bench.fail", fail)
    return handlers


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema in ``base``'s database, dropped after; yields a URL whose connections use
    it, so a benchmark never sees another's (or a test's) tables."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{name}"'))
        url = (
            sqlalchemy.make_url(base)
            .update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False)
        )
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        admin.dispose()


class Counter:
    """Commits and statements sent through a SQLAlchemy engine (its events), to state what a
    run costs in round trips, ours and DBOS's alike."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.commits = 0
        self.statements = 0
        sqlalchemy.event.listen(engine, "commit", self._commit)
        sqlalchemy.event.listen(engine, "before_cursor_execute", self._statement)
        self._engine = engine
        # a durable run's create and saves go to the driver (prepared.driver_transaction),
        # past SQLAlchemy's events: counted where the store opens them
        self._driver = sqlstore.driver_transaction
        sqlstore.driver_transaction = self._counted  # type: ignore[assignment]

    @contextlib.contextmanager
    def _counted(self, engine: sqlalchemy.Engine, **options: Any) -> Iterator[Any]:
        # a one-statement block is one transaction too: on PostgreSQL its commit is the
        # statement's own end (autocommit), counted as a commit all the same
        with self._driver(engine, **options) as cursor:
            yield _CountingCursor(cursor, self) if engine is self._engine else cursor
        if engine is self._engine:
            self.commits += 1

    def _commit(self, *_: object) -> None:
        self.commits += 1

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def close(self) -> None:
        sqlalchemy.event.remove(self._engine, "commit", self._commit)
        sqlalchemy.event.remove(self._engine, "before_cursor_execute", self._statement)
        sqlstore.driver_transaction = self._driver  # type: ignore[assignment]


class _CountingCursor:
    """A driver cursor whose statements a :class:`Counter` counts."""

    def __init__(self, cursor: Any, counter: Counter) -> None:
        self._cursor, self._counter = cursor, counter

    def execute(self, *args: Any) -> Any:
        self._counter.statements += 1
        return self._cursor.execute(*args)

    def executemany(self, *args: Any) -> Any:
        self._counter.statements += 1
        return self._cursor.executemany(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def standalone(measure: Callable[[Settings, list[str]], list[_timing.Figure]]) -> None:
    """``python -m benchmarks.NAME``: one group's figures as the suite's table, and its notes."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("JOURNEYS_BENCH_DIR")) as folder:
        settings = Settings(Path(folder), default_postgres(), cache=default_cache())
        notes: list[str] = []
        print(_timing.figures_table(measure(settings, notes)))
        for note in notes:
            print(note)
