"""The queries that scan the WAL use its indexes (partial ones included), on both databases.

Each query is captured as the store sends it, with its parameters, and explained: SQLite's
``EXPLAIN QUERY PLAN`` and PostgreSQL's ``EXPLAIN`` (with sequential scans discouraged, since on a
near-empty table a scan is what PostgreSQL would rightly pick) must name the expected index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy

import journeys

QUERIES: dict[str, tuple[Callable[[journeys.Engine], object], str, str]] = {
    # name: (the call, a word the captured SELECT/DELETE starts with or contains, the index)
    "consume": (
        lambda engine: engine.wal.consume("steward", lambda entry: None),
        "journeys_wal.kind = 'log'",
        "journeys_wal_due",
    ),
    "drain_events": (
        lambda engine: engine.drain_events(lambda event: None),
        "journeys_wal.kind = 'event'",
        "journeys_wal_outbox",
    ),
    "prune": (
        lambda engine: engine.wal.prune(),
        "DELETE FROM journeys_wal",
        "journeys_wal_expires",
    ),
    "tenant replay": (
        lambda engine: engine.wal.replay_log("steward", user_context={"tenant": "acme"}),
        "journeys_wal.tenant_id =",
        "journeys_wal_tenant",
    ),
}


@pytest.fixture
def engine(sql_url: str) -> Iterator[journeys.Engine]:
    made = journeys.Engine(sql_url)
    # a few rows of each kind, so the statements have something to plan over
    made.wal.write_to_log_batch(
        [
            {
                "namespace": "steward",
                "payload": {"n": n},
                "target": f"t{n}",
                "lifecycle": {"ttl": "1d"},
                "user_context": {"tenant": "acme"},
            }
            for n in range(20)
        ]
    )
    yield made
    made.close()


def _captured(
    engine: journeys.Engine, call: Callable[[journeys.Engine], object], marker: str
) -> tuple[str, Any]:
    seen: list[tuple[str, Any]] = []
    sql_engine = engine.store._engine  # type: ignore[attr-defined]

    def capture(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if marker in statement and not many:
            seen.append((statement, parameters))

    sqlalchemy.event.listen(sql_engine, "before_cursor_execute", capture)
    try:
        call(engine)
    finally:
        sqlalchemy.event.remove(sql_engine, "before_cursor_execute", capture)
    assert seen, f"no statement containing {marker!r} was sent"
    return seen[0]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_query_uses_its_index(engine: journeys.Engine, name: str) -> None:
    call, marker, index = QUERIES[name]
    statement, parameters = _captured(engine, call, marker)
    sql_engine = engine.store._engine  # type: ignore[attr-defined]
    with sql_engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        if sql_engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
        else:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(str(row) for row in cursor.fetchall())
        cursor.close()
        connection.rollback()
    assert index in plan, f"{name}: {index} not used:\n{statement}\n{plan}"
