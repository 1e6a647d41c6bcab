"""The plan's content: steps in order, retries in words, when guards, compensations, durations,
resources, errors and warnings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import journeys
from journeys.planning import preview, words

ROOT = Path(__file__).parents[2]
ORDER = ROOT / "definitions" / "order_fulfillment.yaml"
ORDER_INPUTS = {
    "order_id": "A-1",
    "customer_id": "c1",
    "sku": "SKU-1",
    "quantity": 2,
    "amount": 20,
    "currency": "EUR",
    "shipping_address": "1 Main St",
}

SAGA = """
journey: travel
kind: saga
inputs:
  type: object
  properties:
    nights: {type: integer}
    car: {type: boolean, default: false}
milestones:
  - id: flight
    action: t.step
    compensation: t.undo
    retry: {retries: 3, delay: 60s, backoff: exponential}
    timeout: 10s
    estimate: {duration: 2s, resources: {api_calls: 1}}
    doc: "Book a flight for {{ inputs.nights }} nights"
  - id: hotel
    action: t.step
    compensation: t.undo
    timeout: 5s
    estimate: {duration: 1s, resources: {api_calls: 2, rooms: 1}}
    when: "inputs.nights > 0"
  - id: car
    action: t.step
    compensation: t.undo
    timeout: 5s
    when: "inputs.car"
  - id: insurance
    action: t.step
    timeout: 5s
    doc: "Insure booking {{ results.flight.booking_id }}"
    when: "results.flight.price > 100"
  - id: payment
    action: t.step
    compensation: t.undo
    retry: {retries: 1, delay: 5s, backoff: fixed}
    timeout: 30s
policies:
  saga: {enabled: true}
"""


def _saga(**kwargs: object) -> journeys.Plan:
    return journeys.plan(journeys.load_definition(SAGA), **kwargs)  # type: ignore[arg-type]


def test_the_retry_policy_in_words() -> None:
    assert words.retry(journeys.Retry(retries=3, delay=60)) == (
        "up to 3 retries, 60 s then 120 s then 240 s"
    )
    assert words.retry(journeys.Retry()) == "no retries"
    assert (
        words.retry(journeys.Retry(retries=1, delay=5, backoff="fixed"))
        == "up to 1 retry, after 5 s"
    )
    assert (
        words.retry(journeys.Retry(retries=3, delay=2, backoff="fixed"))
        == "up to 3 retries, 2 s apart"
    )
    assert words.retry(journeys.Retry(retries=2, delay=0.5, jitter=True, on=("TimeoutError",))) == (
        "up to 2 retries, 500 ms then 1 s, with ±50% jitter, only on TimeoutError"
    )
    assert words.duration(5400) == "1 h 30 min"


def test_steps_in_order_with_docs_retries_and_estimates() -> None:
    plan = _saga(inputs={"nights": 2})
    assert [s.id for s in plan.steps] == ["flight", "hotel", "car", "insurance", "payment"]
    flight = plan.steps[0]
    assert (flight.number, flight.title, flight.action, flight.compensation) == (
        1,
        "Flight",
        "t.step",
        "t.undo",
    )
    assert flight.doc == "Book a flight for 2 nights"
    assert flight.retry == "up to 3 retries, 60 s then 120 s then 240 s"
    assert flight.delays == (60.0, 120.0, 240.0)
    assert flight.estimate.duration == 2.0 and flight.estimate.source == "declared"
    assert flight.worst_case == 4 * 10 + 60 + 120 + 240
    # a value known only once the run goes: a placeholder, not an error
    assert plan.steps[3].doc == "Insure booking «results.flight.booking_id»"


def test_when_guards_are_evaluated_against_the_inputs_when_they_can_be() -> None:
    plan = _saga(inputs={"nights": 2})
    runs = {s.id: (s.runs, s.condition) for s in plan.steps}
    assert runs["flight"] == ("yes", "always runs")
    assert runs["hotel"][0] == "yes" and "holds with these inputs" in runs["hotel"][1]
    assert runs["car"][0] == "no"  # its input's default, false
    assert runs["insurance"] == (
        "unknown",
        "cannot be known yet: when `results.flight.price > 100` depends on results.flight.price",
    )
    assert _saga(inputs={"nights": 0}).steps[1].runs == "no"


def test_a_guard_that_will_fail_with_these_inputs_is_an_error() -> None:
    definition = journeys.load_definition(
        "journey: j\nmilestones:\n  - {id: a, action: t.step, timeout: 1s, when: 'inputs.flag'}\n"
    )
    plan = journeys.plan(definition, inputs={})
    assert [e.code for e in plan.errors] == ["guard_error"]
    assert "inputs has no 'flag'" in plan.errors[0].message
    # not given at all: unknown, and no error
    preview_plan = journeys.plan(definition)
    assert preview_plan.steps[0].runs == "unknown" and preview_plan.ok


def test_the_compensation_plan_undoes_in_reverse_and_skips_what_does_not_run() -> None:
    plan = _saga(inputs={"nights": 2})
    sentences = [c.sentence for c in plan.compensation]
    assert sentences == [
        "if flight fails: nothing to undo",
        "if hotel fails: undo flight",
        "if insurance fails: undo hotel, then flight",
        "if payment fails: undo hotel, then flight",
    ]
    last = plan.compensation[-1]
    assert [(u.milestone, u.compensation) for u in last.undo] == [
        ("hotel", "t.undo"),
        ("flight", "t.undo"),
    ]


def test_a_bundled_saga_compensates_in_reverse_order() -> None:
    plan = journeys.plan(ORDER, ORDER_INPUTS)
    assert plan.compensation[-1].sentence == (
        "if shipping fails: undo inventory, then payment, then order"
    )
    assert plan.ok


def test_durations_expected_and_worst_case_and_resources() -> None:
    plan = _saga(inputs={"nights": 2})
    durations = plan.durations
    assert durations.expected == 3.0  # flight 2 s + hotel 1 s; car skipped
    assert set(durations.unestimated) == {"insurance", "payment"}
    flight = 4 * 10 + 420
    # no retries but flight's and payment's: hotel and insurance, one attempt of 5 s each
    assert durations.worst_case == flight + 5 + 5 + (2 * 30 + 5)
    # the longest path: payment, the last step, fails for good after its every attempt; then
    # flight and hotel are undone (a failed step is never compensated: not payment's refund)
    undo = flight + 5
    assert durations.compensation_worst_case == durations.worst_case + undo
    assert dict(plan.resources) == {"api_calls": 3.0, "rooms": 1.0}


def test_a_worst_case_beyond_the_deadline_is_an_error() -> None:
    assert _saga(inputs={"nights": 1}, deadline=3600).ok
    plan = _saga(inputs={"nights": 1}, deadline=60)
    assert [e.code for e in plan.errors] == ["deadline"]
    assert "beyond the deadline of 60 s" in plan.errors[0].message


def test_inputs_that_fail_the_schema_are_errors() -> None:
    plan = journeys.plan(ORDER, {**ORDER_INPUTS, "quantity": 0, "currency": "euro"})
    assert {e.code for e in plan.errors} == {"invalid_inputs"}
    assert len(plan.errors) == 2
    assert not plan.ok


def test_no_inputs_is_a_preview_with_a_warning_not_an_error() -> None:
    plan = journeys.plan(ORDER)
    assert plan.ok and plan.inputs is None
    assert "no_inputs" in {w.code for w in plan.warnings}
    assert plan.steps[0].doc is not None and "«inputs.order_id»" in plan.steps[0].doc


def test_unknown_handlers_are_a_warning_when_unchecked_and_an_error_when_checked() -> None:
    unchecked = journeys.plan(ORDER, ORDER_INPUTS)
    assert [w.code for w in unchecked.warnings] == ["handlers_not_checked"]
    assert "handlers not checked" in unchecked.warnings[0].message
    registry = journeys.Registry()
    registry.register("orders.create_order", lambda ctx: None)
    checked = journeys.plan(ORDER, ORDER_INPUTS, registry=registry)
    assert {e.code for e in checked.errors} == {"unknown_handler"}
    assert len(checked.errors) == 7  # eight names, one registered
    assert "payments.charge" in str(checked.errors[0]) or "orders.cancel_order" in str(
        checked.errors[0]
    )
    # the caller may say the registry is not to be trusted yet
    relaxed = journeys.plan(ORDER, ORDER_INPUTS, registry=registry, handlers_checked=False)
    assert relaxed.ok


def test_saga_warnings_no_compensation_and_saga_off() -> None:
    plan = _saga(inputs={"nights": 1})
    assert [(w.code, w.milestone) for w in plan.warnings if w.code == "no_compensation"] == [
        ("no_compensation", "insurance")
    ]
    off = _saga(inputs={"nights": 1}, policy={"saga": {"enabled": False}})
    assert "saga_off" in {w.code for w in off.warnings}
    assert off.compensation == () and off.durations.compensation_worst_case is None


def test_a_checkpoint_with_nothing_to_undo_after_it_is_a_warning() -> None:
    definition = journeys.load_definition(
        "journey: j\nmilestones:\n"
        "  - {id: a, action: t.step, compensation: t.undo, timeout: 1s, checkpoint: true}\n"
        "  - {id: b, action: t.step, timeout: 1s, checkpoint: true}\n"
        "  - {id: c, action: t.step, timeout: 1s}\n"
        "policies:\n  rollback: {enabled: true, auto_checkpoint: false}\n"
    )
    plan = journeys.plan(definition)
    assert [(w.code, w.milestone) for w in plan.warnings if w.code == "empty_checkpoint"] == [
        ("empty_checkpoint", "a"),
        ("empty_checkpoint", "b"),
    ]
    assert [s.checkpoint for s in plan.steps] == [True, True, False]
    # with auto_checkpoint every milestone is one; only those the author chose are warned of
    plan = journeys.plan(definition, policy={"rollback": {"auto_checkpoint": True}})
    assert [s.checkpoint for s in plan.steps] == [True, True, True]
    assert [w.milestone for w in plan.warnings if w.code == "empty_checkpoint"] == ["a", "b"]


def test_a_milestone_without_timeout_makes_the_worst_case_unbounded() -> None:
    definition = journeys.load_definition("journey: j\nmilestones:\n  - {id: a, action: t.step}\n")
    plan = journeys.plan(definition, deadline=10)
    assert plan.durations.worst_case is None and plan.durations.unbounded == ("a",)
    assert {w.code for w in plan.warnings} >= {"no_timeout", "deadline"}


def test_a_session_plans_its_pillars() -> None:
    plan = journeys.plan(ROOT / "definitions" / "mvp_session.yaml")
    assert plan.kind == "session" and plan.compensation == ()
    assert plan.steps[0].runs == "yes" and {s.runs for s in plan.steps[1:]} == {"unknown"}


def test_the_plan_is_frozen_and_its_json_is_plain_data() -> None:
    plan = _saga(inputs={"nights": 2})
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.journey = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.policy["saga"] = {}  # type: ignore[index]
    document = plan.to_dict()
    assert document["steps"][0]["retry"] == "up to 3 retries, 60 s then 120 s then 240 s"
    assert document["ok"] is True and document["inputs"] == {"nights": 2, "car": False}
    assert {e["kind"] for e in document["diagram"]["edges"]} >= {"forward", "compensation"}


def test_engine_plan_uses_its_policies_and_registry(tmp_path: Path) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("journeys:\n  travel: {saga: {enabled: false}}\n")
    registry = journeys.Registry()
    registry.register("t.step", lambda ctx: None)
    with journeys.Engine("memory:", registry=registry, policies=policy_file) as engine:
        plan = engine.plan(journeys.load_definition(SAGA), {"nights": 1})
    assert plan.policy["saga"]["enabled"] is False
    assert "policy file" in plan.policy_origins["saga"]["enabled"]
    assert {e.code for e in plan.errors} == {"unknown_handler"}  # t.undo is not registered
    assert all("t.undo" in str(e) for e in plan.errors)


def test_templates_cannot_reach_python_internals_at_plan_time() -> None:
    names = preview.scope({"size": 3}, given=True, journey="j", tenant=None)
    with pytest.raises(Exception, match="unsafe"):
        preview.evaluate_guard("inputs.size.__class__", names)
    assert preview.evaluate_guard("results.x is defined", names)[0] == "unknown"
    assert preview.evaluate_guard("results.x | default(1)", names)[0] == "unknown"
    assert preview.evaluate_guard("inputs.missing | default(0)", names)[0] == "no"


def test_a_step_without_a_timeout_makes_the_worst_case_unbounded_whatever_its_estimate() -> None:
    definition = journeys.load_definition(
        "journey: untimed\nmilestones:\n"
        "  - {id: a, action: t.step, estimate: {duration: 2s}}\n"
        "  - {id: b, action: t.step, timeout: 5s, retry: {retries: 2, delay: 1s}}\n"
    )
    plan = journeys.plan(definition, {})
    assert plan.steps[0].worst_case is None and plan.steps[1].worst_case is not None
    assert plan.durations.worst_case is None and plan.durations.unbounded == ("a",)
    assert "no_timeout" in {w.code for w in plan.warnings}
    deadline = journeys.plan(definition, {}, deadline=20)
    assert deadline.ok and "deadline" in {w.code for w in deadline.warnings}
