"""`journeys schema` end to end: what an editor is given."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from journeys import schemas

from .conftest import ROOT, Run


def test_prints_the_journey_schema(journeys_cli: Run) -> None:
    done = journeys_cli("schema")
    assert done.returncode == 0
    printed = json.loads(done.stdout)
    Draft202012Validator.check_schema(printed)
    assert printed == schemas.schema("journey")


def test_prints_the_policy_schema(journeys_cli: Run) -> None:
    done = journeys_cli("schema", "--policy")
    assert done.returncode == 0
    assert json.loads(done.stdout)["$id"] == "urn:journeys:schema:policy:1"


def test_prints_the_path_for_a_schema_comment(journeys_cli: Run) -> None:
    done = journeys_cli("schema", "--path")
    assert done.returncode == 0
    path = Path(done.stdout.strip())
    assert path.is_file() and path.name == "journey.schema.json"


def test_the_printed_schema_checks_a_bundled_definition(journeys_cli: Run) -> None:
    """What an editor does with it: validate the YAML's data against the printed schema."""
    import yaml

    schema = json.loads(journeys_cli("schema").stdout)
    data = yaml.safe_load((ROOT / "definitions" / "data_ingest_pipeline.yaml").read_text())
    assert list(Draft202012Validator(schema).iter_errors(data)) == []
    data["milestones"][0]["backoff"] = "x"
    assert list(Draft202012Validator(schema).iter_errors(data))
