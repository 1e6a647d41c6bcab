"""Diagrams drawn from the compiled machine: states, transitions, compensation paths."""

from __future__ import annotations

import json
from pathlib import Path

import journeys
from journeys.engine import compiler
from journeys.planning import graph
from journeys.renderers import diagrams

ROOT = Path(__file__).parents[2]


def _whole(name: str) -> journeys.planning.Diagram:
    return graph.diagram(compiler.compile(journeys.load_definition(ROOT / "definitions" / name)))


def test_every_state_and_the_compensation_path_are_drawn() -> None:
    whole = _whole("order_fulfillment.yaml")
    states = {n.id for n in whole.nodes}
    assert {"order", "undo:order", "undo:shipping", "compensated", "rolled_back"} <= states
    edges = {(e.source, e.dest): e for e in whole.edges if e.kind != "rollback"}
    assert edges[("shipping", "undo:inventory")].triggers == ("fail [saga]", "cancel [saga]")
    assert edges[("undo:payment", "undo:order")].kind == "compensation"
    assert edges[("undo:order", "compensated")].triggers == ("skip [not done]", "undone")
    assert ("shipping", "completed") in edges


def test_a_plan_draws_the_machine_its_policy_leaves() -> None:
    compiled = compiler.compile(
        journeys.load_definition(ROOT / "definitions/order_fulfillment.yaml")
    )
    off = graph.for_policy(compiled, {"saga": {"enabled": False}, "rollback": {"enabled": False}})
    assert not any(n.kind == "undo" for n in off.nodes)
    assert "rolled_back" not in {n.id for n in off.nodes}
    on = graph.for_policy(compiled, {"saga": {"enabled": True}, "rollback": {"enabled": False}})
    triggers = {(e.source, e.dest): e.triggers for e in on.edges}
    assert triggers[("payment", "undo:order")] == ("fail", "cancel")
    assert ("payment", "failed") not in triggers  # with the saga on, a failure compensates


def test_mermaid_source() -> None:
    source = diagrams.mermaid(_whole("mvp_session.yaml"), title="MVP")
    assert source.startswith('---\ntitle: "MVP"\n---\nstateDiagram-v2\n')
    assert '"between pillars"' in source and "[*] --> s0" in source


def test_svg_drawn_by_dot(dot: str) -> None:
    drawn = diagrams.svg(_whole("data_ingest_pipeline.yaml"))
    assert "<svg" in drawn and "undo:ingest" in drawn
    inline = diagrams.inline_svg(drawn)
    assert inline.startswith("<svg") and "<!--" not in inline


def test_a_mermaid_title_is_one_yaml_string_whatever_it_holds() -> None:
    import yaml

    for title in ("Orders: phase 2 # draft", "``` `", "<script>alert(1)</script> & co", 'say "hi"'):
        text = f"journey: titled\ntitle: {json.dumps(title)}\n"
        text += "milestones:\n  - {id: a, action: t.s}\n"
        definition = journeys.load_definition(text)
        source = diagrams.mermaid(graph.diagram(compiler.compile(definition)), title=title)
        front = source.split("---\n")[1]
        assert yaml.safe_load(front) == {"title": title}
        assert "<" not in source and "&" not in front
