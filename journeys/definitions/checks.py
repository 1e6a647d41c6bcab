"""What the JSON Schema cannot check: references between parts of a definition, and its code.

Each check reads the document defensively (it runs even when the schema found problems, so an
author sees everything at once) and reports problems located like the schema's own.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Final

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from journeys.definitions import durations, expressions
from journeys.definitions.source import Document, JsonPath
from journeys.errors import Problem, did_you_mean

__all__ = ["RESERVED_IDS", "problems"]

RESERVED_IDS: Final = frozenset(
    {
        "pending",
        "running",
        "waiting",
        "completed",
        "failed",
        "compensating",
        "compensated",
        "compensation_failed",
        "rolled_back",
        "cancelled",
    }
)
"""The run statuses: the engine's machines use them as states, so no milestone may take them."""

_Check = Callable[[Document, dict[str, Any]], Iterator[Problem]]


def problems(document: Document) -> list[Problem]:
    """Every semantic problem of a definition document (empty when there are none)."""
    data = document.data
    if not isinstance(data, dict):
        return []
    found: list[Problem] = []
    for check in _CHECKS:
        found.extend(check(document, data))
    return found


def _milestones(data: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    items = data.get("milestones")
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _ids(data: dict[str, Any]) -> list[str]:
    return [m["id"] for _, m in _milestones(data) if isinstance(m.get("id"), str)]


def _unique_ids(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for index, milestone in _milestones(data):
        ident = milestone.get("id")
        if not isinstance(ident, str):
            continue
        path: JsonPath = ("milestones", index, "id")
        if ident in RESERVED_IDS:
            yield document.problem(
                path, f"{ident!r} is a run status and cannot name a milestone; choose another id"
            )
        if ident in first:
            line = document.position(("milestones", first[ident], "id"))[0]
            yield document.problem(
                path,
                f"duplicate milestone id {ident!r} (first used at line {line}); ids are unique",
            )
        else:
            first[ident] = index


def _session_has_no_compensations(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    if data.get("kind") != "session":
        return
    for index, milestone in _milestones(data):
        if "compensation" in milestone:
            yield document.problem(
                ("milestones", index, "compensation"),
                "a session journey has no compensations: its pillars are visited freely, so there"
                " is no order to undo them in (use kind: saga for compensation)",
                key=True,
            )


def _named_retries_exist(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    declared = data.get("retries")
    names = list(declared) if isinstance(declared, dict) else []
    references: list[tuple[JsonPath, Any]] = []
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        references.append((("defaults", "retry"), defaults.get("retry")))
    references += [(("milestones", i, "retry"), m.get("retry")) for i, m in _milestones(data)]
    for path, reference in references:
        if isinstance(reference, str) and reference not in names:
            declared = f"those declared: {', '.join(names)}" if names else "none is declared"
            yield document.problem(
                path,
                f"no retry policy named {reference!r} under retries:"
                f"{did_you_mean(reference, names) or f' ({declared})'}",
            )


def _policies_name_milestones(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    policies = data.get("policies")
    if not isinstance(policies, dict):
        return
    ids = _ids(data)
    for capability, field in (("wal", "operations"), ("rollback", "checkpoints")):
        section = policies.get(capability)
        names = section.get(field) if isinstance(section, dict) else None
        if not isinstance(names, list):
            continue
        for index, name in enumerate(names):
            if isinstance(name, str) and name not in ids:
                yield document.problem(
                    ("policies", capability, field, index),
                    f"no milestone named {name!r}{did_you_mean(name, ids)}",
                )


def _inputs_is_a_schema(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        return
    meta = Draft202012Validator(
        Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    with warnings.catch_warnings():
        # Python warns (FutureWarning) about regexes such as "[[a]" whose meaning may change;
        # that is not the author's error here, and must not become one under -W error.
        warnings.simplefilter("ignore", FutureWarning)
        errors = list(meta.iter_errors(inputs))
    for error in errors:
        if error.context:  # "not valid under any of the given schemas": say which part failed
            error = best_match(error.context)
        yield document.problem(
            ("inputs", *error.absolute_path),
            f"inputs is not a valid JSON Schema: {error.message}",
        )


def _templates_compile(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Every template and guard parses and names only what exists, and only earlier results."""
    known = frozenset(_ids(data))
    session = data.get("kind") == "session"
    first_position: dict[str, int] = {}
    for position, ident in enumerate(m.get("id") for _, m in _milestones(data)):
        if isinstance(ident, str):
            first_position.setdefault(ident, position)
    for position, (index, milestone) in enumerate(_milestones(data)):
        base: JsonPath = ("milestones", index)
        texts = [(p, t, False) for p, t in _strings(milestone.get("with"), (*base, "with"))]
        if isinstance(milestone.get("doc"), str):
            texts.append(((*base, "doc"), milestone["doc"], False))
        when = milestone.get("when")
        if isinstance(when, str):
            if not when.strip():
                yield document.problem(
                    (*base, "when"),
                    "the guard is empty: write an expression such as inputs.size > 0, or remove it",
                )
            else:
                texts.append(((*base, "when"), when, True))

        # a milestone may read the results of those before it (of any pillar, in a session)
        def readable(ident: str, position: int = position) -> bool:
            return session or first_position.get(ident, position) < position

        for path, text, expression in texts:
            for message in _template_problems(text, expression, known, readable):
                yield document.problem(path, message)


def _template_problems(
    text: str, expression: bool, known: frozenset[str], readable: Callable[[str], bool]
) -> Iterator[str]:
    if "{" not in text and not expression:
        return  # plain text: nothing to parse
    found = expressions.analyze(text, expression=expression)
    if found.error:
        if expression and "{{" in text:
            yield found.error + " (when: is an expression: write inputs.x > 0, not {{ inputs.x }})"
        else:
            yield found.error
        return
    for name in sorted(found.undeclared - set(expressions.NAMES)):
        hint = did_you_mean(name, expressions.NAMES)
        if name in _YAML11_WORDS and expression:
            hint = " (write true or false)"
        yield (
            f"unknown name {name!r}{hint}: templates and guards can use"
            f" {', '.join(expressions.NAMES)}"
        )
    for ident in found.results:
        if ident not in known:
            yield f"results.{ident}: no milestone named {ident!r}{did_you_mean(ident, known)}"
        elif not readable(ident):
            yield (
                f"results.{ident} is not available here: milestone {ident!r} does not come"
                " before this one"
            )
    env = expressions.environment()
    for name in found.unknown_filters:
        yield f"Jinja: no filter named {name!r}{did_you_mean(name, env.filters)}"
    for name in found.unknown_tests:
        yield f"Jinja: no test named {name!r}{did_you_mean(name, env.tests)}"
    for name in found.internals:
        yield (
            f"templates cannot reach Python internals ({name!r} is refused): they see only"
            f" {', '.join(expressions.NAMES)} and their data"
            + (
                "; to format, use the format filter ('%s items' | format(n)) or ~"
                if name in ("format", "format_map")
                else ""
            )
        )
    for reason in found.too_big:
        yield f"the value is too big to compute: {reason}"
    for statement in found.forbidden:
        yield f"templates cannot {statement} other templates ({{% {statement} %}} is not allowed)"


_YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


def _strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _no_nul_characters(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """A NUL character (the YAML escapes ``\\0``, ``\\x00``, ``\\u0000``) in any key or
    string: titles, docs, ``with:`` arguments and input defaults reach the store (the plan,
    the written-ahead arguments, the inputs), and PostgreSQL keeps no NUL (a run failed there
    mid-way). YAML itself refuses lone surrogates."""
    pending: list[tuple[JsonPath, Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            yield document.problem(path, _NUL)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    yield document.problem((*path, key), _NUL, key=True)
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, index), item) for index, item in enumerate(value))


_NUL = "contains a NUL character (\\0), which the store cannot keep: remove it"


def _durations_parse(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Strings the schema's pattern accepts but that are too long to mean anything."""
    for path, value in _duration_places(data):
        if isinstance(value, str) and re.fullmatch(durations.PATTERN, value):
            try:
                durations.parse(value)
            except ValueError as error:
                yield document.problem(path, str(error))


def _duration_places(data: dict[str, Any]) -> Iterator[tuple[JsonPath, Any]]:
    def retry_fields(retry: Any, path: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
        if isinstance(retry, dict):
            for field in ("delay", "max_delay"):
                if field in retry:
                    yield (*path, field), retry[field]

    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        if "timeout" in defaults:
            yield ("defaults", "timeout"), defaults["timeout"]
        yield from retry_fields(defaults.get("retry"), ("defaults", "retry"))
    retries = data.get("retries")
    if isinstance(retries, dict):
        for name, retry in retries.items():
            yield from retry_fields(retry, ("retries", name))
    for index, milestone in _milestones(data):
        if "timeout" in milestone:
            yield ("milestones", index, "timeout"), milestone["timeout"]
        yield from retry_fields(milestone.get("retry"), ("milestones", index, "retry"))
        estimate = milestone.get("estimate")
        if isinstance(estimate, dict) and "duration" in estimate:
            yield ("milestones", index, "estimate", "duration"), estimate["duration"]
    policies = data.get("policies")
    wal = policies.get("wal") if isinstance(policies, dict) else None
    if isinstance(wal, dict) and "ttl" in wal:
        yield ("policies", "wal", "ttl"), wal["ttl"]


def _durations_make_sense(document: Document, data: dict[str, Any]) -> Iterator[Problem]:
    places: list[tuple[JsonPath, Any]] = []
    defaults = data.get("defaults")
    if isinstance(defaults, dict):
        places.append((("defaults",), defaults))
    places += [(("milestones", i), m) for i, m in _milestones(data)]
    retries = data.get("retries")
    if isinstance(retries, dict):
        places += [(("retries", name), {"retry": r}) for name, r in retries.items()]
    default_retry = defaults.get("retry") if isinstance(defaults, dict) else None
    for path, holder in places:
        timeout = _seconds(holder.get("timeout"))
        if timeout == 0:
            yield document.problem((*path, "timeout"), "a timeout of 0 would fail every attempt")
        retry = holder.get("retry")
        if not isinstance(retry, dict):
            continue
        inherited = ""
        if path[0] == "milestones" and isinstance(default_retry, dict):
            retry = {**default_retry, **retry}  # what the milestone will run with
            sources = [f for f in ("delay", "max_delay") if f not in holder["retry"]]
            if sources:
                inherited = f" ({' and '.join(sources)} from defaults.retry)"
        retry_path = path if path[0] == "retries" else (*path, "retry")
        delay, longest = _seconds(retry.get("delay")), _seconds(retry.get("max_delay"))
        if delay is not None and longest is not None and longest < delay:
            yield document.problem(
                (*retry_path, "max_delay"),
                f"max_delay ({durations.format(longest)}) is shorter than delay"
                f" ({durations.format(delay)}), so every retry would wait"
                f" {durations.format(longest)}{inherited}; raise max_delay or lower delay",
            )


def _seconds(value: Any) -> float | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return durations.parse(value)
        except ValueError:
            return None  # the schema reports it
    return None


_CHECKS: Final[tuple[_Check, ...]] = (
    _unique_ids,
    _session_has_no_compensations,
    _named_retries_exist,
    _policies_name_milestones,
    _inputs_is_a_schema,
    _templates_compile,
    _durations_parse,
    _durations_make_sense,
    _no_nul_characters,
)
