"""Durable runs: the write-ahead protocol against the disk's own limit (the WAL issue's figures).

- this disk's fsync rate (append 300 bytes, fsync), measured beside the runs;
- runs/s of a 5-milestone no-op journey with the WAL on, on SQLite (WAL journal, synchronous
  FULL), against the bound that fsync rate sets for the commits the protocol needs per run;
- the same on PostgreSQL (synchronous_commit on), against the server's one-row commit rate,
  when ``JOURNEYS_BENCH_POSTGRES_URL`` (or ``JOURNEYS_TEST_POSTGRES_URL``) names one;
- the WAL's overhead when handlers do 10 ms of work: WAL on against WAL off.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy

import journeys
from benchmarks._timing import table

FIVE = """
journey: durable_five
milestones:
  - {id: m1, action: bench.noop}
  - {id: m2, action: bench.noop}
  - {id: m3, action: bench.noop}
  - {id: m4, action: bench.noop}
  - {id: m5, action: bench.noop}
policies: {wal: {enabled: true}}
"""


def _rate(function: Callable[[], object], seconds: float = 1.5, rounds: int = 5) -> float:
    """Calls per second: the median of ``rounds`` rounds of about ``seconds`` each."""
    rates = []
    for _ in range(rounds):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / rounds:
            function()
            count += 1
        rates.append(count / elapsed)
    return statistics.median(rates)


def _overhead(
    on: Callable[[], object], off: Callable[[], object], rounds: int = 15, runs: int = 8
) -> tuple[float, float, float]:
    """WAL on against off, interleaved: round by round, ``runs`` runs of each, so a noisy
    neighbour slows both alike. Returns the median of the rounds' overheads and the median
    milliseconds per run of each."""
    ratios, ons, offs = [], [], []
    for index in range(rounds + 1):
        timed = []
        for function in (on, off) if index % 2 else (off, on):
            started = time.perf_counter()
            for _ in range(runs):
                function()
            timed.append((time.perf_counter() - started) / runs)
        on_s, off_s = timed if index % 2 else timed[::-1]
        if index:  # the first round warms both up
            ratios.append(on_s / off_s - 1)
            ons.append(on_s * 1e3)
            offs.append(off_s * 1e3)
    return statistics.median(ratios), statistics.median(ons), statistics.median(offs)


def _fsync_rate(folder: Path) -> float:
    path = folder / "fsync.bin"
    with path.open("ab") as stream:
        payload = b"x" * 300

        def append() -> None:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())

        return _rate(append)


def _commit_rate(url: str) -> float:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS bench_commit (x text)"))
    with engine.connect() as connection:

        def commit() -> None:
            connection.execute(sqlalchemy.text("INSERT INTO bench_commit VALUES ('x')"))
            connection.commit()

        rate = _rate(commit)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE bench_commit"))
    engine.dispose()
    return rate


def _commits_per_run(engine: journeys.Engine, definition: journeys.Definition) -> int:
    counted = 0
    original_create, original_save = engine.store.create, engine.store.save

    def create(*args: object) -> object:
        nonlocal counted
        counted += 1
        return original_create(*args)  # type: ignore[arg-type]

    def save(*args: object) -> None:
        nonlocal counted
        counted += 1
        original_save(*args)  # type: ignore[arg-type]

    engine.store.create, engine.store.save = create, save  # type: ignore[method-assign]
    engine.start(definition)
    engine.store.create, engine.store.save = original_create, original_save  # type: ignore[method-assign]
    return counted


def main() -> None:
    registry = journeys.Registry()
    registry.register("bench.noop", lambda ctx: None)
    registry.register("bench.work", lambda ctx: time.sleep(0.010))
    five = journeys.load_definition(FIVE)
    rows = [("figure", "value", "anchor / ratio")]
    with tempfile.TemporaryDirectory(dir=os.environ.get("JOURNEYS_BENCH_DIR")) as folder:
        fsyncs = _fsync_rate(Path(folder))
        sqlite = journeys.Engine(f"sqlite:///{folder}/bench.db", registry=registry)
        commits = _commits_per_run(sqlite, five)
        runs = _rate(lambda: sqlite.start(five))
        bound = fsyncs / commits
        rows += [
            ("disk fsync rate (300 B appends)", f"{fsyncs:,.0f}/s", ""),
            ("commits per 5-milestone run", f"{commits}", "the protocol's floor is 6"),
            (
                "durable runs/s, SQLite FULL",
                f"{runs:,.0f}",
                f"fsync bound {bound:,.0f}/s -> {runs / bound:.2f} of it",
            ),
        ]
        sqlite.close()

        work = journeys.load_definition(FIVE.replace("bench.noop", "bench.work"))
        quiet = journeys.load_definition(
            FIVE.replace("bench.noop", "bench.work").replace("enabled: true", "enabled: false")
        )
        store = journeys.Engine(f"sqlite:///{folder}/work.db", registry=registry)
        overhead, on_ms, off_ms = _overhead(lambda: store.start(work), lambda: store.start(quiet))
        rows.append(
            (
                "WAL on vs off, handlers of 10 ms",
                f"{on_ms:.1f} ms/run",
                f"off {off_ms:.1f} ms/run -> overhead {overhead * 100:.1f}%",
            )
        )
        store.close()

    postgres = os.environ.get("JOURNEYS_BENCH_POSTGRES_URL") or os.environ.get(
        "JOURNEYS_TEST_POSTGRES_URL"
    )
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sqlalchemy.create_engine(postgres)
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        url = (
            sqlalchemy.make_url(postgres)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        try:
            commit_rate = _commit_rate(url)
            pg = journeys.Engine(url, registry=registry)
            pg_runs = _rate(lambda: pg.start(five))
            pg.close()
            rows.append(
                (
                    "durable runs/s, PostgreSQL",
                    f"{pg_runs:,.0f}",
                    f"commit rate {commit_rate:,.0f}/s / {commits} -> "
                    f"{pg_runs / (commit_rate / commits):.2f} of it",
                )
            )
        finally:
            with admin.begin() as connection:
                connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        rows.append(("durable runs/s, PostgreSQL", "not run", "set JOURNEYS_BENCH_POSTGRES_URL"))
    print("# durability benchmark")
    print(table(rows))


if __name__ == "__main__":
    main()
