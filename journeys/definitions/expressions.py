"""The Jinja sandbox in which a definition's strings are compiled and, at run time, rendered.

``with`` values and ``doc`` sentences are templates (``"{{ inputs.file_name }}"``); ``when`` guards
are expressions (``inputs.file_size > 0``). All of them go through one sandboxed environment with
strict undefined: a template cannot reach Python internals, and a misspelt name is an error, not
an empty string. Analysing them when a definition is loaded reports syntax errors, unknown names
and filters at the YAML line instead of in the middle of a run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["NAMES", "Analysis", "analyze", "compile_expression", "compile_template", "environment"]

NAMES = ("inputs", "results", "run")
"""The names a template or a guard can use."""


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The shared sandbox: no attribute access to internals, no mutation of inputs or results."""
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@functools.lru_cache(maxsize=4096)
def compile_template(text: str) -> Any:
    """A compiled template (cached: a journey's strings are compiled once per process)."""
    return environment().from_string(text)


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> Any:
    """A compiled expression, callable with the names it uses (``inputs``, ``results``...)."""
    return environment().compile_expression(text)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What a template or guard is, read without running it: its syntax error if any, the names
    it uses but never defines, the milestones whose ``results`` it reads, the filters and tests
    that do not exist, and statements that would reach other files."""

    error: str | None
    undeclared: frozenset[str] = frozenset()
    results: tuple[str, ...] = ()
    unknown_filters: tuple[str, ...] = ()
    unknown_tests: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()


def _is_results(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "results"


@functools.lru_cache(maxsize=8192)
def analyze(text: str, *, expression: bool = False) -> Analysis:
    """Parse ``text`` once (cached: a definition repeats its strings) and say what it refers to."""
    kind = "expression" if expression else "template"
    env = environment()
    try:
        tree = env.parse("{{ " + text + " }}") if expression else env.parse(text)
    except TemplateSyntaxError as error:
        where = f" (line {error.lineno} of the text)" if error.lineno and error.lineno > 1 else ""
        return Analysis(error=f"Jinja {kind} syntax error: {error.message}{where}")
    loaded: set[str] = set()
    stored: set[str] = set()
    for name in tree.find_all(nodes.Name):
        (stored if name.ctx in ("store", "param") else loaded).add(name.name)
    results: list[str] = []
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node, nodes.Getattr) and _is_results(node.node):
            results.append(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item, nodes.Getitem) and _is_results(item.node):
            key = item.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                results.append(key.value)
    filters = tuple(
        dict.fromkeys(n.name for n in tree.find_all(nodes.Filter) if n.name not in env.filters)
    )
    tests = tuple(
        dict.fromkeys(n.name for n in tree.find_all(nodes.Test) if n.name not in env.tests)
    )
    forbidden = tuple(
        dict.fromkeys(
            type(node).__name__.lower()
            for node in tree.find_all(
                (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
            )
        )
    )
    return Analysis(
        error=None,
        undeclared=frozenset(loaded - stored),
        results=tuple(dict.fromkeys(results)),
        unknown_filters=filters,
        unknown_tests=tests,
        forbidden=forbidden,
    )
