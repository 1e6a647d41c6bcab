"""Estimates learned from a store seeded with real runs (SQLite, PostgreSQL and memory)."""

from __future__ import annotations

import time

import journeys
from journeys.planning import history

DEFINITION = """
journey: timed
milestones:
  - {id: quick, action: t.sleep, with: {ms: 5}, timeout: 5s, estimate: {duration: 1m}}
  - {id: slow, action: t.sleep, with: {ms: 30}, timeout: 5s, estimate: {duration: 1m}}
  - {id: never, action: t.sleep, timeout: 5s, estimate: {duration: 7s}, when: "inputs.go"}
inputs:
  type: object
  properties: {go: {type: boolean, default: false}}
policies:
  wal: {enabled: true}
  planning: {enabled: true, learn_from_results: true}
"""


def _sleep(ctx: journeys.Context) -> None:
    time.sleep(ctx.args["ms"] / 1000)


def _seeded(url: str, runs: int) -> journeys.Engine:
    registry = journeys.Registry()
    registry.register("t.sleep", _sleep)
    engine = journeys.Engine(url, registry=registry)
    definition = journeys.load_definition(DEFINITION)
    for _ in range(runs):
        assert engine.start(definition).status == "completed"
    # another journey's runs do not count
    other = journeys.load_definition(DEFINITION.replace("journey: timed", "journey: other"))
    engine.start(other)
    return engine


def _check(engine: journeys.Engine, runs: int) -> None:
    plan = engine.plan(journeys.load_definition(DEFINITION), {})
    quick, slow, never = plan.steps
    for step in (quick, slow):
        assert step.estimate.source == "history"
        assert step.estimate.runs == runs
        assert step.estimate.duration is not None and step.estimate.p95 is not None
        assert 0 < step.estimate.duration <= step.estimate.p95 < 60  # not the declared 1m
    # a milestone no run performed keeps its declared estimate
    assert (never.estimate.source, never.estimate.duration, never.estimate.runs) == (
        "declared",
        7.0,
        0,
    )
    # off: the declared ones
    off = engine.plan(
        journeys.load_definition(DEFINITION), {}, policy={"planning": {"learn_from_results": False}}
    )
    assert {s.estimate.source for s in off.steps} == {"declared"}


def test_estimates_come_from_the_runs_of_a_sql_store(sql_url: str) -> None:
    with _seeded(sql_url, 3) as engine:
        _check(engine, 3)
        assert history.learn(engine.store, "timed", recent=2)["slow"].runs == 2


def test_estimates_come_from_a_memory_store_too() -> None:
    with _seeded("memory:", 2) as engine:
        _check(engine, 2)


def test_median_and_95th_percentile() -> None:
    rows = []
    for n, seconds in enumerate([1.0, 2.0, 3.0, 4.0, 100.0]):
        run = f"r{n}"
        rows += [(run, "m", 1, "pending", 0.0), (run, "m", 1, "completed", seconds)]
    rows += [("r9", "m", 1, "pending", 0.0), ("r9", "m", 1, "retrying", 50.0)]  # not a success
    learned = history._estimates(rows)["m"]
    assert (learned.median, learned.p95, learned.runs, learned.samples) == (3.0, 100.0, 5, 5)


def test_no_store_no_history() -> None:
    plan = journeys.plan(journeys.load_definition(DEFINITION), {})
    assert {s.estimate.source for s in plan.steps} == {"declared"}
