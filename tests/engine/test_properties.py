"""Hypothesis: random sagas, random failures, random signals; the engine against a model.

Each example is a journey of 1-8 milestones, each with or without a compensation, some waiting
for a signal, some behind a `when` guard that is true or false, each failing its first few
attempts with a random error under a random retry policy; the waits receive a random sequence
of advance, fail and cancel. The reference model below says, from the definition alone, which
calls must happen in which order and how the run ends; the engine (memory store) must agree,
and the invariants of the issue are checked on their own as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

import journeys
from journeys.engine.run import FINISHED

ERRORS = {"ValueError": ValueError, "ConnectionError": ConnectionError, "Fatal": journeys.Fatal}


@dataclass(frozen=True)
class Step:
    wait: bool
    compensation: bool
    guard: bool | None  # None: no `when`; else the guard's value
    fail: int  # the action fails its first `fail` attempts...
    error: str  # ...with this error
    retries: int
    only_connection_errors: bool  # retry `on: [ConnectionError]`
    undo_fail: int  # the compensation fails its first `undo_fail` attempts (ConnectionError)


@dataclass(frozen=True)
class Case:
    kind: str
    saga: bool
    steps: tuple[Step, ...]
    signals: tuple[str, ...]


steps = st.builds(
    Step,
    wait=st.sampled_from([False, False, False, True]),
    compensation=st.booleans(),
    guard=st.sampled_from([None, None, True, False]),
    fail=st.integers(0, 3),
    error=st.sampled_from(list(ERRORS)),
    retries=st.integers(0, 2),
    only_connection_errors=st.booleans(),
    undo_fail=st.sampled_from([0, 0, 1, 3]),
)
cases = st.builds(
    Case,
    kind=st.sampled_from(["saga", "saga", "structured"]),
    saga=st.sampled_from([True, True, False]),
    steps=st.lists(steps, min_size=1, max_size=8).map(tuple),
    signals=st.lists(st.sampled_from(["advance", "advance", "fail", "cancel"]), max_size=8).map(
        tuple
    ),
)


def definition(case: Case) -> journeys.Definition:
    lines = [
        "journey: random_saga",
        f"kind: {case.kind}",
        f"policies: {{saga: {{enabled: {str(case.saga).lower()}}}}}",
        "milestones:",
    ]
    for index, step in enumerate(case.steps):
        lines.append(f"  - id: m{index}")
        if not step.wait:
            lines.append("    action: t.step")
        if step.compensation:
            lines.append("    compensation: t.undo")
        if step.guard is not None:
            lines.append(f'    when: "inputs.g{index}"')
        lines.append(
            f"    with: {{fail: {step.fail}, error: {step.error}, undo_fail: {step.undo_fail}}}"
        )
        on = ", on: [ConnectionError]" if step.only_connection_errors else ""
        lines.append(f"    retry: {{retries: {step.retries}, delay: 0s{on}}}")
    return journeys.load_definition("\n".join(lines) + "\n")


def inputs(case: Case) -> dict[str, bool]:
    return {f"g{i}": s.guard for i, s in enumerate(case.steps) if s.guard is not None}


def attempts(fail: int, retryable: bool, retries: int) -> tuple[int, bool]:
    """How many attempts a call makes, and whether the last one succeeded."""
    attempt = 1
    while attempt <= fail:  # this attempt fails
        if not retryable or attempt > retries:
            return attempt, False
        attempt += 1
    return attempt, True


@dataclass
class Expected:
    calls: list[tuple[str, str, int]]
    completed: list[str]
    undone: list[str]
    status: str
    signals_used: int


def model(case: Case) -> Expected:
    """What the engine must do, from the semantics of the issue."""
    calls: list[tuple[str, str, int]] = []
    completed: list[str] = []
    signals = list(case.signals)
    used = 0
    ending: str | None = None
    for index, step in enumerate(case.steps):
        ident = f"m{index}"
        if step.guard is False:
            continue
        if step.wait:
            if used == len(signals):
                return Expected(calls, completed, [], "waiting", used)
            signal = signals[used]
            used += 1
            if signal == "advance":
                completed.append(ident)
                continue
            ending = signal
            break
        retryable = step.error != "Fatal" and (
            not step.only_connection_errors or step.error == "ConnectionError"
        )
        count, ok = attempts(step.fail, retryable, step.retries)
        calls += [("do", ident, n) for n in range(1, count + 1)]
        if ok:
            completed.append(ident)
            continue
        ending = "fail"
        break
    if ending is None:
        return Expected(calls, completed, [], "completed", used)
    if not (case.kind == "saga" and case.saga):
        return Expected(calls, completed, [], "failed" if ending == "fail" else "cancelled", used)
    undone: list[str] = []
    for ident in reversed(completed):
        step = case.steps[int(ident[1:])]
        if not step.compensation:
            continue
        count, ok = attempts(step.undo_fail, True, step.retries)
        calls += [("undo", ident, n) for n in range(1, count + 1)]
        if not ok:
            return Expected(calls, completed, undone, "compensation_failed", used)
        undone.append(ident)
    return Expected(
        calls, completed, undone, "compensated" if ending == "fail" else "cancelled", used
    )


class Handlers:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.keys: dict[tuple[str, str], set[str]] = {}
        self.results: list[Any] = []
        self.registry = journeys.Registry()
        self.registry.register("t.step", self.step)
        self.registry.register("t.undo", self.undo)

    def _note(self, ctx: journeys.Context, kind: str) -> None:
        self.calls.append((kind, ctx.milestone, ctx.attempt))
        self.keys.setdefault((kind, ctx.milestone), set()).add(ctx.idempotency_key)

    def step(self, ctx: journeys.Context) -> Any:
        self._note(ctx, "do")
        if ctx.attempt <= ctx.args["fail"]:
            raise ERRORS[ctx.args["error"]](f"{ctx.milestone} attempt {ctx.attempt}")
        return {"done": ctx.milestone}

    def undo(self, ctx: journeys.Context) -> Any:
        self._note(ctx, "undo")
        # what the milestone returned (or what advance gave it): recorded, checked afterwards
        self.results.append(ctx.result)
        if ctx.attempt <= ctx.args["undo_fail"]:
            raise ConnectionError(f"undo {ctx.milestone} attempt {ctx.attempt}")
        return None


def drive(case: Case, handlers: Handlers) -> tuple[journeys.Run, int]:
    """Start the run, then send it signals while it waits at a wait milestone."""
    with journeys.Engine("memory:", registry=handlers.registry) as engine:
        run = engine.start(definition(case), inputs(case))
        used = 0
        while run.status == "waiting" and used < len(case.signals):
            signal = case.signals[used]
            used += 1
            if signal == "advance":
                run = engine.advance(run.id, run.state, {"advanced": run.state})
            elif signal == "fail":
                run = engine.fail(run.id, run.state, "refused")
            else:
                run = engine.cancel(run.id)
        assert engine.get(run.id) == run
    return run, used


@given(cases)
def test_random_sagas_behave_as_the_model_says(case: Case) -> None:
    handlers = Handlers()
    run, used = drive(case, handlers)
    expected = model(case)
    event(f"status: {run.status}")

    # every run ends in a terminal status, or waits for a signal it has not had
    assert run.status in FINISHED or run.status == "waiting"
    if run.status == "waiting":
        assert used == len(case.signals)
        assert case.steps[int(run.state[1:])].wait
    assert run.status == expected.status
    assert used == expected.signals_used

    # handlers are called once per attempt, attempts numbered 1, 2, ... under one key
    for (kind, milestone), keys in handlers.keys.items():
        numbers = [n for k, m, n in handlers.calls if (k, m) == (kind, milestone)]
        assert numbers == list(range(1, len(numbers) + 1))
        assert len(keys) == 1
    do_keys = {next(iter(k)) for (kind, _), k in handlers.keys.items() if kind == "do"}
    undo_keys = {next(iter(k)) for (kind, _), k in handlers.keys.items() if kind == "undo"}
    assert not do_keys & undo_keys

    # compensations: exactly the reverse of the completions that have one, each at most once
    completed = list(run.results)  # in the order they completed
    assert completed == expected.completed
    compensable = [m for m in reversed(completed) if case.steps[int(m[1:])].compensation]
    undo_order = list(dict.fromkeys(m for kind, m, _ in handlers.calls if kind == "undo"))
    succeeded = [
        m for m in undo_order if not (run.status == "compensation_failed" and m == undo_order[-1])
    ]
    assert succeeded == expected.undone
    unwound = run.status == "compensated" or (
        run.status == "cancelled" and case.kind == "saga" and case.saga
    )
    if unwound:
        assert undo_order == compensable
    elif run.status == "compensation_failed":
        assert undo_order == compensable[: len(undo_order)] and undo_order
    else:
        assert undo_order == []
    assert len(succeeded) == len(set(succeeded))

    # a compensation is given the result of the milestone it undoes
    undo_calls = [m for kind, m, _ in handlers.calls if kind == "undo"]
    assert handlers.results == [run.results[m] for m in undo_calls]
    assert all(
        r in ({"done": m}, {"advanced": m})
        for r, m in zip(handlers.results, undo_calls, strict=True)
    )

    # and, all in all, exactly the calls the model predicts, in its order
    assert handlers.calls == expected.calls
