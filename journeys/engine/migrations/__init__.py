"""Numbered schema migrations: a store is brought to the declared schema before first use.

Each migration is a function of a connection, run once, in order, and recorded in the
``journeys_schema`` table in the same transaction. ``tests/engine/test_migrations.py`` checks that
a database migrated from nothing equals the schema declared in :mod:`journeys.engine.schema`.

Each lives in its module (``m0001_initial``, ``m0002_...``), frozen once released: 0001 keeps its
own copy of the tables as first released, so a new migration never changes what an old one did.
A change to :mod:`journeys.engine.schema` comes with the next numbered module, and the test fails
until it does.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from sqlalchemy import Column, Float, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from journeys.engine.migrations import (
    m0001_initial,
    m0002_partial_indexes,
    m0003_updated_by,
    m0004_generations,
    m0005_workers,
)
from journeys.errors import JourneyError

__all__ = ["MIGRATIONS", "current", "migrate"]

_versions_metadata = MetaData()
versions = Table(
    "journeys_schema",
    _versions_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Float, nullable=False),
)


MIGRATIONS: Final[tuple[Callable[[Connection], None], ...]] = (
    m0001_initial.upgrade,
    m0002_partial_indexes.upgrade,
    m0003_updated_by.upgrade,
    m0004_generations.upgrade,
    m0005_workers.upgrade,
)
"""In order; the n-th is migration n. Add one module per change; never edit one that shipped."""


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """One transaction, one migrator at a time, DDL included.

    PostgreSQL: DDL is transactional; an advisory lock makes a second migrator wait.
    SQLite: Python's driver runs DDL outside any transaction, so a second process could see
    the tables of a half-done migration; here the transaction is begun by hand, IMMEDIATE, which
    takes the write lock at once (the others wait on the busy timeout).
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(74177466)"))
            yield connection
        return
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        previous = raw.isolation_level
        raw.isolation_level = None
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        finally:
            raw.isolation_level = previous


def current(connection: Connection) -> int:
    """The number of the last migration applied (0 for a new database)."""
    _versions_metadata.create_all(connection)
    found: Any = connection.execute(select(func.max(versions.c.version))).scalar_one()
    return int(found or 0)


def migrate(engine: Engine) -> int:
    """Apply the missing migrations; return the schema version. Safe when two processes open a
    new store at once: the loser of a race finds the work done and checks again."""
    for attempt in (1, 2, 3):
        try:
            with _exclusive(engine) as connection:
                done = current(connection)
                for number, step in enumerate(MIGRATIONS[done:], start=done + 1):
                    step(connection)
                    connection.execute(
                        insert(versions).values(version=number, applied_at=time.time())
                    )
                return len(MIGRATIONS)
        except (OperationalError, ProgrammingError, IntegrityError) as error:
            if attempt == 3:
                raise JourneyError(
                    f"cannot bring the store's schema up to date: {error.orig}"
                ) from error
    raise AssertionError("unreachable")  # pragma: no cover
