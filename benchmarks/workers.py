"""Workers on PostgreSQL: runs per second with 1, 2 and 4 `journeys worker` processes, and the
claim's latency (the workers issue's figures).

Each round queues the same 5-milestone no-op journey (WAL on) in a fresh schema, starts the
workers, and times the work from the first intent written to the last run completed, as the log
records it (process start-up is left out). The machine has 2 cores: the curve flattens where
the workers and PostgreSQL compete for them.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy

import journeys
from benchmarks._timing import table

FIVE = """
journey: bench_workers
milestones:
  - {id: m1, action: builtin.noop}
  - {id: m2, action: builtin.noop}
  - {id: m3, action: builtin.noop}
  - {id: m4, action: builtin.noop}
  - {id: m5, action: builtin.noop}
policies: {wal: {enabled: true}}
"""
RUNS = int(os.environ.get("JOURNEYS_BENCH_WORKER_RUNS", "1500"))


def _schema(base: str) -> tuple[str, str]:
    name = f"bench_w_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    url = (
        sqlalchemy.make_url(base)
        .update_query_dict({"options": f"-csearch_path={name}"})
        .render_as_string(hide_password=False)
    )
    return name, url


def _drop(base: str, name: str) -> None:
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _rate(base: str, workers: int) -> float:
    name, url = _schema(base)
    try:
        definition = journeys.load_definition(FIVE)
        with journeys.Engine(url) as engine:
            for _ in range(RUNS):
                engine.start(definition, wait=False)
        command = Path(sys.executable).with_name("journeys")
        started = [
            subprocess.Popen(
                [str(command), "worker", "--db", url, "--poll", "0.02"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        sql = sqlalchemy.create_engine(url)
        try:
            while True:
                with sql.connect() as connection:
                    done = connection.execute(
                        sqlalchemy.text(
                            "SELECT count(*) FROM journeys_runs WHERE status = 'completed'"
                        )
                    ).scalar_one()
                if done == RUNS:
                    break
                time.sleep(0.2)
            with sql.connect() as connection:
                first, last = connection.execute(
                    sqlalchemy.text(
                        "SELECT min(created_at), max(created_at) FROM journeys_wal"
                        " WHERE kind = 'operation'"
                    )
                ).one()
        finally:
            for process in started:
                process.send_signal(signal.SIGTERM)
            for process in started:
                process.wait(timeout=60)
            sql.dispose()
        return float(RUNS / (last - first))
    finally:
        _drop(base, name)


def _claim_latency(base: str) -> float:
    name, url = _schema(base)
    try:
        definition = journeys.load_definition(FIVE)
        with journeys.Engine(url) as engine:
            for _ in range(500):
                engine.start(definition, wait=False)
            samples = []
            for _ in range(200):
                now = time.time()
                began = time.perf_counter()
                engine.store.claim(engine.owner, now, now + 30, what={"new"}, limit=1)
                samples.append(time.perf_counter() - began)
        return statistics.median(samples)
    finally:
        _drop(base, name)


def main() -> None:
    base = os.environ.get("JOURNEYS_BENCH_POSTGRES_URL") or os.environ.get(
        "JOURNEYS_TEST_POSTGRES_URL"
    )
    print("# workers benchmark (PostgreSQL)")
    if not base:
        print("not run: set JOURNEYS_BENCH_POSTGRES_URL")
        return
    rows = [("figure", "value", "ratio to 1 worker")]
    one = 0.0
    for count in (1, 2, 4):
        rate = _rate(base, count)
        one = one or rate
        rows.append(
            (f"{RUNS} runs, {count} worker(s)", f"{rate:,.0f} runs/s", f"{rate / one:.2f}x")
        )
    rows.append(("claim of one run (500 queued)", f"{_claim_latency(base) * 1e3:.2f} ms", ""))
    print(table(rows))


if __name__ == "__main__":
    main()
