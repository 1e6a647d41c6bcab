"""Control of runs: cancel, idempotent start, get and history, authorization, missing runs."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

import journeys
from journeys.engine.run import Status

ALL_STATUSES = typing.get_args(Status)

TRIP = """
journey: trip
kind: saga
policies: {saga: {enabled: true}, wal: {enabled: true}}
milestones:
  - id: flight
    action: t.step
    compensation: t.undo
  - id: note
    action: t.step
  - id: hotel
    action: t.step
    compensation: t.undo
  - id: confirm
  - id: pay
    action: t.step
"""


@pytest.fixture
def trip() -> journeys.Definition:
    return journeys.load_definition(TRIP)


def no_runs(engine: journeys.Engine) -> bool:
    return engine.store.find(ALL_STATUSES) == []


def test_cancelling_a_saga_compensates_what_it_completed(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    run = engine.start(trip)
    assert run.state == "confirm"
    run = engine.cancel(run.id)
    assert (run.status, run.state) == ("cancelled", "cancelled")
    assert recorder.of("undo") == ["hotel", "flight"]
    assert run.error == "cancelled"
    assert "pay" not in recorder.of("do")


def test_cancelling_without_the_saga_policy_undoes_nothing(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    run = engine.start(trip, policy={"saga": {"enabled": False}})
    run = engine.cancel(run.id)
    assert (run.status, run.state) == ("cancelled", "cancelled")
    assert recorder.of("undo") == []


def test_a_finished_run_cannot_be_cancelled(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    run = engine.start(trip)
    run = engine.advance(run.id, "confirm")
    assert run.status == "completed"
    with pytest.raises(journeys.StateError, match="finished run cannot be cancelled"):
        engine.cancel(run.id)
    assert engine.get(run.id) == run and recorder.of("undo") == []


def test_starting_with_the_same_run_id_is_idempotent(
    make_engine: Any, recorder: Any, trip: journeys.Definition, store_url: str
) -> None:
    engine = make_engine()
    first = engine.start(trip, run_id="trip-1")
    assert first.id == "trip-1" and first.state == "confirm"
    calls = list(recorder.calls)
    history = engine.history("trip-1")
    again = engine.start(trip, run_id="trip-1")
    assert again == first
    assert recorder.calls == calls and engine.history("trip-1") == history
    if store_url != "memory:":  # another engine (another process) sharing the database
        other = make_engine()
        assert other.start(trip, run_id="trip-1") == first
        assert recorder.calls == calls
    engine.advance("trip-1", "confirm")
    finished = engine.start(trip, run_id="trip-1")
    assert finished.status == "completed"
    assert recorder.of("do") == ["flight", "note", "hotel", "pay"]


def test_a_run_id_used_by_another_journey_is_refused(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    engine.start(trip, run_id="shared")
    other = journeys.load_definition("journey: other\nmilestones:\n  - id: a\n    action: t.step\n")
    with pytest.raises(journeys.StateError, match="already used by a run of journey 'trip'"):
        engine.start(other, run_id="shared")
    assert engine.get("shared").journey == "trip"


def test_get_returns_the_run(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    run = engine.start(trip, {}, tenant="acme", user="ann")
    got = engine.get(run.id)
    assert got == run
    assert (got.journey, got.version, got.status, got.state) == ("trip", 1, "waiting", "confirm")
    assert got.results == {
        "flight": {"done": "flight"},
        "note": {"done": "note"},
        "hotel": {"done": "hotel"},
    }
    assert got.error is None and (got.tenant, got.user) == ("acme", "ann")
    assert isinstance(got.created_at, datetime) and isinstance(got.updated_at, datetime)
    assert got.created_at <= got.updated_at
    assert got.definition_hash == trip.content_hash
    assert got.to_dict()["results"]["flight"] == {"done": "flight"}
    assert engine.definition(run.id) == trip


def test_history_lists_the_entries_in_order(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    run = engine.start(trip)
    run = engine.cancel(run.id)
    history = engine.history(run.id)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[0].kind == "policy" and history[0].payload["saga"] == {"enabled": True}
    moves = [(e.trigger, e.source, e.dest) for e in history if e.kind == "transition"]
    assert moves == [
        ("succeed", "flight", "note"),
        ("succeed", "note", "hotel"),
        ("succeed", "hotel", "confirm"),
        ("cancel", "confirm", "undo:hotel"),
        ("undone", "undo:hotel", "undo:flight"),
        ("undone", "undo:flight", "cancelled"),
    ]
    assert all(isinstance(e.timestamp, datetime) for e in history)
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)
    transition = next(e for e in history if e.kind == "transition")
    assert transition.milestone == "flight"


class Gate:
    """An ``authorize`` hook that records what it is asked and refuses some actions."""

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.asked: list[tuple[dict[str, Any], str, str]] = []

    def __call__(self, user_context: Mapping[str, Any], action: str, resource: str) -> bool:
        self.asked.append((dict(user_context), action, resource))
        return action not in self.refuse


def test_a_refused_start_writes_nothing(
    make_engine: Any, recorder: Any, trip: journeys.Definition
) -> None:
    gate = Gate({"start"})
    engine = make_engine(authorize=gate)
    with pytest.raises(journeys.AuthorizationError, match="nothing was written") as caught:
        engine.start(trip, tenant="acme", user="eve", run_id="r1")
    assert isinstance(caught.value, PermissionError)
    assert gate.asked == [({"tenant": "acme", "user": "eve"}, "start", "trip")]
    assert recorder.calls == [] and no_runs(engine)
    with pytest.raises(journeys.RunNotFound):
        engine.get("r1")
    assert engine.store.definition_text(trip.content_hash) is None


@pytest.mark.parametrize("action", ["advance", "fail", "cancel"])
def test_a_refused_change_writes_nothing(
    make_engine: Any, recorder: Any, trip: journeys.Definition, action: str
) -> None:
    gate = Gate({action})
    engine = make_engine(authorize=gate)
    run = engine.start(trip, tenant="acme", user="eve")
    history = engine.history(run.id)
    calls = list(recorder.calls)
    with pytest.raises(journeys.AuthorizationError):
        if action == "advance":
            engine.advance(run.id, "confirm", tenant="acme", user="eve")
        elif action == "fail":
            engine.fail(run.id, "confirm", "no", tenant="acme", user="eve")
        else:
            engine.cancel(run.id, tenant="acme", user="eve")
    assert gate.asked[-1] == ({"tenant": "acme", "user": "eve"}, action, run.id)
    assert engine.get(run.id) == run
    assert engine.history(run.id) == history and recorder.calls == calls


def test_a_refused_navigation_writes_nothing(make_engine: Any, recorder: Any) -> None:
    gate = Gate({"navigate", "complete"})
    engine = make_engine(authorize=gate)
    session = journeys.load_definition(
        "journey: s\nkind: session\nmilestones:\n  - id: a\n  - id: b\n    action: t.step\n"
    )
    run = engine.start(session)
    for call in (lambda: engine.navigate(run.id, to="b"), lambda: engine.complete(run.id)):
        with pytest.raises(journeys.AuthorizationError):
            call()
    assert engine.get(run.id) == run and recorder.calls == []


def test_a_missing_run_is_run_not_found(engine: journeys.Engine) -> None:
    calls = [
        lambda: engine.get("nope"),
        lambda: engine.history("nope"),
        lambda: engine.advance("nope", "m"),
        lambda: engine.fail("nope", "m", "e"),
        lambda: engine.navigate("nope", to="m"),
        lambda: engine.complete("nope"),
        lambda: engine.cancel("nope"),
    ]
    for call in calls:
        with pytest.raises(journeys.RunNotFound, match="no run 'nope'") as caught:
            call()
        assert isinstance(caught.value, LookupError) and caught.value.run_id == "nope"


def test_an_unknown_handler_is_refused_at_start_naming_the_milestone(
    engine: journeys.Engine, recorder: Any
) -> None:
    definition = journeys.load_definition(
        """
journey: typo
kind: saga
milestones:
  - id: first
    action: t.step
  - id: second
    action: t.stpe
    compensation: t.undo
"""
    )
    with pytest.raises(journeys.HandlerError) as caught:
        engine.start(definition, run_id="typo-1")
    message = str(caught.value)
    assert "milestone 'second' (action)" in message and "did you mean 't.step'" in message
    assert "nothing was done" in message
    assert recorder.calls == [] and no_runs(engine)


def test_an_unknown_policy_override_is_refused_before_anything_is_written(
    engine: journeys.Engine, recorder: Any, trip: journeys.Definition
) -> None:
    with pytest.raises(
        journeys.JourneyError, match=r"/sagaa: unknown field 'sagaa' \(did you mean 'saga'\?\)"
    ):
        engine.start(trip, policy={"sagaa": {"enabled": True}}, run_id="p1")
    assert recorder.calls == [] and no_runs(engine)
