"""Inputs are checked against the journey's schema before anything runs or is written."""

from __future__ import annotations

import typing
from typing import Any

import pytest

import journeys
from journeys.engine.run import Status

UPLOAD = """
journey: upload
inputs:
  type: object
  required: [file_name, size]
  additionalProperties: false
  properties:
    file_name: {type: string, minLength: 1}
    size: {type: integer, minimum: 0}
    mode: {type: string, enum: [fast, safe], default: safe}
    tags: {type: array, items: {type: string}}
milestones:
  - id: store
    action: t.step
"""


@pytest.fixture
def upload() -> journeys.Definition:
    return journeys.load_definition(UPLOAD)


def assert_nothing_written(engine: journeys.Engine, recorder: Any, run_id: str) -> None:
    assert recorder.calls == []
    assert engine.store.find(typing.get_args(Status)) == []
    with pytest.raises(journeys.RunNotFound):
        engine.get(run_id)


@pytest.mark.parametrize(
    ("inputs", "field", "message"),
    [
        ({"size": 3}, "/", "'file_name' is a required property"),
        ({"file_name": "a.csv", "size": "3"}, "/size", "'3' is not of type 'integer'"),
        ({"file_name": "a.csv", "size": -1}, "/size", "-1 is less than the minimum of 0"),
        ({"file_name": "a.csv", "size": 1, "mode": "slow"}, "/mode", "'slow' is not one of"),
        ({"file_name": "a.csv", "size": 1, "tags": ["x", 2]}, "/tags/1", "2 is not of type"),
        ({"file_name": "a.csv", "size": 1, "colour": "red"}, "/", "'colour' was unexpected"),
    ],
)
def test_a_bad_input_is_an_input_error_naming_the_field_and_nothing_is_written(
    engine: journeys.Engine,
    recorder: Any,
    upload: journeys.Definition,
    inputs: dict[str, Any],
    field: str,
    message: str,
) -> None:
    with pytest.raises(journeys.InputError) as caught:
        engine.start(upload, inputs, run_id="bad")
    error = caught.value
    assert isinstance(error, journeys.JourneyError)
    assert "nothing was started" in str(error)
    assert any(where == field and message in text for where, text in error.problems)
    assert f"\n  {field}: " in str(error) and message in str(error)
    assert_nothing_written(engine, recorder, "bad")


def test_every_bad_field_is_reported(
    engine: journeys.Engine, recorder: Any, upload: journeys.Definition
) -> None:
    with pytest.raises(journeys.InputError) as caught:
        engine.start(upload, {"file_name": "", "size": 1.5}, run_id="bad")
    assert [where for where, _ in caught.value.problems] == ["/file_name", "/size"]
    assert_nothing_written(engine, recorder, "bad")


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (["file_name"], "must be a mapping of names to values, not list"),
        ({"file_name": "a", "size": 1, "blob": object()}, "must be JSON data"),
        ({"file_name": "a", "size": float("nan")}, "must be JSON data"),
    ],
)
def test_inputs_must_be_a_mapping_of_json_data(
    engine: journeys.Engine, recorder: Any, upload: journeys.Definition, inputs: Any, message: str
) -> None:
    with pytest.raises(journeys.InputError, match=message):
        engine.start(upload, inputs, run_id="bad")
    assert_nothing_written(engine, recorder, "bad")


def test_good_inputs_start_the_run_with_the_schema_s_defaults(
    engine: journeys.Engine, recorder: Any, upload: journeys.Definition
) -> None:
    run = engine.start(upload, {"file_name": "a.csv", "size": 3})
    assert run.status == "completed"
    assert run.inputs == {"file_name": "a.csv", "size": 3, "mode": "safe"}
    assert engine.get(run.id).inputs == run.inputs


def test_a_journey_without_an_inputs_schema_takes_any_json_inputs(
    engine: journeys.Engine, recorder: Any
) -> None:
    definition = journeys.load_definition(
        "journey: free\nmilestones:\n  - id: a\n    action: t.step\n"
    )
    run = engine.start(definition, {"anything": [1, {"x": None}]})
    assert run.status == "completed" and run.inputs == {"anything": [1, {"x": None}]}
