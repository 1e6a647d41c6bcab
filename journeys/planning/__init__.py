"""Plans: what a run will do before it runs (forward documentation and plan validation).

- :mod:`~journeys.planning.model`: the :class:`Plan` and its parts, frozen data;
- :mod:`~journeys.planning.builder`: :func:`build` (from what an engine has) and :func:`plan`
  (no engine, no store);
- :mod:`~journeys.planning.template`: the built-in planner; :mod:`~journeys.planning.planners`
  the registry of planners;
- :mod:`~journeys.planning.preview`: templates and guards evaluated with what is known;
- :mod:`~journeys.planning.history`: estimates learned from a store's past runs;
- :mod:`~journeys.planning.graph`: the compiled machine as a graph, for diagrams.

Rendering (Markdown, HTML, text, JSON, diagrams) is :mod:`journeys.renderers`.
"""

from journeys.planning.builder import build, plan, resolve_policy
from journeys.planning.model import (
    Contingency,
    Diagram,
    Durations,
    Edge,
    Issue,
    Node,
    Plan,
    PlanStep,
    StepEstimate,
    Undo,
)
from journeys.planning.planners import PlannerRegistry, Request, default_planners, planner
from journeys.planning.template import template

__all__ = [
    "Contingency",
    "Diagram",
    "Durations",
    "Edge",
    "Issue",
    "Node",
    "Plan",
    "PlanStep",
    "PlannerRegistry",
    "Request",
    "StepEstimate",
    "Undo",
    "build",
    "default_planners",
    "plan",
    "planner",
    "resolve_policy",
    "template",
]
