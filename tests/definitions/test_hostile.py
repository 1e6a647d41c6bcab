"""Hostile definitions: each is refused with a located error, runs nothing and writes nothing.

YAML that would construct objects or explode, files too big or too deep to read, handler names
that are module paths, and templates that try to leave Jinja's sandbox or to exhaust memory.
The command line's side of the same inputs is tests/acceptance/test_hostile.py.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

import journeys
from journeys.definitions import source

MINIMAL = "journey: hostile\nmilestones:\n  - id: first\n    action: t.step\n"


def refused(text: str, *, name: str = "hostile.yaml") -> journeys.DefinitionError:
    with pytest.raises(journeys.DefinitionError) as caught:
        journeys.load_definition(text, name=name)
    assert caught.value.problems and caught.value.file == name
    return caught.value


def only_problem(text: str) -> journeys.Problem:
    (problem,) = refused(text).problems
    return problem


@pytest.mark.parametrize(
    "value",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        "!!python/name:os.system",
        "!!python/object:subprocess.Popen {{args: [touch, {marker}]}}",
        "!!python/object/new:os.system [touch {marker}]",
        "!<tag:yaml.org,2002:python/object/apply:os.system> [touch {marker}]",
        "!!python/module:os",
        "!custom touch {marker}",
        "!!binary dG91Y2g=",
        "!!set {{a, b}}",
        "!!timestamp 2024-01-01",
    ],
)
def test_python_and_unknown_tags_are_refused_and_construct_nothing(
    tmp_path: Path, value: str
) -> None:
    marker = tmp_path / "constructed"
    text = MINIMAL + f"    title: {value.format(marker=marker)}\n"
    problem = only_problem(text)
    assert (problem.line, problem.path) == (5, "/milestones/0/title")
    assert "is not allowed" in problem.message and "no tag can construct objects" in problem.message
    assert not marker.exists()


def test_a_python_tag_on_a_mapping_is_refused() -> None:
    text = MINIMAL + "    with: !!python/object/apply:os.system\n      args: [id]\n"
    problem = only_problem(text)
    assert (problem.line, problem.path) == (5, "/milestones/0/with")
    assert "tag !!python/object/apply:os.system is not allowed" in problem.message


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\njourney: bomb\nmilestones: *a{levels}\n"


def test_a_billion_laughs_alias_bomb_is_refused_before_it_expands() -> None:
    tracemalloc.start()
    try:
        error = refused(billion_laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (problem,) = error.problems
    assert f"more than {source.MAX_NODES:,} values" in problem.message
    assert "alias bomb" in problem.message
    assert problem.line >= 1 and problem.path.startswith("/")
    assert peak < 50 * 1024 * 1024  # 10**9 strings would be gigabytes


def test_a_50_mb_file_is_refused_naming_the_limit_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.write(MINIMAL.encode() + b"description: ")
        for _ in range(50):
            file.write(b"x" * (1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(journeys.DefinitionError) as caught:
            journeys.load_definition(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.line == 0
    assert f"larger than {source.MAX_BYTES // 1024} KiB" in problem.message
    assert peak < 2 * source.MAX_BYTES  # it read the limit and one byte, not 50 MB


def test_50_mb_of_text_is_refused_naming_the_limit() -> None:
    error = refused(MINIMAL + "description: " + "x" * (50 * 1024 * 1024))
    assert f"larger than {source.MAX_BYTES // 1024} KiB" in error.problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "{a: " * 50_000 + "1" + "}" * 50_000,
        "".join(f"{'  ' * depth}a:\n" for depth in range(500)) + "  " * 500 + "b: 1\n",
        "".join(f"{'  ' * depth}-\n" for depth in range(500)) + "  " * 500 + "- 1\n",
        "&x [" * 5_000 + "]" * 5_000,
    ],
    ids=["flow-lists", "flow-mappings", "block-mappings", "block-lists", "anchored"],
)
def test_deep_nesting_is_refused_without_a_recursion_error(text: str) -> None:
    problems = refused(text).problems
    assert any(f"nested more than {source.MAX_DEPTH} levels" in p.message for p in problems)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("with/v", "{{ " + "(" * 5_000 + "1" + ")" * 5_000 + " }}"),
        ("with/v", "{{ 1" + " + 1" * 5_000 + " }}"),
        ("with/v", "{{ inputs" + ".a" * 500 + " }}"),
        ("with/v", "{% for x in inputs %}" * 25 + "{% endfor %}" * 25),
        ("with/v", "{% if true %}" * 200 + "{% endif %}" * 200),
        ("doc", "{{ " + "[" * 3_000 + "]" * 3_000 + " }}"),
        ("when", "not " * 5_000 + "true"),
    ],
)
def test_deeply_nested_templates_are_refused_at_their_field(field: str, text: str) -> None:
    problems = refused(milestone(field, text)).problems
    assert {p.path for p in problems} == {f"/milestones/0/{field}"}
    assert any("nested too deeply" in p.message for p in problems)


def milestone(field: str, text: str) -> str:
    """A definition whose milestone has ``text`` at ``field`` (``with/v``, ``doc``, ``when``)."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if field.startswith("with/"):
        return MINIMAL + f"    with:\n      {field.removeprefix('with/')}: {quoted}\n"
    return MINIMAL + f"    {field}: {quoted}\n"


ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ inputs.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].system('id') }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ inputs|attr('__class__') }}",
    "{{ inputs|attr(inputs.name) }}",
    "{{ inputs['__class__'] }}",
    "{{ '{0.__class__.__mro__}'.format(inputs) }}",
    "{{ '{0[__class__]}'.format_map(inputs) }}",
    "{{ '%s'|format(inputs.__class__) }}",
    "{% set x = inputs.__class__ %}{{ x }}",
    "{% for c in ''.__class__.__mro__ %}{{ c }}{% endfor %}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{{ results.first.gi_frame }}",
    "{{ 'a' * 10 ** 10 }}",
    "{{ 10 ** 10000000 }}",
    "{{ [0] * 100000000 }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ [1]|batch(1000000000, 'x')|list }}",
]


@pytest.mark.parametrize("field", ["with/v", "doc", "when"])
@pytest.mark.parametrize("escape", ESCAPES)
def test_sandbox_escapes_are_refused_when_the_definition_loads(field: str, escape: str) -> None:
    """Refused at load, so no run can start: the run-time side is tests/engine/test_hostile.py."""
    text = escape.removeprefix("{{ ").removesuffix(" }}") if field == "when" else escape
    error = refused(milestone(field, text))
    assert {p.path for p in error.problems} == {f"/milestones/0/{field}"}
    assert all(p.line == (6 if field == "with/v" else 5) for p in error.problems)


def test_text_with_a_lone_surrogate_is_refused_at_its_position() -> None:
    text = MINIMAL + "    title: caf" + b"\xe9".decode("utf-8", "surrogateescape") + "\n"
    problem = only_problem(text)
    assert (problem.line, problem.column) == (5, 15)
    assert "U+DCE9 stands for a byte that is not UTF-8" in problem.message
