"""Durable runs against the disk's own limit and against DBOS Transact (the WAL issue's figures).

- runs/s of a 5-milestone no-op journey with the WAL on, on SQLite (WAL journal, synchronous
  FULL), against this disk's fsync rate (append 300 bytes, fsync) divided by the 6 commits a
  write-ahead protocol needs for 5 milestones, and against DBOS running 5 no-op steps on the
  same kind of SQLite file; beside it, the same rows and commits written by stdlib sqlite3
  alone (benchmarks.wal_floor), to tell what our rows cost whoever writes them from what the
  engine adds;
- a saga whose step 4 fails (3 compensations) against DBOS running it as try/except;
- the same journey on PostgreSQL (synchronous_commit on) against DBOS on the same server and
  the server's one-connection commit rate;
- WAL and saga on against both off, when handlers do 10 ms of work;
- a saga's compensation time (4 undo handlers as long as the forward ones) against its forward
  time.

Every contender runs in the same rounds, taking turns (benchmarks._timing.rounds).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy

import journeys
from benchmarks import _setup, dbos_peer, pages, wal_floor
from benchmarks._timing import (
    Figure,
    Mark,
    at_least,
    at_most,
    rate_text,
    rates,
    ratios,
    rounds,
    time_text,
)

WAL = "{wal: {enabled: true}}"
SAGA = "{wal: {enabled: true}, saga: {enabled: true}}"
FIVE = _setup.chain(5, name="durable_five", compensation=None, policies=WAL)
FAILING = _setup.chain(5, name="durable_saga", kind="saga", fail_at=4, policies=SAGA)
PROTOCOL_COMMITS = 6
"""A write-ahead protocol's floor for 5 milestones: the first intent, then each outcome with
the next intent (shared/BASELINES.md)."""


def fsync_probe(folder: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """A call that appends 300 bytes to a file and fsyncs it, and one that closes the file."""
    stream = (folder / "fsync.bin").open("ab")
    payload = b"x" * 300

    def append() -> None:
        stream.write(payload)
        stream.flush()
        os.fsync(stream.fileno())

    return append, stream.close


def commit_probe(url: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """A call that inserts one row and commits it on one connection (SQLAlchemy, the server's
    defaults), and one that cleans up."""
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE IF NOT EXISTS bench_commit (x text)"))
    connection = engine.connect()
    statement = sqlalchemy.text("INSERT INTO bench_commit VALUES ('x')")

    def commit() -> None:
        connection.execute(statement)
        connection.commit()

    def close() -> None:
        connection.close()
        engine.dispose()

    return commit, close


def per_run(engine: sqlalchemy.Engine, run: Callable[[], object], times: int = 20) -> str:
    """Commits and statements per call of ``run``, counted through ``engine``'s events."""
    counter = _setup.Counter(engine)
    try:
        for _ in range(times):
            run()
    finally:
        counter.close()
    return f"{counter.commits / times:g} commits, {counter.statements / times:g} statements"


def _sqlite(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    registry = _setup.registry()
    five = journeys.load_definition(FIVE)
    failing = journeys.load_definition(FAILING)
    engine = journeys.Engine(f"sqlite:///{settings.folder}/durable.db", registry=registry)
    fsync, close_probe = fsync_probe(settings.folder)
    commit, close_commit = commit_probe(dbos_peer.sqlite_url(settings.folder, "commit.sqlite"))
    # the same rows and commits as one of our runs, by sqlite3 alone, in a file of their own
    floor_path = f"{settings.folder}/floor.db"
    floor_engine = journeys.Engine(f"sqlite:///{floor_path}", registry=registry)
    floor, _, close_floor = wal_floor.floor(floor_path, floor_engine, five, lambda: None)
    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: engine.start(five),
        "fsync": fsync,
        "floor": floor,
        "commit": commit,
        "ours saga": lambda: engine.start(failing),
    }
    peer = dbos_peer.Peer(dbos_peer.sqlite_url(settings.folder)) if dbos_peer.available() else None
    try:
        if peer is not None:
            contenders |= {"dbos": peer.five_steps, "dbos saga": peer.saga}
        samples = rounds(contenders, seconds=settings.seconds, count=settings.count)
        store = engine.store._engine  # type: ignore[attr-defined]
        notes.append(f"SQLite, per 5-milestone run: ours {per_run(store, contenders['ours'])}")
        notes.append(
            f"SQLite, per saga (step 4 fails): ours {per_run(store, contenders['ours saga'])}"
        )
        if peer is not None:
            notes.append(
                f"SQLite, per 5-step workflow: DBOS {per_run(peer.engine, peer.five_steps)}"
                f" (its journal: {peer.journal()})"
            )
            notes.append(f"SQLite, per saga: DBOS {per_run(peer.engine, peer.saga)}")
        written = pages.per_commit(f"{settings.folder}/durable.db", contenders["ours"])
        notes.append(f"SQLite, what a commit of a 5-milestone run writes: {written.text()}")
    finally:
        if peer is not None:
            peer.close()
        close_probe()
        close_commit()
        close_floor()
        floor_engine.close()
        engine.close()
    notes.append(
        f"SQLite (WAL, FULL), one 1-row commit through SQLAlchemy: {rate_text(samples['commit'])}"
        f" beside fsync {rate_text(samples['fsync'])}"
    )
    # the bound as seconds per run: PROTOCOL_COMMITS fsyncs
    bound = [s * PROTOCOL_COMMITS for s in samples["fsync"]]
    figures = [
        Figure(
            "durable runs/s, SQLite (WAL, FULL), 5 no-op milestones",
            rate_text(samples["ours"]),
            f"fsync {rate_text(samples['fsync'])} / {PROTOCOL_COMMITS} commits",
            ratios(rates(samples["ours"]), rates(bound)),
            at_least(0.6, aim=0.8),
        ),
        Figure(
            "  its floor: the same rows and commits, sqlite3 alone",
            rate_text(samples["floor"]),
            f"fsync {rate_text(samples['fsync'])} / {PROTOCOL_COMMITS} commits",
            ratios(rates(samples["floor"]), rates(bound)),
            Mark("what our rows cost anyone", None),
        ),
    ]
    figures += _versus_dbos(
        "durable runs/s, SQLite, vs DBOS 5 steps", samples, "ours", "dbos", peer is not None
    )
    figures += _versus_dbos(
        "saga, step 4 fails, 3 undone, SQLite", samples, "ours saga", "dbos saga", peer is not None
    )
    return figures


def _versus_dbos(
    name: str, samples: dict[str, list[float]], ours: str, theirs: str, ran: bool
) -> list[Figure]:
    if not ran:
        return [Figure(name, rate_text(samples[ours]), "DBOS", [], at_least(4), dbos_peer.INSTALL)]
    return [
        Figure(
            name,
            rate_text(samples[ours]),
            f"DBOS {rate_text(samples[theirs])}",
            ratios(rates(samples[ours]), rates(samples[theirs])),
            at_least(4),
        )
    ]


def _postgres(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    names = (
        "durable runs/s, PostgreSQL, vs DBOS 5 steps",
        "durable runs/s, PostgreSQL, vs its commit rate",
        "saga, step 4 fails, 3 undone, PostgreSQL",
    )
    if settings.postgres is None:
        why = "no PostgreSQL (set JOURNEYS_BENCH_POSTGRES_URL)"
        return [
            Figure(name, "", "", [], at_least(0.6 if "commit" in name else 4), why)
            for name in names
        ]
    five = journeys.load_definition(FIVE)
    failing = journeys.load_definition(FAILING)
    with _setup.postgres_schema(settings.postgres) as url:
        engine = journeys.Engine(url, registry=_setup.registry())
        commit, close_probe = commit_probe(url)
        contenders: dict[str, Callable[[], object]] = {
            "ours": lambda: engine.start(five),
            "commit": commit,
            "ours saga": lambda: engine.start(failing),
        }
        peer = None
        try:
            if dbos_peer.available():
                peer = dbos_peer.Peer(dbos_peer.postgres_url(settings.postgres))
                contenders |= {"dbos": peer.five_steps, "dbos saga": peer.saga}
            samples = rounds(contenders, seconds=settings.seconds, count=settings.count)
            store = engine.store._engine  # type: ignore[attr-defined]
            notes.append(
                f"PostgreSQL, per 5-milestone run: ours {per_run(store, contenders['ours'])}"
            )
            if peer is not None:
                notes.append(
                    f"PostgreSQL, per 5-step workflow: DBOS {per_run(peer.engine, peer.five_steps)}"
                )
        finally:
            if peer is not None:
                peer.close()
            close_probe()
            engine.close()
    bound = [s * PROTOCOL_COMMITS for s in samples["commit"]]
    figures = _versus_dbos(names[0], samples, "ours", "dbos", peer is not None)
    figures.append(
        Figure(
            names[1],
            rate_text(samples["ours"]),
            f"1-row commits {rate_text(samples['commit'])} / {PROTOCOL_COMMITS}",
            ratios(rates(samples["ours"]), rates(bound)),
            at_least(0.6),
        )
    )
    figures += _versus_dbos(names[2], samples, "ours saga", "dbos saga", peer is not None)
    return figures


def _overhead(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    """WAL and saga on against both off, handlers of 10 ms: the same journey, the policies
    switched per call; beside it, in the same rounds, the floor of the same rows and commits
    written by the driver alone (benchmarks.wal_floor)."""
    work = journeys.load_definition(
        _setup.chain(5, name="durable_work", kind="saga", action="bench.work", policies=SAGA)
    )
    off = {"wal": {"enabled": False}, "saga": {"enabled": False}}
    path = f"{settings.folder}/work.db"
    with journeys.Engine(f"sqlite:///{path}", registry=_setup.registry()) as engine:
        floor_on, floor_off, close = wal_floor.floor(path, engine, work, lambda: time.sleep(0.010))
        try:
            samples = rounds(
                {
                    "on": lambda: engine.start(work),
                    "off": lambda: engine.start(work, policy=off),
                    "floor on": floor_on,
                    "floor off": floor_off,
                },
                seconds=settings.seconds,
                count=settings.count + 4,  # a 5% mark on 50 ms runs: a few more rounds
                least=3,
            )
        finally:
            close()
    ours = [on - off for on, off in zip(samples["on"], samples["off"], strict=True)]
    floor = [on - off for on, off in zip(samples["floor on"], samples["floor off"], strict=True)]
    notes.append(
        "WAL + saga overhead: of the "
        f"{statistics.median(ours) * 1e3:.2f} ms a run pays, the floor (the same rows and commits"
        f" by sqlite3 alone) pays {statistics.median(floor) * 1e3:.2f} ms: the engine's own"
        f" share is {(statistics.median(ours) - statistics.median(floor)) * 1e3:.2f} ms a run"
    )
    return [
        Figure(
            "WAL + saga on, handlers of 10 ms (SQLite)",
            f"{time_text(samples['on'])}/run",
            f"both off {time_text(samples['off'])}/run",
            ratios(samples["on"], samples["off"]),
            at_most(1.05),
            percent=True,
        ),
        Figure(
            "  its floor: the same rows and commits, sqlite3 alone",
            f"{time_text(samples['floor on'])}/run",
            f"1 commit {time_text(samples['floor off'])}/run",
            ratios(samples["floor on"], samples["floor off"]),
            Mark("what any WAL pays here", None),
            percent=True,
        ),
    ]


def _compensation(settings: _setup.Settings) -> Figure:
    """Forward: from the start to the failing call (4 handlers of 10 ms, and the failing one);
    compensation: from the failure to the end (4 undo handlers of 10 ms)."""
    registry = _setup.registry()
    failed_at: list[float] = []

    def fail(ctx: object) -> None:
        failed_at.append(time.perf_counter())
        raise _setup.Planned("step 5 fails on purpose")

    registry.register("bench.fail", fail, replace=True)
    saga = journeys.load_definition(
        _setup.chain(
            5,
            name="durable_undo",
            kind="saga",
            action="bench.work",
            compensation="bench.work",
            fail_at=5,
            policies=SAGA,
        )
    )
    forward, undo = [], []
    with journeys.Engine(f"sqlite:///{settings.folder}/undo.db", registry=registry) as engine:
        engine.start(saga)  # warm up
        for _ in range(3 * settings.count):
            began = time.perf_counter()
            run = engine.start(saga)
            ended = time.perf_counter()
            assert run.status == "compensated", run.status
            forward.append(failed_at[-1] - began)
            undo.append(ended - failed_at[-1])
    return Figure(
        "compensation of 4 steps (10 ms each), SQLite",
        time_text(undo),
        f"forward {time_text(forward)}",
        ratios(undo, forward),
        at_most(2),
    )


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    return [
        *_sqlite(settings, notes),
        *_postgres(settings, notes),
        *_overhead(settings, notes),
        _compensation(settings),
    ]


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()
