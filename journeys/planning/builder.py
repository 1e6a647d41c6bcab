"""Building a plan: the policy it is made under, the estimates learned, the planner chosen.

:func:`build` is what ``engine.plan`` and ``engine.start`` (forward documentation, the
validation gate) call with what they already have; :func:`plan` is the same without an engine,
for previews (``journeys plan FILE``) and tests.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from journeys.definitions.loader import load_definition
from journeys.definitions.model import Definition
from journeys.engine import policy as policy_module
from journeys.engine.store import Store
from journeys.handlers.registry import Registry
from journeys.planning import history
from journeys.planning.model import Issue, Plan
from journeys.planning.planners import PlannerRegistry, Request, default_planners
from journeys.planning.template import template

__all__ = ["build", "plan", "resolve_policy"]

_BUILTIN = "builtin."  # the handlers every engine's registry holds (journeys.handlers.builtin)


def resolve_policy(
    policies: policy_module.Policies,
    definition: Definition,
    overrides: Mapping[str, Any] | None = None,
) -> policy_module.ResolvedPolicy:
    """The policy a run of ``definition`` would start with, and where each value came from
    (one place to call the engine's resolution from, so plans follow it when it grows)."""
    return policies.resolve(definition, overrides)


def build(
    definition: Definition,
    *,
    inputs: Mapping[str, Any] | None = None,
    tenant: str | None = None,
    policy: Mapping[str, Any] | policy_module.ResolvedPolicy,
    registry: Registry | None = None,
    store: Store | None = None,
    handlers_checked: bool | None = None,
    deadline: float | None = None,
    planner: str | None = None,
    planners: PlannerRegistry = default_planners,
    plan_id: str | None = None,
) -> Plan:
    """The plan of a run of ``definition`` under the resolved ``policy`` (a
    :class:`~journeys.ResolvedPolicy`, whose origins the plan shows, or its values).

    ``inputs`` None means not given (a preview): what depends on them stays unknown and a
    missing required input is no error. Handler names are checked against ``registry``;
    ``handlers_checked`` says whether a name missing from it is an error (default: when the
    registry holds any handler besides the built-ins) or a "handlers not checked" warning.
    With ``planning.learn_from_results`` on and a ``store``, estimates come from the runs it
    holds (only ``tenant``'s, when one is given: how long another tenant's runs took is
    theirs). ``planner`` overrides ``planning.planner``; a planner that fails is replaced by
    ``template``, with a warning.
    """
    origins: Mapping[str, Any] = {}
    if isinstance(policy, policy_module.ResolvedPolicy):
        origins = policy.origins
        policy = policy.values
    found = policy.get("planning")
    planning: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    warnings: list[Issue] = []
    learned: dict[str, history.Learned] = {}
    if store is not None and planning.get("learn_from_results"):
        try:
            learned = history.learn(store, definition.journey, tenant=tenant)
        except Exception as error:  # a plan without learned estimates is still a plan
            warnings.append(
                Issue(
                    "warning",
                    "history_unavailable",
                    f"estimates from past runs are unavailable ({type(error).__name__}:"
                    f" {error}); the declared ones are used",
                )
            )
    if handlers_checked is None:
        handlers_checked = registry is not None and any(
            not name.startswith(_BUILTIN) for name in registry
        )
    request = Request(
        definition=definition,
        inputs=inputs,
        tenant=tenant,
        policy=policy,
        origins=origins,
        registry=registry,
        handlers_checked=handlers_checked,
        learned=learned,
        deadline=deadline,
        plan_id=plan_id,
    )
    name = planner or str(planning.get("planner") or "template")
    if name == "template":
        made = template(request)
    else:
        try:
            made = planners.get(name)(request)
            if not isinstance(made, Plan):
                raise TypeError(f"it returned {type(made).__name__}, not a journeys.Plan")
            made = dataclasses.replace(made, planner=name)
        except Exception as error:
            made = template(request)
            warnings.append(
                Issue(
                    "warning",
                    "planner_failed",
                    f"planner {name!r} failed ({type(error).__name__}: {error}); this is the"
                    " template planner's plan",
                )
            )
    if warnings:
        made = dataclasses.replace(made, warnings=(*made.warnings, *warnings))
    return made


def plan(
    definition: Definition | str | os.PathLike[str],
    inputs: Mapping[str, Any] | None = None,
    *,
    tenant: str | None = None,
    policy: Mapping[str, Any] | None = None,
    policies: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
    handlers_checked: bool | None = None,
    deadline: float | None = None,
    planner: str | None = None,
) -> Plan:
    """The plan of a run, without an engine or a store: :func:`journeys.plan`.

    ``definition`` is a :class:`~journeys.Definition` or a path to one; ``policy`` overrides
    its policies as ``engine.start``'s does; ``policies`` is a policy file layered between them
    (with none, ``JOURNEYS_POLICY_FILE``), and the ``JOURNEYS_<CAPABILITY>_...`` variables
    apply, as they would to a run.
    Without a ``registry``, handler names are not checked (a warning says so).
    """
    if not isinstance(definition, Definition):
        definition = load_definition(definition)
    return build(
        definition,
        inputs=inputs,
        tenant=tenant,
        policy=resolve_policy(policy_module.Policies(policies), definition, policy),
        registry=registry,
        handlers_checked=handlers_checked,
        deadline=deadline,
        planner=planner,
    )
