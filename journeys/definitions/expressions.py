"""The Jinja sandbox in which a definition's strings are compiled and, at run time, rendered.

``with`` values and ``doc`` sentences are templates (``"{{ inputs.file_name }}"``); ``when`` guards
are expressions (``inputs.file_size > 0``). All of them go through one sandboxed environment with
strict undefined: a template cannot reach Python internals, and a misspelt name is an error, not
an empty string. Compiling here, when a definition is loaded, reports syntax errors at the YAML
line instead of in the middle of a run.
"""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["compile_expression", "compile_template", "environment", "syntax_error"]


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


def syntax_error(text: str, *, expression: bool = False) -> str | None:
    """Why ``text`` does not compile as a template (or an expression), or ``None`` if it does."""
    try:
        if expression:
            compile_expression(text)
        else:
            compile_template(text)
    except TemplateSyntaxError as error:
        where = f" (line {error.lineno} of the text)" if error.lineno and error.lineno > 1 else ""
        kind = "expression" if expression else "template"
        return f"Jinja {kind} syntax error: {error.message}{where}"
    return None
