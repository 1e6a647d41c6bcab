"""The SQL schema of the store, declared once with SQLAlchemy Core.

- ``journeys_definitions``: the exact text of every definition a run started with, by content hash;
- ``journeys_runs``: one row per run, its status, state, inputs, results and policy snapshot, with
  an optimistic ``row_version`` and the due time and lease columns the workers use;
- ``journeys_wal``: the write-ahead log, one row per entry, ordered globally by ``id`` and within
  a run by ``seq``: the runs' own entries and the entries services write with
  :class:`~journeys.engine.wal.WriteAheadLog` (``run_id`` is then their correlation id);
- ``journeys_schema``: which numbered migrations (:mod:`journeys.engine.migrations`) ran.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["OUTBOX", "SERVICE_ENTRY", "definitions", "metadata", "runs", "wal"]

metadata = MetaData()

# None is SQL NULL, not the JSON text 'null': nothing to encode for the many rows without one
_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _partial(where: str) -> dict[str, Any]:
    """An index of only the rows matching ``where`` (a query must repeat the literal terms of
    ``where`` for the index to serve it: ``kind = 'event'``, not ``kind = ?``)."""
    return {"sqlite_where": text(where), "postgresql_where": text(where)}


_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

definitions = Table(
    "journeys_definitions",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("journey", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "journeys_runs",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("journey", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition_hash", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("state", String(250), nullable=False),
    Column("inputs", _JSON, nullable=False),
    Column("results", _JSON, nullable=False),
    Column("completed", _JSON, nullable=False),
    Column("error", Text),
    Column("tenant_id", String(200)),
    Column("user_id", String(200)),
    Column("attempt", Integer, nullable=False),
    Column("saga", Boolean, nullable=False),
    Column("cancelling", Boolean, nullable=False),
    Column("wal", Boolean, nullable=False),
    Column("policy", _JSON, nullable=False),
    Column("checkpoints", _JSON, nullable=False),  # snapshots for rollback, by milestone
    Column("rollback_to", String(200)),
    # milestone -> how many times a rollback undid its work (0004): the redo's keys are new
    Column("generations", _JSON, nullable=False, server_default="{}"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("due_at", Float),
    Column("seq", Integer, nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("lease_owner", String(200)),  # the engine driving it now, until lease_expires_at
    Column("lease_expires_at", Float),
    Column("priority", Integer, nullable=False, server_default="1"),  # 2 high, 1 normal, 0 low
    Column("namespace", String(200)),  # the journey's, for workers that serve some namespaces
    Column("sleep_until", Float),  # a builtin.sleep that parked the run ends then (0005)
    Index("journeys_runs_status_due", "status", "due_at"),
    Index("journeys_runs_claim", "status", "priority", "due_at"),  # what workers take first
    Index(
        "journeys_runs_tenant",
        "tenant_id",
        "journey",
        "created_at",
        **_partial("tenant_id IS NOT NULL"),
    ),
)

wal = Table(
    "journeys_wal",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("log_id", String(36), nullable=False),
    Column("run_id", String(200)),  # the correlation id: a run's, or any the writer chose
    Column("seq", Integer),  # within the run (null for plain write_to_log entries)
    Column("namespace", String(200)),
    Column("kind", String(32), nullable=False),
    Column("operation", String(200)),
    Column("target", String(500)),
    Column("trigger", String(250)),
    Column("source", String(250)),
    Column("dest", String(250)),
    Column("milestone", String(200)),
    Column("attempt", Integer),
    Column("status", String(32), nullable=False),
    Column("payload", _JSON),
    Column("result", _JSON),
    Column("lifecycle", _JSON),
    Column("retry_count", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("idempotency_key", String(300)),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float),
    Column("updated_by", String(200)),  # the user of the last status update (0003)
    Column("next_attempt_at", Float),
    Column("expires_at", Float),
    Column("tenant_id", String(200)),
    Column("user_id", String(200)),
    UniqueConstraint("log_id", name="journeys_wal_log_id"),
    UniqueConstraint("run_id", "seq", name="journeys_wal_run_seq"),
    Index("journeys_wal_namespace_created", "namespace", "created_at"),
    # partial indexes (migration 0002): a run's own rows enter only the two above
    Index(
        "journeys_wal_tenant",
        "tenant_id",
        "namespace",
        "created_at",
        **_partial("tenant_id IS NOT NULL"),
    ),
    # consume's queue: a service's entries of one namespace by status and due time
    Index(
        "journeys_wal_due",
        "namespace",
        "status",
        "next_attempt_at",
        **_partial("kind = 'log'"),
    ),
    Index("journeys_wal_outbox", "id", **_partial("kind = 'event' AND status = 'pending'")),
    Index("journeys_wal_expires", "expires_at", **_partial("expires_at IS NOT NULL")),
)

# The partial indexes' conditions, as the queries that use those indexes must spell them: with
# the literal values in the SQL (a bound ``kind = ?`` cannot be proven to match ``kind = 'log'``
# when the statement is prepared, and PostgreSQL's generic plans would skip the index).
SERVICE_ENTRY: Final = text("journeys_wal.kind = 'log'")
"""Entries that services wrote with ``write_to_log`` (``consume`` reads them)."""
OUTBOX: Final = text("journeys_wal.kind = 'event' AND journeys_wal.status = 'pending'")
"""Events not yet delivered (``drain_events`` reads them)."""
