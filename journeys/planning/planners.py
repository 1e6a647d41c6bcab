"""Planners: how a plan is made. ``planning.planner`` names one; ``template`` is the built-in.

A planner is a function of a :class:`Request` that returns a :class:`~journeys.Plan`.
Applications register their own, in the same style as handlers::

    @journeys.planner("llm")
    def ask_the_model(request):
        plan = journeys.planning.template(request)       # start from the built-in plan
        return dataclasses.replace(plan, steps=...)       # and say it better

A planner that raises, or returns something other than a plan, is replaced by ``template`` and
the plan says so in a warning (:func:`journeys.planning.builder.build`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from journeys.definitions.model import Definition
from journeys.errors import JourneyError, did_you_mean
from journeys.handlers.registry import Registry

if TYPE_CHECKING:
    from journeys.planning.history import Learned
    from journeys.planning.model import Plan

__all__ = ["PlannerRegistry", "Request", "default_planners", "planner"]


@dataclass(frozen=True, slots=True)
class Request:
    """What a planner is asked to plan.

    ``inputs`` are the run's inputs (None: not given); ``policy`` the resolved policy and
    ``origins`` where each of its values came from (``policy file p.yaml default``);
    ``registry`` the handlers to check names against, and ``handlers_checked`` whether a name
    missing from it is an error (true) or only unchecked (a preview before the handler code
    exists); ``learned`` the estimates observed in the store, by milestone (empty unless
    ``planning.learn_from_results``); ``deadline`` the longest the run may take, in seconds.
    """

    definition: Definition
    inputs: Mapping[str, Any] | None
    tenant: str | None
    policy: Mapping[str, Any]
    origins: Mapping[str, Any] = field(default_factory=dict)
    registry: Registry | None = None
    handlers_checked: bool = False
    learned: Mapping[str, Learned] = field(default_factory=dict)
    deadline: float | None = None
    plan_id: str | None = None


Planner = Callable[[Request], "Plan"]
P = TypeVar("P", bound=Planner)


class PlannerRegistry:
    """Planners by name."""

    def __init__(self) -> None:
        self._planners: dict[str, Planner] = {}

    def register(self, name: str, function: Planner, *, replace: bool = False) -> None:
        """Register ``function`` as the planner ``name``; twice needs ``replace=True``."""
        if not name or not name.replace("_", "").replace(".", "").isalnum():
            raise JourneyError(f"{name!r} is not a planner name: use letters, digits, _ and .")
        existing = self._planners.get(name)
        if existing is not None and existing is not function and not replace:
            raise JourneyError(
                f"planner {name!r} is already registered; pass replace=True to replace it"
            )
        self._planners[name] = function

    def planner(self, name: str, *, replace: bool = False) -> Callable[[P], P]:
        """Decorator: ``@planners.planner("llm")`` registers the function below it."""

        def register(function: P) -> P:
            self.register(name, function, replace=replace)
            return function

        return register

    def get(self, name: str) -> Planner:
        """The planner ``name``; a :class:`JourneyError` naming the closest if there is none."""
        try:
            return self._planners[name]
        except KeyError:
            raise JourneyError(
                f"no planner is registered as {name!r}{did_you_mean(name, self._planners)};"
                f" registered: {', '.join(sorted(self._planners))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._planners

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._planners))


default_planners = PlannerRegistry()
"""The registry :func:`planner` registers into; ``template`` is always there."""


def planner(name: str, *, replace: bool = False) -> Callable[[P], P]:
    """Register a planner in the default registry: ``@journeys.planner("llm")``."""
    return default_planners.planner(name, replace=replace)
