"""Migration 0005: what workers claim by. ``priority`` (2 high, 1 normal, 0 low) and
``namespace`` (the journey's) of each run, ``sleep_until`` for a long ``builtin.sleep`` that
parks the run, and the index the claim query orders by."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["upgrade"]


def upgrade(connection: Connection) -> None:
    real = "DOUBLE PRECISION" if connection.dialect.name == "postgresql" else "FLOAT"
    for statement in (
        "ALTER TABLE journeys_runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE journeys_runs ADD COLUMN namespace VARCHAR(200)",
        f"ALTER TABLE journeys_runs ADD COLUMN sleep_until {real}",
        "CREATE INDEX journeys_runs_claim ON journeys_runs (status, priority, due_at)",
    ):
        connection.execute(text(statement))
