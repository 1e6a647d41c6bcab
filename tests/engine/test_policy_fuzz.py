"""Fuzzing the policy loader: policy files, runtime overrides and the policy variables.

Whatever a policy file, an override or an environment variable holds, the outcome is a resolved
policy or a :class:`journeys.JourneyError` that says where (the file's line and pointer, the
variable's name); never another exception. A policy that resolves is itself valid under the
policy schema.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import journeys
from journeys import schemas
from journeys.definitions import source
from journeys.definitions.loader import load_policy_file
from journeys.engine import policy
from tests.fuzzing import TOKENS, dumped, json_values, spliced, token_soup

ROOT = Path(__file__).parents[2]
POLICY_TEXTS = [file.read_text() for file in sorted((ROOT / "policies").glob("*.yaml"))]
POLICY_DATA = [source.parse(text).data for text in POLICY_TEXTS]
DEFINITION = journeys.load_definition(ROOT / "definitions/order_fulfillment.yaml")
FIELDS = ["enabled", "operations", "ttl", "namespace", "checkpoints", "auto_checkpoint"]

policy_like = st.dictionaries(
    st.sampled_from([*policy.CAPABILITIES, "sagas", "x"]),
    st.dictionaries(st.sampled_from([*FIELDS, "planner", "y"]), json_values, max_size=3)
    | json_values,
    max_size=4,
)


@st.composite
def mutated_policy(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(POLICY_DATA)))
    section = draw(st.sampled_from(["default", "journeys", "other"]))
    if section == "journeys":
        selector = draw(st.sampled_from(["order_*", "order_fulfillment", "*", "[", "ORDER", ""]))
        data.setdefault("journeys", {})[selector] = draw(policy_like | json_values)
    elif section == "default":
        data["default"] = draw(policy_like)
    else:
        data[draw(st.text(max_size=6))] = draw(json_values)
    return data


def check_text(text: str) -> None:
    try:
        loaded = load_policy_file(text, name="fuzzed-policy.yaml")
    except journeys.DefinitionError as error:
        for problem in error.problems:
            assert problem.file == "fuzzed-policy.yaml", problem
            assert problem.line >= 1 and problem.column >= 1, problem
            assert problem.path == "" or problem.path.startswith("/"), problem
        return
    assert isinstance(loaded, dict | type(loaded))


def resolve_file(tmp_path_factory: Any, raw: bytes) -> None:
    """A policy file on disk, as an engine reads it: resolved for a journey, or a clear error."""
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_bytes(raw)
    try:
        resolved = policy.Policies(path, environ={}).resolve(DEFINITION)
    except journeys.JourneyError as error:
        assert str(path) in str(error)
        return
    document = source.Document("resolved", "", {"default": resolved.to_dict()["policy"]}, {}, {})
    assert not list(schemas.validator("policy").iter_errors(document.data))


@given(dumped(policy_like.map(lambda p: {"default": p})) | dumped())
def test_generated_policy_files(text: str) -> None:
    check_text(text)


@given(token_soup | spliced(st.sampled_from(POLICY_TEXTS)))
def test_hostile_tokens_in_policy_files(text: str) -> None:
    check_text(text)


@given(mutated_policy().flatmap(lambda data: dumped(st.just(data))))
def test_mutated_policy_files_resolve_or_fail_clearly(tmp_path_factory: Any, text: str) -> None:
    resolve_file(tmp_path_factory, text.encode())


@given(st.binary(max_size=300))
def test_random_bytes_as_a_policy_file(tmp_path_factory: Any, raw: bytes) -> None:
    resolve_file(tmp_path_factory, raw)


@given(policy_like | json_values)
def test_runtime_and_call_overrides(given_policy: Any) -> None:
    policies = policy.Policies(environ={})
    try:
        policies.set("order_*", given_policy)
        policies.resolve(DEFINITION, overrides=given_policy)
    except journeys.JourneyError as error:
        assert "policy" in str(error)


variables = st.dictionaries(
    st.sampled_from([*policy.ENVIRONMENT[:-1], "JOURNEYS_SAGAS_ENABLED", "JOURNEYS_X_JOURNEYS"]),
    st.text(max_size=12) | st.sampled_from(["true", "0", "order_*", "a,b", ",", *TOKENS]),
    max_size=4,
)


@given(variables)
def test_policy_variables(environ: dict[str, str]) -> None:
    try:
        resolved = policy.Policies(environ=environ).resolve(DEFINITION)
    except journeys.JourneyError as error:
        assert any(name in str(error) for name in environ), error
        return
    for name, value in environ.items():
        only = name.replace("_ENABLED", "_JOURNEYS")
        if name.endswith("_ENABLED") and name in policy.ENVIRONMENT and only not in environ:
            capability = name.removeprefix("JOURNEYS_").removesuffix("_ENABLED").lower()
            assert resolved.enabled(capability) == (value.strip().lower() in ("true", "1"))
