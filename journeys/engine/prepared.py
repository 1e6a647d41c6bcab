"""Statements compiled once by SQLAlchemy Core and handed to the driver with plain values.

``Connection.execute`` runs every parameter of every row through SQLAlchemy's type processors
and builds an execution context per call: for the two statements each milestone of a durable run
sends (the run's row, its log entries), that costs about as much as SQLite's own commit
(shared/BASELINES.md: SQLAlchemy adds ~50 µs a transaction, and a run writes several rows per
commit). A :class:`Prepared` statement is still SQLAlchemy Core's, compiled for the store's
dialect with bound parameters; each call only orders the values (encoding JSON columns as
SQLAlchemy's JSON type would) and gives them to the driver: through a SQLAlchemy connection
(``execute``, ``execute_many``), or on the hot path through a driver cursor of
:func:`driver_transaction` (``run``, ``run_many``, ``run_many_ordered``), which a durable run's
create and saves use: on a pooled connection, on SQLite on the store's one :class:`Writer`
connection, and on PostgreSQL, for a statement atomic on its own, in autocommit (one round
trip).
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import JSON
from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["DOLLAR", "Prepared", "Writer", "driver_transaction"]

Row = Mapping[str, Any]


class Prepared:
    """``statement`` compiled for ``dialect``, taking rows of ``keys`` (the column keys of an
    INSERT, or the bound parameter names of an UPDATE)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: Sequence[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        names: list[str] = (
            list(compiled.positiontup or ())
            if compiled.positional
            else list(dict.fromkeys(compiled.bind_names.values()))
        )
        json_names = {
            name
            for bind, name in compiled.bind_names.items()
            if isinstance(bind.type, JSON) or isinstance(getattr(bind.type, "impl", None), JSON)
        }
        encoders: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, _json if name in json_names else None) for name in names
        ]
        missing = {name for name in names if name not in keys}
        if missing:  # pragma: no cover - a programming error in this package
            raise ValueError(f"{statement}: no value for {sorted(missing)}")
        self.names: tuple[str, ...] = tuple(names) if compiled.positional else ()
        """The parameters in the order a positional driver takes them (() for a named one)."""
        self._encoded = tuple(index for index, name in enumerate(names) if name in json_names)
        # itemgetter of several names gives a tuple, of one the bare value
        getter = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        if compiled.positional and not json_names:
            self._values: Callable[[Row], Any] = getter
        elif compiled.positional:  # all in one C call, then the few JSON values encoded
            encoded = [index for index, name in enumerate(names) if name in json_names]

            def values(row: Row) -> tuple[Any, ...]:
                ordered = list(getter(row))
                for index in encoded:
                    ordered[index] = _json(ordered[index])
                return tuple(ordered)

            self._values = values
        else:
            self._values = lambda row: {
                name: row[name] if encode is None else encode(row[name])
                for name, encode in encoders
            }

    def execute(self, connection: Connection, row: Row) -> CursorResult[Any]:
        """Run it once, for ``row``."""
        return connection.exec_driver_sql(self.sql, self._values(row))

    def execute_many(self, connection: Connection, rows: Iterable[Row]) -> None:
        """Run it for each of ``rows``, in one call to the driver."""
        connection.exec_driver_sql(self.sql, [self._values(row) for row in rows])

    def run(self, cursor: Any, row: Row) -> int:
        """Run it once for ``row`` on a driver cursor (:func:`driver_transaction`); the number
        of rows it changed."""
        cursor.execute(self.sql, self._values(row))
        return int(cursor.rowcount)

    def run_many(self, cursor: Any, rows: Iterable[Row]) -> None:
        """Run it for each of ``rows`` on a driver cursor, in one call."""
        cursor.executemany(self.sql, [self._values(row) for row in rows])

    def run_many_ordered(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """:meth:`run_many` of rows already in :attr:`names`' order (their JSON values not
        yet encoded), for a caller that builds them so: no mapping made and read per row."""
        encoded = self._encoded
        if encoded:
            rows = [
                _encoded(row, encoded) if any(row[i] is not None for i in encoded) else row
                for row in rows
            ]
        cursor.executemany(self.sql, rows)


class Writer:
    """One connection of ``engine``'s, kept out of its pool for a SQLite store's hot writes
    (:func:`driver_transaction` with ``writer``), one transaction at a time.

    SQLite lets one transaction write at a time, so writers of one process lose nothing by
    taking turns on one connection (they wait on a lock here rather than on SQLite's busy
    timeout), and each commit skips the pool's checkout, reset and check-in: 7-9% of a
    durable run's CPU time when measured. Made again after a failure (the connection is
    discarded) and in a forked child, with a new lock (a SQLite connection must not cross a
    fork, and another thread may have held the lock when it happened).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._connection: PoolProxiedConnection | None = None
        _WRITERS.add(self)

    def take(self) -> PoolProxiedConnection:
        """The connection, this thread's alone until :meth:`give_back`."""
        self._lock.acquire()
        try:
            connection = self._connection
            if connection is None or not connection.is_valid:
                connection = self._engine.raw_connection()
                connection.detach()  # ours to close; the pool makes others as it needs
                self._connection = connection
        except BaseException:
            self._lock.release()
            raise
        return connection

    def give_back(self) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[PoolProxiedConnection]:
        """The connection, this thread's alone until the block ends."""
        connection = self.take()
        try:
            yield connection
        finally:
            self.give_back()

    def close(self) -> None:
        """Close the connection (a later write opens another)."""
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.close()
            self._connection = None

    def _forked(self) -> None:
        # the parent's connection is left alone (closing it here could release the parent's
        # file locks); the child opens its own
        self._lock = threading.Lock()
        self._connection = None


_WRITERS: weakref.WeakSet[Writer] = weakref.WeakSet()


def _after_fork() -> None:
    for writer in list(_WRITERS):
        writer._forked()


os.register_at_fork(after_in_child=_after_fork)


def driver_transaction(
    engine: Engine, *, one_statement: bool = False, writer: Writer | None = None
) -> contextlib.AbstractContextManager[Any]:
    """A driver cursor in a transaction on one of ``engine``'s pooled connections (set up by
    its connect events, as every other), or on ``writer``'s, committed when the block ends,
    rolled back if it raises.

    For the statements a durable run sends at every milestone: a SQLAlchemy ``Connection``
    around them (its begin, execution contexts, result objects, commit and reset) cost more
    than SQLite's own work on the rows, and a durable commit waits for the disk either way.
    The driver's errors are raised as SQLAlchemy's (``DBAPIError`` and its subclasses, such
    as ``IntegrityError``), like those of every other statement, and a connection that failed
    (but for a conflict) is discarded rather than given back to the pool: it may be the dead
    end of a dropped connection.

    ``one_statement``: the block sends a single statement, atomic on its own. On PostgreSQL
    it then runs in autocommit: the server commits it as it ends, one round trip in all,
    where ``BEGIN``, the statement and ``COMMIT`` are three (psycopg waits for each). The
    cursor is then psycopg's ``RawCursor``, which takes the server's own ``$1`` placeholders
    (:data:`DOLLAR` compiles for it): psycopg parses a ``%(name)s`` statement anew at every
    call once it has more than 50 parameters, which costs more than the round trip saved.
    """
    return _Transaction(engine, one_statement, writer)


class _Transaction:
    """:func:`driver_transaction`'s block, written out as a class: a durable run enters one
    per milestone, and a generator-based context manager costs several times as much."""

    __slots__ = ("_autocommit", "_connection", "_cursor", "_engine", "_writer")

    def __init__(self, engine: Engine, one_statement: bool, writer: Writer | None) -> None:
        self._engine, self._writer = engine, writer
        self._autocommit = one_statement and engine.dialect.name == "postgresql"

    def __enter__(self) -> Any:
        writer = self._writer
        connection = self._connection = (
            writer.take() if writer is not None else self._engine.raw_connection()
        )
        try:
            if self._autocommit:
                driver = connection.driver_connection
                driver.autocommit = True  # type: ignore[union-attr]
                self._cursor = _raw_cursor(driver)
            else:
                self._cursor = connection.cursor()
        except BaseException as error:
            self._end(error)
            raise
        return self._cursor

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        failed = error
        try:
            self._cursor.close()
        except Exception as closing:  # the connection died with the cursor
            failed = failed or closing
        if failed is None and not self._autocommit:
            try:
                self._connection.commit()
            except BaseException as committing:
                failed = committing
        self._end(failed, raised=failed is not error)

    def _end(self, error: BaseException | None, *, raised: bool = True) -> None:
        """Roll back after ``error``, then hand the connection back. The driver's errors are
        raised as SQLAlchemy's; others are raised if ``raised`` (the block's own propagate)."""
        engine, connection = self._engine, self._connection
        dbapi = engine.dialect.loaded_dbapi
        try:
            if error is not None:
                with contextlib.suppress(Exception):
                    connection.rollback()
                if isinstance(error, dbapi.Error):
                    if not isinstance(error, dbapi.IntegrityError):
                        connection.invalidate(error)  # a conflict leaves the connection sound
                    raise DBAPIError.instance(
                        None, None, error, dbapi.Error, dialect=engine.dialect
                    ) from error
                if raised:
                    raise error
        finally:
            if self._autocommit and connection.is_valid:
                try:  # the pool's other users expect the driver's own transactions
                    connection.driver_connection.autocommit = False  # type: ignore[union-attr]
                except Exception as failed:  # a broken connection: never back to the pool
                    connection.invalidate(failed)
            if self._writer is not None:
                self._writer.give_back()
            else:
                connection.close()


DOLLAR: Final = "numeric_dollar"
"""The paramstyle of statements sent on :func:`driver_transaction`'s PostgreSQL cursor with
``one_statement``."""


def _raw_cursor(driver: Any) -> Any:
    import psycopg  # only a PostgreSQL store gets here, and it has psycopg

    return psycopg.RawCursor(driver)


def _encoded(row: tuple[Any, ...], positions: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index in positions:
        values[index] = _json(values[index])
    return tuple(values)


def _json(value: Any) -> str | None:
    """As SQLAlchemy's ``JSON(none_as_null=True)`` stores a value (``json.dumps``' text)."""
    if value is None:
        return None
    if type(value) is dict and not value:  # most runs' checkpoints and generations, each save
        return "{}"
    return "".join(_ENCODE(value, 0))


def _unencodable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps' own C encoder, made once: dumps builds it (and the Python layers around it) on
# every call, which for the small documents a save writes (results, completed) cost more than
# the encoding. No circular-reference check: every value here was checked as JSON first
# (handler results, inputs), and a cycle would still fail, with RecursionError.
_C_ENCODER: Final[Any] = getattr(json.encoder, "c_make_encoder", None)
_ENCODE: Final[Callable[[Any, int], Any]] = (
    _C_ENCODER(
        None,
        _unencodable,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
    if _C_ENCODER is not None
    else lambda value, _: (json.dumps(value),)
)
