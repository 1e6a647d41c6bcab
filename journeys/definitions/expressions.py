"""The Jinja sandbox in which a definition's strings are compiled and, at run time, rendered.

``with`` values and ``doc`` sentences are templates (``"{{ inputs.file_name }}"``); ``when`` guards
are expressions (``inputs.file_size > 0``). All of them go through one sandboxed environment with
strict undefined: a template cannot reach Python internals, and a misspelt name is an error, not
an empty string. Analysing them when a definition is loaded reports syntax errors, unknown names
and filters at the YAML line instead of in the middle of a run.

A definition's author is trusted less than the operator who runs it, so the sandbox is Jinja's
and then some. At load time, :func:`analyze` refuses what can only be an attempt to reach Python
internals (``''.__class__``, ``x|attr('__globals__')``, ``"{0.__class__}".format(x)``): the
sandbox would refuse it at run time anyway, but then the run had already started. And
:class:`Sandbox` bounds the operators and calls that build huge values from a short text
(``'a' * 10**10``, ``10 ** 10000000``, ``'x'.ljust(10**9)``, ``'x'|center(10**9)``): unbounded,
Jinja even computes constant ones while *compiling* the template, so ``journeys plan`` or a
run's start ran out of memory (or time) on a one-line ``when:``; :func:`analyze` refuses the
constant ones at load. Nested loops can still make a template slow: templates are not
time-limited.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
)

__all__ = [
    "MAX_NESTING",
    "MAX_SIZE",
    "NAMES",
    "Analysis",
    "Sandbox",
    "analyze",
    "compile_expression",
    "compile_template",
    "environment",
]

NAMES = ("inputs", "results", "run")
"""The names a template or a guard can use."""

MAX_SIZE: Final = 1_000_000
"""The largest text or list an operator may build (``'ab' * n``), the largest number a function
or filter may be given as a size or count (``'x'.ljust(n)``, ``x|center(n)``), and the most
digits a power may have (``10 ** n``)."""

_UNSAFE_ATTRIBUTES: Final = frozenset(
    {
        "mro",
        "format",
        "format_map",
        *UNSAFE_GENERATOR_ATTRIBUTES,
        *UNSAFE_COROUTINE_ATTRIBUTES,
        *UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    }
)
"""Attributes a template has no business reading, beyond every name that starts with ``_``:
``str.format`` because its format string reaches attributes (``"{0.__class__}"``); the
``format`` *filter* (printf style) is the way to format."""

_PRINTF_WIDE = re.compile(r"%[-#0 +]*(\*|\d{7,})|%[^%a-zA-Z]*\.(\*|\d{7,})")
_SIZED_FILTERS: Final = ("center", "indent", "batch", "slice")


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with ``*`` and ``**`` and every call bounded by
    :data:`MAX_SIZE` (a :class:`SecurityError` beyond it).

    Intercepting the operators also stops Jinja from computing them while it compiles (its
    constant folding skips intercepted operators in a sandbox).
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in _SIZED_FILTERS:
            self.filters[name] = _sized(name, self.filters[name])
        self.filters["format"] = _printf(self.filters["format"])

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        refusal = binop_refusal(operator, left, right)
        if refusal:
            raise SecurityError(refusal)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's own signature: a keyword argument may be called "self"
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if isinstance(getattr(__obj, "__self__", None), str | bytes | list | tuple):
            for value in (*args, *kwargs.values()):  # 'x'.ljust(n), 'x'.zfill(n)...
                _check_size(value, f"{getattr(__obj, '__name__', 'a method')}()")
        return super().call(__context, __obj, *args, **kwargs)


def binop_refusal(operator: str, left: Any, right: Any) -> str | None:
    """Why ``left <operator> right`` would be too big to compute, or None."""
    if operator == "**" and _is_int(left) and _is_int(right) and abs(left) > 1 and right > 0:
        digits = right * math.log10(abs(left))
        if digits > MAX_SIZE:
            return (
                f"{left} ** {right} would have about {digits:,.0f} digits, more than"
                f" {MAX_SIZE:,} (journeys.definitions.expressions.MAX_SIZE)"
            )
    if operator == "*":
        for times, sequence in ((left, right), (right, left)):
            if _is_int(times) and isinstance(sequence, str | list | tuple):
                size = times * len(sequence)
                if size > MAX_SIZE:
                    return (
                        f"repeating a {type(sequence).__name__} of length {len(sequence):,}"
                        f" {times:,} times would make {size:,} items, more than {MAX_SIZE:,}"
                        " (journeys.definitions.expressions.MAX_SIZE)"
                    )
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(value: Any, where: str) -> None:
    if _is_int(value) and abs(value) > MAX_SIZE:
        raise SecurityError(
            f"{where} was given {value:,}: sizes and counts in templates are at most"
            f" {MAX_SIZE:,} (journeys.definitions.expressions.MAX_SIZE)"
        )


def _sized(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        for argument in (*args, *kwargs.values()):
            _check_size(argument, f"the {name} filter")
            if name == "indent" and isinstance(argument, str) and isinstance(value, str):
                _check_size(len(argument) * value.count("\n"), "the indent filter")
        return function(value, *args, **kwargs)

    return bounded


def _printf(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and _PRINTF_WIDE.search(value):
            raise SecurityError(
                f"the format filter was given {value!r}: a width or precision of * or of more"
                " than six digits is not allowed in templates"
            )
        return function(value, *args, **kwargs)

    return bounded


@functools.cache
def environment() -> Sandbox:
    """The shared sandbox: no attribute access to internals, no mutation of inputs or results,
    no value built beyond :data:`MAX_SIZE`."""
    return Sandbox(undefined=StrictUndefined, autoescape=False)


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
    internals: tuple[str, ...] = ()
    too_big: tuple[str, ...] = ()


def _is_results(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "results"


@functools.lru_cache(maxsize=8192)
def analyze(text: str, *, expression: bool = False) -> Analysis:
    """Parse ``text`` once (cached: a definition repeats its strings) and say what it refers to."""
    kind = "expression" if expression else "template"
    try:
        found = _analyze(text, expression, kind)
        clean = found == Analysis(error=None, undeclared=found.undeclared, results=found.results)
        if clean and "{%" in text:
            # Statements nest Python blocks, which Python limits (20 loops deep); so they
            # are compiled now, and cached, so that the limit cannot fail a run. Expressions
            # are bounded by MAX_NESTING alone: compiling each at load doubled its time.
            compile_template(text)
        return found
    except (RecursionError, SyntaxError, _TooDeep):
        # Jinja's parser, compiler and node walks recurse once per level of nesting, and
        # Python refuses code nested over 100 blocks deep, so "((((...1...))))", "1+1+...+1"
        # or a hundred nested {% if %} crashed the loader or, later, the run
        return Analysis(
            error=f"the Jinja {kind} is nested too deeply (or chains too many operators) to be"
            " compiled; split it into simpler parts"
        )


def _analyze(text: str, expression: bool, kind: str) -> Analysis:
    env = environment()
    try:
        tree = env.parse("{{ " + text + " }}") if expression else env.parse(text)
    except TemplateSyntaxError as error:
        where = f" (line {error.lineno} of the text)" if error.lineno and error.lineno > 1 else ""
        return Analysis(error=f"Jinja {kind} syntax error: {error.message}{where}")
    internals, too_big = _hazards(tree)
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
        internals=internals,
        too_big=too_big,
        undeclared=frozenset(loaded - stored),
        results=tuple(dict.fromkeys(results)),
        unknown_filters=filters,
        unknown_tests=tests,
        forbidden=forbidden,
    )


MAX_NESTING: Final = 50
"""The deepest a template's syntax tree may be (``((1))`` is 3 deep, ``1+1+1`` is 3 too):
Jinja compiles and renders recursively, a few stack frames per level, and must not run out
of stack in a run that is already deep in the engine's own calls."""


class _TooDeep(Exception):
    pass


def _hazards(tree: nodes.Template) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What in the tree reaches for internals, and why constant parts would be too big to
    compute; in one walk, level by level (no recursion), raising :class:`_TooDeep` beyond
    :data:`MAX_NESTING` levels."""
    internals: list[str] = []
    too_big: list[str] = []
    level: list[nodes.Node] = [tree]
    for _ in range(MAX_NESTING + 1):
        for node in level:
            if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Filter):
                internals += _internal(node)
            if isinstance(node, nodes.Pow | nodes.Mul | nodes.Filter | nodes.Call):
                too_big += _oversized(node)
        level = [child for node in level for child in node.iter_child_nodes()]
        if not level:
            return tuple(dict.fromkeys(internals)), tuple(too_big)
    raise _TooDeep


def _unsafe(name: object) -> bool:
    return isinstance(name, str) and (name.startswith("_") or name in _UNSAFE_ATTRIBUTES)


def _internal(node: nodes.Node) -> list[str]:
    """What only an escape from the sandbox would want: ``x.__class__``, ``x['__class__']``,
    ``x|attr('__class__')``, ``'...'.format(x)``."""
    if isinstance(node, nodes.Getattr) and _unsafe(node.attr):
        return [node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        if isinstance(node.arg.value, str) and node.arg.value.startswith("__"):
            return [node.arg.value]
    if isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
        name = node.args[0]
        if not isinstance(name, nodes.Const):
            return ["attr(...)"]
        if _unsafe(name.value):
            return [str(name.value)]
    return []


def _oversized(node: nodes.Node) -> list[str]:
    """Why constant arithmetic (``10 ** 10000000``) or a constant size given to a call or
    filter (``'x'|center(10**9)``) would be too big to compute."""
    found: list[str] = []
    if isinstance(node, nodes.Pow | nodes.Mul):
        left, right = _constant(node.left), _constant(node.right)
        if left is not None and right is not None:
            refusal = binop_refusal(node.operator, left, right)
            if refusal:
                found.append(refusal)
        return found
    assert isinstance(node, nodes.Call | nodes.Filter)
    if isinstance(node, nodes.Filter) and node.name == "format":
        pattern = node.node
        if isinstance(pattern, nodes.Const) and isinstance(pattern.value, str):
            if _PRINTF_WIDE.search(pattern.value):
                found.append(
                    f"the format filter is given {pattern.value!r}: a width or precision of *"
                    " or of more than six digits is not allowed in templates"
                )
    for argument in (*node.args, *(keyword.value for keyword in node.kwargs)):
        value = _constant(argument)
        if _is_int(value) and abs(value) > MAX_SIZE:
            what = f"the {node.name} filter" if isinstance(node, nodes.Filter) else "a call"
            found.append(
                f"{what} is given {value:,}; sizes and counts in templates are at most"
                f" {MAX_SIZE:,} (journeys.definitions.expressions.MAX_SIZE)"
            )
    return found


def _constant(node: nodes.Expr) -> Any:
    """The value of a constant integer or text expression small enough to compute, else None."""
    if isinstance(node, nodes.Const) and isinstance(node.value, int | str):
        return node.value
    if isinstance(node, nodes.List | nodes.Tuple):  # only its length counts: [0] * n
        return [None] * len(node.items)
    if isinstance(node, nodes.Neg):
        value = _constant(node.node)
        return -value if _is_int(value) else None
    if isinstance(node, nodes.Pow | nodes.Mul):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None or binop_refusal(node.operator, left, right):
            return None if left is None or right is None else _HUGE
        try:
            return left**right if isinstance(node, nodes.Pow) else left * right
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
    return None


_HUGE: Final = 10 ** (MAX_SIZE // 1000)
"""What a refused constant stands for when it is itself an operand (``10 ** 10 ** 10``)."""
