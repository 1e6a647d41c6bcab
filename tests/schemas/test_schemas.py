"""The JSON Schema files: valid 2020-12, documented for editors, consistent with each other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from journeys import schemas

NAMES: list[schemas.SchemaName] = ["journey", "policy"]


def properties(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property declared anywhere in a schema, with where it is."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{path}/properties/{name}", sub
        for key, value in node.items():
            yield from properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from properties(item, f"{path}/{index}")


@pytest.mark.parametrize("name", NAMES)
def test_the_schema_is_valid_2020_12_with_an_id(name: schemas.SchemaName) -> None:
    schema = schemas.schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("urn:journeys:schema:")
    assert schema["description"]


@pytest.mark.parametrize("name", NAMES)
def test_every_property_has_a_description(name: schemas.SchemaName) -> None:
    schema = schemas.schema(name)
    missing = []
    for where, sub in properties(schema):
        described = "description" in sub
        if not described and "$ref" in sub:  # a reference may carry it on its target
            target = schema["$defs"][sub["$ref"].removeprefix("#/$defs/")]
            described = "description" in target
        if not described:
            missing.append(where)
    assert not missing


def test_the_policy_definitions_are_the_same_in_both_files() -> None:
    journey, policy = schemas.schema("journey"), schemas.schema("policy")
    for name, definition in policy["$defs"].items():
        assert journey["$defs"][name] == definition, name


@pytest.mark.parametrize("name", NAMES)
def test_the_path_is_the_file_shipped(name: schemas.SchemaName) -> None:
    path = Path(schemas.path(name))
    assert path.name == f"{name}.schema.json"
    assert json.loads(path.read_text()) == schemas.schema(name)


def test_bundled_files_point_editors_at_the_schema() -> None:
    root = Path(__file__).parents[2]
    for folder, name in (("definitions", "journey"), ("policies", "policy")):
        for file in (root / folder).glob("*.yaml"):
            first = file.read_text().splitlines()[0]
            assert (
                first == f"# yaml-language-server: $schema=../journeys/schemas/{name}.schema.json"
            )
