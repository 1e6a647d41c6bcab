"""Events out: subscribers in this process, and the outbox drained by a relay."""

from __future__ import annotations

from typing import Any

import pytest

import journeys
from journeys.engine.events import Event

SAGA = """
journey: shipment
kind: saga
milestones:
  - {id: pick, action: t.step, compensation: t.undo}
  - {id: pack, action: t.step, compensation: t.undo}
  - {id: ship, action: t.step, with: {fail: 9, error: Fatal}}
policies: {saga: {enabled: true}, wal: {enabled: WAL}}
"""


def saga(wal: bool) -> journeys.Definition:
    return journeys.load_definition(SAGA.replace("WAL", "true" if wal else "false"))


@pytest.mark.parametrize("wal", [True, False])
def test_subscribers_hear_what_happens_once_it_is_saved(
    engine: journeys.Engine, recorder: Any, wal: bool
) -> None:
    heard: list[tuple[str, str | None, str]] = []
    everything: list[str] = []
    engine.on("compensation_started", lambda e: heard.append((e.name, e.milestone, e.state)))
    engine.on("run_compensated", lambda e: heard.append((e.name, e.milestone, e.state)))
    engine.on("*", lambda e: everything.append(e.name))
    run = engine.start(saga(wal))
    assert run.status == "compensated"
    assert heard == [
        ("compensation_started", "ship", "undo:pack"),
        ("run_compensated", "pick", "compensated"),
    ]
    assert everything == [
        "milestone_completed",
        "milestone_completed",
        "compensation_started",
        "milestone_compensated",
        "milestone_compensated",
        "run_compensated",
    ]


def test_a_failing_subscriber_does_not_disturb_the_run(
    engine: journeys.Engine, recorder: Any
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("pager down")

    engine.on("*", broken)
    assert engine.start(saga(True)).status == "compensated"


def test_an_unknown_event_is_named(engine: journeys.Engine) -> None:
    with pytest.raises(journeys.JourneyError, match="did you mean 'run_completed'"):
        engine.on("run_complete", print)


def test_the_outbox_is_drained_in_order_at_least_once(
    registry: journeys.Registry, recorder: Any, sql_url: str
) -> None:
    engine = journeys.Engine(sql_url, registry=registry)
    run = engine.start(saga(True))
    relayed: list[Event] = []

    def flaky(event: Event) -> None:
        if event.name == "compensation_started" and not any(
            e.name == "compensation_started" for e in relayed
        ):
            relayed.append(event)
            raise ConnectionError("broker away")
        relayed.append(event)

    with pytest.raises(ConnectionError):
        engine.drain_events(flaky)
    assert engine.drain_events(flaky) == 4  # from the one that failed, again
    names = [e.name for e in relayed]
    assert names == [
        "milestone_completed",
        "milestone_completed",
        "compensation_started",
        "compensation_started",  # delivered at least once
        "milestone_compensated",
        "milestone_compensated",
        "run_compensated",
    ]
    assert {e.run_id for e in relayed} == {run.id}
    assert all(e.journey == "shipment" for e in relayed)
    sequences = [e.sequence for e in relayed if e.sequence is not None]
    assert sequences == sorted(sequences)
    assert engine.drain_events(flaky) == 0
    engine.close()


def test_with_the_wal_off_nothing_goes_to_the_outbox(
    registry: journeys.Registry, recorder: Any, sql_url: str
) -> None:
    engine = journeys.Engine(sql_url, registry=registry)
    engine.start(saga(False))
    assert engine.drain_events(lambda e: None) == 0
    engine.close()
