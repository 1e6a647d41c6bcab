"""Wait milestones: a milestone with no action pauses the run until advance or fail."""

from __future__ import annotations

from typing import Any

import pytest

import journeys

ORDER = """
journey: order
kind: saga
policies: {saga: {enabled: true}, wal: {enabled: true}}
milestones:
  - id: reserve
    action: t.step
    compensation: t.undo
  - id: approval
  - id: invoice
    action: t.step
    compensation: t.undo
    with: {total: "{{ results.approval.total }}"}
  - id: delivery
  - id: close
    action: t.step
"""


@pytest.fixture
def order() -> journeys.Definition:
    return journeys.load_definition(ORDER)


def test_a_run_waits_at_a_milestone_without_action_and_advance_completes_it(
    engine: journeys.Engine, recorder: Any, order: journeys.Definition
) -> None:
    run = engine.start(order)
    assert (run.status, run.state) == ("waiting", "approval")
    assert recorder.of("do") == ["reserve"]
    run = engine.advance(run.id, "approval", {"total": 42})
    assert (run.status, run.state) == ("waiting", "delivery")
    assert run.results["approval"] == {"total": 42}
    assert recorder.calls[-1].args == {"total": 42}  # the data is usable by the next milestones
    run = engine.advance(run.id, "delivery")
    assert (run.status, run.state) == ("completed", "completed")
    assert run.results["delivery"] is None
    assert recorder.of("do") == ["reserve", "invoice", "close"]
    assert engine.get(run.id) == run


def unchanged(engine: journeys.Engine, run_id: str) -> tuple[journeys.Run, int]:
    return engine.get(run_id), len(engine.history(run_id))


def test_advancing_out_of_order_is_a_state_error_and_changes_nothing(
    engine: journeys.Engine, recorder: Any, order: journeys.Definition
) -> None:
    run = engine.start(order)
    before = unchanged(engine, run.id)
    with pytest.raises(journeys.StateError, match="not waiting at 'delivery'") as caught:
        engine.advance(run.id, "delivery", {"late": True})
    assert caught.value.run_id == run.id and caught.value.milestone == "delivery"
    with pytest.raises(journeys.StateError, match="not waiting at 'delivery'"):
        engine.fail(run.id, "delivery", "lost")
    assert unchanged(engine, run.id) == before
    assert recorder.of("do") == ["reserve"]


@pytest.mark.parametrize(
    ("milestone", "message"),
    [
        ("reserve", "runs its own handler"),
        ("aproval", "no milestone 'aproval' \\(did you mean 'approval'\\?\\)"),
    ],
)
def test_only_a_wait_milestone_of_the_journey_can_be_advanced(
    engine: journeys.Engine,
    recorder: Any,
    order: journeys.Definition,
    milestone: str,
    message: str,
) -> None:
    run = engine.start(order)
    before = unchanged(engine, run.id)
    with pytest.raises(journeys.StateError, match=message):
        engine.advance(run.id, milestone)
    assert unchanged(engine, run.id) == before


def test_advance_data_must_be_json(
    engine: journeys.Engine, recorder: Any, order: journeys.Definition
) -> None:
    run = engine.start(order)
    before = unchanged(engine, run.id)
    with pytest.raises(journeys.JourneyError, match="not JSON data"):
        engine.advance(run.id, "approval", {"when": object()})
    assert unchanged(engine, run.id) == before


def test_a_finished_run_cannot_be_advanced(
    engine: journeys.Engine, recorder: Any, order: journeys.Definition
) -> None:
    run = engine.start(order)
    engine.advance(run.id, "approval", {"total": 1})
    run = engine.advance(run.id, "delivery")
    with pytest.raises(journeys.StateError, match="completed; a finished run cannot be advanced"):
        engine.advance(run.id, "delivery")
    assert engine.get(run.id) == run


def test_failing_a_wait_milestone_compensates_a_saga(
    engine: journeys.Engine, recorder: Any, order: journeys.Definition
) -> None:
    run = engine.start(order)
    run = engine.advance(run.id, "approval", {"total": 42})
    run = engine.fail(run.id, "delivery", "the parcel was lost")
    assert run.status == "compensated"
    assert recorder.of("undo") == ["invoice", "reserve"]
    assert run.error == "delivery failed: the parcel was lost"
    signals = [e for e in engine.history(run.id) if e.kind == "signal"]
    assert [(e.trigger, e.milestone) for e in signals] == [
        ("advance", "approval"),
        ("fail", "delivery"),
    ]
    assert signals[-1].error == "the parcel was lost"


def test_failing_a_wait_milestone_of_a_structured_journey_ends_it_failed(
    engine: journeys.Engine, recorder: Any
) -> None:
    definition = journeys.load_definition(ORDER.replace("kind: saga", "kind: structured"))
    run = engine.start(definition)
    run = engine.fail(run.id, "approval", "refused")
    assert (run.status, run.state) == ("failed", "failed")
    assert recorder.of("undo") == []
    assert run.error == "approval failed: refused"


def test_a_wait_milestone_skipped_by_its_guard_does_not_wait(
    engine: journeys.Engine, recorder: Any
) -> None:
    definition = journeys.load_definition(
        """
journey: optional_approval
inputs:
  type: object
  properties: {approve: {type: boolean, default: false}}
milestones:
  - id: approval
    when: "inputs.approve"
  - id: work
    action: t.step
"""
    )
    assert engine.start(definition).status == "completed"
    waiting = engine.start(definition, {"approve": True})
    assert (waiting.status, waiting.state) == ("waiting", "approval")
