"""Property tests: whatever an author does to a valid definition, the loader answers clearly.

Random mutations of the bundled definitions (deleted keys, wrong types, random strings, random
nesting, random edits of the text itself) must either load or raise DefinitionError, never
anything else, and every problem must have a line, a column and a message.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

import journeys
from journeys.definitions import source

ROOT = Path(__file__).parents[2]
TEXTS = [file.read_text() for file in sorted((ROOT / "definitions").glob("*.yaml"))]
DATA = [source.parse(text).data for text in TEXTS]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["on", "no", "5m", "{{ x", "{% if %}", "os:system", "a.b", "saga", "-1s"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(DATA)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(paths(data)))
        if not path:
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "wrap", "add"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(json_values)
        elif action == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}]))
        elif isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return data


def assert_clear(text: str) -> None:
    try:
        journeys.load_definition(text, name="mutant.yaml")
    except journeys.DefinitionError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.line >= 1 and problem.column >= 1, problem
            assert problem.message and problem.file == "mutant.yaml"
        positions = [(p.line, p.column) for p in error.problems]
        assert positions == sorted(positions)


@given(mutated())
def test_mutated_definitions_load_or_fail_clearly(data: Any) -> None:
    assert_clear(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@given(
    st.sampled_from(TEXTS),
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1),
            st.integers(min_value=0, max_value=5),
            st.text(alphabet=" \t\n:-[]{}'\"&*!%@`|>#,?abc0", max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_edited_text_loads_or_fails_clearly(text: str, edits: list[tuple[float, int, str]]) -> None:
    for where, deleted, inserted in edits:
        at = int(where * len(text))
        text = text[:at] + inserted + text[at + deleted :]
    assert_clear(text)


@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_fails_clearly(text: str) -> None:
    assert_clear(text)
