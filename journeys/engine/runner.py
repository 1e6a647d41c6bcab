"""The runner: drives one run through its compiled machine, one milestone at a time.

One core serves both the blocking and the asyncio API. :meth:`Runner.drive` is a generator that
does everything but call handlers and sleep: it yields a :class:`Call` or a :class:`Sleep` and is
sent back the outcome. :func:`run_sync` and :func:`run_async` are the two thin drivers that
perform those requests, the second on the caller's event loop, so async handlers are never
blocked by a sync wrapper and the engine is not written twice.

The write-ahead protocol, when the run's WAL policy is on: before a handler is called, its intent
(milestone, attempt, idempotency key, and the arguments for milestones listed in
``wal.operations``) is committed; after it returns, its outcome, the transition it causes and the
run's new state are committed together. With the WAL off, nothing is written until the run stops
(waits, parks or finishes): a capability that is off costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

from jinja2 import Undefined
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from journeys.definitions import expressions
from journeys.definitions.model import Milestone, Retry
from journeys.engine import compiler, faults, slots, texts
from journeys.engine.compiler import HUB, TERMINAL, Compiled
from journeys.engine.events import Event, Listener, Progress, ProgressKind, events_of
from journeys.engine.policy import is_checkpoint
from journeys.engine.run import Entry, RunRecord
from journeys.engine.store import Store
from journeys.errors import Fatal, HandlerError, JourneyError
from journeys.handlers.context import Context
from journeys.handlers.registry import Handler, Registry

__all__ = [
    "SLEEP",
    "AlreadyStarted",
    "Call",
    "Outcome",
    "Runner",
    "Sleep",
    "check_json",
    "forward_doc",
    "render_args",
    "run_async",
    "run_sync",
]

_new_context: Final = slots.constructor(Context)
"""``Context(...)`` for every handler call (see :mod:`journeys.engine.slots`)."""


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``handler`` with ``context``; give up after ``timeout`` seconds (None: never)."""

    handler: Handler
    context: Context
    timeout: float | None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before the next attempt (a short retry delay, waited inline)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call gave: ``value`` if ``ok``, else the exception in ``error``."""

    ok: bool
    value: Any = None
    error: BaseException | None = None


_LOGGER = logging.getLogger("journeys.engine")

Request = Call | Sleep
Drive = Generator[Request, Outcome | None, None]


class AlreadyStarted(Exception):
    """The run a start was creating exists already (the same ``run_id``); nothing ran."""

    def __init__(self, existing: RunRecord) -> None:
        super().__init__(existing.id)
        self.existing = existing


class Runner:
    """Drives runs; shared by an engine's calls, holding no per-run state of its own."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        inline_delay: float = 5.0,
        clock: Callable[[], float] = time.time,
        listener: Listener | None = None,
        owner: str = "",
        lease: float = 30.0,
    ) -> None:
        if faults.ERROR is not None:
            raise JourneyError(faults.ERROR)
        self.store = store
        self.registry = registry
        self.owner = owner
        """Who this runner's engine is, in the leases of the runs it drives."""
        self.lease = lease
        self.inline_delay = inline_delay
        self.clock = clock
        self.listener = listener
        self.subscribers: dict[str, list[Callable[[Event], None]]] = {}
        self._pending: dict[str, list[Event]] = {}

    def drive(
        self, compiled: Compiled, record: RunRecord, entries: list[Entry] | None = None
    ) -> Drive:
        """Move ``record`` forward until it waits, parks or finishes; saves it when it stops.

        ``entries`` are history entries of what the caller already did to the run (a signal,
        a transition), saved with the drive's first write.
        """
        self.moving(compiled, record)
        entries = entries if entries is not None else []
        while True:
            state = record.state
            if state in TERMINAL:
                if state == "rolled_back":
                    self._restore(compiled, record, entries)
                record.status = state  # type: ignore[assignment]
                self._stop(record, entries)
                self._tell(record, "finished", error=record.error)
                return
            if state in compiled.skippable:
                try:
                    if self._fire(compiled, record, "skip", entries):
                        if state not in compiled.undoes:
                            self._tell(record, "skipped", state)
                        continue
                except JourneyError as error:  # a guard that cannot be evaluated
                    self._fail(compiled, record, entries, str(error))
                    continue
            undoing = state in compiled.undoes
            milestone = compiled.undoes[state] if undoing else compiled.milestones[state]
            name = milestone.compensation if undoing else milestone.action
            if name is None:
                if not undoing and _documents(record):
                    entries.append(forward_doc(milestone, record, {}))
                record.status = "waiting"  # a wait milestone: advance() or fail() continue it
                if milestone.timeout is not None:  # a deadline: resume_due() fails it then
                    record.due_at = self.clock() + milestone.timeout
                self._stop(record, entries)
                self._tell(record, "waiting", milestone.id)
                return
            if name == SLEEP and not undoing:
                slept = self._sleeps(compiled, record, milestone, entries)
                if slept == "parked":
                    return  # until the sleep ends: nothing waits for it in this process
                if slept == "woke":
                    continue  # the milestone is done
            try:
                call = self._call(compiled, record, milestone, name, undoing)
            except JourneyError as error:  # unknown handler, template error: no retry helps
                self._fail(compiled, record, entries, str(error), undoing=undoing)
                continue
            if record.attempt == 1 and not undoing and _documents(record):
                entries.append(forward_doc(milestone, record, call.context.args))
            if record.wal:
                # The intent, committed with everything since the last commit (the previous
                # milestone's outcome and the transition it caused) and the run's row: one
                # commit per milestone, n + 1 for a journey of n.
                if faults.ARMED:
                    faults.hit("before_intent", state)
                entries.append(self._intent(compiled, record, milestone, call, undoing))
                self._save(record, entries)
                if faults.ARMED:
                    faults.hit("after_intent", state)
            if self.listener is not None:
                self._tell(record, "compensating" if undoing else "started", milestone.id)
            began = time.perf_counter()
            outcome = yield call
            took = time.perf_counter() - began
            if faults.ARMED:
                faults.hit("after_handler", state)
            assert outcome is not None
            if outcome.ok:
                waits = not self._succeeded(
                    compiled, record, milestone, outcome.value, entries, undoing, took
                )
                if waits:
                    self._tell(record, "waiting", milestone.id)
                    return  # a session pillar: waits for the next navigation
                continue
            failure = outcome.error
            assert failure is not None
            retry = milestone.retry
            if _retryable(failure, retry) and record.attempt <= retry.retries:
                delay = _delay(retry, record.attempt)
                # a delay too long to wait in the call parks the run: the entry says until when,
                # so that the log alone tells a parked run from one interrupted (replay.rebuild)
                due = self.clock() + delay if delay > self.inline_delay else None
                self._log(
                    record,
                    entries,
                    kind="compensation" if undoing else "operation",
                    milestone=milestone.id,
                    status="retrying",
                    error=_describe(failure),
                    payload={"parked_until": due} if due is not None else None,
                )
                self._tell(
                    record,
                    "retrying",
                    milestone.id,
                    seconds=took,
                    delay=delay,
                    error=_describe(failure),
                )
                record.attempt += 1
                self._fire(compiled, record, "retry", entries)
                if record.wal:
                    # Commit the failed attempt's outcome and the retry now, as after any call,
                    # not together with the next intent: a crash during the delay must not lose
                    # them (the next attempt would be numbered 1 again).
                    self._save(record, entries)
                if due is None:
                    yield Sleep(delay)
                    continue
                record.status = "waiting"
                record.due_at = due
                self._stop(record, entries)
                return
            what = f"compensation of {milestone.id}" if undoing else milestone.id
            self._tell(record, "failed", milestone.id, seconds=took, error=_describe(failure))
            self._fail(
                compiled,
                record,
                entries,
                f"{what} failed after {record.attempt} attempt{'s' if record.attempt > 1 else ''}:"
                f" {_describe(failure)}",
                undoing=undoing,
                milestone=milestone,
            )

    def _sleeps(
        self, compiled: Compiled, record: RunRecord, milestone: Milestone, entries: list[Entry]
    ) -> Literal["parked", "woke"] | None:
        """A ``builtin.sleep`` longer than ``inline_delay`` parks the run (``waiting`` until
        the sleep ends, ``sleep_until``) instead of holding a thread; once due, the milestone
        completes without a call. None for a short sleep, called like any handler."""
        now = self.clock()
        try:
            seconds = float(render_args(milestone, record).get("seconds", 0))
        except (JourneyError, TypeError, ValueError):
            return None  # the call reports it
        if record.sleep_until is not None:
            until = record.sleep_until
            if now < until:  # taken up early: back to sleep until it is due
                self._park(record, entries, until)
                return "parked"
            record.sleep_until = None
            self._succeeded(compiled, record, milestone, seconds, entries, False, 0.0)
            return "woke"
        if seconds <= self.inline_delay:
            return None
        record.sleep_until = now + seconds
        if _documents(record):
            entries.append(forward_doc(milestone, record, {"seconds": seconds}))
        self._log(
            record,
            entries,
            kind="operation",
            milestone=milestone.id,
            status="pending",
            payload={"sleep_until": record.sleep_until},
        )
        self._park(record, entries, record.sleep_until)
        self._tell(record, "waiting", milestone.id)
        return "parked"

    def _park(self, record: RunRecord, entries: list[Entry], until: float) -> None:
        record.status = "waiting"
        record.due_at = until
        self._stop(record, entries)

    def _call(
        self, compiled: Compiled, record: RunRecord, milestone: Milestone, name: str, undoing: bool
    ) -> Call:
        try:
            handler = self.registry.get(name)
        except HandlerError as error:
            raise HandlerError(f"milestone {milestone.id!r}: {error}") from None
        args = render_args(milestone, record)
        suffix = ":undo" if undoing else ""
        if compiled.definition.kind == "session":
            # each visit of a pillar is a new piece of work: its own key, the same on retries
            suffix = f":{record.completed.count(milestone.id) + 1}"
        generation = record.generations.get(milestone.id)
        if generation:  # redone after a rollback undid it: new work (see _restore)
            suffix = f":redo{generation}{suffix}"
        context = _new_context(
            run_id=record.id,
            journey=record.journey,
            milestone=milestone.id,
            inputs=MappingProxyType(record.inputs),
            args=MappingProxyType(args),
            results=MappingProxyType(record.results),
            attempt=record.attempt,
            idempotency_key=f"{record.id}:{milestone.id}{suffix}",
            tenant=record.tenant,
            user=record.user,
            compensating=undoing,
            result=record.results.get(milestone.id) if undoing else None,
        )
        return Call(handler, context, milestone.timeout)

    def _succeeded(
        self,
        compiled: Compiled,
        record: RunRecord,
        milestone: Milestone,
        value: Any,
        entries: list[Entry],
        undoing: bool,
        took: float,
    ) -> bool:
        """Record a successful attempt and fire the move it causes; False when the run now waits
        (a session pillar)."""
        try:
            value = check_json(value, f"{milestone.id}: the handler's result")
        except JourneyError as error:  # the attempt's outcome is a failure, logged as one
            self._fail(compiled, record, entries, str(error), undoing=undoing, milestone=milestone)
            return True
        self._tell(record, "compensated" if undoing else "succeeded", milestone.id, seconds=took)
        if record.wal:
            payload = value if milestone.id in _operations(record) else None
            self._log(
                record,
                entries,
                kind="compensation" if undoing else "operation",
                milestone=milestone.id,
                payload=payload,
            )
        # Reset only now: the outcome above is logged under the attempt that produced it (it was
        # reset first, so a success on attempt 2 was recorded as attempt 1, unlike its intent).
        record.attempt = 1
        if undoing:
            self._fire(compiled, record, "undone", entries)
            return True
        record.results[milestone.id] = value
        record.completed.append(milestone.id)
        self.checkpoint(record, milestone.id, entries)
        if compiled.definition.kind == "session":
            record.status = "waiting"
            self._stop(record, entries)
            return False
        self._fire(compiled, record, "succeed", entries)
        return True

    def checkpoint(self, record: RunRecord, milestone: str, entries: list[Entry]) -> None:
        """Keep a snapshot to roll back to, if ``milestone`` (just completed, by its handler or
        by ``advance``) is a checkpoint of the run; with the rollback policy off, nothing."""
        if is_checkpoint(record.policy.get("rollback"), milestone):
            # How many milestones were done. Their results are the run's own from then on: a
            # result changes only when its milestone runs again, which needs a rollback to
            # before it, which drops this snapshot. So a snapshot costs the same whatever the
            # run's size, even with every milestone a checkpoint.
            record.checkpoints[milestone] = {"done": len(record.completed)}
            self._log(record, entries, kind="checkpoint", milestone=milestone)

    def _fail(
        self,
        compiled: Compiled,
        record: RunRecord,
        entries: list[Entry],
        message: str,
        *,
        undoing: bool = False,
        milestone: Milestone | None = None,
    ) -> None:
        if record.wal and milestone is not None:
            self._log(
                record,
                entries,
                kind="compensation" if undoing else "operation",
                milestone=milestone.id,
                status="failed",
                error=message,
            )
        if not undoing or record.error is None:
            record.error = message
        elif undoing:  # keep the original failure, and say what stopped the unwinding
            record.error = f"{message} (while compensating after: {record.error})"
        record.attempt = 1
        self._fire(compiled, record, "fail", entries)
        if record.state in compiled.undoes:
            record.status = "compensating"

    def _fire(
        self, compiled: Compiled, record: RunRecord, trigger: str, entries: list[Entry]
    ) -> bool:
        source = record.state
        try:
            moved = compiled.fire(record, trigger)
        except JourneyError:
            raise
        except (TemplateError, SecurityError) as error:
            raise JourneyError(
                f"milestone {source!r}: its when: guard failed: {error}",
                run_id=record.id,
                milestone=source,
            ) from error
        except Exception as error:
            raise JourneyError(
                f"milestone {source!r}: its when: guard failed: {type(error).__name__}: {error}",
                run_id=record.id,
                milestone=source,
            ) from error
        if moved:
            self.moved(record, trigger, source, entries)
        return moved

    def moved(self, record: RunRecord, trigger: str, source: str, entries: list[Entry]) -> None:
        """Note a transition: its history entry and outbox events (WAL on), and the events for
        this process's subscribers, told once the move is saved."""
        milestone = source.removeprefix("undo:") if source != HUB else None
        if record.wal:
            entries.append(
                record.entry(
                    "transition",
                    trigger=trigger,
                    source=source,
                    dest=record.state,
                    milestone=milestone,
                )
            )
        if not record.wal and not self.subscribers:
            return  # nobody to tell: nothing built
        for name in events_of(trigger, source, record.state):
            if record.wal:
                entries.append(
                    record.entry(
                        "event",
                        trigger=name,
                        milestone=milestone,
                        dest=record.state,
                        status="pending",
                    )
                )
            if name in self.subscribers or "*" in self.subscribers:
                self._pending.setdefault(record.id, []).append(
                    Event(name, record.id, record.journey, milestone, record.state)
                )

    def _intent(
        self, compiled: Compiled, record: RunRecord, milestone: Milestone, call: Call, undoing: bool
    ) -> Entry:
        args = dict(call.context.args) if milestone.id in _operations(record) else None
        return record.entry(
            "compensation" if undoing else "operation",
            milestone=milestone.id,
            attempt=record.attempt,
            status="pending",
            payload={"args": args} if args is not None else None,
            idempotency_key=call.context.idempotency_key,
        )

    def _restore(self, compiled: Compiled, record: RunRecord, entries: list[Entry]) -> None:
        """At the end of a rollback: the results and completions as they were at the
        checkpoint, and no snapshot of what came after it. Each milestone whose work the
        rollback undid starts a new generation: redone after a resume, it is new work, and
        its calls get new idempotency keys (with the old ones, a handler idempotent by key
        would take the redo for the undone call and skip it)."""
        target = record.rollback_to
        snapshot = record.checkpoints.get(target or "")
        if target is None or snapshot is None:  # pragma: no cover - engine.rollback checks
            return
        if "done" in snapshot:
            completed = record.completed[: snapshot["done"]]
            results = {m: record.results[m] for m in completed if m in record.results}
        else:  # a snapshot written by an earlier version kept copies of both
            completed, results = list(snapshot["completed"]), dict(snapshot["results"])
        restored = set(completed)
        for done in record.completed:
            milestone = compiled.milestones.get(done)
            if done not in restored and milestone is not None and milestone.compensation:
                record.generations[done] = record.generations.get(done, 0) + 1
        record.results = results
        record.completed = completed
        kept = set(record.completed)
        record.checkpoints = {k: v for k, v in record.checkpoints.items() if k in kept}
        record.error = None
        self._log(record, entries, kind="checkpoint", milestone=target, status="restored")

    def _tell(
        self, record: RunRecord, kind: ProgressKind, milestone: str | None = None, **fields: Any
    ) -> None:
        """Tell the listener, if there is one (with none, nothing is built)."""
        if self.listener is not None:
            fields.setdefault("attempt", record.attempt)
            self.listener(
                Progress(kind, record.id, record.journey, record.status, milestone, **fields)
            )

    def _log(self, record: RunRecord, entries: list[Entry], **fields: Any) -> None:
        """Add a history entry, if the run writes its history (WAL policy on)."""
        if record.wal:
            kind = fields.pop("kind")
            entries.append(record.entry(kind, attempt=record.attempt, **fields))

    @staticmethod
    def moving(compiled: Compiled, record: RunRecord) -> None:
        """The run is about to move: ``running`` (or ``compensating``), due no more."""
        record.due_at = None
        if record.status not in ("compensating", "running"):
            record.status = "compensating" if record.state in compiled.undoes else "running"

    def lease_for(self, record: RunRecord) -> None:
        """Hold the run while it moves (its lease, renewed by each save and by the engine's
        heartbeat), let it go when it stops: a worker takes a moving run only once its lease
        has expired, that is, once whoever moved it has died."""
        if record.status in ("running", "compensating", "pending"):
            record.lease_owner = self.owner
            record.lease_expires_at = self.clock() + self.lease
        else:
            record.lease_owner = record.lease_expires_at = None

    def _save(self, record: RunRecord, entries: list[Entry]) -> None:
        record.updated_at = self.clock()
        self.lease_for(record)
        if record.row_version == 0:  # a new run with the WAL on: its first commit creates it
            existing = self.store.create(record, entries)
            if existing is not None:
                raise AlreadyStarted(existing)
        else:
            self.store.save(record, entries)
        if faults.ARMED:
            _outcomes_committed(entries)
        entries.clear()
        if self._pending:
            self._tell_subscribers(record.id)

    def _tell_subscribers(self, run_id: str) -> None:
        for event in self._pending.pop(run_id, ()):
            for subscriber in (
                *self.subscribers.get(event.name, ()),
                *self.subscribers.get("*", ()),
            ):
                try:
                    subscriber(event)
                except Exception:  # an alerting hook must not break the run it reports on
                    _LOGGER.exception("subscriber %r of %s failed", subscriber, event.name)

    def _stop(self, record: RunRecord, entries: list[Entry]) -> None:
        self._save(record, entries)


def _outcomes_committed(entries: list[Entry]) -> None:
    """The ``after_outcome`` fault point of each attempt whose outcome was just committed (the
    commit is the next intent's or the run's stop, so its entries tell which outcomes it held)."""
    for entry in entries:
        if entry.kind in ("operation", "compensation") and entry.status != "pending":
            undo = "undo:" if entry.kind == "compensation" else ""
            faults.hit("after_outcome", f"{undo}{entry.milestone}")


SLEEP: Final = "builtin.sleep"
"""The handler whose long sleeps park the run rather than a thread."""


def _documents(record: RunRecord) -> bool:
    """Whether the run writes a forward-doc entry before each milestone (forward_docs on,
    with document_steps)."""
    docs = record.policy.get("forward_docs") or {}
    return bool(docs.get("enabled") and docs.get("document_steps", True))


def forward_doc(milestone: Milestone, record: RunRecord, args: Mapping[str, Any]) -> Entry:
    """The forward-doc entry of ``milestone``, about to run: its title and its ``doc``
    rendered with the run's values, and the arguments it is called with. A ``doc`` that
    cannot be rendered is recorded with the error: documentation never stops a run."""
    payload: dict[str, Any] = {"title": milestone.title, "doc": None, "args": dict(args)}
    if milestone.doc is not None:
        try:
            payload["doc"] = str(_render(milestone.doc, record.scope(), milestone.id, "doc"))
        except JourneyError as error:
            payload["error"] = str(error)
    return record.entry("forward_doc", milestone=milestone.id, payload=payload)


def _operations(record: RunRecord) -> frozenset[str] | tuple[str, ...]:
    wal = record.policy.get("wal") or {}
    return tuple(wal.get("operations") or ())


def _retryable(error: BaseException, retry: Retry) -> bool:
    if isinstance(error, Fatal):
        return False
    if not retry.on:
        return True
    # The schema allows qualified names (`on: [httpx.ConnectError]`) as well as bare ones; a
    # qualified name used to match nothing, so such errors were silently never retried.
    return any(
        cls.__name__ in retry.on or f"{cls.__module__}.{cls.__qualname__}" in retry.on
        for cls in type(error).__mro__
    )


def _delay(retry: Retry, attempt: int) -> float:
    delay = retry.delay_before(attempt)
    if retry.jitter:
        delay *= random.uniform(0.5, 1.5)
    return delay


def _describe(error: BaseException) -> str:
    text = texts.escaped(str(error))  # recorded whatever it says (a NUL, a lone surrogate)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def check_json(value: Any, what: str) -> Any:
    """``value`` as the store will give it back (``{1: "a"}`` becomes ``{"1": "a"}``), or a
    :class:`JourneyError` if it is not JSON data."""
    if value is None or isinstance(value, int | bool):
        return value
    if isinstance(value, str):
        if texts.unstorable(value) is not None:
            _unstorable(value, what)
        return value
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise JourneyError(
            f"{what} is not JSON data ({error}); use dicts, lists, strings, numbers,"
            " booleans and None"
        ) from None
    if "\\u0000" in text or texts.unstorable(text) is not None:  # NUL is written \u0000
        _unstorable(value, what)
    return value if isinstance(value, float) else json.loads(text)


def _unstorable(value: Any, what: str) -> None:
    """Refuse JSON data holding text no store keeps the same (see :mod:`texts`); a ``\\u0000``
    in the JSON text may also be a backslash before ``u0000`` in a string, which is fine."""
    found = texts.problem(value)
    if found is not None:
        raise JourneyError(f"{what} cannot be stored: at {found}")


_SINGLE = re.compile(r"\s*\{\{(.*?)\}\}\s*", re.DOTALL)


def render_args(milestone: Milestone, record: RunRecord) -> dict[str, Any]:
    """The milestone's ``with:`` arguments rendered against the run's inputs and results.

    A string that is one ``{{ expression }}`` keeps the expression's type (a number stays a
    number); any other string is rendered as a template. Errors name the milestone and argument.
    """
    if not milestone.args:
        return {}
    scope = record.scope()
    return {key: _render(value, scope, milestone.id, key) for key, value in milestone.args.items()}


def _render(value: Any, scope: dict[str, Any], milestone: str, where: str) -> Any:
    if isinstance(value, str):
        if "{" not in value:
            return value
        try:
            single = _SINGLE.fullmatch(value)
            if single and "{{" not in single.group(1) and "{%" not in value:
                result = compiler.strict_expression(single.group(1))(**scope)
                if isinstance(result, Undefined):  # a missing name or a sandbox refusal
                    result._fail_with_undefined_error()  # raises UndefinedError/SecurityError
                return result
            return expressions.compile_template(value).render(**scope)
        except UndefinedError as error:
            raise JourneyError(
                f"milestone {milestone!r}: argument {where!r}: {error}", milestone=milestone
            ) from None
        except (TemplateError, SecurityError) as error:
            raise JourneyError(
                f"milestone {milestone!r}: argument {where!r}: {type(error).__name__}: {error}",
                milestone=milestone,
            ) from None
        except Exception as error:
            # An expression can fail in plain Python too ("{{ inputs.n / 0 }}", a str + an int);
            # uncaught, that escaped the runner and crashed the call, leaving the run unsaved.
            raise JourneyError(
                f"milestone {milestone!r}: argument {where!r}: {type(error).__name__}: {error}",
                milestone=milestone,
            ) from error
    if isinstance(value, Mapping):
        return {k: _render(v, scope, milestone, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_render(v, scope, milestone, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


# --- the two drivers --------------------------------------------------------------------------


def run_sync(drive: Drive, loop_runner: Callable[[Any], Any]) -> None:
    """Perform a drive's requests in this thread (``loop_runner`` runs async handlers)."""
    try:
        request = next(drive)
        while True:
            if isinstance(request, Sleep):
                time.sleep(request.seconds)
                request = drive.send(None)
                continue
            request = drive.send(_call_sync(request, loop_runner))
    except StopIteration:
        return


async def run_async(drive: Drive) -> None:
    """Perform a drive's requests on the running event loop."""
    try:
        request = next(drive)
        while True:
            if isinstance(request, Sleep):
                await asyncio.sleep(request.seconds)
                request = drive.send(None)
                continue
            request = drive.send(await _call_async(request))
    except StopIteration:
        return


def _call_sync(call: Call, loop_runner: Callable[[Any], Any]) -> Outcome:
    function, context = call.handler.function, call.context
    try:
        if call.handler.is_async:
            coroutine = function(context)
            if call.timeout is not None:
                coroutine = asyncio.wait_for(coroutine, call.timeout)
            return Outcome(True, loop_runner(coroutine))
        if call.timeout is None:
            return Outcome(True, function(context))
        return Outcome(True, _with_timeout(function, context, call.timeout))
    except Exception as error:
        return Outcome(False, error=_explained(error, call))


async def _call_async(call: Call) -> Outcome:
    function, context = call.handler.function, call.context
    try:
        if call.handler.is_async:
            awaitable = function(context)
        else:  # a blocking function must not stall the caller's loop
            awaitable = asyncio.to_thread(function, context)
        if call.timeout is not None:
            awaitable = asyncio.wait_for(awaitable, call.timeout)
        return Outcome(True, await awaitable)
    except Exception as error:
        return Outcome(False, error=_explained(error, call))


def _explained(error: Exception, call: Call) -> Exception:
    """``asyncio.wait_for`` raises a bare ``TimeoutError``: say which milestone overran, the
    same way on both drivers (the blocking one used to report just "TimeoutError" for an async
    handler, while the asyncio one explained it)."""
    if isinstance(error, TimeoutError) and not str(error) and call.timeout is not None:
        return TimeoutError(f"{call.context.milestone} took longer than {call.timeout:g}s")
    return error


def _with_timeout(function: Callable[[Context], Any], context: Context, timeout: float) -> Any:
    """Run a blocking handler in a thread that is abandoned if it overruns (Python cannot kill
    a thread; the attempt counts as failed and the thread's late result is ignored)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = function(context)
        except BaseException as error:
            box["error"] = error
        finally:
            done.set()

    thread = threading.Thread(target=target, name=f"journeys:{context.milestone}", daemon=True)
    thread.start()
    if not done.wait(timeout):
        raise TimeoutError(f"{context.milestone} took longer than {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]
