"""Statements compiled once by SQLAlchemy Core and handed to the driver with plain values.

``Connection.execute`` runs every parameter of every row through SQLAlchemy's type processors
and builds an execution context per call: for the two statements each milestone of a durable run
sends (the run's row, its log entries), that costs about as much as SQLite's own commit
(shared/BASELINES.md: SQLAlchemy adds ~50 µs a transaction, and a run writes several rows per
commit). A :class:`Prepared` statement is still SQLAlchemy Core's, compiled for the store's
dialect with bound parameters; each call only orders the values (encoding JSON columns as
SQLAlchemy's JSON type would) and gives them to the driver through the same connection and
transaction (``exec_driver_sql``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON
from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["Prepared"]

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
        if compiled.positional:
            self._values: Callable[[Row], Any] = lambda row: tuple(
                row[name] if encode is None else encode(row[name]) for name, encode in encoders
            )
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


def _json(value: Any) -> str | None:
    """As SQLAlchemy's ``JSON(none_as_null=True)`` stores a value."""
    return None if value is None else json.dumps(value)
