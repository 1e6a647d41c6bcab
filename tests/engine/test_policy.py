"""Policy resolution: the journey's policies, a policy file, per-call overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import journeys
from journeys.engine import policy

SAGA = """
journey: operations_refund
kind: saga
milestones:
  - {id: a, action: t.step, compensation: t.undo}
  - {id: b, action: t.step, compensation: t.undo, with: {fail: 99}}
policies:
  wal: {enabled: true, operations: [a]}
  saga: {enabled: true}
"""


@pytest.fixture
def saga() -> journeys.Definition:
    return journeys.load_definition(SAGA)


def test_every_capability_is_off_by_default() -> None:
    bare = journeys.load_definition("journey: x\nmilestones: [{id: a}]\n")
    assert policy.resolve(bare) == {name: {"enabled": False} for name in policy.CAPABILITIES}


def test_layers_from_journey_to_call(saga: journeys.Definition) -> None:
    file = {
        "default": {"wal": {"enabled": False}, "planning": {"enabled": True}},
        "journeys": {
            "*": {"rollback": {"enabled": True}, "saga": {"enabled": False}},
            "operations_*": {"saga": {"enabled": True}, "forward_docs": {"enabled": True}},
            "operations_ref*": {"forward_docs": {"enabled": False}},
            "operations_refund": {"wal": {"enabled": True}},
            "other": {"rollback": {"enabled": False}},
        },
    }
    resolved = policy.resolve(saga, file, {"planning": {"validate_plan": False}})
    assert resolved["wal"] == {"enabled": True, "operations": ["a"]}  # exact beats default
    assert resolved["saga"] == {"enabled": True}  # the longer glob beats "*"
    assert resolved["forward_docs"] == {"enabled": False}  # "operations_ref*" beats "operations_*"
    assert resolved["rollback"] == {"enabled": True}  # "other" does not match
    assert resolved["planning"] == {"enabled": True, "validate_plan": False}


def test_an_unknown_capability_in_overrides_is_named(saga: journeys.Definition) -> None:
    with pytest.raises(journeys.JourneyError, match="did you mean 'saga'"):
        policy.resolve(saga, None, {"sagas": {"enabled": True}})


def test_a_policy_file_turns_compensation_off(
    tmp_path: Path, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    file = tmp_path / "critical.yaml"
    file.write_text("journeys:\n  operations_refund: {saga: {enabled: false}}\n")
    engine = journeys.Engine("memory:", registry=registry, policies=file)
    run = engine.start(saga)
    assert run.status == "failed"
    assert recorder.of("undo") == []


def test_an_edit_applies_to_the_next_run_even_within_the_same_second(
    tmp_path: Path, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    file = tmp_path / "p.yaml"
    file.write_text("default: {saga: {enabled: false}}\n")
    engine = journeys.Engine("memory:", registry=registry, policies=file)
    assert engine.start(saga).status == "failed"
    before = file.stat()
    file.write_text("default: {saga: {enabled: true }}\n")  # the same size
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns + 1))  # a nanosecond later
    assert file.stat().st_size == before.st_size
    assert engine.start(saga).status == "compensated"


def test_a_bad_policy_file_is_refused_when_the_engine_is_made(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("default:\n  sage: {enabled: true}\n")
    with pytest.raises(journeys.DefinitionError) as raised:
        journeys.Engine("memory:", policies=file)
    [problem] = raised.value.problems
    assert (problem.line, problem.path) == (2, "/default/sage")
    with pytest.raises(journeys.JourneyError, match="No such file"):
        journeys.Engine("memory:", policies=tmp_path / "missing.yaml")


def test_the_run_records_its_resolved_policy(
    tmp_path: Path, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    engine = journeys.Engine("memory:", registry=registry)
    run = engine.start(saga, policy={"saga": {"enabled": False}})
    [first, *_] = engine.history(run.id)
    assert first.kind == "policy"
    assert first.payload["saga"] == {"enabled": False}
    assert first.payload["wal"] == {
        "enabled": True,
        "operations": ["a"],
        "namespace": "operations_refund",  # where its entries go: the journey's own
    }
