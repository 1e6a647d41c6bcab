"""Hypothesis stateful tests: the real engine on a real store, step by step, against a model.

A ``RuleBasedStateMachine`` starts runs of four small journeys (a saga, a journey that waits for
``advance``, a structured journey with checkpoints and the rollback policy on, a saga with
checkpoints), then, in any order: advances and fails their waits, cancels, rolls back, resumes,
changes policies with ``set_policy``, and recovers with a new engine on the same store. The
handlers fail on demand: before each call that drives runs, hypothesis draws a script saying
which handler (action or compensation) of which milestone fails on its next calls, and how
(``ValueError``; ``ConnectionError``, which some milestones retry; ``Fatal``; or ``crash``, a
BaseException that escapes the engine as if the process had been killed inside the handler:
that engine is then closed and replaced, as a restarted process would be).

:class:`ModelRun` says, from the semantics in DESIGN.md and the compiler's table of triggers,
what each call must do to a run: its status, state and results, each handler call (attempt and
idempotency key) and each history entry. After every step these are checked:

- each run is what the model says (status, state, results), its handlers were called exactly
  as the model says, and its history (``engine.history``) is the model's, entry for entry;
- every transition in a history is an edge of the compiled machine, each starting where the
  previous one ended; a run without a history only moves to states its machine can reach;
- a run ``compensated``, ``compensation_failed`` or ``cancelled`` never changes again; one
  ``completed`` or ``failed`` changes only by an explicit rollback (allowed by design);
- compensations exactly reverse completions: each successful compensation undoes the latest
  completion not yet undone (a stack of effects, built from the handlers' own calls);
- replaying a run's history (:func:`journeys.engine.replay.rebuild`) gives the run's status,
  state, results and completions; and the log holds each ``set_policy``, in order.

It runs on a SQLite file and, with ``JOURNEYS_TEST_POSTGRES_URL``, on a fresh PostgreSQL
schema per machine run. ``JOURNEYS_HYPOTHESIS_PROFILE=long`` runs it for longer (minutes).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import journeys
from journeys.engine import compiler, replay

from .conftest import POSTGRES_ENV, _postgres_schema

# --- the journeys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A milestone: with an action (else a wait milestone), maybe a compensation."""

    id: str
    action: bool = True
    compensation: bool = False
    retries: int = 0
    on: tuple[str, ...] = ()  # retry only these errors (default: any but Fatal)
    checkpoint: bool = False


@dataclass(frozen=True)
class Journey:
    name: str
    kind: str
    steps: tuple[Step, ...]
    saga: bool = False
    wal: bool = True
    rollback: bool = False

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def step(self, ident: str) -> Step:
        return next(s for s in self.steps if s.id == ident)

    def text(self) -> str:
        def on(enabled: bool) -> str:
            return "true" if enabled else "false"

        lines = [
            f"journey: {self.name}",
            f"kind: {self.kind}",
            "policies:",
            f"  saga: {{enabled: {on(self.saga)}}}",
            f"  wal: {{enabled: {on(self.wal)}, operations: [{', '.join(self.ids)}]}}",
            # the marked milestones only (auto_checkpoint would make every one a checkpoint)
            f"  rollback: {{enabled: {on(self.rollback)}, auto_checkpoint: false}}",
            "milestones:",
        ]
        for step in self.steps:
            lines.append(f"  - id: {step.id}")
            if step.action:
                lines.append("    action: t.step")
            if step.compensation:
                lines.append("    compensation: t.undo")
            if step.checkpoint:
                lines.append("    checkpoint: true")
            retry_on = f", on: [{', '.join(step.on)}]" if step.on else ""
            lines.append(f"    retry: {{retries: {step.retries}, delay: 0s{retry_on}}}")
        return "\n".join(lines) + "\n"


JOURNEYS: Final = (
    Journey(
        "sf_saga",
        "saga",
        (
            Step("a", compensation=True, retries=1),
            Step("b", compensation=True, retries=2, on=("ConnectionError",)),
            Step("w", action=False, compensation=True),
            Step("c"),
        ),
        saga=True,
    ),
    Journey(
        "sf_wait",
        "structured",
        (
            Step("a", retries=1),
            Step("w", action=False),
            Step("b", retries=1, on=("ConnectionError",)),
        ),
    ),
    Journey(
        "sf_rollback",
        "structured",
        (
            Step("a", compensation=True, retries=1, checkpoint=True),
            Step("b", retries=1),
            Step("w", action=False, checkpoint=True),
            Step("c", compensation=True, retries=1),
        ),
        rollback=True,
    ),
    Journey(
        "sf_saga_rollback",
        "saga",
        (
            Step("a", compensation=True, checkpoint=True),
            Step("w", action=False, compensation=True, checkpoint=True),
            Step("b", compensation=True, retries=1),
            Step("c", compensation=True),
        ),
        saga=True,
        rollback=True,
    ),
)
DEFINITIONS: Final = {j.name: journeys.load_definition(j.text()) for j in JOURNEYS}
COMPILED: Final = {name: compiler.compile(d) for name, d in DEFINITIONS.items()}
TERMINAL: Final = compiler.TERMINAL
NEVER_CHANGE: Final = frozenset({"compensated", "compensation_failed", "cancelled"})
MAX_RUNS: Final = 6

# --- handlers that fail on demand ---------------------------------------------------------------

OUTCOMES: Final = ("ValueError", "ConnectionError", "ConnectionError", "Fatal", "crash")
ERRORS: Final[dict[str, type[Exception]]] = {
    "ValueError": ValueError,
    "ConnectionError": ConnectionError,
    "Fatal": journeys.Fatal,
}

Script = dict[tuple[str, str, str], list[str]]  # (run id, "do"|"undo", milestone) -> outcomes
scripts = st.dictionaries(
    st.tuples(st.sampled_from(["do", "do", "undo"]), st.sampled_from(["a", "b", "c"])),
    st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=3),
    max_size=3,
)


RUN_RULE: Final = {
    "pick": st.integers(0, 50),
    "prefer": st.sampled_from([True, True, True, False]),  # most calls fit; a long run showed
    "script": scripts,  # seven in ten refused when any run was as likely
}
"""The arguments of a rule on one run: which (``prefer``: among those where the call fits, if
any) and the handlers' script."""


class Crash(BaseException):
    """The process dies inside a handler: nothing after the call runs, nothing is saved."""


@dataclass(frozen=True)
class Call:
    run: str
    kind: str  # "do" or "undo"
    milestone: str
    attempt: int
    key: str
    outcome: str  # "ok", an error's name, or "crash"


class Handlers:
    """``t.step`` and ``t.undo``, doing what the installed script says, recording each call."""

    def __init__(self) -> None:
        self.script: Script = {}
        self.calls: list[Call] = []
        self.registry = journeys.Registry()
        self.registry.register("t.step", self.step)
        self.registry.register("t.undo", self.undo)

    def step(self, ctx: journeys.Context) -> Any:
        return self._act(ctx, "do", {"done": ctx.milestone, "attempt": ctx.attempt})

    def undo(self, ctx: journeys.Context) -> Any:
        return self._act(ctx, "undo", {"undone": ctx.milestone})

    def _act(self, ctx: journeys.Context, kind: str, value: Any) -> Any:
        outcome = _next(self.script, (ctx.run_id, kind, ctx.milestone))
        self.calls.append(
            Call(ctx.run_id, kind, ctx.milestone, ctx.attempt, ctx.idempotency_key, outcome)
        )
        if outcome == "crash":
            raise Crash(f"{ctx.run_id} {kind} {ctx.milestone}")
        if outcome != "ok":
            raise ERRORS[outcome](f"{kind} {ctx.milestone} attempt {ctx.attempt}")
        return value


def _next(script: Script, key: tuple[str, str, str]) -> str:
    planned = script.get(key)
    return planned.pop(0) if planned else "ok"


# --- the model ----------------------------------------------------------------------------------


class ModelCrash(Exception):
    """The model's run reached a handler scripted to crash."""


Entry = tuple[Any, ...]
KEPT: Final = (
    "state",
    "status",
    "results",
    "completed",
    "attempt",
    "cancelling",
    "rollback_to",
    "checkpoints",
    "generations",
    "history",
)
"""What a run's model keeps at each save: what a crash leaves of it."""


@dataclass
class ModelRun:
    """What a run must be, moved by the semantics of the design (not by the engine's code)."""

    id: str
    journey: Journey
    saga: bool  # the saga capability (a saga journey with the saga policy on)
    wal: bool
    rollback: bool
    checkpoint_ids: tuple[str, ...]
    calls: list[Call]
    state: str = ""
    status: str = "pending"
    results: dict[str, Any] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    attempt: int = 1
    cancelling: bool = False
    rollback_to: str | None = None
    checkpoints: dict[str, tuple[dict[str, Any], list[str]]] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    history: list[Entry] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)

    saga_policy: bool = False  # the saga policy itself, as the run logs it

    # persistence: what a crash leaves is what was last saved
    def save(self) -> None:
        self.saved = {name: copy.deepcopy(getattr(self, name)) for name in KEPT}

    def crash(self) -> None:
        for name, value in self.saved.items():
            setattr(self, name, copy.deepcopy(value))
        raise ModelCrash(self.id)

    def log(self, *entry: Any) -> None:
        if self.wal:
            self.history.append(entry)

    def move(self, trigger: str, dest: str) -> None:
        self.log("transition", trigger, self.state, dest)
        self.state = dest

    # the shape of the journey
    def pos(self, ident: str) -> int:
        return self.journey.ids.index(ident)

    def before(self, state: str) -> str | None:
        """The nearest milestone with a compensation before ``state`` (all of them for the
        end states)."""
        ids = self.journey.ids
        end = len(ids) if state in TERMINAL else self.pos(state)
        found = [i for i in ids[:end] if self.journey.step(i).compensation]
        return found[-1] if found else None

    def after(self, ident: str) -> str:
        ids = self.journey.ids
        return ids[self.pos(ident) + 1] if self.pos(ident) + 1 < len(ids) else "completed"

    def key(self, ident: str, undoing: bool) -> str:
        generation = self.generations.get(ident)
        redo = f":redo{generation}" if generation else ""
        return f"{self.id}:{ident}{redo}{':undo' if undoing else ''}"

    # where the triggers lead
    def fail_dest(self) -> str:
        if self.state.startswith("undo:"):
            return "compensation_failed"
        previous = self.before(self.state)
        if self.saga:
            return f"undo:{previous}" if previous else "compensated"
        return "failed"

    def cancel_dest(self) -> str:
        previous = self.before(self.state)
        return f"undo:{previous}" if self.saga and previous else "cancelled"

    def undo_dest(self, ident: str) -> str:
        previous = self.before(ident)
        target = self.rollback_to
        if target is not None and (previous is None or self.pos(previous) <= self.pos(target)):
            return "rolled_back"
        if previous is not None:
            return f"undo:{previous}"
        return "cancelled" if self.cancelling else "compensated"

    def rollback_dest(self) -> str:
        previous = self.before(self.state)
        assert self.rollback_to is not None
        if previous is not None and self.pos(self.rollback_to) < self.pos(previous):
            return f"undo:{previous}"
        return "rolled_back"

    def moving(self) -> None:
        self.status = "compensating" if self.state.startswith("undo:") else "running"

    def complete(self, ident: str, value: Any) -> None:
        self.results[ident] = value
        self.completed.append(ident)
        if self.rollback and ident in self.checkpoint_ids:
            self.checkpoints[ident] = (dict(self.results), list(self.completed))
            self.log("checkpoint", ident, "completed")

    def restore(self) -> None:
        assert self.rollback_to is not None
        results, completed = self.checkpoints[self.rollback_to]
        for done in self.completed:
            if done not in completed and self.journey.step(done).compensation:
                self.generations[done] = self.generations.get(done, 0) + 1
        self.results, self.completed = dict(results), list(completed)
        self.checkpoints = {k: v for k, v in self.checkpoints.items() if k in completed}
        self.log("checkpoint", self.rollback_to, "restored")

    # the drive: until the run waits or ends
    def drive(self, script: Script) -> None:
        if self.status not in ("running", "compensating"):
            self.moving()
        while True:
            state = self.state
            if state in TERMINAL:
                if state == "rolled_back":
                    self.restore()
                self.status = state
                self.save()
                return
            undoing = state.startswith("undo:")
            ident = state.removeprefix("undo:")
            step = self.journey.step(ident)
            if undoing and ident not in self.completed:
                self.move("skip", self.undo_dest(ident))
                continue
            if not undoing and not step.action:
                self.status = "waiting"
                self.save()
                return
            kind, logged = ("undo", "compensation") if undoing else ("do", "operation")
            self.log(logged, ident, self.attempt, "pending")
            if self.wal:
                self.save()
            outcome = _next(script, (self.id, kind, ident))
            self.calls.append(
                Call(self.id, kind, ident, self.attempt, self.key(ident, undoing), outcome)
            )
            if outcome == "crash":
                self.crash()
            if outcome == "ok":
                self.log(logged, ident, self.attempt, "completed")
                attempt, self.attempt = self.attempt, 1
                if undoing:
                    self.move("undone", self.undo_dest(ident))
                else:
                    self.complete(ident, {"done": ident, "attempt": attempt})
                    self.move("succeed", self.after(ident))
                continue
            retryable = outcome != "Fatal" and (not step.on or outcome in step.on)
            if retryable and self.attempt <= step.retries:
                self.log(logged, ident, self.attempt, "retrying")
                self.attempt += 1
                self.move("retry", state)
                if self.wal:
                    self.save()
                continue
            self.log(logged, ident, self.attempt, "failed")
            self.attempt = 1
            self.move("fail", self.fail_dest())
            self.moving()

    # the calls from outside; False: refused (a StateError, nothing changes)
    def start(self, script: Script) -> bool:
        self.state = self.journey.ids[0]
        self.log("policy", self.saga_policy, self.wal, self.rollback)
        if not self.wal:
            self.save()  # created before the drive, pending
        self.drive(script)
        return True

    def waiting_at_w(self) -> bool:
        return self.status == "waiting" and self.state == "w"

    def advance(self, data: Any, script: Script) -> bool:
        if not self.waiting_at_w():
            return False
        self.log("signal", "advance", "w")
        self.complete("w", data)
        self.move("succeed", self.after("w"))
        return self._claimed(script)

    def fail(self, script: Script) -> bool:
        if not self.waiting_at_w():
            return False
        self.log("signal", "fail", "w")
        self.move("fail", self.fail_dest())
        return self._claimed(script)

    def cancel(self, script: Script) -> bool:
        if self.status in ("running", "compensating", "completed", "failed", *NEVER_CHANGE):
            return False
        self.log("signal", "cancel", self.state)
        self.attempt = 1
        self.cancelling = True
        self.rollback_to = None
        self.move("cancel", self.cancel_dest())
        return self._claimed(script)

    def roll_back(self, to: str, script: Script) -> bool:
        refused = ("running", "compensating", "rolled_back", *NEVER_CHANGE)
        if (
            not self.rollback
            or to not in self.checkpoint_ids
            or to not in self.checkpoints
            or self.status in refused
        ):
            return False
        self.log("signal", "rollback", to)
        self.rollback_to = to
        self.attempt = 1
        self.move("rollback", self.rollback_dest())
        return self._claimed(script)

    def resume(self, script: Script) -> bool:
        if self.status != "rolled_back" or self.rollback_to is None:
            return False
        after = self.after(self.rollback_to)
        self.log("signal", "resume", after)
        self.rollback_to = None
        self.move(f"resume:{after}", after)
        return self._claimed(script)

    def recover(self, script: Script) -> None:
        if self.status != "pending":
            self.log("signal", "recover", self.state)
        self._claimed(script)

    def _claimed(self, script: Script) -> bool:
        self.moving()
        self.save()  # the move is written, claiming the run, before any handler runs
        self.drive(script)
        return True

    @property
    def interrupted(self) -> bool:
        return self.status in ("pending", "running", "compensating")


def project(entries: list[journeys.Entry]) -> list[Entry]:
    """The entries the model predicts, in the model's terms (events and docs left out)."""
    found: list[Entry] = []
    for e in entries:
        if e.kind == "policy":
            found.append(
                ("policy", *(e.payload[c]["enabled"] for c in ("saga", "wal", "rollback")))
            )
        elif e.kind == "signal":
            found.append(("signal", e.trigger, e.milestone))
        elif e.kind == "transition":
            found.append(("transition", e.trigger, e.source, e.dest))
        elif e.kind in ("operation", "compensation"):
            found.append((e.kind, e.milestone, e.attempt, e.status))
        elif e.kind == "checkpoint":
            found.append(("checkpoint", e.milestone, e.status))
    return found


def edge(compiled: compiler.Compiled, trigger: str, source: str, dest: str) -> bool:
    """Whether the compiled machine has a transition ``trigger`` from ``source`` to ``dest``."""
    event = compiled.machine.events.get(trigger)
    if event is None:
        return False
    return any((t.dest or source) == dest for t in event.transitions.get(source, ()))


def reachable(compiled: compiler.Compiled, source: str, dest: str) -> bool:
    seen, todo = {source}, deque([source])
    while todo:
        state = todo.popleft()
        if state == dest:
            return True
        for trigger in compiled.machine.events.values():
            for t in trigger.transitions.get(state, ()):
                if t.dest is not None and t.dest not in seen:
                    seen.add(t.dest)
                    todo.append(t.dest)
    return False


# --- the machine --------------------------------------------------------------------------------


class JourneysMachine(RuleBasedStateMachine):
    """The real engine and store, driven by random calls, checked against the model."""

    def __init__(self, backend: str) -> None:
        super().__init__()
        self._cleanup: Callable[[], None]
        self.url = self._open_store(backend)
        self.handlers = Handlers()
        self.engine = self._new_engine()
        self.runs: dict[str, ModelRun] = {}
        self.model_calls: list[Call] = []
        self.overrides: dict[str, dict[str, dict[str, bool]]] = {}
        self.policy_notes: list[dict[str, Any]] = []
        self.effects: dict[str, list[str]] = {}  # per run: completions not yet undone
        self.seen_calls = 0
        self.observed: dict[str, tuple[journeys.Run, int]] = {}
        self.last_call: dict[str, str] = {}
        self.touched: set[str] = set()

    def _open_store(self, backend: str) -> str:
        if backend == "sqlite":
            folder = tempfile.mkdtemp(prefix="journeys-stateful-")
            self._cleanup = lambda: shutil.rmtree(folder, ignore_errors=True)
            return f"sqlite:///{folder}/j.db"
        schema: Iterator[str] = _postgres_schema(os.environ[POSTGRES_ENV])
        url = next(schema)
        self._cleanup = lambda: next(schema, None)  # type: ignore[func-returns-value]
        return url

    def _new_engine(self) -> journeys.Engine:
        return journeys.Engine(self.url, registry=self.handlers.registry)

    def teardown(self) -> None:
        self.engine.close()
        self._cleanup()

    def _restart(self) -> None:
        """A new process: a new engine on the same store; runtime policies are gone with the
        old one (they hold "for this engine until the process ends")."""
        self.engine.close()
        self.engine = self._new_engine()
        self.overrides = {}

    # one call, on the engine and on the model, with the same script
    def _both(
        self,
        what: str,
        targets: list[ModelRun],
        script: dict[tuple[str, str], list[str]],
        on_model: Callable[[Script], object],
        on_engine: Callable[[], object],
    ) -> str:
        self.touched = {run.id for run in targets}

        def planned() -> Script:
            return {
                (run.id, kind, ident): list(outcomes)
                for run in targets
                for (kind, ident), outcomes in script.items()
            }

        try:
            expected = "done" if on_model(planned()) is not False else "refused"
        except ModelCrash:
            expected = "crash"
        self.handlers.script = planned()
        try:
            on_engine()
            happened = "done"
        except journeys.StateError:
            happened = "refused"
        except Crash:
            happened = "crash"
        finally:
            self.handlers.script = {}
        if happened == "crash" or expected == "crash":
            self._restart()
        assert happened == expected, (happened, expected)
        event(f"{what}: {happened}")
        return happened

    def _pick(self, pick: int, legal: Callable[[ModelRun], bool], prefer: bool) -> ModelRun:
        runs = list(self.runs.values())
        fitting = [r for r in runs if legal(r)]
        chosen = fitting if prefer and fitting else runs
        return chosen[pick % len(chosen)]

    def _policy(self, journey: Journey) -> dict[str, bool]:
        values = {"saga": journey.saga, "wal": journey.wal, "rollback": journey.rollback}
        for selector in ("sf_*", journey.name):  # the more specific wins
            for capability, fields in self.overrides.get(selector, {}).items():
                values[capability] = fields["enabled"]
        return values

    # --- rules ----------------------------------------------------------------------------------

    @precondition(lambda self: len(self.runs) < MAX_RUNS)
    @rule(journey=st.sampled_from(JOURNEYS), script=scripts)
    def start(self, journey: Journey, script: dict[tuple[str, str], list[str]]) -> None:
        policy = self._policy(journey)
        run = ModelRun(
            id=f"run-{len(self.runs)}",
            journey=journey,
            saga=journey.kind == "saga" and policy["saga"],
            wal=policy["wal"],
            rollback=policy["rollback"],
            checkpoint_ids=tuple(s.id for s in journey.steps if s.checkpoint),
            calls=self.model_calls,
            saga_policy=policy["saga"],
        )
        self.runs[run.id] = run
        self.effects[run.id] = []
        self._both(
            "start",
            [run],
            script,
            run.start,
            lambda: self.engine.start(DEFINITIONS[journey.name], run_id=run.id),
        )
        # the run is pinned to the exact definition it started with
        assert self.engine.definition(run.id).content_hash == DEFINITIONS[journey.name].content_hash
        self.last_call[run.id] = "start"

    @precondition(lambda self: bool(self.runs))
    @rule(**RUN_RULE, data=st.integers(0, 9))
    def advance(self, pick: int, prefer: bool, script: Any, data: int) -> None:
        run = self._pick(pick, ModelRun.waiting_at_w, prefer)
        value = {"advanced": data}

        def on_engine() -> None:
            # an accepted advance completes w (an effect to undo) before any handler runs
            accepted = False
            try:
                self.engine.advance(run.id, "w", value)
                accepted = True
            except Crash:
                accepted = True
                raise
            finally:
                if accepted and run.journey.step("w").compensation:
                    self.effects[run.id].append("w")

        self._act(run, "advance", script, lambda s: run.advance(value, s), on_engine)

    @precondition(lambda self: bool(self.runs))
    @rule(**RUN_RULE)
    def fail_wait(self, pick: int, prefer: bool, script: Any) -> None:
        run = self._pick(pick, ModelRun.waiting_at_w, prefer)
        self._act(run, "fail", script, run.fail, lambda: self.engine.fail(run.id, "w", "no"))

    @precondition(lambda self: bool(self.runs))
    @rule(**RUN_RULE)
    def cancel(self, pick: int, prefer: bool, script: Any) -> None:
        run = self._pick(pick, lambda r: r.status in ("waiting", "rolled_back"), prefer)
        self._act(run, "cancel", script, run.cancel, lambda: self.engine.cancel(run.id))

    @precondition(lambda self: bool(self.runs))
    @rule(**RUN_RULE, to=st.sampled_from(["a", "w"]))
    def rollback(self, pick: int, prefer: bool, script: Any, to: str) -> None:
        run = self._pick(pick, lambda r: to in r.checkpoints and r.status != "rolled_back", prefer)
        self._act(
            run,
            "rollback",
            script,
            lambda s: run.roll_back(to, s),
            lambda: self.engine.rollback(run.id, to=to),
        )

    @precondition(lambda self: bool(self.runs))
    @rule(**RUN_RULE)
    def resume(self, pick: int, prefer: bool, script: Any) -> None:
        run = self._pick(pick, lambda r: r.status == "rolled_back", prefer)
        self._act(run, "resume", script, run.resume, lambda: self.engine.resume(run.id))

    @precondition(lambda self: bool(self.runs))
    @rule(script=scripts)
    def recover(self, script: Any) -> None:
        """A new engine on the same store recovers every run a crash left unfinished, oldest
        first (a crash during the recovery leaves the rest for the next one)."""
        waiting = [r for r in self.runs.values() if r.interrupted]

        def on_model(planned: Script) -> None:
            for run in waiting:
                run.recover(planned)

        self.engine.close()
        self.engine = self._new_engine()
        self.overrides = {}
        self._both("recover", waiting, script, on_model, self.engine.recover)
        for run in waiting:
            self.last_call[run.id] = "recover"

    @rule(
        selector=st.sampled_from(["sf_*", *(j.name for j in JOURNEYS)]),
        policy=st.none()
        | st.dictionaries(
            st.sampled_from(["saga", "wal", "rollback"]), st.booleans(), min_size=1, max_size=2
        ),
    )
    def set_policy(self, selector: str, policy: dict[str, bool] | None) -> None:
        given = {c: {"enabled": on} for c, on in (policy or {}).items()}
        self.engine.set_policy(selector, given or None)
        if given:
            self.overrides[selector] = given
        else:
            self.overrides.pop(selector, None)
        self.policy_notes.append({"selector": selector, "policy": given})
        notes = self.engine.wal.replay_log("journeys.policy")
        assert [n.payload for n in notes] == self.policy_notes

    def _act(
        self,
        run: ModelRun,
        name: str,
        script: Any,
        on_model: Callable[[Script], object],
        on_engine: Callable[[], object],
    ) -> None:
        if self._both(name, [run], script, on_model, on_engine) != "refused":
            self.last_call[run.id] = name

    # --- invariants -----------------------------------------------------------------------------

    @invariant()
    def invariants(self) -> None:
        """Everything, after every step: one read of each run and its history."""
        assert self.handlers.calls == self.model_calls
        self._compensations_reverse_completions()
        for run in self.runs.values():
            got = self.engine.get(run.id)
            # engine.history for the runs the step called on; for the others, the store's
            # (the same entries, without loading the run a second time)
            read = self.engine.history if run.id in self.touched else self.engine.store.history
            history = read(run.id)
            self._run_is_what_the_model_says(run, got, history)
            self._run_moves_only_along_its_machine(run, got, len(history))

    def _compensations_reverse_completions(self) -> None:
        """Each successful compensation undoes the latest completion not yet undone; at rest,
        what is not undone is what the run completed, less what it compensated."""
        for call in self.handlers.calls[self.seen_calls :]:
            stack = self.effects[call.run]
            step = self.runs[call.run].journey.step(call.milestone)
            if call.outcome != "ok":
                continue
            if call.kind == "do" and step.compensation:
                stack.append(call.milestone)
            elif call.kind == "undo":
                assert stack and stack[-1] == call.milestone, (call, stack)
                stack.pop()
        self.seen_calls = len(self.handlers.calls)
        for run in self.runs.values():
            stack = self.effects[run.id]
            done = [m for m in run.completed if run.journey.step(m).compensation]
            if run.status == "compensated" or (run.status == "cancelled" and run.saga):
                assert stack == [], (run.id, run.status, stack)
            elif run.status in ("compensation_failed", "compensating"):
                assert stack == done[: len(stack)], (run.id, run.status, stack, done)
            else:
                assert stack == done, (run.id, run.status, stack, done)

    def _run_is_what_the_model_says(
        self, run: ModelRun, got: journeys.Run, history: list[journeys.Entry]
    ) -> None:
        """Status, state and results; the history, entry for entry; and the run rebuilt from
        its history alone."""
        assert (got.status, got.state) == (run.status, run.state), run.id
        assert got.results == run.results, run.id
        assert project(history) == run.history, run.id
        if not run.wal:
            return
        seqs = [e.seq for e in history]
        assert seqs == sorted(set(seqs)), seqs
        rebuilt = replay.rebuild(DEFINITIONS[run.journey.name], history)
        assert (rebuilt.status, rebuilt.state) == (got.status, got.state), run.id
        assert rebuilt.results == got.results, run.id
        assert rebuilt.completed == run.completed and not rebuilt.unrecorded, run.id

    def _run_moves_only_along_its_machine(
        self, run: ModelRun, got: journeys.Run, length: int
    ) -> None:
        """Legal transitions only, each from where the last one ended; and a finished run
        stays finished (a completed or failed one may be rolled back, by design)."""
        compiled = COMPILED[run.journey.name]
        if run.wal:
            at = compiled.first
            for _, trigger, source, dest in (e for e in run.history if e[0] == "transition"):
                assert source == at, (run.id, source, at)
                assert edge(compiled, trigger, source, dest), (run.id, trigger, source, dest)
                at = dest
            assert at == got.state
        before = self.observed.get(run.id)
        self.observed[run.id] = (got, length)
        if before is None:
            return
        assert reachable(compiled, before[0].state, got.state), (run.id, got.state)
        if before[0].status in NEVER_CHANGE:
            assert (got, length) == before, run.id
        elif before[0].status in ("completed", "failed") and (got, length) != before:
            assert self.last_call[run.id] == "rollback", run.id


def _profile(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


PROFILES: Final = {
    # about 15 s on SQLite and 30 s on PostgreSQL on a busy two-core machine
    "ci": {"sqlite": _profile(12, 25), "postgresql": _profile(6, 25)},
    # JOURNEYS_HYPOTHESIS_PROFILE=long: minutes, for a change to the engine's moves
    "long": {"sqlite": _profile(400, 40), "postgresql": _profile(150, 40)},
}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_engine_behaves_as_the_model_says(backend: str) -> None:
    if backend == "postgresql" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"PostgreSQL variant NOT RUN: set {POSTGRES_ENV} to test the PostgreSQL store")
    profile = os.environ.get("JOURNEYS_HYPOTHESIS_PROFILE", "ci")
    if profile not in PROFILES:
        pytest.fail(f"JOURNEYS_HYPOTHESIS_PROFILE={profile!r}: use {' or '.join(PROFILES)}")
    run_state_machine_as_test(lambda: JourneysMachine(backend), settings=PROFILES[profile][backend])
