"""`with:` arguments and `when:` guards: Jinja's sandbox, strict undefined, types kept."""

from __future__ import annotations

from typing import Any

import pytest

import journeys


def one(with_: str, *, kind: str = "structured", when: str | None = None) -> str:
    guard = f"\n    when: {when!r}" if when else ""
    return f"""
journey: templated
kind: {kind}
policies: {{saga: {{enabled: true}}}}
milestones:
  - id: first
    action: t.step
    compensation: t.undo
    with: {{value: {{total: 7, names: [a, b]}}}}
  - id: second
    action: t.step
    compensation: t.undo
    with: {with_}{guard}
"""


def args_of(recorder: Any, milestone: str = "second") -> dict[str, Any]:
    (call,) = [c for c in recorder.calls if c.kind == "do" and c.milestone == milestone]
    return dict(call.args)


def test_a_single_expression_keeps_its_type(engine: journeys.Engine, recorder: Any) -> None:
    text = one(
        "{count: '{{ inputs.count }}', ratio: '{{ inputs.count / 4 }}',"
        " items: '{{ results.first.names }}', total: ' {{ results.first.total * 2 }} ',"
        " flag: '{{ inputs.count > 1 }}', nothing: '{{ none }}'}"
    )
    run = engine.start(journeys.load_definition(text), {"count": 3})
    assert run.status == "completed"
    assert args_of(recorder) == {
        "count": 3,
        "ratio": 0.75,
        "items": ["a", "b"],
        "total": 14,
        "flag": True,
        "nothing": None,
    }


def test_other_strings_render_as_text_and_structures_recursively(
    engine: journeys.Engine, recorder: Any
) -> None:
    text = one(
        "{name: 'file {{ inputs.count }}.csv', two: '{{ inputs.count }}{{ inputs.count }}',"
        " loop: '{% for i in results.first.names %}{{ i }};{% endfor %}',"
        " nested: {deep: ['{{ inputs.count }}', plain, 5]}, who: '{{ run.tenant }}/{{ run.user }}',"
        " raw: no braces here}"
    )
    run = engine.start(journeys.load_definition(text), {"count": 3}, tenant="acme", user="ann")
    assert run.status == "completed"
    assert args_of(recorder) == {
        "name": "file 3.csv",
        "two": "33",
        "loop": "a;b;",
        "nested": {"deep": [3, "plain", 5]},
        "who": "acme/ann",
        "raw": "no braces here",
    }


def test_the_run_id_is_in_scope(engine: journeys.Engine, recorder: Any) -> None:
    run = engine.start(journeys.load_definition(one("{id: '{{ run.id }}'}")), run_id="r-9")
    assert args_of(recorder) == {"id": "r-9"} and run.status == "completed"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        # written out, internals are refused when the definition loads (tests/definitions/
        # test_hostile.py); reached through inputs, the sandbox refuses them at run time
        ("'{{ inputs[inputs.key] }}'", "__class__"),
        ("'{{ inputs.count[inputs.key] }}'", "__class__"),
        ("'x {{ inputs[inputs.key] }} y'", "__class__"),
        ("'{{ inputs.key * inputs.times }}'", "more than 1,000,000"),
        ("'{{ inputs.key.ljust(inputs.times) }}'", "at most 1,000,000"),
        ("'{{ inputs.missing }}'", "has no attribute 'missing'"),
        ("'file {{ inputs.missing }}.csv'", "has no attribute 'missing'"),
        ("'{{ inputs.count.real() }}'", "TypeError: 'int' object is not callable"),
        ("'{{ inputs.count / 0 }}'", "ZeroDivisionError"),
        ("'{{ inputs.count ~ 1 }}{{ inputs.count + \"1\" }}'", "TypeError"),
    ],
)
@pytest.mark.parametrize("kind", ["structured", "saga"])
def test_a_sandbox_violation_or_undefined_name_fails_the_run_naming_the_milestone(
    engine: journeys.Engine, recorder: Any, argument: str, message: str, kind: str
) -> None:
    definition = journeys.load_definition(one(f"{{bad: {argument}}}", kind=kind))
    run = engine.start(definition, {"count": 3, "key": "__class__", "times": 10**9})
    assert run.status == ("compensated" if kind == "saga" else "failed")
    assert run.error is not None
    assert run.error.startswith("milestone 'second': argument 'bad': ")
    assert message in run.error
    assert recorder.of("do") == ["first"]  # the handler never saw a bad argument
    assert recorder.of("undo") == (["first"] if kind == "saga" else [])
    assert engine.get(run.id) == run


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        ("inputs.missing", "'missing'"),
        ("inputs.missing > 1", "'missing'"),
        ("inputs[inputs.key]", "__class__"),
        ("inputs.count / 0", "ZeroDivisionError"),
        ("inputs.key * inputs.times", "more than 1,000,000"),
    ],
)
def test_a_guard_that_cannot_be_evaluated_fails_the_run_naming_the_milestone(
    engine: journeys.Engine, recorder: Any, guard: str, message: str
) -> None:
    definition = journeys.load_definition(one("{}", kind="saga", when=guard))
    run = engine.start(definition, {"count": 3, "key": "__class__", "times": 10**9})
    assert run.status == "compensated"
    assert run.error is not None
    assert run.error.startswith("milestone 'second': its when: guard failed")
    assert message in run.error
    assert recorder.of("do") == ["first"] and recorder.of("undo") == ["first"]


@pytest.mark.parametrize(("count", "ran"), [(3, True), (0, False)])
def test_a_guard_skips_its_milestone_when_false(
    engine: journeys.Engine, recorder: Any, count: int, ran: bool
) -> None:
    run = engine.start(
        journeys.load_definition(one("{}", when="inputs.count > 0")), {"count": count}
    )
    assert run.status == "completed"
    assert ("second" in recorder.of("do")) is ran
    assert ("second" in run.results) is ran


def test_a_bad_compensation_argument_ends_compensation_failed(
    engine: journeys.Engine, recorder: Any
) -> None:
    # a compensation renders the milestone's `with:` again, now with the milestone's own result
    definition = journeys.load_definition(
        """
journey: bad_undo
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - id: first
    action: t.step
    compensation: t.undo
  - id: second
    action: t.step
    compensation: t.undo
    with: {who: "{{ inputs.who if results[inputs.me] is not defined else inputs.nobody }}"}
  - id: third
    action: t.step
    with: {fail: 1}
"""
    )
    run = engine.start(definition, {"who": "x", "me": "second"})
    assert args_of(recorder) == {"who": "x"}
    assert run.status == "compensation_failed"
    assert recorder.of("undo") == []  # second's could not start; first's is not reached
    assert run.error is not None
    assert run.error.startswith("milestone 'second': argument 'who': ")
    assert "'nobody'" in run.error and "third do broke" in run.error


def test_a_result_that_is_not_json_fails_the_milestone(
    engine: journeys.Engine, registry: journeys.Registry, recorder: Any
) -> None:
    registry.register("t.object", lambda ctx: object())
    definition = journeys.load_definition(
        """
journey: not_json
kind: saga
policies: {saga: {enabled: true}}
milestones:
  - {id: first, action: t.step, compensation: t.undo}
  - {id: second, action: t.object}
"""
    )
    run = engine.start(definition)
    assert run.status == "compensated"
    assert run.error is not None and "second: the handler's result is not JSON data" in run.error


def test_a_result_that_is_not_json_is_logged_as_the_attempt_s_failed_outcome(
    engine: journeys.Engine, registry: journeys.Registry
) -> None:
    registry.register("t.object", lambda ctx: object())
    definition = journeys.load_definition(
        "journey: not_json_logged\nmilestones:\n  - {id: only, action: t.object}\n"
        "policies: {wal: {enabled: true}}\n"
    )
    run = engine.start(definition)
    assert run.status == "failed"
    outcomes = [(e.kind, e.status) for e in engine.history(run.id) if e.milestone == "only"]
    assert outcomes[:2] == [("operation", "pending"), ("operation", "failed")]
