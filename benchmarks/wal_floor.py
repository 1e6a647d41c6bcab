"""The WAL's floor: the same rows and commits as one of the engine's runs, by the driver alone.

Issue 4 asks that the WAL cost at most 5% when handlers do 10 ms of work. Part of that cost is
not ours to cut: a write-ahead protocol commits once per milestone (the intent of the first,
then each outcome with the next intent), and a durable commit on SQLite (WAL journal,
synchronous FULL) is an fsync. :func:`floor` captures the rows one real run wrote and returns
two contenders for the same rounds as the engine's (benchmarks.durability):

- ``on``: the handlers, and those very rows committed by the stdlib ``sqlite3`` driver in the
  same transactions, with the same kind of statements, into the same database;
- ``off``: the handlers, and one commit of the run's row.

The floor's overhead is what any Python WAL of this protocol and these rows pays on this disk;
the engine's overhead above it is its own (building entries, SQLAlchemy, the pool).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import journeys
from journeys.engine import ids


def _commits(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The run's log rows grouped as the engine committed them: each group ends with the
    intent of the next milestone (an operation entry still pending); the last, with the end."""
    groups: list[list[dict[str, Any]]] = [[]]
    for row in rows:
        groups[-1].append(row)
        if row["kind"] == "operation" and row["status"] == "pending":
            groups.append([])
    return groups


def _floor(
    path: str, run_row: dict[str, Any], rows: list[dict[str, Any]], work: Callable[[], None]
) -> tuple[Callable[[], None], Callable[[], None], sqlite3.Connection]:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA busy_timeout=5000")
    run_columns = list(run_row)
    insert_run = (
        f"INSERT INTO journeys_runs ({', '.join(run_columns)})"
        f" VALUES ({', '.join('?' for _ in run_columns)})"
    )
    changing = [
        c
        for c in run_columns
        if c
        not in (
            "id",
            "journey",
            "version",
            "definition_hash",
            "inputs",
            "tenant_id",
            "user_id",
            "wal",
            "policy",
            "created_at",
            "priority",
            "namespace",
        )
    ]
    # as the engine's saves: status and due_at are set only when they change (the last
    # commit), since SQLite rewrites the index entries of every column an UPDATE sets
    indexed = ("status", "due_at")
    keeping = [c for c in changing if c not in indexed]

    def update(columns: list[str]) -> str:
        return (
            f"UPDATE journeys_runs SET {', '.join(f'{c} = ?' for c in columns)}"
            " WHERE id = ? AND row_version = ?"
        )

    update_all, update_kept = update(changing), update(keeping)  # made once, as the engine's

    log_columns = [c for c in rows[0] if c != "id"]
    insert_log = (
        f"INSERT INTO journeys_wal ({', '.join(log_columns)})"
        f" VALUES ({', '.join('?' for _ in log_columns)})"
    )
    groups = _commits(rows)

    def written(run_id: str, group: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        # the times are now's, as the engine's: the (namespace, created_at) index is appended
        # to, where the sample's own times would scatter every commit across its pages
        now = time.time()
        fresh = {"run_id": run_id, "created_at": now, "updated_at": now}
        return [
            tuple(
                fresh[c] if c in fresh else ids.new_id() if c == "log_id" else row[c]
                for c in log_columns
            )
            for row in group
        ]

    def on() -> None:
        run_id = ids.new_id()  # time-ordered, as the engine's: appended to its indexes
        for index, group in enumerate(groups):
            if index:
                work()
            connection.execute("BEGIN")
            if index == 0:
                connection.execute(
                    insert_run, tuple(run_id if c == "id" else run_row[c] for c in run_columns)
                )
            else:
                last = index == len(groups) - 1
                columns = changing if last else keeping
                connection.execute(
                    update_all if last else update_kept,
                    (
                        *(index if c == "row_version" else run_row[c] for c in columns),
                        run_id,
                        index - 1,
                    ),
                )
            connection.executemany(insert_log, written(run_id, group))
            connection.execute("COMMIT")

    def off() -> None:
        for _ in range(len(groups) - 1):
            work()
        connection.execute("BEGIN")
        connection.execute(
            insert_run,
            tuple(ids.new_id() if c == "id" else run_row[c] for c in run_columns),
        )
        connection.execute("COMMIT")

    return on, off, connection


def floor(
    path: str, engine: journeys.Engine, definition: journeys.Definition, work: Callable[[], None]
) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    """``on``, ``off`` and ``close`` for the floor of ``definition``'s runs in the SQLite file
    at ``path``, whose handlers each call ``work``: one run is made with ``engine`` to capture
    its rows."""
    sample = engine.start(definition)
    reader = sqlite3.connect(path)
    reader.row_factory = sqlite3.Row
    run_row = dict(
        reader.execute("SELECT * FROM journeys_runs WHERE id = ?", (sample.id,)).fetchone()
    )
    rows = [
        dict(row)
        for row in reader.execute(
            "SELECT * FROM journeys_wal WHERE run_id = ? ORDER BY seq", (sample.id,)
        )
    ]
    reader.close()
    on, off, connection = _floor(path, run_row, rows, work)
    return on, off, connection.close
