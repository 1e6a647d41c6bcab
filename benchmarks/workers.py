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
from pathlib import Path

import sqlalchemy

import journeys
from benchmarks import _setup
from benchmarks._timing import Figure, curve, ratios, spread

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
RUNS = int(os.environ.get("JOURNEYS_BENCH_WORKER_RUNS", "150"))
COUNTS = (1, 2, 4)


def _rate(base: str, workers: int, runs: int) -> float:
    """Runs per second of ``workers`` worker processes draining ``runs`` queued runs."""
    with _setup.postgres_schema(base) as url:
        definition = journeys.load_definition(FIVE)
        with journeys.Engine(url) as engine:
            for _ in range(runs):
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
                if done == runs:
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
        return float(runs / (last - first))


def _claim_latency(base: str) -> float:
    with _setup.postgres_schema(base) as url:
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


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    names = [f"runs/s, {count} worker(s), PostgreSQL" for count in COUNTS]
    if settings.postgres is None:
        why = "no PostgreSQL (set JOURNEYS_BENCH_POSTGRES_URL)"
        return [Figure(name, "", "1 worker", [], curve(), why) for name in names]
    runs = 30 if settings.quick else RUNS
    samples: dict[int, list[float]] = {count: [] for count in COUNTS}
    for index in range(1 if settings.quick else 2):  # the counts take turns, round by round
        for count in COUNTS if index % 2 == 0 else COUNTS[::-1]:
            samples[count].append(_rate(settings.postgres, count, runs))
    notes.append(
        f"workers: {runs} queued runs per measurement; a claim of one run (500 queued) takes"
        f" {_claim_latency(settings.postgres) * 1e3:.2f} ms"
    )
    return [
        Figure(
            name,
            f"{statistics.median(samples[count]):,.0f}/s {spread(samples[count])}",
            f"1 worker {statistics.median(samples[1]):,.0f}/s",
            ratios(samples[count], samples[1]),
            curve(),
        )
        for name, count in zip(names, COUNTS, strict=True)
    ]


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()
