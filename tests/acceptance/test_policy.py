"""`journeys policy show`, and saga or WAL switched off by a policy file or a variable changing
what a bundled journey (one nobody wrote for these tests) does on its next run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Run

INGEST = "definitions/data_ingest_pipeline.yaml"
INPUTS = [
    "--handlers",
    "examples",
    "-i",
    "file_path=examples/data/sample.csv",
    "-i",
    "file_name=sample.csv",
    "-i",
    "dataset=sales",
    "-i",
    "fail_at=expose",
    "--json",
]


Ingest = Callable[..., tuple[dict[str, Any], list[str]]]


@pytest.fixture
def ingest(tmp_path: Path, journeys_cli: Run) -> Ingest:
    """``ingest(*args, env=...)``: run the bundled ingestion saga, failing at its last step,
    with its files and runs in ``tmp_path``; then ``journeys history`` of that run."""

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
        environment = {"JOURNEYS_DATA_DIR": str(tmp_path / "data"), **(env or {})}
        db = f"sqlite:///{tmp_path / 'runs.db'}"
        done = journeys_cli("run", INGEST, *INPUTS, "--db", db, *args, env=environment)
        assert done.returncode == 1, done.stderr  # it fails at expose, on purpose
        result = json.loads(done.stdout)
        history = journeys_cli("history", str(result["id"]), "--db", db, "--json")
        # the WAL's entries: the journey's own policies switch forward docs on, and its plan
        # and step docs are in the history whatever the WAL policy says
        return result, [
            entry["kind"]
            for entry in json.loads(history.stdout)
            if entry["kind"] not in ("plan", "forward_doc")
        ]

    return run


def test_policy_show_prints_every_value_with_its_origin(journeys_cli: Run) -> None:
    shown = journeys_cli(
        "policy", "show", "definitions/order_fulfillment.yaml", "--policy", "policies/audit.yaml"
    )
    assert shown.returncode == 0, shown.stderr
    lines = [" ".join(line.split()) for line in shown.stdout.splitlines()]
    assert lines[0] == "order_fulfillment (definitions/order_fulfillment.yaml)"
    assert "wal: on" in lines and "saga: off" in lines and "forward_docs: off" in lines
    assert "enabled false policy file policies/audit.yaml default" in lines  # saga's
    assert 'ttl "90d" policy file policies/audit.yaml default' in lines
    assert 'operations ["payment", "shipping"] journey definitions/order_fulfillment.yaml' in lines
    assert 'planner "template" built-in' in lines
    as_json = journeys_cli(
        "policy",
        "show",
        "definitions/order_fulfillment.yaml",
        "--json",
        env={"JOURNEYS_POLICY_FILE": "policies/critical.yaml", "JOURNEYS_SAGA_ENABLED": "false"},
    )
    document = json.loads(as_json.stdout)
    assert document["journey"] == "order_fulfillment"
    assert document["policy"]["wal"]["enabled"] is False
    assert document["origins"]["wal"]["enabled"] == (
        "policy file policies/critical.yaml (JOURNEYS_POLICY_FILE) default"
    )
    assert document["policy"]["saga"] == {"enabled": False}
    assert document["origins"]["saga"] == {"enabled": "env JOURNEYS_SAGA_ENABLED"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"JOURNEYS_WAL_ENABLED": "maybe"}, "error: JOURNEYS_WAL_ENABLED='maybe': write true"),
        ((), {"JOURNEYS_SAGAS_ENABLED": "true"}, "JOURNEYS_SAGAS_ENABLED: there is no capability"),
        ((), {"JOURNEYS_SAGA_JOURNEYS": ""}, "error: JOURNEYS_SAGA_JOURNEYS is empty"),
        ((), {"JOURNEYS_POLICY_FILE": "nowhere.yaml"}, "JOURNEYS_POLICY_FILE: policy file"),
        (("--policy", "definitions/order_fulfillment.yaml"), {}, "order_fulfillment.yaml:2:1: /"),
    ],
)
def test_policy_show_refuses_bad_input_plainly(
    journeys_cli: Run, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    shown = journeys_cli("policy", "show", "definitions/order_fulfillment.yaml", *args, env=env)
    assert shown.returncode == 1
    assert message in shown.stderr
    assert "Traceback" not in shown.stderr and shown.stdout == ""


def test_a_policy_file_edited_between_runs_switches_compensation_off(
    ingest: Ingest, tmp_path: Path
) -> None:
    file = tmp_path / "ours.yaml"
    file.write_text("default: {saga: {enabled: true}}\n")
    first, _ = ingest("--policy", str(file))
    assert first["status"] == "compensated"
    file.write_text("default: {saga: {enabled: false}}\n")
    second, _ = ingest("--policy", str(file))
    assert second["status"] == "failed"  # nothing undone
    assert sorted(p.name for p in (tmp_path / "data").rglob("*") if p.is_file())  # it stayed


def test_variables_switch_saga_and_wal_off_for_the_next_run(ingest: Ingest) -> None:
    result, kinds = ingest()
    assert result["status"] == "compensated" and kinds[:2] == ["policy", "operation"]
    result, kinds = ingest(env={"JOURNEYS_SAGA_ENABLED": "false"})
    assert result["status"] == "failed" and kinds[0] == "policy"
    result, kinds = ingest(env={"JOURNEYS_WAL_ENABLED": "false"})
    assert result["status"] == "compensated" and kinds == []
    result, kinds = ingest(env={"JOURNEYS_SAGA_JOURNEYS": "order_*,operations_*"})
    assert result["status"] == "failed"


@pytest.mark.parametrize(
    ("name", "status", "logged"),
    [
        ("audit", "failed", True),
        ("critical", "compensated", False),
        ("enterprise", "compensated", True),
        ("simple", "failed", False),
    ],
)
def test_the_four_canonical_files_do_what_they_are_named_for(
    ingest: Ingest, name: str, status: str, logged: bool
) -> None:
    file = ROOT / "policies" / f"{name}.yaml"
    for how in (("--policy", str(file)), ()):
        env = {} if how else {"JOURNEYS_POLICY_FILE": str(file)}
        result, kinds = ingest(*how, env=env)
        assert (result["status"], bool(kinds)) == (status, logged)
