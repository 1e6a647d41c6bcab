"""The compiled machine as a graph (:class:`~journeys.planning.model.Diagram`), for diagrams.

Read from the very ``transitions`` machine the runner fires (its states, and each event's
transitions with their conditions), so a diagram cannot disagree with what a run does.
Transitions between the same two states are merged into one edge listing their triggers; a
trigger's condition is named in brackets (``fail [saga]``: only with the saga policy on).

A plan's diagram is the machine as the resolved policy leaves it (:func:`for_policy`): without
the rollback policy no rollback edge, without the saga policy no compensation path, and the
states nothing reaches any more left out.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Mapping
from typing import Any

from journeys.engine.compiler import HUB, TERMINAL, Compiled
from journeys.planning.model import Diagram, Edge, EdgeKind, Node, NodeKind

__all__ = ["diagram", "for_policy"]

_CONDITIONS = {
    "_saga_on": "saga",
    "_cancelling": "cancelling",
    "never_completed": "not done",
    "guard_is_false": "when false",
    "<lambda>": "when false",
    "undo_needed": "rollback",
    "rollback_stops": "rollback",
}
_UNDO = "undo:"


@functools.lru_cache(maxsize=64)
def diagram(compiled: Compiled) -> Diagram:
    """Every state and transition of the compiled machine (internal ``retry`` moves left out:
    they stay in their state). Read once per machine: machines are shared and never change."""
    nodes = [_node(name, compiled) for name in compiled.machine.states]
    merged: dict[tuple[str, str, bool], tuple[list[str], EdgeKind]] = {}
    for trigger, event in compiled.machine.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                if transition.dest is None:
                    continue
                kind = _kind(trigger, source, transition.dest)
                conditions = [_condition(c) for c in transition.conditions]
                shown = [c for c in dict.fromkeys(conditions) if c != "rollback"]
                label = _trigger(trigger) + (f" [{', '.join(shown)}]" if shown else "")
                # rollback moves apart from the others, so a policy without rollback drops them
                key = (source, transition.dest, kind == "rollback")
                labels, known = merged.setdefault(key, ([], kind))
                if label not in labels:
                    labels.append(label)
                if _RANK[kind] < _RANK[known]:
                    merged[key] = (labels, kind)
    edges = tuple(
        Edge(source, dest, tuple(labels), kind)
        for (source, dest, _rollback), (labels, kind) in merged.items()
    )
    return Diagram(initial=compiled.first, nodes=tuple(nodes), edges=_ordered(edges, nodes))


def for_policy(compiled: Compiled, policy: Mapping[str, Any]) -> Diagram:
    """The machine as ``policy`` (resolved) leaves it: what a run under it can do."""
    saga = compiled.definition.kind == "saga" and bool((policy.get("saga") or {}).get("enabled"))
    rollback = bool((policy.get("rollback") or {}).get("enabled"))
    return _for_policy(compiled, saga, rollback)


@functools.lru_cache(maxsize=64)
def _for_policy(compiled: Compiled, saga: bool, rollback: bool) -> Diagram:
    """The diagram with or without the saga's and the rollback's moves: made once per machine
    and pair of switches (every plan of a journey asks again; a long one's takes milliseconds)."""
    whole = diagram(compiled)
    # with the saga policy on, a fail or cancel that has a [saga] move never takes the plain one
    overridden = {
        (edge.source, trigger.partition(" ")[0])
        for edge in whole.edges
        for trigger in edge.triggers
        if "[saga]" in trigger
    }
    kept: list[Edge] = []
    for edge in whole.edges:
        if edge.kind == "rollback" and not rollback:
            continue
        triggers = edge.triggers
        if saga:
            triggers = tuple(
                t.replace(" [saga]", "") for t in triggers if (edge.source, t) not in overridden
            )
        else:  # no compensation path: what only a saga does is left out
            triggers = tuple(t for t in triggers if "saga" not in t and "cancelling" not in t)
        if triggers:
            kept.append(Edge(edge.source, edge.dest, triggers, edge.kind))
    reached = {whole.initial}
    queue = deque([whole.initial])
    outgoing: dict[str, list[Edge]] = {}
    for edge in kept:
        outgoing.setdefault(edge.source, []).append(edge)
    while queue:
        for edge in outgoing.get(queue.popleft(), ()):
            if edge.dest not in reached:
                reached.add(edge.dest)
                queue.append(edge.dest)
    return Diagram(
        initial=whole.initial,
        nodes=tuple(n for n in whole.nodes if n.id in reached),
        edges=tuple(e for e in kept if e.source in reached),
    )


_RANK: dict[EdgeKind, int] = {
    "forward": 0,
    "skip": 1,
    "session": 2,
    "failure": 3,
    "compensation": 4,
    "cancel": 5,
    "rollback": 6,
}


def _node(name: str, compiled: Compiled) -> Node:
    kind: NodeKind
    if name in compiled.milestones:
        milestone = compiled.milestones[name]
        kind = "wait" if milestone.is_wait else "milestone"
        return Node(name, milestone.title, kind)
    if name.startswith(_UNDO) and name in compiled.undoes:
        return Node(name, compiled.undoes[name].title, "undo")
    if name == HUB:
        return Node(name, "between pillars", "hub")
    return Node(name, name.replace("_", " "), "terminal" if name in TERMINAL else "hub")


def _trigger(trigger: str) -> str:
    return trigger.partition(":")[0]  # enter:insights, resume:parse: the edge's end says which


def _condition(condition: Any) -> str:
    name = getattr(condition.func, "__name__", str(condition.func))
    word = _CONDITIONS.get(name, name)
    return word if condition.target else f"not {word}"


def _kind(trigger: str, source: str, dest: str) -> EdgeKind:
    if trigger in ("rollback",) or trigger.startswith("resume:") or dest == "rolled_back":
        return "rollback"
    if trigger in ("leave", "complete") or trigger.startswith("enter:"):
        return "session"
    if source.startswith(_UNDO):
        return "failure" if trigger == "fail" else "compensation"
    if trigger == "succeed":
        return "forward"
    if trigger == "skip":
        return "skip"
    if trigger == "cancel":
        return "cancel"
    return "failure"


def _ordered(edges: tuple[Edge, ...], nodes: list[Node]) -> tuple[Edge, ...]:
    """Forward edges first, in the journey's order, then the others: diagrams lay out better."""
    position = {node.id: index for index, node in enumerate(nodes)}
    return tuple(sorted(edges, key=lambda e: (_RANK[e.kind], position[e.source], position[e.dest])))
