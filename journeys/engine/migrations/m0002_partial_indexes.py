"""Migration 0002: the WAL's secondary indexes hold only the rows their queries look for.

Every index a row enters is another B-tree page written and synced at its commit; a run writes
about four rows per milestone and none of them is a service's due entry, an undelivered-event
candidate after delivery, a row with a time to live or (usually) a tenant's. Partial indexes leave
those rows out: the WAL costs less per milestone, and the queries that use the indexes
(``consume``, ``drain_events``, ``prune``, tenant replay) still find them (``EXPLAIN`` checks in
the tests). Same DDL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["upgrade"]

_INDEXES = (
    (
        "journeys_wal_tenant",
        "journeys_wal (tenant_id, namespace, created_at)",
        "tenant_id IS NOT NULL",
    ),
    ("journeys_wal_due", "journeys_wal (namespace, status, next_attempt_at)", "kind = 'log'"),
    ("journeys_wal_outbox", "journeys_wal (id)", "kind = 'event' AND status = 'pending'"),
    ("journeys_wal_expires", "journeys_wal (expires_at)", "expires_at IS NOT NULL"),
    (
        "journeys_runs_tenant",
        "journeys_runs (tenant_id, journey, created_at)",
        "tenant_id IS NOT NULL",
    ),
)


def upgrade(connection: Connection) -> None:
    for name, columns, where in _INDEXES:
        connection.execute(text(f"DROP INDEX {name}"))
        connection.execute(text(f"CREATE INDEX {name} ON {columns} WHERE {where}"))
