"""Policies: layered resolution with origins, the environment, file edits, the recorded policy,
the runtime API, and each capability switched on and off through the real engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeys
from journeys import schemas
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

# the same journey with every capability switched off, and with no policies at all
OFF = SAGA.replace("enabled: true", "enabled: false")
NONE = SAGA.split("policies:")[0]

WAITS = """
journey: operations_hold
kind: saga
milestones:
  - {id: a, action: t.step, compensation: t.undo, checkpoint: true}
  - {id: approval}
policies:
  wal: {enabled: true}
  saga: {enabled: true}
"""

VARIABLES = [
    f"JOURNEYS_{c.upper()}_{s}" for c in policy.CAPABILITIES for s in ("ENABLED", "JOURNEYS")
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No policy variable of the calling shell leaks into these tests."""
    for name in [*VARIABLES, "JOURNEYS_POLICY_FILE"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def saga() -> journeys.Definition:
    return journeys.load_definition(SAGA)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- resolution ---------------------------------------------------------------------------------


def test_every_capability_is_off_by_default_and_every_field_has_a_value() -> None:
    bare = journeys.load_definition("journey: x\nnamespace: ns\nmilestones: [{id: a}]\n")
    resolved = policy.resolve(bare)
    assert not any(resolved.enabled(name) for name in policy.CAPABILITIES)
    assert resolved.values == {
        **policy.BUILT_IN,
        "wal": {**policy.BUILT_IN["wal"], "namespace": "ns"},
    }
    assert {o for fields in resolved.origins.values() for o in fields.values()} == {
        "built-in",
        "journey x namespace",
    }
    # the built-in values are the schema's defaults, and what resolves is a valid policy itself
    definitions = schemas.schema("policy")["$defs"]
    for name, fields in policy.BUILT_IN.items():
        for field, value in fields.items():
            assert definitions[name]["properties"][field].get("default", value) == value
    policy.check(resolved.values, "the resolved policy")


def test_layers_from_journey_to_call_each_with_its_origin(
    tmp_path: Path, saga: journeys.Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write(
        tmp_path / "p.yaml",
        "default: {wal: {enabled: false}, planning: {enabled: true}, rollback: {enabled: true}}\n"
        "journeys:\n"
        "  '*': {rollback: {auto_checkpoint: false}, saga: {enabled: false}}\n"
        "  'operations_*': {saga: {enabled: true}, forward_docs: {enabled: true}}\n"
        "  'operations_ref*': {forward_docs: {enabled: false}}\n"
        "  operations_refund: {wal: {enabled: true}}\n"
        "  other: {rollback: {enabled: false}}\n",
    )
    monkeypatch.setenv("JOURNEYS_PLANNING_ENABLED", "false")
    policies = policy.Policies(file)
    policies.set("operations_*", {"planning": {"validate_plan": False}})
    resolved = policies.resolve(saga, {"wal": {"ttl": "7d"}})
    where = f"policy file {file}"
    assert (resolved.to_dict()["policy"]["wal"], resolved.origins["wal"]) == (
        {"enabled": True, "operations": ["a"], "ttl": "7d", "namespace": "operations_refund"},
        {
            "enabled": f"{where} journeys['operations_refund']",  # the exact name wins
            "operations": "journey operations_refund",
            "ttl": "override",
            "namespace": "journey operations_refund namespace",
        },
    )
    assert resolved.origin("saga") == f"{where} journeys['operations_*']"  # longer than '*'
    assert resolved.origin("forward_docs") == f"{where} journeys['operations_ref*']"
    assert resolved.enabled("rollback") and resolved.origin("rollback") == f"{where} default"
    assert resolved.origin("rollback", "auto_checkpoint") == f"{where} journeys['*']"
    assert not resolved.enabled("planning")
    assert resolved.origin("planning") == "env JOURNEYS_PLANNING_ENABLED"
    assert resolved.origin("planning", "validate_plan") == "runtime set_policy('operations_*')"
    assert resolved.origin("planning", "planner") == "built-in"


def test_an_exact_name_beats_a_glob_and_a_longer_glob_a_shorter_one() -> None:
    entries = ["*", "operations_refund", "operations_*", "op*", "operations_r?fund", "x*"]
    assert policy.matching("operations_refund", entries) == [
        "*",
        "op*",
        "operations_*",
        "operations_r?fund",
        "operations_refund",
    ]


def test_checkpoints_marked_in_the_journey_join_the_named_ones() -> None:
    waits = journeys.load_definition(WAITS)
    resolved = policy.resolve(waits, [("test", {"rollback": {"checkpoints": ["approval"]}})])
    assert resolved.values["rollback"]["checkpoints"] == ("approval", "a")
    assert resolved.origin("rollback", "checkpoints") == (
        "test + milestones marked checkpoint: true"
    )
    # whether or not auto_checkpoint makes every milestone one (policy.is_checkpoint)
    off = policy.resolve(waits, [("test", {"rollback": {"auto_checkpoint": False}})])
    assert off.values["rollback"]["checkpoints"] == ("a",)
    rollback = {**off.values["rollback"], "enabled": True}
    assert [policy.is_checkpoint(rollback, m) for m in ("a", "approval")] == [True, False]
    assert policy.is_checkpoint({**rollback, "auto_checkpoint": True}, "approval")
    assert not policy.is_checkpoint({**rollback, "enabled": False}, "a")


def test_a_resolved_policy_is_read_only_and_says_what_it_is(saga: journeys.Definition) -> None:
    resolved = policy.resolve(saga)
    with pytest.raises(TypeError):
        resolved.values["saga"]["enabled"] = False  # type: ignore[index]
    assert resolved.to_dict()["policy"]["wal"]["operations"] == ["a"]
    with pytest.raises(journeys.JourneyError, match="did you mean 'saga'"):
        resolved.enabled("sagas")


def test_overrides_are_checked_by_the_schema(saga: journeys.Definition) -> None:
    policies = policy.Policies()
    with pytest.raises(journeys.JourneyError, match="unknown field 'sagas'"):
        policies.resolve(saga, {"sagas": {"enabled": True}})
    with pytest.raises(journeys.JourneyError, match="/saga/enabled"):
        policies.resolve(saga, {"saga": {"enabled": "yes"}})


# --- the environment ----------------------------------------------------------------------------


def test_variables_switch_capabilities_between_the_file_and_the_call(
    tmp_path: Path, saga: journeys.Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = write(tmp_path / "p.yaml", "journeys: {operations_refund: {saga: {enabled: true}}}\n")
    monkeypatch.setenv("JOURNEYS_SAGA_ENABLED", "False")
    monkeypatch.setenv("JOURNEYS_FORWARD_DOCS_ENABLED", " 1 ")
    policies = policy.Policies(file)
    resolved = policies.resolve(saga)
    assert not resolved.enabled("saga") and resolved.enabled("forward_docs")
    assert resolved.origin("saga") == "env JOURNEYS_SAGA_ENABLED"
    assert resolved.origin("forward_docs") == "env JOURNEYS_FORWARD_DOCS_ENABLED"
    called = policies.resolve(saga, {"saga": {"enabled": True}})
    assert called.enabled("saga") and called.origin("saga") == "override"


def test_a_journeys_variable_keeps_a_capability_only_for_the_journeys_it_lists(
    saga: journeys.Definition, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = journeys.load_definition(SAGA.replace("operations_refund", "billing"))
    monkeypatch.setenv("JOURNEYS_WAL_JOURNEYS", "billing_x, operations_*")
    policies = policy.Policies()
    assert policies.resolve(saga).origin("wal") == "journey operations_refund"  # kept
    assert not policies.resolve(other).enabled("wal")
    assert policies.resolve(other).origin("wal") == "env JOURNEYS_WAL_JOURNEYS"
    # with JOURNEYS_WAL_ENABLED=true too: on for exactly the journeys listed
    monkeypatch.setenv("JOURNEYS_WAL_ENABLED", "true")
    bare = journeys.load_definition(NONE)
    assert policies.resolve(bare).enabled("wal")
    assert not policies.resolve(other).enabled("wal")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("JOURNEYS_WAL_ENABLED", "maybe", r"JOURNEYS_WAL_ENABLED='maybe': write true or false"),
        ("JOURNEYS_SAGA_ENABLED", "", r"JOURNEYS_SAGA_ENABLED='': write true or false"),
        ("JOURNEYS_SAGA_JOURNEYS", "", "JOURNEYS_SAGA_JOURNEYS is empty"),
        ("JOURNEYS_SAGA_JOURNEYS", " , ", "JOURNEYS_SAGA_JOURNEYS is empty"),
        ("JOURNEYS_SAGA_JOURNEYS", "a,,b", "JOURNEYS_SAGA_JOURNEYS='a,,b': an empty item"),
        ("JOURNEYS_ROLLBACK_JOURNEYS", "Billing", "'Billing' is not a journey name or glob"),
        ("JOURNEYS_SAGAS_ENABLED", "true", r"JOURNEYS_SAGAS_ENABLED: .*did you mean 'saga'"),
        ("JOURNEYS_FORWARDDOCS_JOURNEYS", "a", "did you mean 'forward_docs'"),
    ],
)
def test_a_malformed_variable_is_an_error_naming_it(
    name: str,
    value: str,
    message: str,
    saga: journeys.Definition,
    registry: journeys.Registry,
    recorder: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = journeys.Engine("memory:", registry=registry)  # made before the variable is set
    monkeypatch.setenv(name, value)
    with pytest.raises(journeys.JourneyError, match=message):
        journeys.Engine("memory:", registry=registry)
    with pytest.raises(journeys.JourneyError, match=message):
        engine.start(saga)  # read at every start: nothing runs
    assert recorder.calls == []


def test_the_environment_is_read_at_every_start(
    registry: journeys.Registry,
    recorder: Any,
    saga: journeys.Definition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = journeys.Engine("memory:", registry=registry)
    assert engine.start(saga).status == "compensated"
    monkeypatch.setenv("JOURNEYS_SAGA_ENABLED", "false")
    assert engine.start(saga).status == "failed"
    monkeypatch.setenv("JOURNEYS_SAGA_ENABLED", "true")
    monkeypatch.setenv("JOURNEYS_SAGA_JOURNEYS", "billing")
    assert engine.start(saga).status == "failed"
    monkeypatch.delenv("JOURNEYS_SAGA_JOURNEYS")
    assert engine.start(saga).status == "compensated"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(
        st.sampled_from(policy.ENVIRONMENT),
        st.text(
            st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=6
        ),
        max_size=4,
    )
)
def test_the_environment_as_read_from_os_environ_is_what_its_mapping_says(
    values: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.environ is read through its own dict (policy.Environment): the same values as
    os.environ.get gives, set, changed, unset, and not ASCII."""
    reader = policy.Environment()
    for name in policy.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    assert reader._values() == (None,) * len(policy.ENVIRONMENT)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    expected = tuple(os.environ.get(name) for name in policy.ENVIRONMENT)
    assert reader._values() == expected
    assert policy.Environment(dict(os.environ))._values() == expected  # any other mapping
    for name in values:
        monkeypatch.delenv(name)
    assert reader._values() == (None,) * len(policy.ENVIRONMENT)


def test_journeys_policy_file_names_the_file_when_the_engine_is_given_none(
    tmp_path: Path,
    registry: journeys.Registry,
    recorder: Any,
    saga: journeys.Definition,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    off = write(tmp_path / "off.yaml", "default: {saga: {enabled: false}}\n")
    on = write(tmp_path / "on.yaml", "default: {saga: {enabled: true}}\n")
    monkeypatch.setenv("JOURNEYS_POLICY_FILE", str(off))
    engine = journeys.Engine("memory:", registry=registry)
    assert engine.start(saga).status == "failed"
    assert engine.policy_for(saga).origin("saga") == (
        f"policy file {off} (JOURNEYS_POLICY_FILE) default"
    )
    given = journeys.Engine("memory:", registry=registry, policies=on)  # the argument wins
    assert given.start(saga).status == "compensated"
    monkeypatch.setenv("JOURNEYS_POLICY_FILE", str(on))  # read at every start too
    assert engine.start(saga).status == "compensated"
    monkeypatch.setenv("JOURNEYS_POLICY_FILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(journeys.JourneyError, match=r"JOURNEYS_POLICY_FILE: policy file .*missing"):
        engine.start(saga)
    with pytest.raises(journeys.JourneyError, match="JOURNEYS_POLICY_FILE"):
        journeys.Engine("memory:", registry=registry)
    monkeypatch.setenv("JOURNEYS_POLICY_FILE", "")  # empty: no file
    assert engine.start(saga).status == "compensated"


# --- the policy file ----------------------------------------------------------------------------


def test_a_policy_file_turns_compensation_off(
    tmp_path: Path,
    make_engine: Any,
    recorder: Any,
    saga: journeys.Definition,
) -> None:
    file = write(
        tmp_path / "critical.yaml", "journeys:\n  operations_refund: {saga: {enabled: false}}\n"
    )
    engine = make_engine(policies=file)
    run = engine.start(saga)
    assert run.status == "failed"
    assert recorder.of("undo") == []


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    file = write(tmp_path / "p.yaml", "default: {saga: {enabled: true}}\n")
    past = 1_600_000_000_000_000_000
    os.utime(file, ns=(past, past))  # older than any clock tick: the stamp alone decides
    watched = policy.PolicyFile(file)
    before = watched.data()
    for _ in range(100):
        assert watched.data() is before
    assert watched.version == 1
    os.utime(file, ns=(past, past + 1))  # touched, the same text: read, not loaded again
    assert watched.data() is before and watched.version == 1


def test_an_edit_applies_to_the_next_run_even_within_the_same_second(
    tmp_path: Path, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    file = write(tmp_path / "p.yaml", "default: {saga: {enabled: false}}\n")
    engine = journeys.Engine("memory:", registry=registry, policies=file)
    assert engine.start(saga).status == "failed"
    before = file.stat()
    with file.open("r+") as stream:  # in place: the same inode, the same size
        stream.write("default: {saga: {enabled: true }}\n")
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    after = file.stat()
    assert (after.st_size, after.st_ino, after.st_mtime_ns) == (
        before.st_size,
        before.st_ino,
        before.st_mtime_ns,
    )
    assert engine.start(saga).status == "compensated"
    # edits faster than the file system's clock tick (the same stamps): still each one seen
    for value, status in [("false", "failed"), ("true ", "compensated")] * 5:
        with file.open("r+") as stream:
            stream.write(f"default: {{saga: {{enabled: {value}}}}}\n")
        assert engine.start(saga).status == status


def test_a_bad_policy_file_is_refused_when_the_engine_is_made(tmp_path: Path) -> None:
    file = write(tmp_path / "bad.yaml", "default:\n  sage: {enabled: true}\n")
    with pytest.raises(journeys.DefinitionError) as raised:
        journeys.Engine("memory:", policies=file)
    [problem] = raised.value.problems
    assert (problem.line, problem.path) == (2, "/default/sage")
    with pytest.raises(journeys.JourneyError, match="No such file"):
        journeys.Engine("memory:", policies=tmp_path / "missing.yaml")


def test_a_file_broken_after_the_engine_was_made_stops_the_next_start(
    tmp_path: Path, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    file = write(tmp_path / "p.yaml", "default: {saga: {enabled: false}}\n")
    engine = journeys.Engine("memory:", registry=registry, policies=file)
    write(file, "default: {saga: {enabled: maybe}}\n")
    with pytest.raises(journeys.DefinitionError, match="/default/saga/enabled"):
        engine.start(saga)
    assert recorder.calls == []


# --- what a run records and keeps ---------------------------------------------------------------


def test_the_run_records_its_resolved_policy_with_origins(
    tmp_path: Path, make_engine: Any, recorder: Any, saga: journeys.Definition
) -> None:
    file = write(tmp_path / "p.yaml", "default: {wal: {ttl: 30d}}\n")
    engine = make_engine(policies=file)
    run = engine.start(saga, policy={"saga": {"enabled": False}})
    [first, *_] = engine.history(run.id)
    assert first.kind == "policy"
    assert first.payload["saga"] == {"enabled": False}
    assert first.payload["wal"] == {
        "enabled": True,
        "operations": ["a"],
        "ttl": "30d",
        "namespace": "operations_refund",  # where its entries go: the journey's own
    }
    assert first.payload["origins"]["saga"] == {"enabled": "override"}
    assert first.payload["origins"]["wal"] == {
        "enabled": "journey operations_refund",
        "operations": "journey operations_refund",
        "ttl": f"policy file {file} default",
        "namespace": "journey operations_refund namespace",
    }
    assert first.payload["origins"]["planning"]["planner"] == "built-in"


def test_a_run_keeps_the_policy_it_started_with(
    tmp_path: Path, sql_url: str, registry: journeys.Registry, recorder: Any
) -> None:
    file = write(tmp_path / "p.yaml", "default: {saga: {enabled: true}}\n")
    waits = journeys.load_definition(WAITS)
    with journeys.Engine(sql_url, registry=registry, policies=file) as engine:
        run = engine.start(waits)
        assert run.status == "waiting"
        write(file, "default: {saga: {enabled: false}}\n")
        assert engine.start(waits).status == "waiting"  # the next run has it off
    with journeys.Engine(sql_url, registry=registry, policies=file) as engine:  # a restart
        assert engine.fail(run.id, "approval", "refused").status == "compensated"
    assert recorder.of("undo") == ["a"]


# --- the policy API -----------------------------------------------------------------------------


def test_policy_for_takes_a_definition_a_path_or_a_name(
    tmp_path: Path, registry: journeys.Registry, saga: journeys.Definition
) -> None:
    file = write(tmp_path / "p.yaml", "journeys: {'operations_*': {rollback: {enabled: true}}}\n")
    path = write(tmp_path / "refund.yaml", SAGA)
    engine = journeys.Engine("memory:", registry=registry, policies=file)
    by_definition = engine.policy_for(saga)
    assert isinstance(by_definition, journeys.ResolvedPolicy)
    assert by_definition.enabled("saga") and by_definition.enabled("rollback")
    by_path = engine.policy_for(path)
    assert by_path.values == by_definition.values
    assert by_path.origin("saga") == f"journey {path}"
    by_name = engine.policy_for("operations_refund")  # without the journey's own policies
    assert by_name.enabled("rollback") and not by_name.enabled("saga")
    assert by_name.origin("rollback") == f"policy file {file} journeys['operations_*']"


def test_set_policy_applies_from_the_next_run_and_is_logged(
    sql_url: str, registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    with journeys.Engine(sql_url, registry=registry) as engine:
        assert engine.start(saga).status == "compensated"
        engine.set_policy("operations_*", {"saga": {"enabled": False}}, tenant="acme", user="ann")
        assert engine.policy_for(saga).origin("saga") == "runtime set_policy('operations_*')"
        run = engine.start(saga)
        assert run.status == "failed"
        assert engine.history(run.id)[0].payload["origins"]["saga"] == {
            "enabled": "runtime set_policy('operations_*')"
        }
        engine.set_policy("operations_refund", {"saga": {"enabled": True}})  # more specific
        assert engine.start(saga).status == "compensated"
        engine.set_policy("operations_refund", None)
        assert engine.start(saga).status == "failed"
        logged = engine.wal.replay_log("journeys.policy")
    assert [(e.kind, e.operation, e.target, e.status, e.tenant, e.user) for e in logged] == [
        ("policy", "set_policy", "operations_*", "completed", "acme", "ann"),
        ("policy", "set_policy", "operations_refund", "completed", None, None),
        ("policy", "set_policy", "operations_refund", "completed", None, None),
    ]
    assert [e.payload for e in logged] == [
        {"selector": "operations_*", "policy": {"saga": {"enabled": False}}},
        {"selector": "operations_refund", "policy": {"saga": {"enabled": True}}},
        {"selector": "operations_refund", "policy": {}},
    ]


def test_a_bad_or_refused_set_policy_changes_and_logs_nothing(
    sql_url: str, registry: journeys.Registry, saga: journeys.Definition
) -> None:
    def authorize(context: Any, action: str, resource: str) -> bool:
        return context["user"] != "mallory"

    with journeys.Engine(sql_url, registry=registry, authorize=authorize) as engine:
        with pytest.raises(journeys.JourneyError, match="/saga/enabled"):
            engine.set_policy("operations_*", {"saga": {"enabled": "off"}})
        with pytest.raises(journeys.JourneyError, match="not a journey name or glob"):
            engine.set_policy("Operations *", {"saga": {"enabled": False}})
        with pytest.raises(journeys.AuthorizationError):
            engine.set_policy("*", {"saga": {"enabled": False}}, user="mallory")
        assert engine.policy_for(saga).enabled("saga")
        assert engine.wal.replay_log("journeys.policy") == []


def test_set_policy_on_a_store_with_no_log_applies_all_the_same(
    registry: journeys.Registry, recorder: Any, saga: journeys.Definition
) -> None:
    engine = journeys.Engine("memory:", registry=registry)
    engine.set_policy("*", {"saga": {"enabled": False}})
    assert engine.start(saga).status == "failed"


# --- each capability on and off, through the engine ---------------------------------------------


def test_saga_on_compensates_and_off_does_not(
    make_engine: Any, recorder: Any, saga: journeys.Definition
) -> None:
    engine = make_engine()
    assert engine.start(saga).status == "compensated"
    assert recorder.of("undo") == ["a"]
    run = engine.start(saga, policy={"saga": {"enabled": False}})
    assert (run.status, run.error) == ("failed", "b failed after 1 attempt: ValueError: b do broke")
    assert recorder.of("undo") == ["a"]  # no new compensation


def _log_rows(url: str) -> int:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    sqlalchemy.text("SELECT count(*) FROM journeys_wal")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_wal_on_writes_history_and_off_writes_none(
    sql_url: str, registry: journeys.Registry, recorder: Any
) -> None:
    with journeys.Engine(sql_url, registry=registry) as engine:
        off = engine.start(journeys.load_definition(OFF))
        assert off.status == "failed"
        assert engine.history(off.id) == []
        assert _log_rows(sql_url) == 0  # not one row in the log
        on = engine.start(journeys.load_definition(OFF), policy={"wal": {"enabled": True}})
        assert [e.kind for e in engine.history(on.id)][:2] == ["policy", "operation"]
        assert _log_rows(sql_url) == len(engine.history(on.id))


def test_rollback_keeps_checkpoints_only_when_on(make_engine: Any, recorder: Any) -> None:
    engine = make_engine()
    waits = journeys.load_definition(WAITS)
    off = engine.start(waits)
    with pytest.raises(journeys.StateError, match="rollback policy off"):
        engine.rollback(off.id, to="a")
    on = engine.start(waits, policy={"rollback": {"enabled": True}})
    assert engine.rollback(on.id, to="a").status == "rolled_back"
