"""A definition's templates and guards evaluated before the run exists.

The run's inputs are known when a plan is made; the results of its milestones, its id and any
input not given are not. Here they are *unknown* values (:class:`Unknown`, a Jinja ``Undefined``)
that print as a placeholder (``«results.inventory.reservation_id»``) and refuse every use that
would need the value (a comparison, a truth test, arithmetic) with :class:`Unknowable`, so a
``when`` guard that depends on them is reported as "cannot be known yet" rather than guessed.

An input missing from inputs that *were* given is not unknown: the run would fail on it, so it
behaves as at run time (strict undefined) and the plan reports the failure.

The sandbox is the engine's own (:mod:`journeys.definitions.expressions`): the same filters,
tests and refusal of internals, with ``default`` and ``defined`` taught about unknown values
(``results.x | default(1)`` stays unknown instead of becoming 1).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Literal, NoReturn

from jinja2 import TemplateRuntimeError, Undefined, UndefinedError, nodes
from jinja2.filters import do_default
from jinja2.utils import missing

from journeys.definitions.expressions import Sandbox

__all__ = ["Known", "Unknowable", "Unknown", "environment", "evaluate_guard", "render_doc"]


class Unknowable(Exception):
    """A value the plan cannot know yet was needed (``path`` names it)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is not known before the run")
        self.path = path


class Known(dict[str, Any]):
    """A top-level name of the scope (``inputs``, ``results``, ``run``): its known values, and
    whether a missing one is unknown (``strict=False``) or a mistake the run would fail on."""

    def __init__(self, prefix: str, values: Mapping[str, Any], *, strict: bool) -> None:
        super().__init__(values)
        self.prefix = prefix
        self.strict = strict


class Unknown(Undefined):
    """A value not known before the run: prints as ``«path»``; any other use raises
    :class:`Unknowable` (or, for a missing input of given inputs, Jinja's strict error)."""

    __slots__ = ("_path", "_strict")
    _path: str
    _strict: bool

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
        *,
        path: str | None = None,
    ) -> None:
        strict = False
        if path is None:
            # a name of the scope, or of an unknown value, is unknown; anything else missing
            # (an attribute of a known value, one the sandbox refuses) fails as at run time
            if isinstance(obj, Known):
                path, strict = f"{obj.prefix}.{name}", obj.strict
                if strict and hint is None:
                    hint = f"{obj.prefix} has no {name!r}"
            elif isinstance(obj, Unknown):
                path, strict = f"{obj._path}.{name}", obj._strict
            else:
                path, strict = str(name), True
        strict = strict or exc is not UndefinedError  # the sandbox refused: a SecurityError
        super().__init__(hint, obj, name, exc)
        self._path = path
        self._strict = strict

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        if self._strict:
            super()._fail_with_undefined_error()
        raise Unknowable(self._path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self._strict:
            return self._fail_with_undefined_error()
        return Unknown(path=f"{self._path}.{name}")

    def __getitem__(self, key: Any) -> Any:
        if self._strict:
            return self._fail_with_undefined_error()
        return Unknown(
            path=f"{self._path}.{key}" if isinstance(key, str) else f"{self._path}[{key!r}]"
        )

    def __str__(self) -> str:
        if self._strict:
            return self._fail_with_undefined_error()
        return f"«{self._path}»"


# Undefined binds its operators to its own failing method; rebind them (and the uses Undefined
# lets pass: truth, equality, iteration, length) to ours.
for _name in (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __div__ __rdiv__ __truediv__"
    " __rtruediv__ __floordiv__ __rfloordiv__ __mod__ __rmod__ __pos__ __neg__ __call__ __lt__"
    " __le__ __gt__ __ge__ __int__ __float__ __complex__ __pow__ __rpow__ __iter__ __len__"
    " __bool__ __eq__ __ne__ __hash__ __contains__"
).split():
    setattr(Unknown, _name, Unknown._fail_with_undefined_error)


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    if isinstance(value, Unknown) and not value._strict:
        return value  # may be defined at run time: stays unknown
    return do_default(value, default_value, boolean)


def _defined(value: Any) -> bool:
    if isinstance(value, Unknown) and not value._strict:
        raise Unknowable(value._path)
    return not isinstance(value, Undefined)


@functools.cache
def environment() -> Sandbox:
    """The engine's sandbox, with unknown values."""
    env = Sandbox(undefined=Unknown, autoescape=False)
    env.filters["default"] = env.filters["d"] = _default
    env.tests["defined"] = _defined
    env.tests["undefined"] = lambda value: not _defined(value)
    return env


_Piece = str | tuple[str, ...]  # text as it is, or a name of the scope and its attributes


@functools.lru_cache(maxsize=4096)
def _template(text: str) -> tuple[Any, tuple[_Piece, ...] | None]:
    """``text`` compiled, and its pieces when it is only text and ``{{ inputs.a.b }}``."""
    env = environment()
    template = env.from_string(text)
    # Jinja gives a template made from a string a ChainMap over the environment's globals and
    # copies it, key by key, on every render: two thirds of a doc sentence's cost. The
    # environment is ours and its globals never change, so a plain copy says the same.
    template.globals = dict(template.globals)
    return template, _pieces(env.parse(text))


_SCOPE = frozenset({"inputs", "results", "run"})


def _pieces(tree: nodes.Template) -> tuple[_Piece, ...] | None:
    """The pieces of a template that only prints text and attributes of the scope's names
    (most ``doc`` sentences), or None. :func:`_fill` puts them together as the compiled
    template would, without its context and generator (a tenth of the cost)."""
    pieces: list[_Piece] = []
    for output in tree.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append(node.data)
                continue
            path: list[str] = []
            while isinstance(node, nodes.Getattr):
                path.append(node.attr)
                node = node.node
            if not isinstance(node, nodes.Name) or node.name not in _SCOPE:
                return None
            pieces.append((node.name, *reversed(path)))
    return tuple(pieces)


def _fill(pieces: tuple[_Piece, ...], names: Mapping[str, Any]) -> str:
    """What the compiled template prints: each attribute looked up by the sandbox's
    ``getattr`` (unknown and refused values included), each value through ``str``."""
    getattr_ = environment().getattr
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        value = names[piece[0]]
        for attribute in piece[1:]:
            value = getattr_(value, attribute)
        out.append(str(value))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _expression(text: str) -> Any:
    return environment().compile_expression(text, undefined_to_none=False)


def scope(
    inputs: Mapping[str, Any], *, given: bool, journey: str, tenant: str | None
) -> dict[str, Known]:
    """What a template sees at plan time: the inputs (a missing one is an error when they were
    ``given``, unknown when not), no results, and the run's journey and tenant (not its id)."""
    return {
        "inputs": Known("inputs", inputs, strict=given),
        "results": Known("results", {}, strict=False),
        "run": Known("run", {"journey": journey, "tenant": tenant}, strict=False),
    }


def render_doc(text: str, names: Mapping[str, Any]) -> str:
    """A ``doc`` sentence with what is known filled in and the rest as ``«placeholders»``.

    Raises what the template raises at run time (``UndefinedError``, ``SecurityError``...).
    """
    template, pieces = _template(text)
    try:
        if pieces is not None and _SCOPE.issubset(names):
            return _fill(pieces, names)
        return str(template.render(**names))
    except Unknowable:  # used, not only printed (``{% if results.x %}``): shown as written
        return text


def evaluate_guard(
    when: str | bool | None, names: Mapping[str, Any]
) -> tuple[Literal["yes", "no", "unknown"], str]:
    """Whether a ``when`` guard lets its milestone run, and why, in words.

    Raises what the guard raises at run time (a missing input of given inputs, a sandbox
    refusal): the run would fail there.
    """
    if when is None or when is True:
        return "yes", "always runs"
    if when is False:
        return "no", "skipped: when is false"
    try:
        value = _expression(when)(**names)
        holds = bool(value)
    except Unknowable as unknowable:
        return "unknown", f"cannot be known yet: when `{when}` depends on {unknowable.path}"
    if holds:
        return "yes", f"runs: when `{when}` holds with these inputs"
    return "no", f"skipped: when `{when}` is false with these inputs"
