"""DBOS Transact, the durable-workflow peer, running the same work as our journeys.

Installed with the optional extra ``bench`` (``pip install -e '.[bench]'``); without it
:func:`available` says so and the suite's DBOS rows say how to install it.

Configured fully locally: a SQLite system database (a file in the suite's scratch folder, put in
WAL journal mode before DBOS opens it, so it commits exactly as our store does: WAL journal,
synchronous FULL, the library's default), or the local PostgreSQL as a second system database in
its own database (``dbos_bench`` beside the one the suite uses, created when missing). No admin
server, no Conductor, no telemetry.

What DBOS writes (read from ``dbos/_core.py`` and ``dbos/_sys_db.py``, version 3.4): a workflow
call inserts its status row (one transaction); each step first runs a read transaction
(``check_operation_execution``: the workflow's status, then the step's recorded output, two
SELECTs) and, after the function, a write transaction (``record_operation_result``: a SELECT of
the workflow's owner, then ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` of the pickled
output); the workflow's end updates its status (one transaction). Five steps: 7 commits that
write (our protocol's floor is 6) and 5 more read-only transactions. The suite counts both
through SQLAlchemy's events and prints them.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy

__all__ = ["INSTALL", "Peer", "available"]

INSTALL = "not installed (pip install -e '.[bench]')"


def available() -> bool:
    """Whether DBOS Transact can be imported here."""
    try:
        import dbos  # noqa: F401
    except ImportError:
        return False
    return True


class StepFailed(Exception):
    """The failure DBOS's saga meets at step 4, on purpose."""


_functions: dict[str, Any] = {}


def _register() -> dict[str, Any]:
    """Declare the workflows once per process (DBOS keeps them in a global registry that
    outlives ``DBOS.destroy()``)."""
    if _functions:
        return _functions
    from dbos import DBOS

    @DBOS.step()
    def noop(i: int) -> None:
        return None

    @DBOS.step()
    def fail(i: int) -> None:
        raise StepFailed(f"step {i} fails on purpose")

    @DBOS.step()
    def undo(i: int) -> None:
        return None

    @DBOS.workflow()
    def five_steps() -> None:
        for i in range(1, 6):
            noop(i)

    @DBOS.workflow()
    def saga() -> str:
        """The saga as a DBOS user writes it: steps in a try, compensations in reverse in the
        except, each a step (durable, so a crash mid-undo resumes it)."""
        done: list[int] = []
        try:
            for i in range(1, 6):
                (fail if i == 4 else noop)(i)
                done.append(i)
        except StepFailed:
            for i in reversed(done):
                undo(i)
            return "compensated"
        return "completed"

    _functions.update(five_steps=five_steps, saga=saga)
    return _functions


class Peer:
    """One launched DBOS on one system database; ``close()`` destroys it (one at a time per
    process, as DBOS is a singleton)."""

    def __init__(self, system_database_url: str) -> None:
        from dbos import DBOS

        functions = _register()
        logging.getLogger("dbos").setLevel(logging.ERROR)
        self._dbos = DBOS(
            config={
                "name": "journeys_bench",
                "system_database_url": system_database_url,
                "log_level": "ERROR",
                "run_admin_server": False,
            }
        )
        DBOS.launch()
        self.five_steps = functions["five_steps"]
        self.saga = functions["saga"]

    @property
    def engine(self) -> sqlalchemy.Engine:
        """The system database's SQLAlchemy engine (to count its commits and statements)."""
        engine: sqlalchemy.Engine = self._dbos._sys_db.engine
        return engine

    def journal(self) -> str:
        """How its SQLite commits (``wal/2`` = WAL journal, synchronous FULL), for the record."""
        with self.engine.connect() as connection:
            mode = connection.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar()
            sync = connection.execute(sqlalchemy.text("PRAGMA synchronous")).scalar()
        return f"{mode}/{sync}"

    def close(self) -> None:
        from dbos import DBOS

        DBOS.destroy()


def sqlite_url(folder: Path, name: str = "dbos.sqlite") -> str:
    """A SQLite database file in WAL journal mode (a property of the file: DBOS's own
    connections then commit in it, with SQLite's default synchronous FULL)."""
    path = folder / name
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    return f"sqlite:///{path}"


def postgres_url(base: str, database: str = "dbos_bench") -> str:
    """``base``'s server, database ``database`` (created when missing, emptied of DBOS's
    tables when present, so each suite run starts alike)."""
    url = sqlalchemy.make_url(base)
    admin = sqlalchemy.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            known = connection.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": database},
            ).first()
            if known is None:
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    target = url.set(database=database)
    fresh = sqlalchemy.create_engine(target)
    try:
        with fresh.begin() as connection:
            connection.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS dbos CASCADE"))
    finally:
        fresh.dispose()
    # DBOS takes a plain postgresql:// URL and picks psycopg itself
    return target.set(drivername="postgresql").render_as_string(hide_password=False)
