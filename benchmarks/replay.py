"""Replay of a 1,000-entry window from a 1,000,000-entry log (the WAL issue's figure).

The anchor, measured beside it, is one indexed SELECT of the same rows in SQLAlchemy; the query
plan is printed to show the (namespace, created_at) index is used. ``JOURNEYS_BENCH_ENTRIES``
makes the table smaller for a quick look.
"""

from __future__ import annotations

import os
import tempfile
import time

from sqlalchemy import select, text

import journeys
from benchmarks._timing import per_call, table
from journeys.engine import schema


def main() -> None:
    total = int(os.environ.get("JOURNEYS_BENCH_ENTRIES", "1000000"))
    clock = [1_800_000_000.0]
    with tempfile.TemporaryDirectory(dir=os.environ.get("JOURNEYS_BENCH_DIR")) as folder:
        url = f"sqlite:///{folder}/replay.db?synchronous=normal"
        log = journeys.WriteAheadLog(url, clock=lambda: clock[0])
        began = time.perf_counter()
        size = 1334  # a batch: ~1,000 entries of the replayed namespace, written at one time
        for start in range(0, total, size):
            batch = [
                {
                    "namespace": "steward" if n % 4 else "other",
                    "payload": {"n": n},
                    "target": f"asset-{n % 97}",
                    "operation": "ingest",
                }
                for n in range(start, min(start + size, total))
            ]
            log.write_to_log_batch(batch)
            clock[0] += 1  # one batch a second
        filled = time.perf_counter() - began
        middle = 1_800_000_000.0 + total // size // 2
        window = (middle, middle + 1)  # one batch's time: ~1,000 of the namespace's entries

        def replay() -> object:
            return log.replay_log("steward", *window)

        wal = schema.wal
        query = (
            select(wal)
            .where(wal.c.namespace == "steward")
            .where(wal.c.created_at >= window[0], wal.c.created_at < window[1])
            .order_by(wal.c.created_at, wal.c.id)
        )
        store = log._store  # the same connections, for a fair anchor

        def bare() -> object:
            with store.transaction() as connection:
                return connection.execute(query).all()

        count = len(replay())  # type: ignore[arg-type]
        timings = per_call({"replay_log": replay, "bare SELECT": bare}, number=20)
        with store.transaction() as connection:
            compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
            plan = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        log.close()
    rows = [
        ("figure", "value", "anchor / ratio"),
        ("entries in the log", f"{total:,}", f"written in {filled:.1f}s (batches of {size:,})"),
        (
            f"replay of a {count}-entry window",
            f"{timings['replay_log'] * 1e3:.2f} ms",
            f"bare indexed SELECT {timings['bare SELECT'] * 1e3:.2f} ms -> "
            f"{timings['replay_log'] / timings['bare SELECT']:.2f}x",
        ),
    ]
    print("# replay benchmark")
    print(table(rows))
    print("query plan:", "; ".join(str(step[-1]) for step in plan))


if __name__ == "__main__":
    main()
