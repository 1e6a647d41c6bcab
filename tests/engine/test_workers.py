"""Workers through the engine's API on every store: queued runs, due runs (parked retries, long
sleeps, wait deadlines), priorities, leases, and waiting for a queued run's outcome."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

import journeys

from .conftest import MakeEngine

FIVE = """
journey: queued
milestones:
  - {id: m1, action: t.step}
  - {id: m2, action: t.step}
  - {id: m3, action: t.step}
policies: {wal: {enabled: true}}
"""


def quiet_worker(engine: journeys.Engine, **options: Any) -> journeys.Worker:
    events: list[Mapping[str, Any]] = []
    worker = journeys.Worker(engine, log=events.append, **options)
    worker.events = events  # type: ignore[attr-defined]
    return worker


def test_a_queued_run_waits_for_a_worker_then_runs(make_engine: MakeEngine, recorder: Any) -> None:
    engine = make_engine()
    run = engine.start(journeys.load_definition(FIVE), wait=False)
    assert (run.status, run.state) == ("pending", "m1")
    assert recorder.calls == []  # nothing ran in the caller
    worker = quiet_worker(engine)
    assert worker.run_one() is True
    assert engine.get(run.id).status == "completed"
    assert recorder.of("do") == ["m1", "m2", "m3"]
    assert worker.run_one() is False  # nothing left
    assert [e["event"] for e in worker.events] == ["claimed", "moved"]  # type: ignore[attr-defined]


def test_wait_returns_the_outcome_or_times_out(make_engine: MakeEngine, recorder: Any) -> None:
    engine = make_engine()
    run = engine.start(journeys.load_definition(FIVE), wait=False)
    with pytest.raises(journeys.WaitTimeout, match="still pending"):
        engine.wait(run.id, timeout=0.05)
    stop = threading.Event()
    worker = quiet_worker(engine, poll=0.01)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        assert engine.wait(run.id, timeout=30).status == "completed"
    finally:
        stop.set()
        thread.join()


def test_workers_take_high_then_normal_then_low(make_engine: MakeEngine, recorder: Any) -> None:
    engine = make_engine()
    definition = journeys.load_definition(FIVE)
    low = engine.start(definition, wait=False, priority="low")
    normal = engine.start(definition, wait=False)
    high = engine.start(definition, wait=False, priority="high")
    later_high = engine.start(definition, wait=False, priority="high")
    worker = quiet_worker(engine)
    assert worker.run(until_idle=True) == 4
    claimed = [e["run_id"] for e in worker.events if e["event"] == "claimed"]  # type: ignore[attr-defined]
    assert claimed == [high.id, later_high.id, normal.id, low.id]


def test_a_journey_declares_its_priority_and_a_bad_one_is_refused(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine()
    urgent = journeys.load_definition(
        FIVE.replace("journey: queued", "journey: urgent\npriority: high")
    )
    plain = engine.start(journeys.load_definition(FIVE), wait=False)
    first = engine.start(urgent, wait=False)
    worker = quiet_worker(engine)
    worker.run(until_idle=True)
    claimed = [e["run_id"] for e in worker.events if e["event"] == "claimed"]  # type: ignore[attr-defined]
    assert claimed == [first.id, plain.id]
    with pytest.raises(journeys.JourneyError, match="priority 'urgent'"):
        engine.start(urgent, wait=False, priority="urgent")  # type: ignore[arg-type]
    with pytest.raises(journeys.DefinitionError):
        journeys.load_definition(FIVE + "priority: soon\n")


SLEEPY = """
journey: sleepy
milestones:
  - {id: before, action: t.step}
  - {id: nap, action: builtin.sleep, with: {seconds: 0.3}}
  - {id: after, action: t.step}
policies: {wal: {enabled: true}}
"""


def test_a_long_sleep_parks_the_run_and_a_worker_wakes_it_when_due(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine(inline_delay=0.1)  # a sleep longer than this parks
    run = engine.start(journeys.load_definition(SLEEPY))
    # parked, not slept through: a sleeping start would have returned the run completed
    assert (run.status, run.state) == ("waiting", "nap") and run.due_at is not None
    assert recorder.of("do") == ["before"]
    worker = quiet_worker(engine)
    assert worker.run_one() is False  # not due yet
    for _ in range(300):
        if worker.run_one():
            break
        time.sleep(0.01)
    done = engine.get(run.id)
    assert (done.status, done.results["nap"]) == ("completed", 0.3)
    assert recorder.of("do") == ["before", "after"]
    nap = [(e.kind, e.status) for e in engine.history(run.id) if e.milestone == "nap"]
    assert ("operation", "pending") in nap and ("operation", "completed") in nap


RETRYING = """
journey: retrying
milestones:
  - {id: flaky, action: t.step, with: {fail: 1}, retry: {retries: 2, delay: 200ms}}
policies: {wal: {enabled: true}}
"""


def test_a_parked_retry_and_a_wait_deadline_come_due_for_a_worker(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine(inline_delay=0.0)
    parked = engine.start(journeys.load_definition(RETRYING))
    deadline = engine.start(
        journeys.load_definition("journey: approval\nmilestones:\n  - {id: sign, timeout: 200ms}\n")
    )
    assert parked.status == deadline.status == "waiting"
    worker = quiet_worker(engine)
    moved: list[str] = []
    for _ in range(300):
        if worker.run_one():
            moved.append("x")
        if len(moved) == 2:
            break
        time.sleep(0.01)
    assert engine.get(parked.id).status == "completed"
    timed_out = engine.get(deadline.id)
    assert timed_out.status == "failed" and "within its timeout" in (timed_out.error or "")


def test_a_held_run_is_not_taken_until_its_lease_expires(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine()
    other = make_engine(store=engine.store, lease=0.2)  # a second worker on the same store
    run = engine.start(journeys.load_definition(FIVE), wait=False)
    now = time.time()
    # the other worker claims it and (as if it died) never drives it
    assert other.store.claim(other.owner, now, now + 0.2, what={"new"}, limit=1) == [run.id]
    assert quiet_worker(engine).run_one() is False  # held: not taken
    time.sleep(0.25)
    worker = quiet_worker(engine)
    assert worker.run_one() is True  # expired: taken and finished
    assert engine.get(run.id).status == "completed"
    assert recorder.of("do") == ["m1", "m2", "m3"]


def test_recover_takes_runs_of_dead_processes_not_of_live_ones(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine()
    definition = journeys.load_definition(FIVE)
    live, dead, elsewhere = (engine.start(definition, wait=False) for _ in range(3))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    holders = {
        live.id: engine.owner,  # this very process: alive
        dead.id: f"{socket.gethostname()}:{gone.stdout.strip()}:0123456789ab",  # exited
        elsewhere.id: "another-host:1234:0123456789ab",  # unknown: only its lease tells
    }
    now = time.time()
    for run_id, holder in holders.items():
        assert engine.store.claim(holder, now, now + 60, what={"new"}, limit=1) == [run_id]
        record = engine.store.load(run_id)
        assert record is not None
        record.status = "running"  # as it stands while its holder moves it
        engine.store.save(record, [])
    (recovered,) = engine.recover()
    assert (recovered.id, recovered.status) == (dead.id, "completed")
    assert engine.get(live.id).status == engine.get(elsewhere.id).status == "running"


@pytest.mark.parametrize("wal", [False, True])
def test_a_due_run_being_moved_is_nobody_else_s_whatever_its_wal_policy(
    make_engine: MakeEngine, registry: journeys.Registry, wal: bool
) -> None:
    # With the WAL off nothing is written between a claim and the run's stop: the claim
    # itself must leave the run moving and leased, or every worker takes it again and again.
    engine = make_engine(inline_delay=0.05)
    other = quiet_worker(make_engine(store=engine.store))
    seen: list[bool] = []

    def after(ctx: journeys.Context) -> None:
        seen.append(other.run_one())  # another worker, while this one moves the run

    registry.register("t.after", after)
    definition = journeys.load_definition(
        "journey: napping\nmilestones:\n"
        "  - {id: nap, action: builtin.sleep, with: {seconds: 0.1}}\n"
        "  - {id: after, action: t.after}\n"
        f"policies: {{wal: {{enabled: {str(wal).lower()}}}}}\n"
    )
    run = engine.start(definition)
    assert run.status == "waiting" and run.due_at is not None  # parked, nobody sleeping
    time.sleep(0.15)
    worker = quiet_worker(engine)
    assert worker.run_one() is True
    assert seen == [False]  # the other worker found nothing to take
    assert engine.get(run.id).status == "completed"
    assert [e["event"] for e in worker.events] == ["claimed", "moved"]  # type: ignore[attr-defined]


def test_a_queued_run_needs_no_handlers_where_it_is_queued(
    make_engine: MakeEngine, registry: journeys.Registry
) -> None:
    submitter = make_engine(registry=journeys.Registry())  # a service without the handlers
    run = submitter.start(journeys.load_definition(FIVE), wait=False)
    assert run.status == "pending"
    with pytest.raises(journeys.HandlerError):  # to run it here, they are needed
        submitter.start(journeys.load_definition(FIVE))
    registry.register("t.step", lambda ctx: None)
    worker = quiet_worker(make_engine(store=submitter.store))  # the worker has them
    assert worker.run_one() is True
    assert submitter.get(run.id).status == "completed"


@pytest.mark.parametrize("wal", ["true", "false"])
def test_a_run_astart_is_moving_is_no_worker_s(
    make_engine: MakeEngine, registry: journeys.Registry, wal: str
) -> None:
    engine = make_engine()
    other = quiet_worker(make_engine(store=engine.store))
    seen: list[bool] = []

    async def step(ctx: journeys.Context) -> None:
        seen.append(other.run_one())  # another worker, while astart moves the run

    registry.register("t.step", step)
    definition = journeys.load_definition(FIVE.replace("enabled: true", f"enabled: {wal}"))
    run = asyncio.run(engine.astart(definition))
    assert run.status == "completed"
    assert seen == [False, False, False]


def test_a_worker_whose_store_fails_says_so_and_tries_again(tmp_path: Any) -> None:
    with journeys.Engine(f"sqlite:///{tmp_path}/no/such/folder/x.db") as engine:
        worker = quiet_worker(engine, poll=0.01)
        assert worker.run(until_idle=True) == 0
    assert worker.failures == 1
    (error,) = [e for e in worker.events if e["event"] == "error"]  # type: ignore[attr-defined]
    assert "unable to open database file" in error["error"]
