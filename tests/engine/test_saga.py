"""Saga semantics: compensation in reverse, retries, Fatal, idempotency keys."""

from __future__ import annotations

from typing import Any

import pytest

import journeys

SAGA = """
journey: trip
kind: saga
policies: {saga: {enabled: true}}
defaults: {retry: {delay: 0s}}
milestones:
  - id: flight
    action: t.step
    compensation: t.undo
  - id: note
    action: t.step
  - id: hotel
    action: t.step
    compensation: t.undo
    when: "inputs.hotel"
  - id: car
    action: t.step
    compensation: t.undo
    retry: {retries: ${car_retries}}
    with: {undo_fail: ${car_undo_fail}}
  - id: pay
    action: t.step
    with: {fail: ${pay_fail}, error: ${pay_error}}
    retry: {retries: ${pay_retries}}
"""


def saga(
    *,
    pay_fail: int = 99,
    pay_error: str = "ValueError",
    pay_retries: int = 0,
    car_undo_fail: int = 0,
    car_retries: int = 0,
    kind: str = "saga",
    policies: str = "{saga: {enabled: true}}",
) -> journeys.Definition:
    text = SAGA
    for name, value in {
        "${pay_fail}": pay_fail,
        "${pay_error}": pay_error,
        "${pay_retries}": pay_retries,
        "${car_undo_fail}": car_undo_fail,
        "${car_retries}": car_retries,
    }.items():
        text = text.replace(name, str(value))
    text = text.replace("kind: saga", f"kind: {kind}")
    text = text.replace("policies: {saga: {enabled: true}}", f"policies: {policies}")
    return journeys.load_definition(text)


def test_compensations_run_in_reverse_skipping_the_uncompensable_and_the_skipped(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(), {"hotel": False})
    assert recorder.of("do") == ["flight", "note", "car", "pay"]
    assert recorder.of("undo") == ["car", "flight"]
    assert run.status == "compensated" and run.state == "compensated"
    assert run.error is not None and run.error.startswith("pay failed after 1 attempt")
    assert "pay do broke" in run.error
    assert engine.get(run.id) == run


def test_every_completed_compensable_milestone_is_undone_once(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(), {"hotel": True})
    assert recorder.of("do") == ["flight", "note", "hotel", "car", "pay"]
    assert recorder.of("undo") == ["car", "hotel", "flight"]
    assert run.status == "compensated"


def test_a_first_milestone_failing_compensates_nothing(
    engine: journeys.Engine, recorder: Any
) -> None:
    definition = journeys.load_definition(
        """
journey: first
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: a
    action: t.step
    compensation: t.undo
    with: {fail: 1}
  - id: b
    action: t.step
    compensation: t.undo
"""
    )
    run = engine.start(definition)
    assert run.status == "compensated"
    assert recorder.of("do") == ["a"] and recorder.of("undo") == []
    assert run.error is not None and "a do broke" in run.error


def test_a_compensation_that_exhausts_its_retries_stops_the_unwinding(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(car_undo_fail=99, car_retries=2), {"hotel": True})
    assert recorder.of("undo") == ["car", "car", "car"]  # hotel and flight are left alone
    assert [c.attempt for c in recorder.calls if c.kind == "undo"] == [1, 2, 3]
    assert run.status == "compensation_failed" and run.state == "compensation_failed"
    assert run.error is not None
    assert "compensation of car failed after 3 attempts" in run.error
    assert "pay do broke" in run.error  # the original failure is kept


def test_a_compensation_retried_successfully_carries_on(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(car_undo_fail=1, car_retries=1), {"hotel": False})
    assert recorder.of("undo") == ["car", "car", "flight"]
    assert run.status == "compensated"


@pytest.mark.parametrize(
    ("kind", "policies"),
    [
        ("saga", "{saga: {enabled: false}}"),
        ("saga", "{}"),
        ("structured", "{saga: {enabled: true}}"),
    ],
)
def test_without_a_saga_a_failure_ends_failed_with_nothing_undone(
    engine: journeys.Engine, recorder: Any, kind: str, policies: str
) -> None:
    run = engine.start(saga(kind=kind, policies=policies), {"hotel": True})
    assert recorder.of("undo") == []
    assert run.status == "failed" and run.state == "failed"
    assert run.error is not None and "pay" in run.error


def test_a_per_call_policy_switches_the_saga_off(engine: journeys.Engine, recorder: Any) -> None:
    run = engine.start(saga(), {"hotel": True}, policy={"saga": {"enabled": False}})
    assert run.status == "failed" and recorder.of("undo") == []


def test_fatal_is_never_retried(engine: journeys.Engine, recorder: Any) -> None:
    run = engine.start(saga(pay_error="Fatal", pay_retries=5), {"hotel": False})
    assert recorder.of("do").count("pay") == 1
    assert run.status == "compensated"
    assert run.error is not None and "Fatal" in run.error


@pytest.mark.parametrize(
    ("error", "calls", "status"),
    [
        ("ConnectionError", 3, "completed"),  # named: retried
        ("ConnectionRefusedError", 3, "completed"),  # a subclass of a named type: retried
        ("TimeoutError", 3, "completed"),
        ("ValueError", 1, "failed"),  # not named: fails at once
    ],
)
def test_retries_with_on_apply_only_to_the_named_error_types(
    engine: journeys.Engine, recorder: Any, error: str, calls: int, status: str
) -> None:
    definition = journeys.load_definition(
        f"""
journey: picky
milestones:
  - id: call
    action: t.step
    with: {{fail: 2, error: {error}}}
    retry: {{retries: 3, delay: 0s, on: [ConnectionError, TimeoutError]}}
"""
    )
    run = engine.start(definition)
    assert recorder.of("do") == ["call"] * calls
    assert run.status == status


def test_retry_on_accepts_qualified_error_names(engine: journeys.Engine, recorder: Any) -> None:
    definition = journeys.load_definition(
        """
journey: qualified
milestones:
  - id: call
    action: t.step
    with: {fail: 1, error: ConnectionRefusedError}
    retry: {retries: 1, delay: 0s, on: [builtins.OSError]}
"""
    )
    assert engine.start(definition).status == "completed"
    assert recorder.of("do") == ["call", "call"]


def test_attempts_count_from_one_and_share_one_idempotency_key(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(pay_fail=2, pay_retries=3), {"hotel": False})
    assert run.status == "completed"
    pays = [c for c in recorder.calls if c.milestone == "pay"]
    assert [c.attempt for c in pays] == [1, 2, 3]
    assert {c.key for c in pays} == {f"{run.id}:pay"}
    keys = [c.key for c in recorder.calls if c.kind == "do" and c.milestone != "pay"]
    assert len(set(keys)) == len(keys)  # one key per milestone
    assert all(c.attempt == 1 for c in recorder.calls if c.milestone != "pay")
    assert run.results["pay"] == {"done": "pay"}


def test_compensations_get_their_own_key_and_the_milestone_s_result(
    engine: journeys.Engine, recorder: Any
) -> None:
    run = engine.start(saga(car_undo_fail=1, car_retries=1), {"hotel": False})
    undo = [c for c in recorder.calls if c.kind == "undo"]
    do = {c.milestone: c for c in recorder.calls if c.kind == "do"}
    assert [(c.milestone, c.attempt) for c in undo] == [("car", 1), ("car", 2), ("flight", 1)]
    for call in undo:
        assert call.key != do[call.milestone].key
        assert call.key.startswith(run.id)
        assert call.result == {"done": call.milestone}
    assert undo[0].key == undo[1].key  # one key for every attempt of one compensation
    assert all(c.result is None for c in recorder.calls if c.kind == "do")


def test_builtin_fail_rehearses_compensation(engine: journeys.Engine, recorder: Any) -> None:
    definition = journeys.load_definition(
        """
journey: rehearsal
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: a
    action: t.step
    compensation: t.undo
  - id: boom
    action: builtin.fail
    with: {message: "rehearsed", fatal: true}
    retry: {retries: 3, delay: 0s}
"""
    )
    run = engine.start(definition)
    assert run.status == "compensated"
    assert recorder.of("undo") == ["a"]
    assert run.error is not None and "rehearsed" in run.error
