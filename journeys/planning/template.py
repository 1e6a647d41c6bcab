"""The built-in planner, ``template``: the plan read from the definition itself.

Every step's ``doc`` is rendered with the inputs and its ``when`` guard evaluated against them
(:mod:`journeys.planning.preview`); estimates are the declared ones or those learned from the
store; the worst case assumes every attempt runs to its timeout and every retry waits its
longest delay (with jitter, half as long again). The checks a reviewer wants before anything
runs become the plan's errors and warnings.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from journeys.definitions.model import Definition, Milestone, Retry, freeze, thaw
from journeys.engine import compiler
from journeys.engine import inputs as inputs_module
from journeys.errors import InputError
from journeys.planning import graph, preview, words
from journeys.planning.model import (
    Contingency,
    Durations,
    Issue,
    Plan,
    PlanStep,
    Runs,
    StepEstimate,
    Undo,
)
from journeys.planning.planners import Request, default_planners

__all__ = ["template"]

_JITTER_MOST = 1.5  # the runner's jitter multiplies a delay by 0.5 to 1.5


def template(request: Request) -> Plan:
    """The plan of a run of ``request.definition``, from the definition alone."""
    definition = request.definition
    policy = request.policy
    errors: list[Issue] = []
    warnings: list[Issue] = []
    values = _inputs(request, errors, warnings)
    names = preview.scope(
        values,
        given=request.inputs is not None,
        journey=definition.journey,
        tenant=request.tenant,
    )
    _check_handlers(request, errors, warnings)
    checkpoints, chosen = _checkpoints(definition, policy)
    session = definition.kind == "session"
    steps = tuple(
        _step(request, milestone, facts, names, checkpoints, session, errors, warnings)
        for milestone, facts in zip(definition.milestones, _facts(definition), strict=True)
    )
    saga = definition.kind == "saga" and bool(_capability(policy, "saga").get("enabled"))
    _check_saga(definition, saga, warnings)
    _check_checkpoints(definition, chosen, warnings)
    durations = _durations(steps, definition, saga, request.deadline, errors, warnings)
    resources: dict[str, float] = {}
    for step in steps:
        if step.runs != "no":
            for name, amount in step.estimate.resources.items():
                resources[name] = resources.get(name, 0.0) + amount
    return Plan(
        plan_id=request.plan_id or str(uuid.uuid4()),
        journey=definition.journey,
        version=definition.version,
        kind=definition.kind,
        title=definition.title,
        description=definition.description,
        definition_hash=definition.content_hash,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tenant=request.tenant,
        inputs=freeze(values) if request.inputs is not None else None,
        policy=freeze(thaw(policy)),
        policy_origins=freeze(thaw(request.origins)),
        planner="template",
        steps=steps,
        compensation=_contingencies(definition, _skipped(steps)) if saga else (),
        durations=durations,
        resources=freeze(resources),
        errors=tuple(errors),
        warnings=tuple(warnings),
        diagram=graph.for_policy(compiler.compile(definition), policy),
    )


default_planners.register("template", template)


def _capability(policy: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = policy.get(name)
    return found if isinstance(found, Mapping) else {}


def _inputs(request: Request, errors: list[Issue], warnings: list[Issue]) -> dict[str, Any]:
    """The inputs with the schema's defaults; their problems as errors (given) or a warning
    (not given, and some are required)."""
    definition = request.definition
    given = request.inputs
    try:
        return inputs_module.validate(definition, given or {})
    except InputError as error:
        if given is not None:
            for where, message in error.problems or (("/", str(error)),):
                errors.append(Issue("error", "invalid_inputs", f"input {where}: {message}", None))
        elif definition.inputs.get("required"):
            required = ", ".join(str(n) for n in definition.inputs.get("required") or ())
            warnings.append(
                Issue(
                    "warning",
                    "no_inputs",
                    f"no inputs given (required: {required}): values that depend on them show"
                    " as «inputs.name» and when: guards on them cannot be known yet",
                )
            )
    values = dict(given or {})
    properties = definition.inputs.get("properties")
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            if name not in values and isinstance(spec, Mapping) and "default" in spec:
                values[name] = thaw(spec["default"])
    return values


def _check_handlers(request: Request, errors: list[Issue], warnings: list[Issue]) -> None:
    registry = request.registry
    unchecked: list[str] = []
    for milestone in request.definition.milestones:
        for role, name in (("action", milestone.action), ("compensation", milestone.compensation)):
            if name is None or (registry is not None and name in registry):
                continue
            if request.handlers_checked and registry is not None:
                errors.append(
                    Issue(
                        "error",
                        "unknown_handler",
                        f"milestone {milestone.id!r} ({role}): {registry.unknown(name)}",
                        milestone.id,
                    )
                )
            elif name not in unchecked:
                unchecked.append(name)
    if unchecked:
        warnings.append(
            Issue(
                "warning",
                "handlers_not_checked",
                f"handlers not checked (none were loaded; --handlers checks them):"
                f" {', '.join(unchecked)}",
            )
        )


def _checkpoints(
    definition: Definition, policy: Mapping[str, Any]
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The milestones a rollback can return to under ``policy``, as a run counts them
    (:func:`journeys.engine.policy.is_checkpoint`: with ``auto_checkpoint`` every one, else
    those named and those marked ``checkpoint: true``), and the ones the author chose (named
    or marked), which alone are worth a warning when nothing after them can be undone."""
    rollback = _capability(policy, "rollback")
    if not rollback.get("enabled") or definition.kind == "session":
        return frozenset(), ()
    chosen = list(rollback.get("checkpoints") or ())
    chosen += [m.id for m in definition.milestones if m.checkpoint and m.id not in chosen]
    every = rollback.get("auto_checkpoint", True)
    return frozenset(definition.ids if every else chosen), tuple(chosen)


def _step(
    request: Request,
    milestone: Milestone,
    facts: _Facts,
    names: Mapping[str, Any],
    checkpoints: frozenset[str],
    session: bool,
    errors: list[Issue],
    warnings: list[Issue],
) -> PlanStep:
    runs: Runs
    if session:
        runs, condition = (
            ("yes", "runs when the session starts, and on every visit")
            if milestone.index == 0
            else ("unknown", "runs each time the session navigates to it")
        )
    else:
        try:
            runs, condition = preview.evaluate_guard(milestone.when, names)
        except Exception as error:
            runs, condition = "unknown", f"its when: guard fails: {_describe(error)}"
            errors.append(
                Issue(
                    "error",
                    "guard_error",
                    f"milestone {milestone.id!r}: its when: guard `{milestone.when}` will fail"
                    f" with these inputs: {_describe(error)}",
                    milestone.id,
                )
            )
    doc = None
    if milestone.doc is not None:
        try:
            doc = preview.render_doc(milestone.doc, names)
        except Exception as error:
            doc = milestone.doc
            warnings.append(
                Issue(
                    "warning",
                    "doc_error",
                    f"milestone {milestone.id!r}: its doc cannot be rendered with these inputs:"
                    f" {_describe(error)}",
                    milestone.id,
                )
            )
    # Without a timeout nothing bounds an attempt, whatever its estimate says: the worst case
    # is unbounded (docs/format.md), and the warning says why.
    if milestone.timeout is None and not milestone.is_wait and runs != "no":
        warnings.append(
            Issue(
                "warning",
                "no_timeout",
                f"milestone {milestone.id!r} has no timeout: an attempt that hangs holds the run",
                milestone.id,
            )
        )
    return PlanStep(
        number=milestone.index + 1,
        id=milestone.id,
        title=milestone.title,
        doc=doc,
        action=milestone.action,
        compensation=milestone.compensation,
        retry=facts.retry,
        retries=milestone.retry.retries,
        delays=facts.delays,
        timeout=milestone.timeout,
        estimate=_estimate(request, milestone, facts),
        worst_case=facts.worst,
        checkpoint=milestone.id in checkpoints,
        when=facts.when,
        runs=runs,
        condition=condition,
    )


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the plan says of a milestone whatever the inputs and the policy.

    ``attempts`` is every attempt to its timeout (None without a timeout), ``waiting`` every
    retry delay at its longest (with jitter); ``worst`` the step's worst case, their sum (a
    wait's is its timeout); ``estimate`` the declared one.
    """

    retry: str
    delays: tuple[float, ...]
    attempts: float | None
    waiting: float
    worst: float | None
    estimate: StepEstimate
    when: str | None


@functools.lru_cache(maxsize=64)
def _facts(definition: Definition) -> tuple[_Facts, ...]:
    """The facts of each milestone, made once per definition: every plan of a journey shares
    them (a definition never changes; a 1,000-milestone one takes milliseconds to read)."""
    words_of: dict[Retry, tuple[str, tuple[float, ...], float]] = {}
    found = []
    for milestone in definition.milestones:
        retry = milestone.retry
        if retry not in words_of:  # milestones share their retry policies, as a rule
            delays = retry.delays()
            longest = sum(delays) * (_JITTER_MOST if retry.jitter else 1.0)
            words_of[retry] = (words.retry(retry), delays, longest)
        text, delays, longest = words_of[retry]
        timeout = milestone.timeout
        attempts = None if timeout is None else timeout * (retry.retries + 1)
        declared = milestone.estimate
        if declared.duration is not None:
            estimate = StepEstimate(
                duration=declared.duration, source="declared", resources=declared.resources
            )
        else:
            estimate = StepEstimate(resources=declared.resources)
        found.append(
            _Facts(
                retry=text,
                delays=delays,
                attempts=attempts,
                waiting=longest,
                worst=timeout if milestone.is_wait or attempts is None else attempts + longest,
                estimate=estimate,
                when=milestone.when if isinstance(milestone.when, str) else None,
            )
        )
    return tuple(found)


def _estimate(request: Request, milestone: Milestone, facts: _Facts) -> StepEstimate:
    learned = request.learned.get(milestone.id)
    if learned is None:
        return facts.estimate
    return StepEstimate(
        duration=learned.median,
        p95=learned.p95,
        runs=learned.runs,
        source="history",
        resources=milestone.estimate.resources,
    )


def _check_saga(definition: Definition, saga: bool, warnings: list[Issue]) -> None:
    if definition.kind != "saga":
        return
    if not saga:
        warnings.append(
            Issue(
                "warning",
                "saga_off",
                "this saga's saga policy is off: a milestone that fails for good ends the run"
                " failed, and nothing is compensated",
            )
        )
        return
    for milestone in definition.milestones:
        if milestone.action is not None and milestone.compensation is None:
            warnings.append(
                Issue(
                    "warning",
                    "no_compensation",
                    f"milestone {milestone.id!r} has no compensation: if a later milestone"
                    " fails, what it did stays done",
                    milestone.id,
                )
            )


def _check_checkpoints(
    definition: Definition, checkpoints: Sequence[str], warnings: list[Issue]
) -> None:
    ids = definition.ids
    for checkpoint in checkpoints:
        if checkpoint not in ids:
            continue
        after = definition.milestones[ids.index(checkpoint) + 1 :]
        if not any(m.compensation for m in after):
            warnings.append(
                Issue(
                    "warning",
                    "empty_checkpoint",
                    f"rollback checkpoint {checkpoint!r} has nothing to undo after it: no later"
                    " milestone has a compensation",
                    checkpoint,
                )
            )


_MOST_NAMED = 5


def _skipped(steps: Sequence[PlanStep]) -> tuple[int, ...]:
    return tuple(step.number for step in steps if step.runs == "no")


@functools.lru_cache(maxsize=8)
def _contingencies(definition: Definition, skipped: tuple[int, ...]) -> tuple[Contingency, ...]:
    """For each step that may run (all but the ``skipped`` numbers): what is undone if it
    fails for good, nearest first.

    A long saga's chains add up to n²/2 entries (half a million for 1,000 milestones, the
    most of a plan's time), and they depend only on the definition and the steps its guards
    skip: they are kept for the last few, and plans of the same journey share them (they
    are frozen).
    """
    skip = set(skipped)
    running = [m for m in definition.milestones if m.index + 1 not in skip]
    # Every compensable step, each made once, newest first: what a step's failure undoes is
    # the tail of it past the steps not yet done (a slice, not a walk back along the chain).
    newest_first = tuple(
        Undo(step.id, step.title, step.compensation)
        for step in reversed(running)
        if step.compensation is not None
    )
    found = []
    done = 0  # the compensable steps before this one
    for step in running:
        undo = newest_first[len(newest_first) - done :]
        if not undo:
            sentence = f"if {step.id} fails: nothing to undo"
        elif len(undo) <= _MOST_NAMED:
            sentence = f"if {step.id} fails: undo " + ", then ".join(u.milestone for u in undo)
        else:  # a long chain: its nearest steps and its end, not a paragraph per step
            named = ", then ".join(u.milestone for u in undo[: _MOST_NAMED - 1])
            sentence = (
                f"if {step.id} fails: undo {named}, ... then {undo[-1].milestone}"
                f" ({len(undo)} compensations)"
            )
        found.append(Contingency(step.id, step.title, undo, sentence))
        if step.compensation is not None:
            done += 1
    return tuple(found)


def _durations(
    steps: Sequence[PlanStep],
    definition: Definition,
    saga: bool,
    deadline: float | None,
    errors: list[Issue],
    warnings: list[Issue],
) -> Durations:
    running = [s for s in steps if s.runs != "no"]
    expected = sum(s.estimate.duration or 0.0 for s in running)
    unestimated = tuple(s.id for s in running if s.estimate.duration is None and not s.wait)
    unbounded = tuple(s.id for s in running if s.worst_case is None)
    worst = None if unbounded else sum(s.worst_case or 0.0 for s in running)
    compensation_worst = None
    if saga and worst is not None:
        facts = _facts(definition)
        undoing: float | None = 0.0
        # The longest path: every step to its worst, the last one failing for good, then the
        # undoing of all before it (the failed step itself is never compensated), each
        # compensation under its milestone's timeout and retries.
        for step in running[:-1]:
            if step.compensation is None:
                continue
            milestone = facts[step.number - 1]
            if milestone.attempts is None:  # a compensation with no timeout: unbounded
                undoing = None
                break
            undoing = (undoing or 0.0) + milestone.attempts
            undoing += milestone.waiting
        compensation_worst = None if undoing is None else worst + undoing
    if deadline is not None:
        if worst is None:
            warnings.append(
                Issue(
                    "warning",
                    "deadline",
                    f"the worst case is unbounded ({', '.join(unbounded)} without a timeout):"
                    f" it cannot be checked against the deadline of {words.duration(deadline)}",
                )
            )
        elif worst > deadline:
            errors.append(
                Issue(
                    "error",
                    "deadline",
                    f"the worst case, {words.duration(worst)}, is beyond the deadline of"
                    f" {words.duration(deadline)}",
                )
            )
    return Durations(
        expected=expected,
        worst_case=worst,
        compensation_worst_case=compensation_worst,
        unestimated=unestimated,
        unbounded=unbounded,
        deadline=deadline,
    )


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
