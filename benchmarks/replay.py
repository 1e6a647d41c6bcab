"""Replay of a 1,000-entry window from a 1,000,000-entry log (the WAL issue's figure).

The anchor, measured beside it, is one indexed SELECT of the same rows in SQLAlchemy, on the
same connections; the query plan goes in the notes, to show the (namespace, created_at) index
serves it.

The log is filled by one ``INSERT ... SELECT`` over a recursive CTE (SQLite makes the rows
itself: no Python loop, no million parameters), shaped as ``WriteAheadLog.write_to_log_batch``
writes them: batches of 1,334 entries a second, three in four in the replayed namespace. The
file is kept in the suite's cache (``JOURNEYS_BENCH_CACHE``, else ``~/.cache/journeys-bench``),
named by its size and the store's schema version, so later runs skip the fill.
``JOURNEYS_BENCH_ENTRIES`` makes the table smaller for a quick look.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy import select, text

import journeys
from benchmarks import _setup
from benchmarks._timing import Figure, at_most, ratios, rounds, time_text
from journeys.engine import migrations, schema

BATCH = 1334
"""Entries written at one time: ~1,000 of the replayed namespace per second of log."""
EPOCH = 1_800_000_000.0

_FILL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last)
INSERT INTO journeys_wal (log_id, namespace, kind, operation, target, status, payload,
                          retry_count, created_at, updated_at, expires_at)
SELECT printf('%08x-0000-7000-8000-%012x', i / :batch, i),
       CASE WHEN i % 4 THEN 'steward' ELSE 'other' END, 'log', 'ingest',
       'asset-' || (i % 97), 'pending', json_object('n', i), 0,
       :epoch + i / :batch, :epoch + i / :batch, :epoch + i / :batch + :ttl
FROM n
"""


def log_file(settings: _setup.Settings, total: int, notes: list[str]) -> Path:
    """The SQLite file of a ``total``-entry log, from the cache or filled now."""
    folder = settings.cache or settings.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"replay-{total}-schema{len(migrations.MIGRATIONS)}.db"
    if path.exists():
        notes.append(f"replay: the {total:,}-entry log came from the cache ({path})")
        return path
    building = path.with_suffix(f".{os.getpid()}.tmp")
    with journeys.WriteAheadLog(f"sqlite:///{building}") as log:
        log.replay_log("none", limit=1)  # the first use brings the store's own schema
    began = time.perf_counter()
    connection = sqlite3.connect(building)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # a scratch fill: a crash starts it over
        with connection:
            connection.execute(
                _FILL,
                {"last": total - 1, "batch": BATCH, "epoch": EPOCH, "ttl": 7 * 86400.0},
            )
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    os.replace(building, path)
    notes.append(f"replay: filled {total:,} entries in {time.perf_counter() - began:.1f} s")
    return path


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    total = int(os.environ.get("JOURNEYS_BENCH_ENTRIES", 20_000 if settings.quick else 1_000_000))
    path = log_file(settings, total, notes)
    middle = EPOCH + total // BATCH // 2
    window = (middle, middle + 1)  # one batch's time: ~1,000 of the namespace's entries
    with journeys.WriteAheadLog(f"sqlite:///{path}?synchronous=normal") as log:
        wal = schema.wal
        query = (
            select(wal)
            .where(wal.c.namespace == "steward")
            .where(wal.c.created_at >= window[0], wal.c.created_at < window[1])
            .order_by(wal.c.created_at, wal.c.id)
        )
        store = log._store  # the same connections, for a fair anchor

        def replay() -> object:
            return log.replay_log("steward", *window)

        def bare() -> object:
            with store.transaction() as connection:
                return connection.execute(query).all()

        count = len(log.replay_log("steward", *window))
        samples = rounds(
            {"ours": replay, "bare": bare},
            seconds=settings.seconds,
            count=settings.count,
            cpu=True,  # both read the cached file: CPU work, on both sides
        )
        with store.transaction() as connection:
            compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
            plan = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    notes.append("replay query plan: " + "; ".join(str(step[-1]) for step in plan))
    return [
        Figure(
            f"replay of {count:,} entries from {total:,} (SQLite)",
            time_text(samples["ours"]),
            f"indexed SELECT {time_text(samples['bare'])}",
            ratios(samples["ours"], samples["bare"]),
            at_most(2),
        )
    ]


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()
