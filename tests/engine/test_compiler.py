"""The compiler: one `transitions` machine per definition, shared by all its runs.

Everything here is structural (states, transitions, conditions, object identity, counts): no
timing. The machine is the source of truth for the moves of a run, so its shape is the contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transitions import Machine

import journeys
from journeys.engine import compiler
from journeys.engine.compiler import HUB, TERMINAL, undo_state
from journeys.engine.run import RunRecord

SAGA = """
journey: shop
kind: saga
milestones:
  - id: reserve
    action: t.step
    compensation: t.undo
  - id: notify
    action: t.step
    when: "inputs.notify"
  - id: charge
    action: t.step
    compensation: t.undo
  - id: ship
    action: t.step
    when: false
  - id: done
    action: t.step
    when: true
"""

SESSION = """
journey: desk
kind: session
milestones:
  - id: home
  - id: search
    action: t.step
  - id: basket
"""


def transitions_of(compiled: compiler.Compiled) -> list[tuple[str, str, str | None]]:
    """Every (trigger, source, dest) of a compiled machine."""
    return [
        (name, source, transition.dest)
        for name, event in compiled.machine.events.items()
        for source, found in event.transitions.items()
        for transition in found
    ]


def chain(n: int, kind: str = "saga", first_waits: bool = False) -> str:
    lines = [f"journey: chain{n}_{kind}{'_w' if first_waits else ''}", f"kind: {kind}"]
    lines.append("milestones:")
    for index in range(n):
        lines.append(f"  - id: m{index}")
        if not (first_waits and index == 0):
            lines.append("    action: builtin.noop")
            if kind == "saga":
                lines.append("    compensation: builtin.noop")
    return "\n".join(lines) + "\n"


def record(compiled: compiler.Compiled, **fields: Any) -> RunRecord:
    return RunRecord(
        id="r", journey="j", version=1, definition_hash="h", state=compiled.first, **fields
    )


def test_states_follow_the_milestones_then_compensations_and_terminal_statuses() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    states = list(compiled.machine.states)
    assert states[:5] == ["reserve", "notify", "charge", "ship", "done"]
    assert set(states[5:7]) == {undo_state("reserve"), undo_state("charge")}
    assert set(states[7:]) == set(TERMINAL)
    assert compiled.first == "reserve"
    assert HUB not in states


def test_the_moves_of_a_milestone_are_the_machine_s_triggers() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    moves = {"succeed", "retry", "fail", "cancel", "rollback"}
    assert set(compiled.triggers("reserve")) == moves
    assert set(compiled.triggers("notify")) == {*moves, "skip"}
    assert set(compiled.triggers(undo_state("charge"))) == {"skip", "undone", "retry", "fail"}
    for terminal in ("compensated", "compensation_failed", "cancelled"):
        assert compiled.triggers(terminal) == []
    assert compiled.triggers("completed") == compiled.triggers("failed") == ["rollback"]
    assert set(compiled.triggers("rolled_back")) == {
        *(f"resume:{m}" for m in compiled.definition.ids),
        "resume:completed",
        "cancel",
    }
    assert set(TERMINAL) == {
        "completed",
        "failed",
        "compensated",
        "compensation_failed",
        "cancelled",
        "rolled_back",
    }
    forward = [(t, s, d) for t, s, d in transitions_of(compiled) if t == "succeed"]
    assert forward == [
        ("succeed", "reserve", "notify"),
        ("succeed", "notify", "charge"),
        ("succeed", "charge", "ship"),
        ("succeed", "ship", "done"),
        ("succeed", "done", "completed"),
    ]
    retry = [(s, d) for t, s, d in transitions_of(compiled) if t == "retry"]
    assert all(dest is None for _, dest in retry)  # internal: the state stays


def test_when_guards_are_conditions_of_the_skip_transition() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    skip = compiled.machine.events["skip"].transitions
    assert "reserve" not in skip and "done" not in skip  # no guard, or `when: true`
    (notify,) = skip["notify"]
    assert notify.dest == "charge" and len(notify.conditions) == 1
    guarded = record(compiled, inputs={"notify": False})
    guarded.state = "notify"
    assert compiled.fire(guarded, "skip") is True and guarded.state == "charge"
    kept = record(compiled, inputs={"notify": True})
    kept.state = "notify"
    assert compiled.fire(kept, "skip") is False and kept.state == "notify"
    always = record(compiled)
    always.state = "ship"
    assert compiled.fire(always, "skip") is True and always.state == "done"


def test_failing_goes_to_the_compensation_chain_only_with_the_saga_policy() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    fail = compiled.machine.events["fail"].transitions
    assert [t.dest for t in fail["reserve"]] == ["compensated", "failed"]
    assert [t.dest for t in fail["charge"]] == [undo_state("reserve"), "failed"]
    assert [t.dest for t in fail["done"]] == [undo_state("charge"), "failed"]
    assert [t.dest for t in fail[undo_state("charge")]] == ["compensation_failed"]
    saga = record(compiled, saga=True)
    saga.state = "done"
    compiled.fire(saga, "fail")
    assert saga.state == undo_state("charge")
    plain = record(compiled, saga=False)
    plain.state = "done"
    compiled.fire(plain, "fail")
    assert plain.state == "failed"


def test_compensations_are_never_compensated() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    for source in compiled.undoes:
        dests = {d for t, s, d in transitions_of(compiled) if s == source}
        assert dests <= {
            undo_state("reserve"),
            "compensated",
            "cancelled",
            "compensation_failed",
            "rolled_back",  # the end of a rollback's compensations
            None,
        }
    assert not any(state.startswith("undo:undo:") for state in compiled.machine.states)


def test_an_illegal_trigger_is_a_state_error_and_moves_nothing() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    model = record(compiled)
    with pytest.raises(journeys.StateError, match="'undone' is not possible from state 'reserve'"):
        compiled.fire(model, "undone")
    with pytest.raises(journeys.StateError):
        compiled.fire(model, "no_such_trigger")
    assert model.state == "reserve"
    assert compiled.can("reserve", "succeed") and not compiled.can("completed", "succeed")


def test_no_auto_transitions_and_no_model_is_ever_attached() -> None:
    compiled = compiler.compile(journeys.load_definition(SAGA))
    assert compiled.machine.auto_transitions is False
    assert not any(name.startswith("to_") for name in compiled.machine.events)
    assert compiled.machine.models == []


def test_one_machine_per_content_hash() -> None:
    first = compiler.compile(journeys.load_definition(SAGA))
    again = compiler.compile(journeys.load_definition(SAGA, name="elsewhere.yaml"))
    assert again is first and again.machine is first.machine
    edited = compiler.compile(journeys.load_definition(SAGA + "title: Edited\n"))
    assert edited is not first and edited.machine is not first.machine


def test_runs_share_the_machine_and_starting_builds_nothing(
    recorder: Any, registry: journeys.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = journeys.load_definition(SAGA)
    compiled = compiler.compile(definition)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run must not build or bind anything on the machine")

    monkeypatch.setattr(compiler, "_build", forbidden)
    monkeypatch.setattr(Machine, "add_transition", forbidden)
    monkeypatch.setattr(Machine, "add_states", forbidden)
    monkeypatch.setattr(Machine, "add_model", forbidden)
    for store in ("memory:", "memory:"):  # two engines, each with two runs
        with journeys.Engine(store, registry=registry) as engine:
            for notify in (True, False):
                run = engine.start(definition, {"notify": notify})
                assert run.status == "completed"
    assert compiler.compile(definition) is compiled
    assert compiled.machine.models == []


def transition_count(n: int) -> int:
    return len(transitions_of(compiler.compile(journeys.load_definition(chain(n)))))


def test_the_transition_count_is_linear_in_the_milestones() -> None:
    ten, twenty, thousand = transition_count(10), transition_count(20), transition_count(1000)
    per_milestone = (twenty - ten) // 10
    assert per_milestone * 10 == twenty - ten
    assert thousand - ten == per_milestone * 990
    assert thousand < 20 * 1000  # auto transitions alone would add 1000 * 999


def test_a_1000_milestone_journey_compiles_once_and_its_start_rebuilds_nothing(
    registry: journeys.Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    definition = journeys.load_definition(chain(1000, first_waits=True))
    compiled = compiler.compile(definition)
    assert len(compiled.milestones) == 1000
    assert len(compiled.undoes) == 999
    events = dict(compiled.machine.events)
    count = len(transitions_of(compiled))

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("starting a run must not rebuild the machine")

    monkeypatch.setattr(compiler, "_build", forbidden)
    monkeypatch.setattr(Machine, "add_transition", forbidden)
    monkeypatch.setattr(Machine, "add_model", forbidden)
    with journeys.Engine("memory:", registry=registry) as engine:
        runs = [engine.start(definition) for _ in range(3)]
        assert {run.state for run in runs} == {"m0"}
        assert {run.status for run in runs} == {"waiting"}
        finished = engine.advance(runs[0].id, "m0")
        assert finished.status == "completed" and len(finished.results) == 1000
    assert compiler.compile(definition) is compiled
    assert dict(compiled.machine.events) == events
    assert len(transitions_of(compiled)) == count
    assert compiled.machine.models == []


def test_a_session_navigates_through_a_hub_not_between_every_pair() -> None:
    compiled = compiler.compile(journeys.load_definition(SESSION))
    assert set(compiled.machine.states) == {
        "home",
        "search",
        "basket",
        HUB,
        "completed",
        "cancelled",
        "failed",
    }
    moves = transitions_of(compiled)
    assert sorted((s, d) for t, s, d in moves if t == "leave") == [
        ("basket", HUB),
        ("home", HUB),
        ("search", HUB),
    ]
    assert sorted((t, d) for t, s, d in moves if s == HUB) == [
        ("enter:basket", "basket"),
        ("enter:home", "home"),
        ("enter:search", "search"),
    ]
    for pillar in ("home", "search", "basket"):
        assert {t for t, s, d in moves if s == pillar} == {
            "leave",
            "retry",
            "complete",
            "cancel",
            "fail",
        }
    assert len(moves) == 6 * 3
    assert compiled.undoes == {}


def test_the_reserved_milestone_ids_are_exactly_the_run_statuses() -> None:
    """The loader refuses milestone ids that the machine uses as states; the two lists live
    in different layers (definitions cannot import the engine), so this keeps them equal."""
    from typing import get_args

    from journeys.definitions.checks import RESERVED_IDS
    from journeys.engine.compiler import TERMINAL
    from journeys.engine.run import Status

    assert set(get_args(Status)) == RESERVED_IDS
    assert TERMINAL <= RESERVED_IDS


VALID = sorted((Path(__file__).parents[1] / "definitions" / "valid").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_plain_moves_land_where_transitions_would_take_them(path: Path) -> None:
    """Every move ``fire`` makes without transitions' event loop is one the machine itself
    makes, to the same state, and the table misses no move that has nothing to decide."""
    compiled = compiler.compile(journeys.load_definition(path))
    assert compiled.plain, "a linear journey has plain moves"
    for (state, trigger), dest in compiled.plain.items():
        model = RunRecord(
            id="r", journey="j", version=1, definition_hash="h", state=state, inputs={}
        )
        assert compiled.machine.events[trigger].trigger(model)
        assert model.state == (state if dest is None else dest), (state, trigger)
    for trigger, event in compiled.machine.events.items():
        for state, candidates in event.transitions.items():
            if len(candidates) == 1 and not candidates[0].conditions:
                assert (state, trigger) in compiled.plain, (state, trigger)


def _outcome(compiled: compiler.Compiled, model: RunRecord, fire: Any) -> tuple[Any, str]:
    try:
        return bool(fire(model)), model.state
    except Exception as error:  # a guard that cannot be evaluated fails alike on both paths
        return type(error).__name__, model.state


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decided_moves_go_where_transitions_would_take_them(path: Path, data: Any) -> None:
    """Every move ``fire`` decides from its conditions alone (a saga's failure, each
    compensation's next step, a guard's skip) takes the transition transitions' own event
    loop would take, or none when it would take none, whatever the run's flags, checkpoint,
    completed milestones and inputs; and no move with a callback is in the table."""
    compiled = compiler.compile(journeys.load_definition(path))
    ids = list(compiled.milestones)
    if compiled.definition.kind == "session":  # its pillars' moves have no conditions
        assert not compiled.decided
        return
    assert compiled.decided, "a journey's fail is decided by the saga policy's condition"
    (state, trigger) = data.draw(st.sampled_from(sorted(compiled.decided)))
    completed = data.draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    inputs = data.draw(
        st.dictionaries(
            # the names the valid definitions' guards read, and one they do not
            st.sampled_from(["amount", "urgent", "width", "height", "skip_watermark", "other"]),
            st.one_of(st.booleans(), st.sampled_from([0, 4000, 4001, 5000, 10001])),
        )
    )

    saga = data.draw(st.booleans(), label="saga")
    cancelling = data.draw(st.booleans(), label="cancelling")
    rollback_to = data.draw(st.one_of(st.none(), st.sampled_from(ids)) if ids else st.none())

    def model() -> RunRecord:
        made = RunRecord(
            id="r", journey="j", version=1, definition_hash="h", state=state, inputs=inputs
        )
        made.completed = list(completed)
        made.results = {ident: None for ident in completed}
        made.saga, made.cancelling, made.rollback_to = saga, cancelling, rollback_to
        return made

    ours, theirs = model(), model()
    assert _outcome(compiled, ours, lambda m: compiled.fire(m, trigger)) == _outcome(
        compiled, theirs, lambda m: compiled.machine.events[trigger].trigger(m)
    ), (state, trigger)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_decided_moves_call_nothing_but_their_conditions(path: Path) -> None:
    compiled = compiler.compile(journeys.load_definition(path))
    for (state, trigger), choices in compiled.decided.items():
        candidates = compiled.machine.events[trigger].transitions[state]
        assert [t.dest for t in candidates] == [dest for dest, _ in choices]
        for transition in candidates:
            assert not (transition.prepare or transition.before or transition.after)


def test_a_machine_with_callbacks_has_no_plain_moves() -> None:
    machine = Machine(states=["a", "b"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b", after=lambda: None)
    assert compiler._plain(machine) == {}
    assert compiler._decided(machine) == {}
    machine = Machine(states=["a", "b"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b")
    machine.get_state("b").add_callback("enter", lambda: None)
    assert compiler._plain(machine) == {}
    machine = Machine(states=["a", "b", "c"], initial="a", auto_transitions=False)
    machine.add_transition("go", "a", "b", conditions=["is_ready"])  # a name, not a callable
    machine.add_transition("go", "a", "c")
    assert compiler._decided(machine) == {}
