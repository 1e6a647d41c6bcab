"""Fuzzing ``--input KEY=VALUE`` and ``--inputs FILE``: inputs or a clear error, never a crash.

Parsed inputs then meet the journey's ``inputs`` schema (:func:`journeys.engine.inputs.validate`),
as ``journeys run`` and ``journeys plan`` do: the outcome is data or an
:class:`journeys.InputError` naming the field, and nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import journeys
from journeys.cli.options import parse_inputs, yaml_value
from journeys.engine import inputs
from tests.fuzzing import TOKENS, dumped, json_values, spliced, token_soup

DEFINITION = journeys.load_definition(
    """
journey: fuzzed_inputs
inputs:
  type: object
  required: [name]
  properties:
    name: {type: string, minLength: 1, maxLength: 20, pattern: "^[a-z]"}
    size: {type: integer, minimum: 0}
    when: {type: string, format: date-time}
    mode: {type: string, enum: [fast, safe], default: safe}
    tags: {type: array, items: {type: string}, uniqueItems: true}
milestones:
  - id: only
    action: builtin.noop
""",
    name="fuzzed_inputs.yaml",
)

keys = st.sampled_from(["name", "size", "when", "mode", "tags", "x", " ", "a=b", ""]) | st.text(
    max_size=6
)
pairs = st.lists(
    st.tuples(
        keys, st.sampled_from(["=", "", "=="]), st.text(max_size=12) | st.sampled_from(TOKENS)
    ).map("".join),
    max_size=5,
)
inputs_files = dumped() | token_soup | spliced(st.just("name: abc\nsize: 3\ntags: [a, b]\n"))


def parse_and_validate(inputs_file: Path | None, given_pairs: list[str]) -> None:
    try:
        parsed = parse_inputs(inputs_file, given_pairs)
        checked = inputs.validate(DEFINITION, parsed)
    except journeys.InputError as error:
        assert str(error)
        return
    except journeys.DefinitionError as error:  # a value or the file is not YAML
        for problem in error.problems:
            assert problem.file.startswith("--input ") or problem.file == str(inputs_file)
        return
    assert checked["mode"] in ("fast", "safe")
    json.dumps(checked, allow_nan=False)


@given(pairs)
def test_input_pairs(given_pairs: list[str]) -> None:
    parse_and_validate(None, given_pairs)


@given(inputs_files | st.binary(max_size=200), pairs)
def test_inputs_files_and_pairs(
    tmp_path_factory: Any, content: str | bytes, given_pairs: list[str]
) -> None:
    path = tmp_path_factory.mktemp("inputs") / "inputs.yaml"
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    parse_and_validate(path, given_pairs)


@given(json_values)
def test_a_json_value_reads_back_as_itself(value: Any) -> None:
    """JSON is YAML 1.2: ``--input k=<JSON>`` gives exactly that value (what scripts rely on)."""
    text = json.dumps(value)
    assert yaml_value(text, "--input k") == value
