"""The hot statements go to the driver with plain values: what they store reads back the same
as what SQLAlchemy's own types would have stored (JSON, NULL, booleans, text)."""

from __future__ import annotations

import sqlalchemy

import journeys
from journeys.engine import schema


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
