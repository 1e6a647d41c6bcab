"""The WAL's overhead beside its floor: the same rows and commits, written by the driver alone.

Issue 4 asks that the WAL cost at most 5% when handlers do 10 ms of work. Part of that cost is
not ours to cut: a write-ahead protocol commits once per milestone (the intent of the first,
then each outcome with the next intent), and a durable commit on SQLite (WAL journal,
synchronous FULL) is an fsync. This benchmark measures, in the same interleaved rounds:

- ``engine``: a 5-milestone journey whose handlers take 10 ms, WAL on against WAL off;
- ``floor``: the same work without the engine: five 10 ms handlers, and the very rows that the
  engine's run wrote (captured from one real run), committed by the stdlib ``sqlite3`` driver in
  the same transactions, with the same statements, into the same database; against the five
  handlers and one commit of the run's row.

The floor's overhead is what any Python WAL of this protocol and these rows pays on this disk;
the difference between the two is the engine's own (building entries, SQLAlchemy, the pool).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import journeys
from benchmarks._timing import table
from benchmarks.durability import FIVE, _overhead


def _handler(kind: str) -> Callable[[], None]:
    if kind == "sleep":
        return lambda: time.sleep(0.010)

    def busy() -> None:
        end = time.perf_counter() + 0.010
        while time.perf_counter() < end:
            pass

    return busy


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
    update_run = (
        f"UPDATE journeys_runs SET {', '.join(f'{c} = ?' for c in changing)}"
        " WHERE id = ? AND row_version = ?"
    )
    log_columns = [c for c in rows[0] if c != "id"]
    insert_log = (
        f"INSERT INTO journeys_wal ({', '.join(log_columns)})"
        f" VALUES ({', '.join('?' for _ in log_columns)})"
    )
    groups = _commits(rows)

    def written(run_id: str, group: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            tuple(
                run_id if c == "run_id" else str(uuid.uuid4()) if c == "log_id" else row[c]
                for c in log_columns
            )
            for row in group
        ]

    def on() -> None:
        run_id = str(uuid.uuid4())
        for index, group in enumerate(groups):
            if index:
                work()
            connection.execute("BEGIN")
            if index == 0:
                connection.execute(
                    insert_run, tuple(run_id if c == "id" else run_row[c] for c in run_columns)
                )
            else:
                connection.execute(
                    update_run,
                    (
                        *(index if c == "row_version" else run_row[c] for c in changing),
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
            tuple(str(uuid.uuid4()) if c == "id" else run_row[c] for c in run_columns),
        )
        connection.execute("COMMIT")

    return on, off, connection


def main(kind: str = os.environ.get("JOURNEYS_BENCH_HANDLER", "sleep")) -> None:
    registry = journeys.Registry()
    work = _handler(kind)
    registry.register("bench.work", lambda ctx: work())
    on_definition = journeys.load_definition(FIVE.replace("bench.noop", "bench.work"))
    off_definition = journeys.load_definition(
        FIVE.replace("bench.noop", "bench.work").replace("enabled: true", "enabled: false")
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("JOURNEYS_BENCH_DIR")) as folder:
        path = f"{folder}/floor.db"
        engine = journeys.Engine(f"sqlite:///{path}", registry=registry)
        sample = engine.start(on_definition)
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
        floor_on, floor_off, connection = _floor(path, run_row, rows, work)
        ours, ours_on, ours_off = _overhead(
            lambda: engine.start(on_definition), lambda: engine.start(off_definition)
        )
        floor, floor_on_ms, floor_off_ms = _overhead(floor_on, floor_off)
        connection.close()
        engine.close()
    rows_per_run = len(rows)
    print(f"# WAL overhead beside its floor ({kind} handlers of 10 ms, SQLite FULL)")
    print(
        table(
            [
                ("contender", "WAL on / off, ms per run", "overhead"),
                ("engine", f"{ours_on:.2f} / {ours_off:.2f}", f"{ours * 100:.1f}%"),
                (
                    f"floor: same {rows_per_run} rows, {len(_commits(rows))} commits, sqlite3",
                    f"{floor_on_ms:.2f} / {floor_off_ms:.2f}",
                    f"{floor * 100:.1f}%",
                ),
                (
                    "the engine's own share",
                    f"{(ours_on - ours_off) - (floor_on_ms - floor_off_ms):.2f} ms per run",
                    f"{(ours - floor) * 100:.1f} points",
                ),
            ]
        )
    )


if __name__ == "__main__":
    main()
