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
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = ["definitions", "metadata", "runs", "wal"]

metadata = MetaData()

_JSON = JSON().with_variant(JSONB(), "postgresql")
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
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("due_at", Float),
    Column("seq", Integer, nullable=False),
    Column("row_version", Integer, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_expires_at", Float),
    Index("journeys_runs_status_due", "status", "due_at"),
    Index("journeys_runs_tenant", "tenant_id", "journey", "created_at"),
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
    Column("next_attempt_at", Float),
    Column("expires_at", Float),
    Column("tenant_id", String(200)),
    Column("user_id", String(200)),
    UniqueConstraint("log_id", name="journeys_wal_log_id"),
    UniqueConstraint("run_id", "seq", name="journeys_wal_run_seq"),
    Index("journeys_wal_namespace_created", "namespace", "created_at"),
    Index("journeys_wal_tenant", "tenant_id", "namespace", "created_at"),
    Index("journeys_wal_due", "status", "next_attempt_at"),
    Index("journeys_wal_outbox", "kind", "status", "id"),
    Index("journeys_wal_expires", "expires_at"),
)
