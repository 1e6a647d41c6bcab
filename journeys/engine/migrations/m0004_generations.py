"""Migration 0004: ``journeys_runs.generations``, how many times each milestone's work was
undone by a rollback, so the work redone after it gets idempotency keys of its own."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["upgrade"]


def upgrade(connection: Connection) -> None:
    kind = "JSONB" if connection.dialect.name == "postgresql" else "JSON"
    connection.execute(
        text(f"ALTER TABLE journeys_runs ADD COLUMN generations {kind} NOT NULL DEFAULT '{{}}'")
    )
