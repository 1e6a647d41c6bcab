"""Migration 0003: who changed a log entry's status last (``updated_by``), beside when
(``updated_at``): a service's status updates are audited like its writes."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["upgrade"]


def upgrade(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE journeys_wal ADD COLUMN updated_by VARCHAR(200)"))
