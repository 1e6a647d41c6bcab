"""What a careless or unlucky caller does to a run: race it, crash under it, forget handlers."""

from __future__ import annotations

import time
from typing import Any

import pytest

import journeys

APPROVAL = """
journey: approval
kind: saga
milestones:
  - {id: prepare, action: t.step, compensation: t.undo}
  - {id: review}
  - {id: publish, action: race.publish, compensation: t.undo}
policies: {saga: {enabled: true}, wal: {enabled: true}}
"""


@pytest.fixture
def approval() -> journeys.Definition:
    return journeys.load_definition(APPROVAL)


def test_a_second_caller_moving_a_run_in_flight_is_refused_and_runs_nothing(
    make_engine: Any, registry: journeys.Registry, recorder: Any, approval: journeys.Definition
) -> None:
    first = make_engine()
    second = make_engine(store=first.store)  # another process on the same store
    refusals: list[str] = []
    publishes: list[str] = []

    def publish(ctx: journeys.Context) -> None:
        publishes.append(ctx.run_id)
        for call in (
            lambda: second.advance(ctx.run_id, "review", {"by": "bob"}),
            lambda: second.cancel(ctx.run_id),
        ):
            with pytest.raises(journeys.StateError) as refused:
                call()
            refusals.append(str(refused.value))

    registry.register("race.publish", publish)
    run = first.start(approval)
    assert second.get(run.id).status == "waiting"
    run = first.advance(run.id, "review", {"by": "ann"})
    assert run.status == "completed"
    assert publishes == [run.id]  # once, although three callers tried
    assert len(refusals) == 2
    assert first.get(run.id).results["review"] == {"by": "ann"}


def test_a_run_shows_running_while_a_handler_after_an_advance_runs(
    make_engine: Any, registry: journeys.Registry, recorder: Any, approval: journeys.Definition
) -> None:
    engine = make_engine()
    seen: list[str] = []
    registry.register("race.publish", lambda ctx: seen.append(engine.get(ctx.run_id).status))
    run = engine.start(approval)
    engine.advance(run.id, "review")
    assert seen == ["running"]


def test_calls_on_a_run_refuse_when_its_handlers_are_not_loaded(
    make_engine: Any, registry: journeys.Registry, recorder: Any, approval: journeys.Definition
) -> None:
    """As start does: `journeys cancel` without --handlers must not end the run
    compensation_failed for want of code that was simply not loaded."""
    registry.register("race.publish", lambda ctx: None)
    first = make_engine()
    run = first.start(approval)
    forgetful = make_engine(store=first.store, registry=journeys.Registry())
    for call in (
        lambda: forgetful.advance(run.id, "review"),
        lambda: forgetful.cancel(run.id),
    ):
        with pytest.raises(journeys.HandlerError, match="nothing was done"):
            call()
    still = forgetful.get(run.id)
    assert (still.status, still.state) == ("waiting", "review")
    assert recorder.of("undo") == []


def test_a_run_whose_process_died_mid_call_can_still_be_moved(
    make_engine: Any, registry: journeys.Registry, recorder: Any, approval: journeys.Definition
) -> None:
    """The intent of a call is written before the call and the run's row after it: a process
    that dies in between leaves the log ahead of the row, which must not break later moves."""

    def dies(ctx: journeys.Context) -> None:
        raise KeyboardInterrupt  # what a kill looks like to the code after the call: nothing

    registry.register("race.publish", dies)
    engine = make_engine()
    run = engine.start(approval)
    with pytest.raises(KeyboardInterrupt):
        engine.advance(run.id, "review")
    other = make_engine(store=engine.store)
    left = other.get(run.id)
    assert (left.status, left.state) == ("running", "publish")
    with pytest.raises(journeys.StateError, match="is running"):  # a clear refusal, no crash
        other.cancel(run.id)
    with pytest.raises(journeys.StateError, match="not waiting at 'review'"):
        other.advance(run.id, "review")
    history = other.history(run.id)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[-1].kind == "operation" and history[-1].status == "pending"
    assert other.store.load(run.id).seq == history[-1].seq  # the next entry will not collide


def test_a_wait_milestone_with_a_timeout_fails_when_nobody_advances_it(
    make_engine: Any, recorder: Any
) -> None:
    engine = make_engine()
    definition = journeys.load_definition(
        """
journey: deadline
kind: saga
milestones:
  - {id: reserve, action: t.step, compensation: t.undo}
  - {id: confirm, timeout: 50ms}
policies: {saga: {enabled: true}}
"""
    )
    run = engine.start(definition)
    assert run.status == "waiting" and run.due_at is not None
    assert engine.resume_due() == []  # not yet
    time.sleep(0.08)
    [ended] = engine.resume_due()
    assert ended.status == "compensated"
    assert "confirm: nothing advanced it within its timeout (50ms)" in (ended.error or "")
    assert recorder.of("undo") == ["reserve"]


def test_an_advance_in_time_beats_the_timeout(make_engine: Any, recorder: Any) -> None:
    engine = make_engine()
    definition = journeys.load_definition(
        "journey: quick\nmilestones:\n  - {id: confirm, timeout: 1h}\n"
        "  - {id: after, action: t.step}\n"
    )
    run = engine.start(definition)
    run = engine.advance(run.id, "confirm", {"ok": True})
    assert run.status == "completed" and run.due_at is None


def test_another_tenant_s_run_is_not_found(
    make_engine: Any, recorder: Any, approval: journeys.Definition, registry: journeys.Registry
) -> None:
    registry.register("race.publish", lambda ctx: None)
    engine = make_engine()
    run = engine.start(approval, tenant="acme", user="u1")
    assert engine.get(run.id, tenant="acme").id == run.id
    for call in (
        lambda: engine.get(run.id, tenant="evil"),
        lambda: engine.history(run.id, tenant="evil"),
        lambda: engine.advance(run.id, "review", tenant="evil"),
        lambda: engine.cancel(run.id, tenant="evil"),
    ):
        with pytest.raises(journeys.RunNotFound, match=f"no run '{run.id}'"):
            call()
    assert engine.get(run.id).status == "waiting"


@pytest.mark.parametrize("bad", ["", "a b", "line\nbreak", "x" * 201, "tab\there"])
def test_a_run_id_must_be_printable_without_spaces(
    engine: journeys.Engine, approval: journeys.Definition, bad: str
) -> None:
    with pytest.raises(journeys.JourneyError, match="cannot be a run id"):
        engine.start(approval, run_id=bad)


def test_results_are_what_the_store_gives_back(
    engine: journeys.Engine, registry: journeys.Registry
) -> None:
    registry.register("odd.keys", lambda ctx: {1: "a", "t": (1, 2)})
    definition = journeys.load_definition(
        "journey: odd\nmilestones:\n  - {id: w, action: odd.keys}\n"
    )
    run = engine.start(definition)
    assert run.results == {"w": {"1": "a", "t": [1, 2]}}
    assert engine.get(run.id).results == run.results
