"""The outbox: a run's events, written in the same commit as the move that caused them, handed
to a relay in order, at least once.

Events are rows of the write-ahead log (kind ``event``, status ``pending`` until delivered), so
they share its transactions, its retention (``ttl``) and its tenant tags.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select, update

from journeys.engine import schema
from journeys.engine.events import Event
from journeys.engine.wal import WriteAheadLog

__all__ = ["drain"]


def drain(log: WriteAheadLog, relay: Callable[[Event], None], *, limit: int = 1000) -> int:
    """Deliver up to ``limit`` pending events, oldest first; see ``Engine.drain_events``."""
    wal, runs = schema.wal, schema.runs
    query = (
        select(wal.c.id, wal.c.trigger, wal.c.run_id, runs.c.journey, wal.c.milestone, wal.c.dest)
        .join(runs, runs.c.id == wal.c.run_id)
        .where(schema.OUTBOX)
        .order_by(wal.c.id)
        .limit(limit)
    )
    store = log.store
    with store.transaction() as connection:
        pending = connection.execute(query).all()
    delivered = 0
    for sequence, name, run_id, journey, milestone, state in pending:
        relay(Event(name, run_id, journey, milestone, state, sequence))
        with store.transaction() as connection:
            connection.execute(
                update(wal)
                .where(wal.c.id == sequence)
                .values(status="completed", updated_at=time.time())
            )
        delivered += 1
    return delivered
