"""Definition -> one `transitions` machine, shared by every run of that definition.

The machine is the source of truth for what may happen next: the runner fires a trigger and the
machine, through its transitions and their conditions, decides where the run goes. Its states are
the milestones (so a diagram reads like the journey), ``undo:<milestone>`` for each compensation,
and the terminal run statuses; its triggers are the legal moves:

========== ==================================================================================
succeed    a milestone is done: on to the next one, or ``completed`` after the last
skip       a ``when`` guard is false (forward), or a milestone was never completed (undoing)
retry      an attempt failed and another follows (an internal transition: the state stays)
fail       failed for good: into the compensation chain (saga policy on) or ``failed``;
           from an ``undo:`` state, ``compensation_failed``
undone     a compensation is done: on to the previous one, or ``compensated``/``cancelled``
cancel     stop: compensate what was completed (saga policy on), end ``cancelled``
leave      (sessions) from a pillar to the hub; ``enter:<pillar>`` from the hub to a pillar
complete   (sessions) end the session
rollback   back to a checkpoint: compensate what was completed after it, then ``rolled_back``;
           from there ``resume:<milestone>`` goes on forward
========== ==================================================================================

Two traps of transitions 0.9 are avoided by construction (shared/BASELINES.md): the default
``auto_transitions=True`` adds a ``to_<state>`` transition from every state to every other
(quadratic: 1,000,999 transitions for 1,000 states), and ``add_model`` binds a method per trigger
and per state on each model and scans the attached models. Here ``auto_transitions`` is off, no
model is ever attached, and runs fire events directly with their own small model object, so
starting a run costs the same for 10 milestones as for 1,000. Sessions navigate through a hub
state (two transitions per pillar) rather than a transition between every pair of pillars.
Conditions are Python callables, never names: transitions would resolve a string by importing it.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from transitions import Machine, MachineError

from journeys.definitions import expressions
from journeys.definitions.model import Definition, Milestone
from journeys.errors import StateError

__all__ = ["HUB", "TERMINAL", "Compiled", "RunModel", "compile", "strict_expression", "undo_state"]

TERMINAL: Final = frozenset(
    {"completed", "failed", "compensated", "compensation_failed", "cancelled", "rolled_back"}
)
"""The terminal states, named after the run status each one means."""

HUB: Final = "session:hub"
"""A session's state between two pillars."""

_UNDO = "undo:"


def undo_state(milestone: str) -> str:
    """The state in which ``milestone``'s compensation runs."""
    return _UNDO + milestone


class RunModel(Protocol):
    """What the machine's conditions read from a run (the runner's record provides it)."""

    state: str
    saga: bool
    cancelling: bool
    completed: list[str]

    def scope(self) -> dict[str, Any]:
        """The names a ``when`` guard may use: inputs, results, run."""
        ...


Condition = Callable[[Any], bool]


@dataclass(frozen=True, eq=False, slots=True)
class Compiled:
    """A definition compiled into its machine, with what the runner looks up per state."""

    definition: Definition
    machine: Machine
    first: str
    milestones: Mapping[str, Milestone]
    undoes: Mapping[str, Milestone]
    skippable: frozenset[str]
    plain: Mapping[tuple[str, str], str | None]
    """``(state, trigger) -> destination`` (None: stay) of the moves that have nothing for
    transitions' event loop to decide or call: see :func:`_plain`."""
    decided: Mapping[tuple[str, str], tuple[Choice, ...]] = field(default_factory=dict)
    """``(state, trigger) ->`` its transitions, in order, when only their conditions decide
    between them (no callback to call): see :func:`_decided`."""

    def fire(self, model: RunModel, trigger: str) -> bool:
        """Fire ``trigger`` on a run; True if a transition took place.

        Raises :class:`StateError` when the trigger is not legal from the run's state.
        """
        dest = self.plain.get((model.state, trigger), _EVALUATE)
        if dest is not _EVALUATE:
            if dest is not None:
                model.state = dest
            return True
        choices = self.decided.get((model.state, trigger))
        if choices is not None:  # as transitions decides: the first whose conditions all hold
            asked = _Asked(model)
            for dest, conditions in choices:
                if all(check(asked) == wanted for check, wanted in conditions):
                    if dest is not None:
                        model.state = dest
                    return True
            return False
        event = self.machine.events.get(trigger)
        if event is None or model.state not in event.transitions:
            raise StateError(
                f"{trigger!r} is not possible from state {model.state!r} of journey"
                f" {self.definition.journey!r}"
            )
        try:
            return bool(event.trigger(model))
        except MachineError as error:  # pragma: no cover - guarded by the check above
            raise StateError(str(error)) from error

    def can(self, state: str, trigger: str) -> bool:
        """Whether ``trigger`` has a transition from ``state``."""
        event = self.machine.events.get(trigger)
        return event is not None and state in event.transitions

    def triggers(self, state: str) -> list[str]:
        """The triggers that have a transition from ``state``, in the order they were added."""
        return [name for name, event in self.machine.events.items() if state in event.transitions]


_cache: OrderedDict[str, Compiled] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE: Final = 256


def compile(definition: Definition) -> Compiled:
    """The machine of ``definition``, built once per content hash and shared by all its runs."""
    key = definition.content_hash
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    compiled = _build(definition)
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def _build(definition: Definition) -> Compiled:
    milestones = definition.milestones
    machine = Machine(
        model=None,
        states=[],
        initial=None,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
    )
    if definition.kind == "session":
        first, skippable, undoes = _session(machine, milestones)
    else:
        first, skippable, undoes = _forward(machine, milestones)
    return Compiled(
        definition=definition,
        machine=machine,
        first=first,
        milestones={m.id: m for m in milestones},
        undoes=undoes,
        skippable=frozenset(skippable),
        plain=_plain(machine),
        decided=_decided(machine),
    )


_EVALUATE: Final[Any] = object()

Choice = tuple[str | None, tuple[tuple[Callable[[Any], Any], bool], ...]]
"""A transition as :meth:`Compiled.fire` decides it: its destination (None: stay) and its
conditions, each a callable and the answer it must give (False for an ``unless``)."""


@dataclass(frozen=True, slots=True)
class _Asked:
    """What a condition is given in place of transitions' ``EventData``: every condition
    this module writes reads ``event.model`` alone."""

    model: RunModel


def _plain(machine: Machine) -> dict[tuple[str, str], str | None]:
    """The moves whose outcome the machine fixes in advance: the only transition of a trigger
    from a state, with no condition and no callback, on a machine with no callbacks and states
    with none either. Firing one through ``Event.trigger`` builds an event, runs the empty
    callback lists and writes five debug log records, about 8 µs, as much as the rest of a
    no-op milestone; its whole effect is the new state, which :meth:`Compiled.fire` sets
    itself. The table is read off the machine, so the machine still decides every move; the
    rest (guards, saga and rollback choices) go through :func:`_decided` or transitions."""
    return {
        key: choices[0][0]
        for key, choices in _quiet_moves(machine).items()
        if len(choices) == 1 and not choices[0][1]
    }


def _decided(machine: Machine) -> dict[tuple[str, str], tuple[Choice, ...]]:
    """The moves that only their conditions decide (a saga's failure, each compensation's
    next step, a guard's skip): transitions' ``Event.trigger`` would try the transitions in
    order and take the first whose conditions all hold, calling nothing else, and that is
    what :meth:`Compiled.fire` does with this table, for a tenth of the cost. Read off the
    machine like :func:`_plain`; a condition that is not one of this module's callables
    leaves its move to transitions."""
    return {
        key: choices
        for key, choices in _quiet_moves(machine).items()
        if len(choices) > 1 or choices[0][1]
    }


def _quiet_moves(machine: Machine) -> dict[tuple[str, str], tuple[Choice, ...]]:
    """Every ``(state, trigger)`` whose transitions call nothing but their conditions, on a
    machine and between states with no callbacks."""
    if any(
        (
            machine.prepare_event,
            machine.before_state_change,
            machine.after_state_change,
            machine.finalize_event,
            machine.on_exception,
            machine.on_final,
        )
    ):
        return {}
    quiet = {
        name
        for name, state in machine.states.items()
        if not (state.on_enter or state.on_exit or state.final)
    }
    moves: dict[tuple[str, str], tuple[Choice, ...]] = {}
    for trigger, event in machine.events.items():
        for source, candidates in event.transitions.items():
            if source not in quiet or not candidates:
                continue
            choices: list[Choice] = []
            for transition in candidates:
                if transition.prepare or transition.before or transition.after:
                    break
                if transition.dest is not None and transition.dest not in quiet:
                    break
                checks = [(c.func, bool(c.target)) for c in transition.conditions]
                if not all(callable(check) for check, _ in checks):
                    break
                conditions = tuple((check, wanted) for check, wanted in checks if callable(check))
                choices.append((transition.dest, conditions))
            else:
                moves[(source, trigger)] = tuple(choices)
    return moves


def _saga_on(event: Any) -> bool:
    return bool(event.model.saga)


def _cancelling(event: Any) -> bool:
    return bool(event.model.cancelling)


def _forward(
    machine: Machine, milestones: tuple[Milestone, ...]
) -> tuple[str, set[str], dict[str, Milestone]]:
    ids = [m.id for m in milestones]
    position = {ident: index for index, ident in enumerate(ids)}
    compensable = [m for m in milestones if m.compensation]
    machine.add_states([*ids, *(undo_state(m.id) for m in compensable), *sorted(TERMINAL)])
    skippable: set[str] = set()
    previous: str | None = None  # the nearest compensable milestone before the current one
    for index, milestone in enumerate(milestones):
        state = milestone.id
        _rollback_from(machine, state, previous, position)
        after = ids[index + 1] if index + 1 < len(ids) else "completed"
        machine.add_transition("succeed", state, after)
        guard = _guard(milestone)
        if guard is not None:
            machine.add_transition("skip", state, after, conditions=[guard])
            skippable.add(state)
        machine.add_transition("retry", state, None)
        for trigger, plain_end in (("fail", "failed"), ("cancel", "cancelled")):
            if previous is not None:
                machine.add_transition(trigger, state, undo_state(previous), conditions=[_saga_on])
            elif trigger == "fail":
                machine.add_transition(trigger, state, "compensated", conditions=[_saga_on])
            machine.add_transition(trigger, state, plain_end)
        if milestone.compensation:
            _undo(machine, milestone, previous, position)
            previous = milestone.id
    for end in ("completed", "failed"):
        _rollback_from(machine, end, previous, position)
    for ident in (*ids, "completed"):
        machine.add_transition(f"resume:{ident}", "rolled_back", ident)
    if previous is not None:
        # a saga cancelled after a rollback still undoes what it kept (up to the checkpoint):
        # a cancelled saga leaves no effects, however it got there
        machine.add_transition("cancel", "rolled_back", undo_state(previous), conditions=[_saga_on])
    machine.add_transition("cancel", "rolled_back", "cancelled")
    undoes = {undo_state(m.id): m for m in compensable}
    skippable.update(undoes)
    return ids[0], skippable, undoes


def _undo(
    machine: Machine, milestone: Milestone, previous: str | None, position: Mapping[str, int]
) -> None:
    state = undo_state(milestone.id)

    def never_completed(event: Any, ident: str = milestone.id) -> bool:
        return ident not in event.model.completed

    def rollback_stops(event: Any) -> bool:
        """Rolling back, and the next compensation would undo the checkpoint or before it."""
        target = event.model.rollback_to
        return target is not None and (previous is None or position[previous] <= position[target])

    choices: list[tuple[str, list[Any]]] = [("skip", [never_completed]), ("undone", [])]
    for trigger, conditions in choices:
        machine.add_transition(
            trigger, state, "rolled_back", conditions=[*conditions, rollback_stops]
        )
        if previous is not None:
            machine.add_transition(trigger, state, undo_state(previous), conditions=conditions)
        else:
            machine.add_transition(
                trigger, state, "cancelled", conditions=[*conditions, _cancelling]
            )
            machine.add_transition(trigger, state, "compensated", conditions=conditions)
    machine.add_transition("retry", state, None)
    machine.add_transition("fail", state, "compensation_failed")


def _rollback_from(
    machine: Machine, state: str, previous: str | None, position: Mapping[str, int]
) -> None:
    """``rollback`` from ``state``: into the compensations of the milestones completed after
    the run's checkpoint (``rollback_to``), nearest first, or straight to ``rolled_back`` when
    there is nothing after it to undo."""
    if previous is not None:

        def undo_needed(event: Any, at: int = position[previous]) -> bool:
            return bool(position[event.model.rollback_to] < at)

        machine.add_transition("rollback", state, undo_state(previous), conditions=[undo_needed])
    machine.add_transition("rollback", state, "rolled_back")


def _guard(milestone: Milestone) -> Condition | None:
    """The condition under which ``milestone`` is skipped, or None if it never is."""
    when = milestone.when
    if when is None or when is True:
        return None
    if when is False:
        return lambda event: True
    expression = strict_expression(when)

    def guard_is_false(event: Any) -> bool:
        return not expression(**event.model.scope())

    return guard_is_false


@functools.lru_cache(maxsize=4096)
def strict_expression(text: str) -> Any:
    """``text`` compiled as a Jinja expression in the shared sandbox that keeps an undefined
    result undefined.

    Jinja's ``compile_expression`` turns an undefined result into None by default, which hid
    exactly the mistakes strict undefined is there to catch: ``when: "inputs.flag"`` without a
    ``flag`` silently skipped the milestone, and ``"{{ inputs.missing }}"`` or the sandbox's
    ``"{{ inputs.__class__ }}"`` passed None to the handler. Kept undefined, the value raises
    (``UndefinedError``, or ``SecurityError`` for the sandbox) as soon as it is used or tested.
    """
    return expressions.environment().compile_expression(text, undefined_to_none=False)


def _session(
    machine: Machine, pillars: tuple[Milestone, ...]
) -> tuple[str, set[str], dict[str, Milestone]]:
    ids = [m.id for m in pillars]
    machine.add_states([*ids, HUB, "completed", "cancelled", "failed"])
    for pillar in ids:
        machine.add_transition("leave", pillar, HUB)
        machine.add_transition(f"enter:{pillar}", HUB, pillar)
        machine.add_transition("retry", pillar, None)
        machine.add_transition("complete", pillar, "completed")
        machine.add_transition("cancel", pillar, "cancelled")
        machine.add_transition("fail", pillar, "failed")
    return ids[0], set(), {}
