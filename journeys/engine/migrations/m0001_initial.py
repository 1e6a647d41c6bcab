"""Migration 0001: the schema as first released, frozen.

A copy on purpose: this is what 0001 created, whatever ``journeys.engine.schema`` declares now.
Later migrations change it step by step; never edit this file.
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
from sqlalchemy.engine import Connection

from journeys.errors import JourneyError

__all__ = ["upgrade"]

_JSON = JSON().with_variant(JSONB(), "postgresql")
_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


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


def upgrade(connection: Connection) -> None:
    stale = {"journeys_runs", "journeys_wal", "journeys_definitions"} & set(
        connection.dialect.get_table_names(connection)
    )
    if stale:
        raise JourneyError(
            "this store was made by a development version of journeys before migrations"
            f" existed (it has {', '.join(sorted(stale))} but no journeys_schema): start from a"
            " new database file or schema"
        )
    metadata.create_all(connection)
