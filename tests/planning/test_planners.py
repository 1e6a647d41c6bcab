"""Planners: the built-in ``template``, a registered one, and one that fails."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import journeys
from journeys.planning import planners, template

DEFINITION = """
journey: j
milestones:
  - {id: a, action: t.step, timeout: 1s, doc: "do a"}
  - {id: b, action: t.step, timeout: 1s}
"""


def test_template_is_the_default_planner() -> None:
    plan = journeys.plan(journeys.load_definition(DEFINITION))
    assert plan.planner == "template"


def test_a_registered_planner_makes_the_plan() -> None:
    registry = planners.PlannerRegistry()

    @registry.planner("shouting")
    def shouting(request: planners.Request) -> journeys.Plan:
        plan = template(request)
        steps = tuple(dataclasses.replace(s, title=s.title.upper()) for s in plan.steps)
        return dataclasses.replace(plan, steps=steps)

    plan = journeys.planning.build(
        journeys.load_definition(DEFINITION),
        policy={"planning": {"planner": "shouting"}},
        planners=registry,
    )
    assert plan.planner == "shouting"
    assert [s.title for s in plan.steps] == ["A", "B"]
    assert not [w for w in plan.warnings if w.code == "planner_failed"]


def test_the_default_registry_and_the_decorator() -> None:
    @journeys.planner("test_planners_echo", replace=True)
    def echo(request: planners.Request) -> journeys.Plan:
        return template(request)

    assert "test_planners_echo" in planners.default_planners
    plan = journeys.plan(journeys.load_definition(DEFINITION), planner="test_planners_echo")
    assert plan.planner == "test_planners_echo"


def test_a_registered_planner_is_named_in_yaml(tmp_path: Path) -> None:
    @journeys.planner("test_planners_yaml", replace=True)
    def from_yaml(request: planners.Request) -> journeys.Plan:
        return template(request)

    named = DEFINITION + "policies: {planning: {enabled: true, planner: test_planners_yaml}}\n"
    assert journeys.plan(journeys.load_definition(named)).planner == "test_planners_yaml"
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text("default:\n  planning: {planner: test_planners_yaml}\n")
    with journeys.Engine("memory:", policies=policy_file) as engine:
        plan = engine.plan(journeys.load_definition(DEFINITION))
    assert plan.planner == "test_planners_yaml"


@pytest.mark.parametrize(
    ("behaviour", "says"),
    [("raises", "ConnectionError: the model is down"), ("returns", "not a journeys.Plan")],
)
def test_a_failing_planner_falls_back_to_template_with_a_warning(behaviour: str, says: str) -> None:
    registry = planners.PlannerRegistry()

    def broken(request: planners.Request) -> journeys.Plan:
        if behaviour == "raises":
            raise ConnectionError("the model is down")
        return "a plan"  # type: ignore[return-value]

    registry.register("llm", broken)
    plan = journeys.planning.build(
        journeys.load_definition(DEFINITION), policy={}, planner="llm", planners=registry
    )
    assert plan.planner == "template"
    assert [s.id for s in plan.steps] == ["a", "b"]
    failed = [w for w in plan.warnings if w.code == "planner_failed"]
    assert len(failed) == 1 and "'llm'" in failed[0].message and says in failed[0].message


def test_an_unknown_planner_falls_back_too() -> None:
    plan = journeys.plan(journeys.load_definition(DEFINITION), planner="nobody")
    assert plan.planner == "template"
    assert any("no planner is registered as 'nobody'" in w.message for w in plan.warnings)


def test_planner_names_are_checked_and_not_replaced_silently() -> None:
    registry = planners.PlannerRegistry()
    registry.register("x", template)
    with pytest.raises(journeys.JourneyError, match="already registered"):
        registry.register("x", lambda request: template(request))
    with pytest.raises(journeys.JourneyError, match="not a planner name"):
        registry.register("no spaces", template)
