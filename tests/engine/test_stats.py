"""``engine.stats()``: exact figures of runs the real engine made, on SQLite and PostgreSQL.

The store holds runs that completed (one after a retry), failed, compensated, failed
compensating, wait for an ``advance``, are parked on a retry due in an hour, are queued for a
worker, and one whose process died while it ran. No assertion is about elapsed time: the queue
is looked at with ``now`` set from the due times and leases the store holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy

import journeys
from journeys.engine import schema
from journeys.engine import stats as stats_module
from journeys.planning import history

from .conftest import Recorder

SHOP = """
journey: shop
inputs: {type: object, properties: {fail: {type: integer, default: 0}}}
policies: {wal: {enabled: true}}
milestones:
  - {id: pick, action: t.step}
  - id: pay
    action: t.step
    with: {fail: "{{ inputs.fail }}"}
    retry: {retries: 2, delay: 0s}
"""

SAGA = """
journey: trip
kind: saga
inputs: {type: object, properties: {undo_fail: {type: integer, default: 0}}}
policies: {wal: {enabled: true}, saga: {enabled: true}}
milestones:
  - {id: book, action: t.step, compensation: t.undo, with: {undo_fail: "{{ inputs.undo_fail }}"}}
  - {id: charge, action: t.step, with: {fail: 1}}
"""

PARKED = """
journey: parked
policies: {wal: {enabled: true}}
milestones:
  - {id: call, action: t.step, with: {fail: 1}, retry: {retries: 2, delay: 1h}}
"""

WAITS = """
journey: approval
milestones:
  - {id: draft, action: t.step}
  - {id: approve}
"""

CRASHES = """
journey: crashes
policies: {wal: {enabled: true}}
milestones:
  - {id: work, action: t.crash}
"""


class Crash(BaseException):
    """The process dying in a handler: nothing of the engine catches it."""


def _crash(ctx: journeys.Context) -> None:
    raise Crash(ctx.milestone)


@dataclass
class Seeded:
    engine: journeys.Engine
    before_others: float  # after the shop's runs, before every other run
    queued: journeys.Run
    parked: journeys.Run
    crashed: journeys.Run


@pytest.fixture
def seeded(sql_url: str, registry: journeys.Registry, recorder: Recorder) -> Iterator[Seeded]:
    registry.register("t.crash", _crash)
    engine = journeys.Engine(sql_url, registry=registry, inline_delay=0.01)

    def start(text: str, **options: Any) -> journeys.Run:
        return engine.start(journeys.load_definition(text), **options)

    queued = start(SHOP, inputs={"fail": 0}, wait=False)  # for a worker: pending
    for fail, status in ((0, "completed"), (1, "completed"), (5, "failed")):
        assert start(SHOP, inputs={"fail": fail}).status == status
    assert start(SHOP, tenant="acme").status == "completed"
    before_others = time.time()
    assert start(SAGA).status == "compensated"
    assert start(SAGA, inputs={"undo_fail": 1}).status == "compensation_failed"
    parked = start(PARKED)
    assert (parked.status, parked.due_at is not None) == ("waiting", True)
    waiting = start(WAITS)
    assert (waiting.status, waiting.due_at) == ("waiting", None)
    with pytest.raises(Crash):
        start(CRASHES, run_id="crashed")
    crashed = engine.get("crashed")
    assert crashed.status == "running"
    yield Seeded(engine, before_others, queued, parked, crashed)
    engine.close()


def _column(engine: journeys.Engine, run_id: str, name: str) -> Any:
    """A run's column as the store holds it (the floats the queries compare)."""
    runs = schema.runs
    with engine.store.transaction() as connection:  # type: ignore[attr-defined]
        return connection.execute(
            sqlalchemy.select(runs.c[name]).where(runs.c.id == run_id)
        ).scalar_one()


def test_runs_by_status_and_the_failure_rate(seeded: Seeded) -> None:
    figures = seeded.engine.stats()
    assert {s: n for s, n in figures.runs.items() if n} == {
        "pending": 1,
        "completed": 3,
        "failed": 1,
        "compensated": 1,
        "compensation_failed": 1,
        "waiting": 2,
        "running": 1,
    }
    assert set(figures.runs) >= {"rolled_back", "cancelled", "compensating"}  # every status
    assert (figures.total, figures.finished) == (10, 6)
    assert figures.failure_rate == 3 / 6  # failed, compensated, compensation_failed


def test_each_milestone_s_attempts(seeded: Seeded) -> None:
    figures = {(m.journey, m.milestone): m for m in seeded.engine.stats().milestones}
    # by journey, then in the order runs reach them; the approval journey runs with the WAL
    # off (no attempt of it is logged), and the crashed run's attempt has no outcome yet
    assert list(figures) == [
        ("parked", "call"),
        ("shop", "pick"),
        ("shop", "pay"),
        ("trip", "book"),
        ("trip", "charge"),
    ]
    counts = {
        key: (m.succeeded, m.retries, m.failures, m.compensated, m.compensation_failures)
        for key, m in figures.items()
    }
    assert counts == {
        ("parked", "call"): (0, 1, 0, 0, 0),
        ("shop", "pick"): (4, 0, 0, 0, 0),
        ("shop", "pay"): (3, 1 + 2, 1, 0, 0),  # fail=1 retried once; fail=5 twice, then failed
        ("trip", "book"): (2, 0, 0, 1, 1),
        ("trip", "charge"): (0, 0, 2, 0, 0),
    }
    for key in (("shop", "pick"), ("shop", "pay"), ("trip", "book")):
        m = figures[key]
        assert m.median is not None and m.p95 is not None and 0 <= m.median <= m.p95
    assert figures[("trip", "charge")].median is None
    figures_all = seeded.engine.stats()
    assert (figures_all.compensations_run, figures_all.compensations_failed) == (2, 1)


def test_durations_are_those_the_planner_learns(seeded: Seeded) -> None:
    """The SQL percentiles equal those computed in Python from the same log entries."""
    store = seeded.engine.store
    in_python = history._estimates(history._store_rows(store, "shop", history.RECENT))
    in_sql = history.learn(store, "shop")
    assert in_sql == in_python and set(in_sql) == {"pick", "pay"}
    assert in_sql["pick"].samples == 4 and in_sql["pay"].runs == 3
    shop = {m.milestone: m for m in seeded.engine.stats("shop").milestones}
    assert (shop["pay"].median, shop["pay"].p95) == (in_sql["pay"].median, in_sql["pay"].p95)


def test_the_queue_of_due_runs(seeded: Seeded) -> None:
    engine = seeded.engine
    queued_due = _column(engine, seeded.queued.id, "due_at") or _column(
        engine, seeded.queued.id, "updated_at"
    )
    parked_due = _column(engine, seeded.parked.id, "due_at")
    lease = _column(engine, "crashed", "lease_expires_at")
    assert lease is not None, "the engine leases the run it drives"
    assert queued_due < lease < parked_due  # the lease lasts seconds, the retry's delay 1h

    # now: only the queued run is due (the crashed run's lease holds, the retry is in 1h)
    now = lease - 0.5
    figures = stats_module.stats(engine.store, now=now)
    assert figures.queue_depth == 1
    assert figures.oldest_due_seconds == pytest.approx(now - queued_due)
    # once the lease ran out, its run is due too; an hour on, the parked retry as well
    assert stats_module.stats(engine.store, now=lease + 0.5).queue_depth == 2
    later = parked_due + 10
    figures = stats_module.stats(engine.store, now=later)
    assert figures.queue_depth == 3
    assert figures.oldest_due_seconds == pytest.approx(later - queued_due)
    # a journey's own queue: the parked run alone
    parked = stats_module.stats(engine.store, journey="parked", now=later)
    assert (parked.queue_depth, parked.oldest_due_seconds) == (1, pytest.approx(10))
    # the run waiting for an advance is never due
    approval = stats_module.stats(engine.store, journey="approval", now=later + 86400)
    assert (approval.runs["waiting"], approval.queue_depth) == (1, 0)


def test_journey_tenant_and_since_choose_the_runs(seeded: Seeded) -> None:
    engine = seeded.engine
    trip = engine.stats("trip")
    assert (trip.total, trip.failure_rate, trip.queue_depth) == (2, 1.0, 0)
    assert {m.journey for m in trip.milestones} == {"trip"}
    acme = engine.stats(tenant="acme")
    assert (acme.total, acme.runs["completed"], acme.tenant) == (1, 1, "acme")
    assert [(m.milestone, m.succeeded) for m in acme.milestones] == [("pick", 1), ("pay", 1)]
    assert engine.stats(tenant="nobody").total == 0

    since = engine.stats(since=seeded.before_others)  # seconds since the epoch
    assert since.total == 5 and since.runs["completed"] == 0
    assert since.since == datetime.fromtimestamp(seeded.before_others, UTC)
    assert engine.stats(since="1h").total == 10  # a duration: that long ago
    assert engine.stats(since=timedelta(hours=1)).total == 10
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    empty = engine.stats(since=tomorrow.isoformat())
    assert (empty.total, empty.failure_rate, empty.milestones, empty.oldest_due_seconds) == (
        0,
        None,
        (),
        None,
    )


def test_to_dict_is_plain_json(seeded: Seeded) -> None:
    document = seeded.engine.stats("shop").to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["runs"]["total"] == 5 and document["runs"]["by_status"]["failed"] == 1
    assert document["queue"]["depth"] == 1 and document["journey"] == "shop"
    assert document["failure_rate"] == 1 / 4
    assert [m["milestone"] for m in document["milestones"]] == ["pick", "pay"]
    assert set(document["milestones"][0]) >= {"succeeded", "median_seconds", "p95_seconds"}


def test_the_log_is_read_through_its_run_index(tmp_path: Any) -> None:
    """SQLite's plans of the statements stats sends: the log is searched by run, never
    scanned (it may hold millions of entries, services' own among them)."""
    engine = journeys.Engine(f"sqlite:///{tmp_path}/plan.db")
    engine.wal.write_to_log("svc", {"n": 1}, "t")
    sent: list[tuple[str, Any]] = []
    sql_engine = engine.store._engine  # type: ignore[attr-defined]

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "journeys_runs" in statement:
            sent.append((statement, parameters))

    for options in ({}, {"journey": "shop"}, {"since": "1h"}, {"tenant": "acme"}):
        sqlalchemy.event.listen(sql_engine, "before_cursor_execute", capture)
        try:
            engine.stats(**options)
        finally:
            sqlalchemy.event.remove(sql_engine, "before_cursor_execute", capture)
    assert len(sent) == 4 * 4
    with sql_engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        for statement, parameters in sent:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = "\n".join(row[3] for row in cursor.fetchall())
            assert "SCAN journeys_wal" not in plan and "SCAN intent" not in plan, plan
            if "journeys_wal" in statement:
                assert "SEARCH journeys_wal USING INDEX" in plan, plan
        cursor.close()
    engine.close()


def test_a_memory_store_has_no_stats() -> None:
    with journeys.Engine("memory:") as engine:
        with pytest.raises(journeys.JourneyError, match="SQL store"):
            engine.stats()


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("90m", 10_000.0 - 5400),
        ("1h30m", 10_000.0 - 5400),
        (timedelta(seconds=30), 9_970.0),
        (1234.5, 1234.5),
        ("1970-01-01T01:00:00", 3600.0),  # naive: UTC
        ("1970-01-01T02:00:00+01:00", 3600.0),
        (datetime(1970, 1, 1, 1, tzinfo=UTC), 3600.0),
        (None, None),
    ],
)
def test_since_is_a_time_or_a_duration_ago(since: Any, expected: float | None) -> None:
    assert stats_module.since_time(since, 10_000.0) == expected


@pytest.mark.parametrize("since", ["yesterday", "3600", "1 hour", "", "-1h", True])
def test_a_bad_since_says_what_to_write(since: Any) -> None:
    with pytest.raises(journeys.JourneyError, match=r"ISO 8601 time .* or a duration"):
        stats_module.since_time(since, 10_000.0)
