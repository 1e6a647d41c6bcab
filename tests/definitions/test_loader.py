"""load_definition end to end: paths and text, every problem reported, sorted and located."""

from __future__ import annotations

from pathlib import Path

import pytest

import journeys
from journeys.definitions import loader

MINIMAL = "journey: hello\nmilestones:\n  - id: greet\n    action: builtin.noop\n"


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(journeys.DefinitionError) as raised:
        journeys.load_definition(text, name="t.yaml")
    return [(p.line, p.path, p.message) for p in raised.value.problems]


def test_loads_from_text_and_from_a_path(tmp_path: Path) -> None:
    file = tmp_path / "hello.yaml"
    file.write_text(MINIMAL)
    from_text = journeys.load_definition(MINIMAL)
    assert from_text.source == "<string>"
    for origin in (file, str(file)):
        definition = journeys.load_definition(origin)
        assert definition.source == str(file)
        assert definition == from_text


def test_a_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(journeys.DefinitionError) as raised:
        journeys.load_definition(str(tmp_path / "nope.yaml"))
    [problem] = raised.value.problems
    assert (problem.line, problem.message) == (0, "no such file")
    assert str(problem).endswith("nope.yaml: no such file")


def test_definition_error_is_a_journey_error() -> None:
    with pytest.raises(journeys.JourneyError):
        journeys.load_definition("journey: x\n")


def test_an_unknown_field_is_reported_at_its_own_line_with_a_suggestion() -> None:
    text = MINIMAL + "    titel: Greet\n"
    assert problems(text) == [
        (5, "/milestones/0/titel", "unknown field 'titel' (did you mean 'title'?)")
    ]


def test_an_unknown_field_with_no_close_match_lists_the_fields() -> None:
    [(line, path, message)] = problems(MINIMAL + "zzz: 1\n")
    assert (line, path) == (5, "/zzz")
    assert "the fields here are: journey, version, kind" in message


def test_every_problem_is_reported_in_order_of_position() -> None:
    text = (
        "journey: hello\n"
        "kind: sagga\n"
        "milestones:\n"
        "  - id: a\n"
        "    retry: {retries: -1, backoff: cubic}\n"
        "  - id: a\n"
        "    timeout: soon\n"
    )
    found = problems(text)
    assert [(line, path) for line, path, _ in found] == [
        (2, "/kind"),
        (5, "/milestones/0/retry/retries"),
        (5, "/milestones/0/retry/backoff"),
        (6, "/milestones/1/id"),
        (7, "/milestones/1/timeout"),
    ]
    assert "did you mean 'saga'" in found[0][2]


def test_missing_required_fields_are_reported_at_their_parent() -> None:
    assert problems("title: x\nmilestones:\n  - title: y\n") == [
        (1, "", "missing required field 'journey'"),
        (3, "/milestones/0", "missing required field 'id'"),
    ]


def test_yaml_1_1_booleans_get_a_hint() -> None:
    [(_, path, message)] = problems(MINIMAL + "    checkpoint: yes\n")
    assert path == "/milestones/0/checkpoint"
    assert "write true or false" in message


def test_on_off_stay_strings_where_strings_are_expected() -> None:
    definition = journeys.load_definition(
        MINIMAL + "    with: {switch: on, answer: no}\n    retry: {retries: 1, on: [KeyError]}\n"
    )
    assert dict(definition.milestones[0].args) == {"switch": "on", "answer": "no"}
    assert definition.milestones[0].retry.on == ("KeyError",)


def test_an_empty_document_says_what_it_needs() -> None:
    assert problems("# nothing yet\n") == [
        (1, "", "the document is empty; it needs journey: and milestones:")
    ]


def test_a_list_is_not_a_definition() -> None:
    [(line, path, message)] = problems("- id: a\n")
    assert (line, path) == (1, "")
    assert message == "expected a mapping, got a list"


def test_yaml_problems_stop_before_the_schema() -> None:
    # a duplicate key leaves the data in doubt: schema errors on it would only add noise
    found = problems("journey: a\njourney: b\nmilestones: 3\n")
    assert [(line, path) for line, path, _ in found] == [(2, "/journey")]


def test_policy_files_are_told_apart_and_validated(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "default:\n  wal: {enabled: true}\njourneys:\n  'ops_*': {saga: {enabled: on}}\n"
    )
    with pytest.raises(journeys.DefinitionError) as raised:
        loader.check_file(policy)
    [problem] = raised.value.problems
    assert (problem.line, problem.path) == (4, "/journeys/ops_*/saga/enabled")
    policy.write_text("default:\n  wal: {enabled: true}\n")
    assert loader.check_file(policy) == "policy"
    assert journeys.load_policy_file(policy)["default"]["wal"]["enabled"] is True


def test_error_text_shows_the_source_line_and_a_caret() -> None:
    with pytest.raises(journeys.DefinitionError) as raised:
        journeys.load_definition(MINIMAL.replace("builtin.noop", "os:system"), name="t.yaml")
    text = str(raised.value)
    assert text.splitlines()[1].startswith("t.yaml:4:13: /milestones/0/action: 'os:system'")
    assert text.splitlines()[2] == "        action: os:system"
    assert text.splitlines()[3] == " " * 16 + "^"
