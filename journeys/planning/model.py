"""The plan of a run, as data: what will happen, in what order, how long, what gets undone.

A :class:`Plan` is built before anything runs (:func:`journeys.plan`, ``engine.plan``) and read by
people (rendered by :func:`journeys.render` to Markdown, HTML, text or JSON) and by the engine
(a plan with errors does not start when ``planning.validate_plan`` is on). Every class here is a
frozen dataclass whose mappings are read-only; :meth:`Plan.to_dict` gives plain JSON data.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from journeys.definitions.model import freeze, thaw

__all__ = [
    "Contingency",
    "Diagram",
    "Durations",
    "Edge",
    "Issue",
    "Node",
    "Plan",
    "PlanStep",
    "StepEstimate",
    "Undo",
]

Level = Literal["error", "warning"]
Runs = Literal["yes", "no", "unknown"]
NodeKind = Literal["milestone", "wait", "undo", "terminal", "hub"]
EdgeKind = Literal["forward", "skip", "failure", "compensation", "cancel", "rollback", "session"]


@dataclass(frozen=True, slots=True)
class Issue:
    """Something a reader of the plan must know: an ``error`` (with ``planning.validate_plan``
    on, the run does not start) or a ``warning``. ``code`` names the kind of trouble
    (``unknown_handler``, ``handlers_not_checked``, ``no_compensation``, ``invalid_inputs``,
    ``deadline``, ``empty_checkpoint``, ``guard_error``, ``doc_error``, ``no_timeout``,
    ``saga_off``, ``no_inputs``, ``planner_failed``); ``milestone`` says where, when it is one."""

    level: Level
    code: str
    message: str
    milestone: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "milestone": self.milestone,
        }


@dataclass(frozen=True, slots=True)
class StepEstimate:
    """What one attempt of a step is expected to take.

    ``source`` is ``declared`` (the definition's ``estimate``), ``history`` (the median and 95th
    percentile of the durations this store observed, over ``runs`` runs) or ``none``.
    """

    duration: float | None = None
    p95: float | None = None
    runs: int = 0
    source: Literal["declared", "history", "none"] = "none"
    resources: Mapping[str, float] = field(default_factory=lambda: freeze({}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "p95": self.p95,
            "runs": self.runs,
            "source": self.source,
            "resources": thaw(self.resources),
        }


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One milestone as the plan sees it.

    ``doc`` is the milestone's ``doc`` rendered with the run's inputs (a value that is not known
    yet shows as ``«results.ingest.file_id»``). ``runs`` says whether its ``when`` guard lets it
    run with these inputs (``yes``, ``no``) or ``unknown`` (it depends on results);
    ``condition`` says the same in words. ``retry`` is the retry policy in words ("up to 3
    retries, 60 s then 120 s then 240 s"), ``delays`` its delays in seconds. ``worst_case`` is
    every attempt to its timeout plus every delay; None when it is unbounded. ``checkpoint`` is
    true when a rollback can return here under the resolved policy.
    """

    number: int
    id: str
    title: str
    doc: str | None
    action: str | None
    compensation: str | None
    retry: str
    retries: int
    delays: tuple[float, ...]
    timeout: float | None
    estimate: StepEstimate
    worst_case: float | None
    checkpoint: bool
    when: str | None
    runs: Runs
    condition: str

    @property
    def wait(self) -> bool:
        """True for a wait milestone (no action: someone advances it)."""
        return self.action is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "id": self.id,
            "title": self.title,
            "doc": self.doc,
            "action": self.action,
            "compensation": self.compensation,
            "wait": self.wait,
            "retry": self.retry,
            "retries": self.retries,
            "delays": list(self.delays),
            "timeout": self.timeout,
            "estimate": self.estimate.to_dict(),
            "worst_case": self.worst_case,
            "checkpoint": self.checkpoint,
            "when": self.when,
            "runs": self.runs,
            "condition": self.condition,
        }


@dataclass(frozen=True, slots=True)
class Undo:
    """One compensation of a contingency: the milestone undone and the handler that undoes it."""

    milestone: str
    title: str
    compensation: str

    def to_dict(self) -> dict[str, Any]:
        return {"milestone": self.milestone, "title": self.title, "compensation": self.compensation}


_MILESTONE = operator.attrgetter("milestone")  # in C: a long saga has ~n²/2 of them


@dataclass(frozen=True, slots=True)
class Contingency:
    """What a saga undoes if ``milestone`` fails for good: ``undo``, in the order it runs (the
    nearest completed milestone first). ``sentence`` says it: "if payment fails: undo order"
    (a chain of more than five is shortened: "undo m9, then m8, then m7, then m6, ... then m0
    (10 compensations)")."""

    milestone: str
    title: str
    undo: tuple[Undo, ...]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        # the ids only: the compensations themselves are in the steps (a long saga's plan
        # would otherwise repeat each one for every step after it)
        return {
            "milestone": self.milestone,
            "title": self.title,
            "undo": list(map(_MILESTONE, self.undo)),
            "sentence": self.sentence,
        }


@dataclass(frozen=True, slots=True)
class Durations:
    """How long the run takes, in seconds.

    ``expected`` sums the expected duration of the steps that run or may run; the steps in
    ``unestimated`` have no estimate, so it is a lower bound when there are any. ``worst_case``
    is every attempt of every such step to its timeout, plus every retry delay; None when a step
    in ``unbounded`` has neither a timeout nor an estimate. ``compensation_worst_case`` (sagas
    with the saga policy on) adds undoing everything, each compensation at its worst.
    ``deadline`` is the one the plan was checked against, if any.
    """

    expected: float
    worst_case: float | None
    compensation_worst_case: float | None = None
    unestimated: tuple[str, ...] = ()
    unbounded: tuple[str, ...] = ()
    deadline: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "worst_case": self.worst_case,
            "compensation_worst_case": self.compensation_worst_case,
            "unestimated": list(self.unestimated),
            "unbounded": list(self.unbounded),
            "deadline": self.deadline,
        }


@dataclass(frozen=True, slots=True)
class Node:
    """A state of the compiled machine: ``id`` its name (``undo:order``), ``label`` in words."""

    id: str
    label: str
    kind: NodeKind

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Edge:
    """The transitions from ``source`` to ``dest``: their triggers (with the condition, if any,
    in brackets: ``fail [saga]``) and what kind of move they are."""

    source: str
    dest: str
    triggers: tuple[str, ...]
    kind: EdgeKind

    @property
    def label(self) -> str:
        return " | ".join(self.triggers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dest": self.dest,
            "triggers": list(self.triggers),
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class Diagram:
    """The compiled machine as a graph: its states, its transitions, and the first state."""

    initial: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "initial": self.initial,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """What a run of a journey will do, before it runs: :func:`journeys.plan` or
    ``engine.plan`` builds it, :func:`journeys.render` shows it.

    ``steps`` are the milestones in order (a session's pillars, visited in any order);
    ``compensation`` is a saga's contingency plan, one entry per milestone that can fail with
    something to undo (empty when the saga policy is off); ``resources`` sums the estimated
    resources of the steps that run or may run; ``policy`` is the resolved policy the plan was
    made under and ``policy_origins`` where each value came from (empty when not known);
    ``inputs`` are the inputs it was made for (None: not given, so what depends on them is shown
    as ``«inputs.name»``); ``planner`` names the planner that made it. ``ok`` is true when there
    are no ``errors``.
    """

    plan_id: str
    journey: str
    version: int
    kind: str
    title: str
    description: str
    definition_hash: str
    created_at: str
    tenant: str | None
    inputs: Mapping[str, Any] | None
    policy: Mapping[str, Any]
    policy_origins: Mapping[str, Any]
    planner: str
    steps: tuple[PlanStep, ...]
    compensation: tuple[Contingency, ...]
    durations: Durations
    resources: Mapping[str, float]
    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]
    diagram: Diagram

    @property
    def ok(self) -> bool:
        """True when the plan has no errors (a run of it may start)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-ready data (what ``journeys plan --format json`` prints)."""
        return {
            "plan_id": self.plan_id,
            "journey": self.journey,
            "version": self.version,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "definition_hash": self.definition_hash,
            "created_at": self.created_at,
            "tenant": self.tenant,
            "inputs": thaw(self.inputs) if self.inputs is not None else None,
            "policy": thaw(self.policy),
            "policy_origins": thaw(self.policy_origins),
            "planner": self.planner,
            "ok": self.ok,
            "steps": [s.to_dict() for s in self.steps],
            "compensation": [c.to_dict() for c in self.compensation],
            "durations": self.durations.to_dict(),
            "resources": thaw(self.resources),
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
            "diagram": self.diagram.to_dict(),
        }
