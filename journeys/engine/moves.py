"""The moves of runs that exist: what the calls from outside (advance, fail, navigate,
complete, cancel, rollback, resume) and the engine's own rounds (due runs, interrupted runs) do
to a run before the engine drives it on.

Each loads the run with the definition it started with, checks that the caller may and that the
call fits the run's state (a refused or misplaced call writes nothing), notes the signal in the
run's history and fires the move on the compiled machine, in memory. It returns a
:data:`Prepared`; the :class:`~journeys.Engine` writes it, claiming the run, and drives it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from journeys.definitions import durations
from journeys.definitions.loader import load_definition
from journeys.definitions.model import Definition
from journeys.engine import compiler, texts
from journeys.engine import runner as runner_module
from journeys.engine import store as store_module
from journeys.engine.compiler import HUB, Compiled
from journeys.engine.run import FINISHED, Entry, RunRecord
from journeys.engine.store import Store
from journeys.errors import (
    AuthorizationError,
    HandlerError,
    JourneyError,
    RunNotFound,
    StateError,
    did_you_mean,
)
from journeys.handlers.registry import Registry

__all__ = ["Moves", "Prepared", "ask", "handler_names", "signal", "taking"]

Prepared = tuple[Compiled, RunRecord, list[Entry], bool]
"""What a call prepared: the machine, the run moved in memory, the history entries of the move,
and whether the run already existed (then the move is written, claiming the run, before any
handler runs)."""


class Moves:
    """Loads runs, checks calls, and prepares their moves, for one engine: its store, its
    handlers, its runner and its ``authorize`` hook. Compiled machines are kept by content
    hash, and the handler check is made once per definition and registry change."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        runner: runner_module.Runner,
        authorize: Callable[[Mapping[str, Any], str, str], bool] | None,
    ) -> None:
        self.store = store
        self.registry = registry
        self._runner = runner
        self._authorize = authorize
        self._compiled: dict[str, Compiled] = {}
        self._handlers_checked: dict[str, int] = {}

    def compile(self, definition: Definition) -> Compiled:
        found = self._compiled.get(definition.content_hash)
        if found is None:
            found = self._compiled[definition.content_hash] = compiler.compile(definition)
        return found

    def check_handlers(self, compiled: Compiled) -> None:
        """Every handler the journey names is registered (checked once per registry change:
        a start must not cost more for a longer journey)."""
        key = compiled.definition.content_hash
        if self._handlers_checked.get(key) == self.registry.version:
            return
        missing = []
        for milestone in compiled.definition.milestones:
            for role, name in (
                ("action", milestone.action),
                ("compensation", milestone.compensation),
            ):
                if name is not None and name not in self.registry:
                    missing.append(
                        f"milestone {milestone.id!r} ({role}): {self.registry.unknown(name)}"
                    )
        if missing:
            raise HandlerError(
                f"journey {compiled.definition.journey!r} names handlers that are not registered;"
                " nothing was done (load them with --handlers):\n  " + "\n  ".join(missing)
            )
        self._handlers_checked[key] = self.registry.version

    def check(self, action: str, resource: str, tenant: str | None, user: str | None) -> None:
        """Refuse a call whose tenant or user the store cannot keep, or that ``authorize``
        refuses, before anything is written."""
        for name, value in (("tenant", tenant), ("user", user)):
            if value is not None:
                texts.check(value, name)
        self.ask(action, resource, tenant, user)

    @property
    def authorizes(self) -> bool:
        """Whether there is an ``authorize`` hook to ask."""
        return self._authorize is not None

    def ask(self, action: str, resource: str, tenant: str | None, user: str | None) -> None:
        """:class:`AuthorizationError` if ``authorize`` refuses (nothing asked without one)."""
        ask(self._authorize, action, resource, tenant, user)

    def load(self, run_id: str, tenant: str | None = None) -> tuple[Compiled, RunRecord]:
        # an id no run can have (a NUL, a lone surrogate: the database would fail on it) is
        # not found like any other
        unusable = not isinstance(run_id, str) or texts.unstorable(run_id) is not None
        record = None if unusable else self.store.load(run_id)
        if record is None or (tenant is not None and record.tenant != tenant):
            # another tenant's run is reported exactly like a missing one: nothing leaks
            where = store_module.shown(self.store.url)  # a password is no caller's business
            raise RunNotFound(f"no run {run_id!r} in {where}", run_id=run_id)
        compiled = self._compiled.get(record.definition_hash)
        if compiled is None:
            text = self.store.definition_text(record.definition_hash)
            if text is None:
                raise JourneyError(
                    f"run {run_id}: its definition ({record.definition_hash[:12]}) is missing"
                    " from the store",
                    run_id=run_id,
                )
            compiled = self.compile(load_definition(text, name=f"{record.journey} (stored)"))
        return compiled, record

    def advance(
        self, run_id: str, milestone: str, data: Any, tenant: str | None, user: str | None
    ) -> Prepared:
        compiled, record = self._waiting_at(run_id, milestone, "advance", tenant, user)
        data = runner_module.check_json(data, f"the data given to advance {milestone!r}")
        entries = signal(record, user, trigger="advance", milestone=milestone, payload=data)
        record.results[milestone] = data
        record.completed.append(milestone)
        # a wait milestone marked checkpoint: true is one like any other (it was never kept,
        # so rolling back to it said it had not been reached)
        self._runner.checkpoint(record, milestone, entries)
        self._move(compiled, record, "succeed", entries)
        return compiled, record, entries, True

    def fail(
        self, run_id: str, milestone: str, error: str, tenant: str | None, user: str | None
    ) -> Prepared:
        compiled, record = self._waiting_at(run_id, milestone, "fail", tenant, user)
        error = texts.escaped(str(error))  # recorded whatever it says, as a handler's is
        entries = signal(record, user, trigger="fail", milestone=milestone, error=error)
        record.error = f"{milestone} failed: {error}"
        self._move(compiled, record, "fail", entries)
        return compiled, record, entries, True

    def navigate(self, run_id: str, to: str, tenant: str | None, user: str | None) -> Prepared:
        compiled, record = self._session(run_id, "navigate", tenant, user)
        if to not in compiled.milestones:
            raise JourneyError(
                f"journey {record.journey!r} has no pillar {to!r}"
                f"{did_you_mean(to, compiled.milestones) or ''}; its pillars are"
                f" {', '.join(compiled.milestones)}",
                run_id=run_id,
            )
        entries = signal(record, user, trigger="navigate", milestone=to)
        self._move(compiled, record, "leave", entries)
        self._move(compiled, record, f"enter:{to}", entries)
        return compiled, record, entries, True

    def complete(self, run_id: str, tenant: str | None, user: str | None) -> Prepared:
        # ending a session calls no handler: its handlers need not be loaded
        compiled, record = self._session(run_id, "complete", tenant, user, handlers=False)
        entries = signal(record, user, trigger="complete", milestone=record.state)
        self._move(compiled, record, "complete", entries)
        return compiled, record, entries, True

    def cancel(self, run_id: str, tenant: str | None, user: str | None) -> Prepared:
        compiled, record = self.load(run_id, tenant)
        self.check("cancel", run_id, tenant, user)
        self._not_finished(record, "cancelled")
        self.check_handlers(compiled)
        if record.state in compiled.undoes:
            raise StateError(
                f"run {run_id} is already compensating; it ends by itself", run_id=run_id
            )
        if record.status == "running":
            raise StateError(
                f"run {run_id} is running (a call is moving it through {record.state!r}); cancel"
                " it once it waits or ends. If the process that was moving it died, recovery"
                " (engine.recover, with the write-ahead log) finishes it",
                run_id=run_id,
            )
        entries = signal(record, user, trigger="cancel", milestone=record.state)
        # A run parked between two attempts has ``attempt`` > 1; the compensations that the
        # cancel starts are new calls, numbered from 1 with their full retry budget.
        record.attempt = 1
        record.cancelling = True
        record.rollback_to = None  # a rolled-back saga unwinds all it kept, not to a checkpoint
        record.error = record.error or "cancelled"
        self._move(compiled, record, "cancel", entries)
        return compiled, record, entries, True

    def rollback(self, run_id: str, to: str, tenant: str | None, user: str | None) -> Prepared:
        compiled, record = self.load(run_id, tenant)
        self.check("rollback", run_id, tenant, user)
        policy = record.policy.get("rollback") or {}
        if not policy.get("enabled"):
            raise StateError(
                f"run {run_id} started with the rollback policy off: it keeps no checkpoints"
                " (switch rollback on in its journey's policies or a policy file)",
                run_id=run_id,
            )
        checkpoints = (
            [m.id for m in compiled.definition.milestones]
            if policy.get("auto_checkpoint")
            else list(policy.get("checkpoints") or [])
        )
        if to not in checkpoints:
            raise StateError(
                f"{to!r} is not a checkpoint of run {run_id}{did_you_mean(to, checkpoints)};"
                f" its checkpoints are {', '.join(checkpoints) or 'none'}",
                run_id=run_id,
            )
        if to not in record.checkpoints:
            raise StateError(
                f"run {run_id} has not reached checkpoint {to!r} yet; nothing to roll back",
                run_id=run_id,
            )
        if record.status in (
            "running",
            "compensating",
            "compensated",
            "compensation_failed",
            "cancelled",
            "rolled_back",
        ):
            raise StateError(
                f"run {run_id} is {record.status}; roll back a run that waits, parks, completed"
                " or failed",
                run_id=run_id,
            )
        self.check_handlers(compiled)
        entries = signal(record, user, trigger="rollback", milestone=to)
        record.rollback_to = to
        record.attempt = 1
        self._move(compiled, record, "rollback", entries)
        return compiled, record, entries, True

    def resume(self, run_id: str, tenant: str | None, user: str | None) -> Prepared:
        compiled, record = self.load(run_id, tenant)
        self.check("resume", run_id, tenant, user)
        if record.status != "rolled_back" or record.rollback_to is None:
            raise StateError(
                f"run {run_id} is {record.status}, not rolled back; resume continues a run"
                " after a rollback",
                run_id=run_id,
            )
        self.check_handlers(compiled)
        order = compiled.definition.ids
        at = order.index(record.rollback_to)
        after = order[at + 1] if at + 1 < len(order) else "completed"
        entries = signal(record, user, trigger="resume", milestone=after)
        record.rollback_to = None
        self._move(compiled, record, f"resume:{after}", entries)
        return compiled, record, entries, True

    def take(self, run_id: str) -> Prepared:
        """The move of a run this engine has just claimed (:meth:`Store.claim`): a queued
        run starts (again, if its starter died before it moved), a due one goes on (its
        wait's deadline failing it, or its parked retry or sleep resuming), an interrupted
        one is recovered. ``authorize`` was asked before the claim (:func:`taking`). An
        unservable run raises; its lease is left to expire, so another worker may take it,
        later."""
        compiled, record = self.load(run_id)
        entries: list[Entry] = []
        if record.status in ("running", "compensating"):
            self.check_handlers(compiled)
            entries = signal(record, None, trigger="recover", milestone=record.state)
            return compiled, record, entries, True
        if record.status not in ("pending", "waiting"):  # pragma: no cover - claim's rules
            raise StateError(f"run {run_id} is {record.status}: nothing to take", run_id=run_id)
        self.check_handlers(compiled)
        waited = compiled.milestones.get(record.state)
        if record.status == "waiting" and waited is not None and waited.is_wait:
            # its deadline passed with no advance
            entries = signal(record, None, trigger="timeout", milestone=record.state)
            record.error = (
                f"{record.state}: nothing advanced it within its timeout"
                f" ({durations.format(waited.timeout or 0)})"
            )
            self._move(compiled, record, "fail", entries)
        return compiled, record, entries, True

    def _waiting_at(
        self, run_id: str, milestone: str, action: str, tenant: str | None, user: str | None
    ) -> tuple[Compiled, RunRecord]:
        compiled, record = self.load(run_id, tenant)
        self.check(action, run_id, tenant, user)
        self._not_finished(record, f"{action}d" if action.endswith("e") else f"{action}ed")
        self.check_handlers(compiled)
        if compiled.definition.kind == "session":
            raise StateError(f"run {run_id} is a session: use navigate and complete", run_id=run_id)
        if milestone not in compiled.milestones:
            raise StateError(
                f"journey {record.journey!r} has no milestone {milestone!r}"
                f"{did_you_mean(milestone, compiled.milestones)}",
                run_id=run_id,
                milestone=milestone,
            )
        target = compiled.milestones[milestone]
        if not target.is_wait:
            raise StateError(
                f"milestone {milestone!r} runs its own handler ({target.action}); only a wait"
                " milestone (one with no action) can be advanced or failed from outside",
                run_id=run_id,
                milestone=milestone,
            )
        if record.state != milestone or record.status != "waiting":
            raise StateError(
                f"run {run_id} is at {record.state!r} ({record.status}), not waiting at"
                f" {milestone!r}; nothing was changed",
                run_id=run_id,
                milestone=milestone,
            )
        return compiled, record

    def _session(
        self,
        run_id: str,
        action: str,
        tenant: str | None,
        user: str | None,
        *,
        handlers: bool = True,
    ) -> tuple[Compiled, RunRecord]:
        compiled, record = self.load(run_id, tenant)
        self.check(action, run_id, tenant, user)
        if handlers:
            self.check_handlers(compiled)
        if compiled.definition.kind != "session":
            raise StateError(
                f"run {run_id} is a {compiled.definition.kind} journey: {action} is for sessions",
                run_id=run_id,
            )
        self._not_finished(record, "changed")
        if record.status != "waiting" or record.state == HUB:
            raise StateError(
                f"run {run_id} is {record.status} at {record.state!r}; try again when it waits",
                run_id=run_id,
            )
        return compiled, record

    @staticmethod
    def _not_finished(record: RunRecord, verb: str) -> None:
        if record.status in FINISHED:
            raise StateError(
                f"run {record.id} is {record.status}; a finished run cannot be {verb}",
                run_id=record.id,
            )

    def _move(
        self, compiled: Compiled, record: RunRecord, trigger: str, entries: list[Entry]
    ) -> None:
        source = record.state
        compiled.fire(record, trigger)
        self._runner.moved(record, trigger, source, entries)
        record.status = "compensating" if record.state in compiled.undoes else "running"


def signal(record: RunRecord, user: str | None, **fields: Any) -> list[Entry]:
    """The history entry of a call from outside, when the run writes its history: ``user`` is
    who made it (None for the engine's own: a timeout, a recovery), not who started the run."""
    return [record.entry("signal", user=user, **fields)] if record.wal else []


def ask(
    authorize: Callable[[Mapping[str, Any], str, str], bool] | None,
    action: str,
    resource: str,
    tenant: str | None,
    user: str | None,
) -> None:
    """Ask ``authorize`` (if any) whether ``user`` of ``tenant`` may ``action`` ``resource``;
    :class:`AuthorizationError` if not."""
    if authorize is None:
        return
    if not authorize({"tenant": tenant, "user": user}, action, resource):
        who = user or "anonymous"
        raise AuthorizationError(
            f"{who} (tenant {tenant or '-'}) may not {action} {resource}; nothing was written"
        )


def taking(status: str) -> str:
    """What ``authorize`` is asked before an engine takes a run in ``status``: ``recover``
    a run whose mover died, ``resume`` a queued or due one."""
    return "recover" if status in ("running", "compensating") else "resume"


def handler_names(compiled: Compiled) -> list[str]:
    return [
        name
        for m in compiled.definition.milestones
        for name in (m.action, m.compensation)
        if name is not None
    ]
