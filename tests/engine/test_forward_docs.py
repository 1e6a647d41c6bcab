"""Forward documentation at run time and the plan validation gate, through the real engine on
every store: the plan written when the run starts, a forward-doc entry before each milestone
runs, nothing of either when the policy is off, and no run at all when the gate finds errors."""

from __future__ import annotations

from typing import Any

import pytest

import journeys

from .conftest import MakeEngine

JOURNEY = """
journey: documented
inputs:
  type: object
  properties: {n: {}, customer: {type: string}}
milestones:
  - id: quote
    title: Quote the customer
    action: t.step
    doc: "Quote {{ inputs.customer }} for {{ inputs.n }} items"
    with: {count: "{{ inputs.n }}"}
  - id: approve
    title: Approve the quote
    doc: "A manager approves the quote for {{ inputs.customer }}"
  - id: bill
    title: Bill the customer
    action: t.step
    when: "inputs.n > 3"
    doc: "Bill {{ results.quote.total }}"
policies:
  wal: {enabled: true}
"""


@pytest.fixture
def definition(registry: journeys.Registry) -> journeys.Definition:
    registry.register("t.step", lambda ctx: {"total": ctx.args.get("count", 0) * 10})
    return journeys.load_definition(JOURNEY)


def _kinds(engine: journeys.Engine, run_id: str) -> list[tuple[str, str | None]]:
    return [(e.kind, e.milestone) for e in engine.history(run_id)]


@pytest.mark.parametrize("wal", [True, False])
def test_with_forward_docs_on_the_plan_and_each_step_s_doc_are_in_the_history(
    make_engine: MakeEngine, definition: journeys.Definition, wal: bool
) -> None:
    engine = make_engine()
    policy = {"forward_docs": {"enabled": True}, "wal": {"enabled": wal}}
    run = engine.start(definition, {"n": 5, "customer": "ACME"}, policy=policy)
    assert (run.status, run.state) == ("waiting", "approve")
    run = engine.advance(run.id, "approve", {"ok": True})
    assert run.status == "completed"
    history = engine.history(run.id)
    (plan,) = [e for e in history if e.kind == "plan"]
    assert [s["id"] for s in plan.payload["steps"]] == ["quote", "approve", "bill"]
    assert plan.payload["inputs"] == {"n": 5, "customer": "ACME"} and plan.payload["ok"]
    docs = {e.milestone: e.payload for e in history if e.kind == "forward_doc"}
    assert docs == {
        "quote": {
            "title": "Quote the customer",
            "doc": "Quote ACME for 5 items",
            "args": {"count": 5},
        },
        "approve": {
            "title": "Approve the quote",
            "doc": "A manager approves the quote for ACME",
            "args": {},
        },
        "bill": {"title": "Bill the customer", "doc": "Bill 50", "args": {}},
    }
    if wal:  # written ahead: each milestone's doc precedes its intent
        kinds = _kinds(engine, run.id)
        for milestone in ("quote", "bill"):
            assert kinds.index(("forward_doc", milestone)) < kinds.index(("operation", milestone))
        assert kinds[:2] == [("policy", None), ("plan", None)]


@pytest.mark.parametrize(
    ("forward_docs", "plans", "documented"),
    [
        ({"enabled": False}, 0, 0),
        ({"enabled": True, "generate_plan": False}, 0, 2),
        ({"enabled": True, "document_steps": False}, 1, 0),
    ],
)
def test_each_part_of_forward_docs_is_off_by_policy(
    make_engine: MakeEngine,
    definition: journeys.Definition,
    forward_docs: dict[str, Any],
    plans: int,
    documented: int,
) -> None:
    engine = make_engine()
    run = engine.start(
        definition, {"n": 1, "customer": "ACME"}, policy={"forward_docs": forward_docs}
    )
    kinds = [kind for kind, _ in _kinds(engine, run.id)]
    assert (kinds.count("plan"), kinds.count("forward_doc")) == (plans, documented)


def test_a_doc_that_cannot_be_rendered_is_recorded_and_the_run_goes_on(
    make_engine: MakeEngine, registry: journeys.Registry
) -> None:
    registry.register("t.step", lambda ctx: None)
    broken = journeys.load_definition(
        "journey: broken_doc\nmilestones:\n"
        '  - {id: a, action: t.step, doc: "{{ inputs.n / 0 }}"}\n'
        "policies: {forward_docs: {enabled: true}, wal: {enabled: true}}\n"
    )
    engine = make_engine()
    run = engine.start(broken, {"n": 1})
    assert run.status == "completed"
    (doc,) = [e for e in engine.history(run.id) if e.kind == "forward_doc"]
    assert doc.payload["doc"] is None and "ZeroDivisionError" in doc.payload["error"]


GATED = {"planning": {"enabled": True, "validate_plan": True}}


def test_the_gate_refuses_a_run_whose_plan_has_errors_and_writes_nothing(
    make_engine: MakeEngine, definition: journeys.Definition
) -> None:
    engine = make_engine()
    with pytest.raises(journeys.PlanError) as refused:
        # n as text: the bill milestone's guard (inputs.n > 3) would fail mid-run
        engine.start(definition, {"n": "five", "customer": "ACME"}, run_id="r1", policy=GATED)
    assert isinstance(refused.value, journeys.JourneyError)
    assert [p.code for p in refused.value.problems] == ["guard_error"]
    assert "milestone 'bill'" in str(refused.value) and "did not start" in str(refused.value)
    with pytest.raises(journeys.RunNotFound):
        engine.get("r1")
    if engine.store.url.startswith(("sqlite", "postgresql")):
        assert engine.wal.replay_log("documented") == []
    # with sound inputs the same gate lets it start; with the gate off, the bad run starts
    assert engine.start(definition, {"n": 5, "customer": "ACME"}, policy=GATED).status == "waiting"
    ungated = {"planning": {"enabled": True, "validate_plan": False}}
    assert (
        engine.start(definition, {"n": "five", "customer": "x"}, policy=ungated).status == "waiting"
    )
