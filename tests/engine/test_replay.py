"""Rebuilding a run from its write-ahead log alone (journeys.engine.replay.rebuild).

The stateful tests check it after every step of random runs; these are the cases they do not
reach: a retry parked until later, a queued run, results the log does not hold.
"""

from __future__ import annotations

from typing import Any

import journeys
from journeys.engine import replay

from .conftest import MakeEngine

FLAKY = """
journey: flaky
policies: {wal: {enabled: true, operations: [first, second]}}
milestones:
  - {id: first, action: t.step}
  - id: second
    action: t.step
    with: {fail: 1}
    retry: {retries: 1, delay: 60s}
  - {id: third, action: t.step}
"""


def rebuilt(engine: journeys.Engine, run_id: str) -> replay.Rebuilt:
    return replay.rebuild(engine.definition(run_id), engine.history(run_id))


def test_a_parked_retry_is_rebuilt_waiting_not_interrupted(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine(inline_delay=0.05)
    run = engine.start(journeys.load_definition(FLAKY))
    assert (run.status, run.state, run.due_at is not None) == ("waiting", "second", True)
    found = rebuilt(engine, run.id)
    assert (found.status, found.state) == ("waiting", "second")
    assert found.results == run.results == {"first": {"done": "first"}}
    assert found.unrecorded == frozenset()


def test_a_queued_run_is_rebuilt_pending(make_engine: MakeEngine, recorder: Any) -> None:
    engine = make_engine()
    run = engine.start(journeys.load_definition(FLAKY), wait=False)
    found = rebuilt(engine, run.id)
    assert (found.status, found.state, found.results) == ("pending", "first", {})


def test_results_the_log_does_not_hold_are_named_not_guessed(
    make_engine: MakeEngine, recorder: Any
) -> None:
    engine = make_engine()
    text = FLAKY.replace("with: {fail: 1}", "with: {fail: 0}")
    run = engine.start(journeys.load_definition(text))
    assert run.status == "completed"
    found = rebuilt(engine, run.id)
    assert (found.status, found.state) == ("completed", "completed")
    assert found.completed == ["first", "second", "third"]
    assert found.results == {"first": {"done": "first"}, "second": {"done": "second"}}
    assert found.unrecorded == frozenset({"third"})
