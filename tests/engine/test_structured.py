"""Structured journeys: milestones in order, results passed on, failure ends the run."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import journeys

PIPELINE = """
journey: pipeline
version: 3
inputs:
  type: object
  properties: {name: {type: string}}
milestones:
  - id: ingest
    action: t.ctx
    with: {name: "{{ inputs.name }}"}
  - id: parse
    action: t.ctx
  - id: embed
    action: t.ctx
    when: "inputs.name != 'skip-embed'"
  - id: expose
    action: t.ctx
"""


@pytest.fixture
def contexts(registry: journeys.Registry) -> list[journeys.Context]:
    seen: list[journeys.Context] = []

    def record(ctx: journeys.Context) -> dict[str, Any]:
        seen.append(ctx)
        if ctx.milestone in ctx.inputs.get("break", ()):
            raise RuntimeError(f"{ctx.milestone} is broken")
        return {"by": ctx.milestone, "seen": sorted(ctx.results)}

    registry.register("t.ctx", record)
    return seen


def test_milestones_run_in_order_and_see_the_results_before_them(
    engine: journeys.Engine, contexts: list[journeys.Context]
) -> None:
    run = engine.start(journeys.load_definition(PIPELINE), {"name": "a.csv"}, tenant="t", user="u")
    assert (run.status, run.state, run.error) == ("completed", "completed", None)
    assert [c.milestone for c in contexts] == ["ingest", "parse", "embed", "expose"]
    assert run.results["expose"] == {"by": "expose", "seen": ["embed", "ingest", "parse"]}
    assert (run.journey, run.version) == ("pipeline", 3)
    first = contexts[0]
    assert first.run_id == run.id and first.journey == "pipeline"
    assert first.inputs == {"name": "a.csv"} and first.args == {"name": "a.csv"}
    assert (first.attempt, first.tenant, first.user) == (1, "t", "u")
    assert first.idempotency_key == f"{run.id}:ingest"
    assert first.compensating is False and first.result is None
    assert isinstance(first.logger, logging.Logger)
    assert len({c.idempotency_key for c in contexts}) == 4


def test_a_guard_skips_a_milestone(
    engine: journeys.Engine, contexts: list[journeys.Context]
) -> None:
    run = engine.start(journeys.load_definition(PIPELINE), {"name": "skip-embed"})
    assert run.status == "completed"
    assert [c.milestone for c in contexts] == ["ingest", "parse", "expose"]
    assert "embed" not in run.results


def test_a_failure_ends_the_run_failed_and_nothing_after_it_runs(
    engine: journeys.Engine, contexts: list[journeys.Context]
) -> None:
    run = engine.start(journeys.load_definition(PIPELINE), {"name": "a", "break": ["parse"]})
    assert (run.status, run.state) == ("failed", "failed")
    assert run.error == "parse failed after 1 attempt: RuntimeError: parse is broken"
    assert [c.milestone for c in contexts] == ["ingest", "parse"]
    assert list(run.results) == ["ingest"]
    assert engine.get(run.id) == run


def test_handlers_cannot_change_what_they_are_given(
    engine: journeys.Engine, registry: journeys.Registry
) -> None:
    def meddle(ctx: journeys.Context) -> None:
        ctx.results["ingest"] = "forged"  # type: ignore[index]

    registry.register("t.meddle", meddle)
    definition = journeys.load_definition(
        "journey: meddling\nmilestones:\n  - {id: ingest, action: builtin.noop}\n"
        "  - {id: meddle, action: t.meddle}\n"
    )
    run = engine.start(definition)
    assert run.status == "failed" and run.results == {"ingest": None}
    assert run.error is not None and "TypeError" in run.error


def test_a_run_is_pinned_to_the_definition_it_started_with(
    make_engine: Any, registry: journeys.Registry, recorder: Any, store_url: str
) -> None:
    text = """
journey: pinned
milestones:
  - id: gate
  - id: work
    action: t.step
    with: {value: VALUE}
"""
    engine = make_engine()
    old = engine.start(journeys.load_definition(text.replace("VALUE", "old")))
    new = engine.start(journeys.load_definition(text.replace("VALUE", "new")))
    assert old.definition_hash != new.definition_hash
    # another engine (for SQL stores: another process) finds the exact text in the store
    other = make_engine() if store_url != "memory:" else engine
    assert other.advance(new.id, "gate").results["work"] == "new"
    assert other.advance(old.id, "gate").results["work"] == "old"
    assert other.definition(old.id).text == text.replace("VALUE", "old")


def test_a_journey_of_only_waits_and_builtins(engine: journeys.Engine) -> None:
    definition = journeys.load_definition(
        """
journey: builtins
milestones:
  - id: nothing
    action: builtin.noop
  - id: put
    action: builtin.set
    with: {colour: blue, size: 3}
  - id: pause
    action: builtin.sleep
    with: {seconds: 0}
"""
    )
    run = engine.start(definition)
    assert run.status == "completed"
    assert run.results == {"nothing": None, "put": {"colour": "blue", "size": 3}, "pause": 0.0}
