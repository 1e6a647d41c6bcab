"""Hostile definitions meeting the engine: module paths as handlers, and template escapes that
only the run's inputs reveal. Nothing is imported, no handler runs, and a refused start writes
nothing. What the loader refuses on its own is tests/definitions/test_hostile.py.
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

import pytest

import journeys
from journeys.definitions import expressions
from journeys.engine.run import Status

MINIMAL = "journey: hostile\nmilestones:\n  - id: first\n    action: t.step\n"


def assert_nothing_written(engine: journeys.Engine) -> None:
    assert engine.store.find(typing.get_args(Status)) == []


def with_argument(text: str) -> str:
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return MINIMAL + f"    with:\n      v: {quoted}\n"


@pytest.mark.parametrize(
    "action", ["os:system", "os.system", "subprocess.run", "builtins.eval", "hostile_module.run"]
)
def test_a_module_path_as_a_handler_imports_nothing_and_runs_nothing(
    engine: journeys.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, action: str
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "hostile_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef run(ctx): return {{}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    text = MINIMAL.replace("t.step", action)
    try:
        definition = journeys.load_definition(text, name="hostile.yaml")
    except journeys.DefinitionError as error:  # os:system is not even a handler name
        (problem,) = error.problems
        assert (problem.line, problem.path) == (4, "/milestones/0/action")
    else:
        with pytest.raises(journeys.HandlerError, match=f"no handler is registered as {action!r}"):
            engine.start(definition)
        assert_nothing_written(engine)
    assert "hostile_module" not in sys.modules
    assert not marker.exists()


@pytest.mark.parametrize(
    ("argument", "inputs", "message"),
    [
        ("{{ inputs[inputs.key] }}", {"key": "__class__"}, "__class__"),
        ("{{ inputs.text * inputs.times }}", {"text": "ab", "times": 10**9}, "more than 1,000,000"),
        ("{{ inputs.times ** inputs.times }}", {"times": 10**7}, "digits"),
        ("{{ inputs.text.rjust(inputs.times) }}", {"text": "a", "times": 10**9}, "at most"),
        ("{{ inputs.text|indent(inputs.text) }}", {"text": "\n" * 10**6}, "at most"),
    ],
)
def test_escapes_that_only_inputs_reveal_fail_before_the_handler(
    engine: journeys.Engine, recorder: Any, argument: str, inputs: dict[str, Any], message: str
) -> None:
    definition = journeys.load_definition(with_argument(argument), name="hostile.yaml")
    run = engine.start(definition, inputs)
    assert run.status == "failed"
    assert run.error is not None and message in run.error and "'first'" in run.error
    assert recorder.calls == []


def test_the_bounds_leave_ordinary_templates_alone(engine: journeys.Engine, recorder: Any) -> None:
    text = with_argument(
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%5.2f'|format(3.14159) }} {{ 'x'|center(5) }}"
    )
    run = engine.start(journeys.load_definition(text, name="fine.yaml"))
    assert run.status == "completed"
    assert recorder.calls[0].args["v"] == "ababab 1024  3.14   x  "
    assert expressions.MAX_SIZE == 1_000_000
