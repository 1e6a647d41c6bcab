"""Fuzzing the definition loader: generated YAML, hostile tokens, random bytes, mutated journeys.

The contract under test: whatever the input, :func:`journeys.load_definition` returns a
Definition or raises :class:`journeys.DefinitionError` whose every problem names the file, a
line and a JSON pointer. A definition that loads must go on through the whole read-only path
(compiling its machine, planning it, rendering the plan in every format) raising nothing but a
:class:`journeys.JourneyError`. Any other exception is a crash, and a bug.

These run in CI under the ``ci`` profile; ``HYPOTHESIS_PROFILE=fuzz`` runs them for minutes (see
README "Fuzzing"), and ``fuzz/atheris_loaders.py`` does the same, guided by coverage.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import journeys
from journeys.definitions import source
from journeys.engine import compiler
from tests.fuzzing import dumped, json_values, spliced, token_soup

ROOT = Path(__file__).parents[2]
CORPUS = sorted(
    [*(ROOT / "definitions").glob("*.yaml"), *(ROOT / "tests/definitions").rglob("*.yaml")]
)
TEXTS = [file.read_text(errors="replace") for file in CORPUS]
VALID = [  # the 200-milestone journey left out: planning it 200 times a run is slow, not new
    source.parse(file.read_text()).data
    for file in sorted(
        [*(ROOT / "definitions").glob("*.yaml"), *(ROOT / "tests/definitions/valid").glob("*.yaml")]
    )
    if "two_hundred" not in file.name
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid definition with a few of its values replaced, removed or duplicated."""
    data = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = _paths(data)[1:]
        if not places:  # everything was deleted
            break
        path = draw(st.sampled_from(places))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        action = draw(st.sampled_from(["delete", "replace", "copy"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(json_values)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        else:
            parent[draw(st.sampled_from(["id", "title", "doc", "when", "with", "x"]))] = parent[key]
    return data


def check(text: str, name: str = "fuzzed.yaml") -> None:
    """Load ``text``; a definition goes on to be compiled, planned and rendered."""
    try:
        definition = journeys.load_definition(text, name=name)
    except journeys.DefinitionError as error:
        assert_located(error, name)
        return
    go_on(definition)


def go_on(definition: journeys.Definition) -> None:
    """What a definition that loaded goes through before anything runs: only JourneyErrors."""
    try:
        compiler.compile(definition)
        plan = journeys.plan(definition, policies=ROOT / "policies/enterprise.yaml")
        # one format per definition, varied (all four every time doubled the suite's time)
        journeys.render(plan, format=("md", "html", "text", "json")[len(definition.milestones) % 4])
    except journeys.JourneyError as error:
        assert str(error)


def assert_located(error: journeys.DefinitionError, name: str) -> None:
    assert error.problems
    for problem in error.problems:
        assert problem.file == name, problem
        assert problem.message, problem
        assert problem.path == "" or problem.path.startswith("/"), problem
        if problem.line == 0:  # only the file as a whole (too large, not text) has no line
            assert problem.column == 0 and problem.path == "", problem
        else:
            assert problem.line >= 1 and problem.column >= 1, problem
    assert str(error).startswith(name)


@given(dumped())
def test_generated_yaml(text: str) -> None:
    check(text)


@given(token_soup)
def test_yaml_token_soup(text: str) -> None:
    check(text)


@given(spliced(st.sampled_from(TEXTS)))
def test_hostile_tokens_spliced_into_real_definitions(text: str) -> None:
    check(text)


@settings(max_examples=max(settings.default.max_examples // 2, 1))  # most plan: 0.1 s each
@given(mutated().flatmap(lambda data: dumped(st.just(data))))
def test_mutated_valid_definitions(text: str) -> None:
    check(text)


@given(
    st.binary(max_size=400)
    | st.sampled_from(TEXTS)
    .map(str.encode)
    .flatmap(
        lambda raw: st.tuples(st.just(raw), st.binary(max_size=6), st.integers(0, len(raw))).map(
            lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
        )
    )
)
def test_random_bytes_in_a_file(tmp_path_factory: Any, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"
    path.write_bytes(raw)
    try:
        definition = journeys.load_definition(path)
    except journeys.DefinitionError as error:
        assert_located(error, str(path))
        return
    go_on(definition)


@given(
    st.sampled_from(TEXTS).flatmap(
        lambda text: st.tuples(st.binary(min_size=1, max_size=4), st.integers(0, len(text))).map(
            lambda cut: text[: cut[1]] + cut[0].decode("utf-8", "surrogateescape") + text[cut[1] :]
        )
    )
)
def test_text_decoded_with_surrogateescape(text: str) -> None:
    """How Python decodes command-line arguments and file names that are not UTF-8."""
    check(text)
