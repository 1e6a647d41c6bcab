"""Fixtures of the engine's tests: every store-facing test runs on three real stores.

``store_url`` is parametrized over ``memory:``, a SQLite file in the test's ``tmp_path`` and the
PostgreSQL named by ``JOURNEYS_TEST_POSTGRES_URL`` (each test gets its own schema, dropped after,
so tests never see each other's runs). Where that variable is not set the PostgreSQL variant is
skipped, saying so. Nothing here mocks a database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import sqlalchemy

import journeys
from tests.databases import POSTGRES_ENV, postgres_schema

ERRORS: dict[str, type[BaseException]] = {
    "ValueError": ValueError,
    "ConnectionError": ConnectionError,
    "ConnectionRefusedError": ConnectionRefusedError,  # a subclass of ConnectionError
    "TimeoutError": TimeoutError,
    "Fatal": journeys.Fatal,
}


_postgres_schema = postgres_schema  # the name the engine tests import


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a real, empty store: memory, a SQLite file, or a PostgreSQL schema."""
    if request.param == "memory":
        yield "memory:"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/j.db"
    else:
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(
                f"PostgreSQL variant NOT RUN: set {POSTGRES_ENV} (for example"
                " postgresql+psycopg://postgres@127.0.0.1:5432/test) to test the PostgreSQL store"
            )
        yield from _postgres_schema(base)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a real, empty SQL store (what outlives a process): SQLite or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sql.db"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL variant NOT RUN: set {POSTGRES_ENV} to test the PostgreSQL store")
    yield from _postgres_schema(base)


@pytest.fixture
def registry() -> journeys.Registry:
    """A fresh registry (the built-ins join it when an engine uses it)."""
    return journeys.Registry()


MakeEngine = Callable[..., journeys.Engine]


@pytest.fixture
def make_engine(store_url: str, registry: journeys.Registry) -> Iterator[MakeEngine]:
    """``make_engine(**options)``: an engine on the test's store, closed after the test."""
    made: list[journeys.Engine] = []

    def make(**options: Any) -> journeys.Engine:
        options.setdefault("registry", registry)
        options.setdefault("inline_delay", 0.05)
        engine = journeys.Engine(options.pop("store", store_url), **options)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture
def engine(make_engine: MakeEngine) -> journeys.Engine:
    """An engine on the test's store with the test's registry."""
    return make_engine()


@dataclass
class Call:
    """One call of a recorder handler."""

    kind: str  # "do" or "undo"
    milestone: str
    attempt: int
    key: str
    args: dict[str, Any]
    result: Any = None


@dataclass
class Recorder:
    """Handlers whose behaviour the definition's ``with:`` arguments choose, and their calls.

    ``t.step`` fails its first ``fail`` attempts (with the error class named by ``error``,
    default ValueError) and returns ``value`` (default ``{"done": <milestone>}``); ``t.undo``
    does the same with ``undo_fail``/``undo_error``. Every call is recorded in ``calls``.
    """

    calls: list[Call] = field(default_factory=list)

    def step(self, ctx: journeys.Context) -> Any:
        return self._act(ctx, "do", "fail", "error", ctx.args.get("value", {"done": ctx.milestone}))

    def undo(self, ctx: journeys.Context) -> Any:
        return self._act(ctx, "undo", "undo_fail", "undo_error", {"undone": ctx.milestone})

    def _act(self, ctx: journeys.Context, kind: str, fail: str, error: str, value: Any) -> Any:
        self.calls.append(
            Call(kind, ctx.milestone, ctx.attempt, ctx.idempotency_key, dict(ctx.args), ctx.result)
        )
        if ctx.attempt <= int(ctx.args.get(fail, 0)):
            raise ERRORS[str(ctx.args.get(error, "ValueError"))](f"{ctx.milestone} {kind} broke")
        return value

    def of(self, kind: str) -> list[str]:
        """The milestones called with ``kind``, in call order (one per attempt)."""
        return [c.milestone for c in self.calls if c.kind == kind]


@pytest.fixture
def recorder(registry: journeys.Registry) -> Recorder:
    """A :class:`Recorder` whose ``t.step`` and ``t.undo`` are in the test's registry."""
    found = Recorder()
    registry.register("t.step", found.step)
    registry.register("t.undo", found.undo)
    return found


Rows = dict[str, list[tuple[Any, ...]]]


@pytest.fixture
def database_rows() -> Callable[[str], Rows]:
    """``database_rows(url)``: every row of every table of a SQL store, sorted, read with a
    connection of its own, to show that a refused call wrote nothing (rows equal before and
    after) and that hostile text dropped no table (the four tables are still there)."""

    def read(url: str) -> Rows:
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as connection:
                found: Rows = {}
                for name in sqlalchemy.inspect(connection).get_table_names():
                    table = sqlalchemy.table(name)  # all its columns: SELECT *
                    rows = connection.execute(sqlalchemy.select(sqlalchemy.text("*"), table))
                    found[name] = sorted(tuple(repr(v) for v in row) for row in rows)
                return found
        finally:
            engine.dispose()

    return read


class Clock:
    """A clock the test sets (``clock.now = ...``), for the write-ahead log's times."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wal(sql_url: str, clock: Clock) -> Iterator[journeys.WriteAheadLog]:
    """A :class:`~journeys.WriteAheadLog` of its own on each SQL store, on ``clock``."""
    with journeys.WriteAheadLog(sql_url, clock=clock) as log:
        yield log


RICH_RESULT: Final = {"name": "café ✓", "n": [1, 2.5, None, True]}
"""What ``t.step`` returns in :func:`waiting_after_one_step`: text beyond ASCII, JSON's kinds."""


def waiting_after_one_step(journey: str) -> tuple[journeys.Registry, journeys.Definition]:
    """A registry whose ``t.step`` returns :data:`RICH_RESULT`, and a journey named ``journey``
    that runs it (its payload written ahead, the saga on) and then waits: a durable run that
    writes every kind of log row and stops with its row in the store."""
    registry = journeys.Registry()
    registry.register("t.step", lambda ctx: RICH_RESULT)
    definition = journeys.load_definition(
        f"journey: {journey}\nmilestones:\n  - {{id: a, action: t.step}}\n  - {{id: b}}\n"
        "policies: {wal: {enabled: true, operations: [a]}, saga: {enabled: true}}\n"
    )
    return registry, definition
