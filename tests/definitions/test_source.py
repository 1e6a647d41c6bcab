"""The safe, line-aware YAML reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys.definitions import source
from journeys.errors import DefinitionError


def problems_of(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(DefinitionError) as raised:
        source.parse(text, "t.yaml")
    return [(p.line, p.column, p.path, p.message) for p in raised.value.problems]


def test_positions_of_keys_and_values() -> None:
    document = source.parse("a: 1\nb:\n  - x\n  - {c: d}\n", "t.yaml")
    assert document.data == {"a": 1, "b": ["x", {"c": "d"}]}
    assert document.position(("a",), key=True) == (1, 1)
    assert document.position(("a",)) == (1, 4)
    assert document.position(("b", 1)) == (4, 5)
    assert document.position(("b", 1, "c"), key=True) == (4, 6)
    assert document.position(("b", 1, "c")) == (4, 9)


def test_a_missing_path_falls_back_to_its_nearest_ancestor() -> None:
    document = source.parse("a:\n  b: 1\n", "t.yaml")
    assert document.position(("a", "zzz", 3)) == document.position(("a",))
    assert document.position(("nope",)) == (1, 1)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("on", "on"),
        ("off", "off"),
        ("yes", "yes"),
        ("no", "no"),
        ("y", "y"),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("12", 12),
        ("-3", -3),
        ("0o17", 15),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1_000", "1_000"),
        (".inf", ".inf"),
        ("2024-01-01", "2024-01-01"),
        ("'12'", "12"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!int '12'", 12),
        ("!!float 2", 2.0),
        ("!!bool true", True),
        ("!!null ''", None),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    parsed = source.parse(f"k: {text}\n").data["k"]
    assert parsed == value
    assert type(parsed) is type(value)


def test_keys_keep_their_text() -> None:
    assert source.parse("on: 1\n1: 2\nnull: 3\n").data == {"on": 1, "1": 2, "null": 3}


@pytest.mark.parametrize(
    "text",
    [
        "k: !!python/object/apply:os.system [echo hi]\n",
        "k: !!python/name:os.system\n",
        "k: !custom value\n",
        "k: !!binary aGk=\n",
        "k: !!timestamp 2024-01-01\n",
        "k: !!set {a, b}\n",
        "k: !!omap [a: 1]\n",
        "k: !<tag:example.com,2000:x> 1\n",
    ],
)
def test_non_standard_tags_are_refused(text: str) -> None:
    [(line, column, path, message)] = problems_of(text)
    assert (line, column, path) == (1, 4, "/k")
    assert "is not allowed" in message


def test_a_bad_standard_tag_value_is_reported() -> None:
    assert problems_of("a: !!int abc\nb: !!bool 1\n") == [
        (1, 4, "/a", "'abc' is not a valid int"),
        (2, 4, "/b", "'1' is not a valid bool"),
    ]


def test_duplicate_keys_are_reported_at_the_second_one() -> None:
    [(line, column, path, message)] = problems_of("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert (line, column, path) == (4, 3, "/b/c")
    assert "duplicate key 'c' (first defined at line 3)" in message


def test_every_duplicate_is_reported() -> None:
    found = problems_of("a: 1\na: 2\nb: 1\nb: 2\n")
    assert [(line, path) for line, _, path, _ in found] == [(2, "/a"), (4, "/b")]


def test_aliases_within_the_budget_expand() -> None:
    document = source.parse("base: &b {x: 1}\nuse: *b\n")
    assert document.data["use"] == {"x": 1}
    assert document.position(("use", "x")) == (2, 6)  # inside an alias: the alias itself


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        name, previous = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    # 10**9 strings if expanded; refused once the budget of values is spent, having built none
    [(line, _, _, message)] = problems_of("\n".join(lines) + "\n")
    assert "alias bomb" in message
    assert line < len(lines)  # stopped before the last level


def test_recursive_aliases_are_refused() -> None:
    [(line, _, path, message)] = problems_of("a: &a [1, *a]\n")
    assert (line, path) == (1, "/a/1")
    assert "refers to no anchor" in message


def test_deep_nesting_is_refused_without_recursion() -> None:
    found = problems_of("[" * 100_000)
    assert len(found) == 1
    assert "nested more than 64 levels deep" in found[0][3]


def test_nesting_within_the_limit_is_fine() -> None:
    depth = source.MAX_DEPTH
    data = source.parse("[" * depth + "]" * depth).data
    for _ in range(depth - 1):
        data = data[0]
    assert data == []


def test_more_than_one_document_is_refused() -> None:
    [(line, _, _, message)] = problems_of("a: 1\n---\nb: 2\n")
    assert line == 2
    assert "more than one YAML document" in message


def test_merge_keys_are_refused_with_advice() -> None:
    [(_, _, _, message)] = problems_of("base: &b {x: 1}\nuse:\n  <<: *b\n")
    assert "merge keys" in message


def test_complex_keys_are_refused() -> None:
    [(_, _, _, message)] = problems_of("? [a, b]\n: 1\n")
    assert "a key must be a plain name" in message


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: [1, 2\n", 1), ("a: 1\n b: 2\n", 2), ("a:\n\t- b\n", 2), ("a: 'open\n", 1)],
)
def test_syntax_errors_are_located(text: str, line: int) -> None:
    [(found_line, _, _, message)] = problems_of(text)
    assert found_line == line
    assert message.startswith("YAML syntax error")


def test_control_characters_are_a_problem_not_a_crash() -> None:
    [(line, _, _, message)] = problems_of("a: 1\nb: \x07\n")
    assert line == 2
    assert "not valid YAML" in message


def test_an_oversized_text_is_refused() -> None:
    [(line, _, _, message)] = problems_of("a: " + "x" * (source.MAX_BYTES + 1))
    assert line == 0
    assert "larger than" in message


def test_read_refuses_an_oversized_file_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024)  # 50 MB, sparse
    with pytest.raises(DefinitionError, match="larger than"):
        source.read(big)


def test_read_reports_missing_files_and_folders(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file"):
        source.read(tmp_path / "missing.yaml")
    with pytest.raises(DefinitionError, match="is a folder"):
        source.read(tmp_path)


def test_read_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "latin1.yaml"
    file.write_bytes(b"a: 1\ntitle: caf\xe9\n")
    with pytest.raises(DefinitionError, match="not UTF-8") as raised:
        source.read(file)
    assert raised.value.problems[0].line == 2


def test_read_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    file = tmp_path / "bom.yaml"
    file.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert source.parse(source.read(file)).data == {"a": 1}


def test_pointer_escapes_per_rfc_6901() -> None:
    assert source.pointer(("a/b", "c~d", 3)) == "/a~1b/c~0d/3"
    assert source.pointer(()) == ""
