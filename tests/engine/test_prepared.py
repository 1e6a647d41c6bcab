"""The hot statements go to the driver with plain values: what they store reads back the same
as what SQLAlchemy's own types would have stored (JSON, NULL, booleans, text)."""

from __future__ import annotations

import pytest
import sqlalchemy

import journeys
from journeys.engine import schema
from journeys.engine.prepared import Prepared, driver_transaction


def test_a_run_s_rows_read_back_through_sqlalchemy_types(sql_url: str) -> None:
    registry = journeys.Registry()
    registry.register("t.step", lambda ctx: {"name": "café ✓", "n": [1, 2.5, None, True]})
    definition = journeys.load_definition(
        "journey: prepared\nmilestones:\n  - {id: a, action: t.step}\n  - {id: b}\n"
        "policies: {wal: {enabled: true, operations: [a]}, saga: {enabled: true}}\n"
    )
    with journeys.Engine(sql_url, registry=registry) as engine:
        run = engine.start(definition, tenant="acme")
        assert run.status == "waiting"
        sql = sqlalchemy.create_engine(sql_url)
        with sql.connect() as connection:
            row = connection.execute(
                sqlalchemy.select(schema.runs).where(schema.runs.c.id == run.id)
            ).one()
            entries = connection.execute(
                sqlalchemy.select(schema.wal)
                .where(schema.wal.c.run_id == run.id)
                .order_by(schema.wal.c.seq)
            ).all()
            # None is SQL NULL, not the JSON text 'null'
            nulls = connection.execute(
                sqlalchemy.select(sqlalchemy.func.count())
                .select_from(schema.wal)
                .where(schema.wal.c.run_id == run.id, schema.wal.c.payload.is_(None))
            ).scalar_one()
        sql.dispose()
    assert row.results == {"a": {"name": "café ✓", "n": [1, 2.5, None, True]}}
    assert row.wal is True and row.cancelling is False and row.tenant_id == "acme"
    outcome = next(e for e in entries if e.kind == "operation" and e.status == "completed")
    assert outcome.payload == {"name": "café ✓", "n": [1, 2.5, None, True]}
    assert all(e.tenant_id == "acme" and e.namespace == "prepared" for e in entries)
    assert nulls == sum(1 for e in entries if e.payload is None) > 0


def _count(engine: sqlalchemy.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM prepared_t").scalar_one())


def test_a_driver_transaction_commits_rolls_back_and_raises_sqlalchemy_s_errors(
    sql_url: str,
) -> None:
    """The hot path's transaction: committed when the block ends, rolled back when it
    raises, a conflict raised as SQLAlchemy's IntegrityError (what the store turns into
    'changed by another process'), and a connection that failed is not given out again."""
    engine = sqlalchemy.create_engine(sql_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE prepared_t (k INTEGER PRIMARY KEY)")
        insert = Prepared(
            sqlalchemy.text("INSERT INTO prepared_t (k) VALUES (:k)"), engine.dialect, ["k"]
        )
        with driver_transaction(engine) as cursor:
            insert.run_many(cursor, [{"k": 1}, {"k": 2}])
        assert _count(engine) == 2
        with pytest.raises(RuntimeError), driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 3})
            raise RuntimeError("the caller changed its mind")
        assert _count(engine) == 2
        seen: list[object] = []
        sqlalchemy.event.listen(engine, "invalidate", lambda *args: seen.append(args[0]))
        with pytest.raises(sqlalchemy.exc.IntegrityError), driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 4})
            insert.run(cursor, {"k": 1})
        assert _count(engine) == 2  # the whole transaction, k=4 too
        assert seen == []  # a conflict leaves the connection sound
        with pytest.raises(sqlalchemy.exc.DBAPIError), driver_transaction(engine) as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        assert len(seen) == 1  # discarded, not pooled
        with driver_transaction(engine) as cursor:
            insert.run(cursor, {"k": 5})
        assert _count(engine) == 3
    finally:
        engine.dispose()
