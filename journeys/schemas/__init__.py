"""The JSON Schema files of the format: a journey definition and a policy file (draft 2020-12).

The files themselves, ``journey.schema.json`` and ``policy.schema.json``, are what an editor reads
(put ``# yaml-language-server: $schema=<path>`` at the top of a YAML file, or print them with
``journeys schema [--policy]``); this module loads them once and hands out validators.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator, validators

__all__ = ["SchemaName", "path", "schema", "text", "validator"]

SchemaName = Literal["journey", "policy"]


def path(name: SchemaName) -> str:
    """The file system path of a schema file, for ``$schema=`` comments and editors."""
    return str(resources.files(__package__).joinpath(f"{name}.schema.json"))


@functools.cache
def _text(name: SchemaName) -> str:
    return resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")


def text(name: SchemaName) -> str:
    """The schema file's text, exactly as shipped."""
    return _text(name)


def schema(name: SchemaName) -> dict[str, Any]:
    """A fresh copy of the parsed schema (callers may change it)."""
    parsed: dict[str, Any] = json.loads(_text(name))
    return parsed


def _whole_number(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# JSON Schema calls 2.0 an integer; an author who wrote `retries: 2.0` or `1e3` made a slip.
_Strict = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole_number),
)


@functools.cache
def validator(name: SchemaName) -> Draft202012Validator:
    """A validator for the schema, built once per process (integers must be written whole)."""
    strict: Draft202012Validator = _Strict(schema(name))
    return strict
