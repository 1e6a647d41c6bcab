"""Workers as users run them: several `journeys worker` processes sharing one PostgreSQL.

- four workers, 2,000 queued runs of a 5-milestone journey whose handlers log every call with
  their process id: every run ends completed, no milestone's outcome is recorded twice, and no
  run was ever moved by two workers at the same time;
- a worker killed with SIGKILL in the middle: once its leases expire the others finish its
  runs, each effect applied once (the handlers are idempotent by key, in a table of their own);
- SIGTERM: a worker finishes what it holds and exits 0.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

import journeys

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POSTGRES_ENV = "JOURNEYS_TEST_POSTGRES_URL"

JOURNEY = """
journey: fleet
milestones:
  - {id: m1, action: fleet.step}
  - {id: m2, action: fleet.step}
  - {id: m3, action: fleet.step}
  - {id: m4, action: fleet.step}
  - {id: m5, action: fleet.step}
policies: {wal: {enabled: true}}
"""

HANDLERS = """
import os, time
import psycopg
import journeys

URL = os.environ["FLEET_PG"]
SCHEMA = os.environ["FLEET_SCHEMA"]
PAUSE = float(os.environ.get("FLEET_PAUSE", "0"))
_connection = None

def _db():
    global _connection
    if _connection is None:
        _connection = psycopg.connect(URL, autocommit=True, options=f"-csearch_path={SCHEMA}")
    return _connection

@journeys.handler("fleet.step")
def step(ctx):
    began = time.time()
    if PAUSE:
        time.sleep(PAUSE)
    db = _db()
    # the effect, idempotent by key; and every call, with who made it and when
    db.execute("INSERT INTO fleet_effects (key) VALUES (%s) ON CONFLICT DO NOTHING",
               (ctx.idempotency_key,))
    db.execute("INSERT INTO fleet_calls (run_id, milestone, pid, began, ended)"
               " VALUES (%s, %s, %s, %s, %s)",
               (ctx.run_id, ctx.milestone, os.getpid(), began, time.time()))
    return {"pid": os.getpid()}
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, str]]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL workers NOT RUN: set {POSTGRES_ENV} to test them")
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"fleet_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(
            sqlalchemy.text(f'CREATE TABLE "{schema}".fleet_effects (key text PRIMARY KEY)')
        )
        connection.execute(
            sqlalchemy.text(
                f'CREATE TABLE "{schema}".fleet_calls (run_id text, milestone text, pid int,'
                " began double precision, ended double precision)"
            )
        )
    url = (
        sqlalchemy.make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    (tmp_path / "fleet_handlers.py").write_text(HANDLERS)
    plain = (
        sqlalchemy.make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        yield {"url": url, "schema": schema, "plain": plain, "folder": str(tmp_path)}
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _queue(url: str, count: int) -> list[str]:
    definition = journeys.load_definition(JOURNEY)
    registry = journeys.Registry()
    registry.register("fleet.step", lambda ctx: None)  # checked at start; run by the workers
    with journeys.Engine(url, registry=registry) as engine:
        return [engine.start(definition, wait=False).id for _ in range(count)]


def _workers(
    fleet: dict[str, str], count: int, *extra: str, pause: float = 0.0
) -> list[subprocess.Popen[str]]:
    command = Path(sys.executable).parent / "journeys"
    env = {
        **os.environ,
        "FLEET_PG": fleet["plain"],
        "FLEET_SCHEMA": fleet["schema"],
        "FLEET_PAUSE": str(pause),
    }
    started = []
    for n in range(count):
        with (Path(fleet["folder"]) / f"worker-{n}.log").open("w") as log:  # the child keeps it
            started.append(
                subprocess.Popen(
                    [str(command), "worker", "--db", fleet["url"], "--handlers",
                     str(Path(fleet["folder"]) / "fleet_handlers.py"), "--poll", "0.05", *extra],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    text=True,
                )
            )  # fmt: skip
    return started


def _statuses(url: str) -> dict[str, int]:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text("SELECT status, count(*) FROM journeys_runs GROUP BY status")
        ).all()
    engine.dispose()
    return {status: count for status, count in rows}


def _until_all(url: str, status: str, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _statuses(url).get(status) == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all {count} runs {status} after {seconds} s: {_statuses(url)}")


def _until_calls_by(url: str, pid: int, count: int) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        for _ in range(600):
            with engine.connect() as connection:
                made = connection.execute(
                    sqlalchemy.text("SELECT count(*) FROM fleet_calls WHERE pid = :pid"),
                    {"pid": pid},
                ).scalar_one()
            if made >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"worker {pid} made no calls")
    finally:
        engine.dispose()


def _stop(workers: list[subprocess.Popen[str]]) -> list[int]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    return [worker.wait(timeout=60) for worker in workers]


def _check(url: str, runs: list[str]) -> dict[str, set[int]]:
    """Every milestone's outcome recorded once; no run moved by two workers at once. Returns
    the workers (pids) that moved each run."""
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        outcomes = connection.execute(
            sqlalchemy.text(
                "SELECT run_id, milestone, count(*) FROM journeys_wal WHERE kind = 'operation'"
                " AND status = 'completed' GROUP BY run_id, milestone"
            )
        ).all()
        calls = connection.execute(
            sqlalchemy.text("SELECT run_id, milestone, pid, began, ended FROM fleet_calls")
        ).all()
        effects = (
            connection.execute(sqlalchemy.text("SELECT key FROM fleet_effects")).scalars().all()
        )
    engine.dispose()
    assert len(outcomes) == 5 * len(runs)
    assert {count for _, _, count in outcomes} == {1}, "an outcome was recorded twice"
    assert sorted(effects) == sorted(f"{r}:m{n}" for r in runs for n in range(1, 6))
    by_run: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for run_id, _, pid, began, ended in calls:
        by_run[run_id].append((began, ended, pid))
    movers = {}
    for run_id, spans in by_run.items():
        spans.sort()
        for (_, first_end, first_pid), (second_begin, _, second_pid) in itertools.pairwise(spans):
            if first_pid != second_pid:
                assert first_end <= second_begin, f"run {run_id} moved by two workers at once"
        movers[run_id] = {pid for _, _, pid in spans}
    return movers


def test_four_workers_share_two_thousand_runs(fleet: dict[str, str]) -> None:
    runs = _queue(fleet["url"], 2000)
    workers = _workers(fleet, 4)
    try:
        _until_all(fleet["url"], "completed", 2000, seconds=300)
    finally:
        codes = _stop(workers)
    assert codes == [0, 0, 0, 0]  # SIGTERM: each finished what it held and exited 0
    movers = _check(fleet["url"], runs)
    assert all(len(pids) == 1 for pids in movers.values())  # nobody died: one worker a run
    assert len({pid for pids in movers.values() for pid in pids}) == 4  # all four took part


def test_a_killed_worker_s_runs_are_finished_by_the_others_once(fleet: dict[str, str]) -> None:
    runs = _queue(fleet["url"], 60)
    # each milestone takes 50 ms: a worker holds a run for a quarter of a second
    workers = _workers(fleet, 3, "--lease", "1", pause=0.05)
    try:
        _until_calls_by(fleet["url"], workers[0].pid, 2)  # it is at work
        workers[0].send_signal(signal.SIGKILL)  # mid-run, mid-handler most likely
        _until_all(fleet["url"], "completed", 60, seconds=120)
    finally:
        codes = _stop(workers)
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0, 0]
    movers = _check(fleet["url"], runs)
    killed = workers[0].pid
    taken_over = [run for run, pids in movers.items() if killed in pids and len(pids) > 1]
    assert taken_over, "the killed worker held no run when it died"
