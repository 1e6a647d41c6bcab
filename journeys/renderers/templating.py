"""``journeys.render(plan, format=...)``: a plan through a Jinja template to md, html, text, json.

The built-in templates are ``templates/plan.<md|html|txt|json>.j2`` in this package. A user's
template folder (``template_dir``) is searched first, so it may replace any of them, or only
a block of one (``{% extends "builtin/plan.md.j2" %}``); its templates run in Jinja's sandbox
(no access to Python internals, nothing mutated): a template folder is content, not code. Every
template whose name says HTML (``.html``, ``.htm``, ``.svg``, ``.xml``) is autoescaped: a title
of ``<script>`` shows as text. Environments are made once per folder and Jinja keeps their
compiled templates, so a render compiles nothing after the first.

The templates see ``plan`` (a :class:`~journeys.Plan`), ``document`` (its JSON data),
``diagram_mermaid()`` and ``diagram_svg()`` (the state diagram, drawn on demand; empty when
it is too big or, for SVG, Graphviz is missing), ``diagram_omitted`` (why there is none, or
empty) and the filters ``duration`` (``60 s``), ``md`` (Markdown-escaped text), ``code``
(a Markdown code span), ``json``, ``placeholders`` (HTML text with its ``«placeholders»``
marked up) and ``amounts`` (a step's resources: ``api_calls 1, cpu_seconds 2``). Jinja's
``wordwrap`` is there too, quicker for a short line.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_environment,
)
from jinja2.filters import do_wordwrap
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from journeys.errors import JourneyError
from journeys.planning import words
from journeys.planning.model import Plan
from journeys.renderers import diagrams, jsontext

__all__ = ["FORMATS", "render"]

FORMATS: Final = {
    "md": "md",
    "markdown": "md",
    "html": "html",
    "text": "txt",
    "txt": "txt",
    "json": "json",
}
"""The formats :func:`render` knows, and the template suffix each uses."""

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def render(
    plan: Plan, format: str = "md", template_dir: str | os.PathLike[str] | None = None
) -> str:
    """``plan`` rendered as ``md``, ``html``, ``text`` or ``json`` (the built-in templates, or
    those of ``template_dir`` where it has them).

    Raises :class:`JourneyError` for an unknown format, a missing folder or a template that
    fails (with its file and line).
    """
    suffix = FORMATS.get(format)
    if suffix is None:
        raise JourneyError(
            f"unknown plan format {format!r}; the formats are md, html, text and json"
        )
    folder = None
    if template_dir is not None:
        folder = Path(template_dir).resolve()
        if not folder.is_dir():
            raise JourneyError(f"template folder {template_dir}: no such folder")
    environment = _environment(str(folder) if folder is not None else None)
    name = f"plan.{suffix}.j2"
    try:
        template = environment.get_template(name)
        context = _context(plan, suffix)
        # An autoescaped template yields a Markup per value, and Markup objects are tracked by
        # the garbage collector: held until render()'s final join, tens of thousands of them
        # survive into the oldest generation and set off full collections, whose cost grows
        # with everything else the process holds (a large journey's compiled machine, for
        # one). Made plain strings as they come, they are gone at once; the text is the same.
        if _autoescape(template.name):
            return "".join(map(str, template.generate(context)))
        return template.render(context)
    except TemplateSyntaxError as error:
        where = f"{error.filename or error.name}:{error.lineno}"
        raise JourneyError(f"{where}: template syntax error: {error.message}") from error
    except TemplateNotFound as error:
        raise JourneyError(f"template not found: {error.name}") from error
    except TemplateError as error:
        raise JourneyError(
            f"{_where(error, name)}: template failed: {type(error).__name__}:"
            f" {error.message or error}"
        ) from error
    except Exception as error:  # a user's template can fail in plain Python too ({{ 1 / 0 }})
        raise JourneyError(
            f"{_where(error, name)}: template failed: {type(error).__name__}: {error}"
        ) from error


def _where(error: BaseException, name: str) -> str:
    """The template file and line an error was raised at: Jinja puts the template's own
    frames into the traceback, named after the file, numbered by its lines."""
    found = name
    trace = error.__traceback__
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{filename}:{trace.tb_lineno}"
        trace = trace.tb_next
    return found


def _context(plan: Plan, suffix: str) -> dict[str, Any]:
    too_big = len(plan.diagram.nodes) > diagrams.MOST_STATES
    omitted = (
        f"the diagram is left out: {len(plan.diagram.nodes)} states are more than"
        f" {diagrams.MOST_STATES}; draw it with journeys diagram"
        if too_big
        else ""
    )

    def diagram_mermaid() -> str:
        return "" if too_big else diagrams.mermaid(plan.diagram)

    def diagram_svg() -> Markup:
        if too_big or diagrams.dot_program() is None:
            return Markup("")
        # dot escapes every label for XML; state ids are generated (s0, s1...): safe inline
        return Markup(diagrams.inline_svg(diagrams.svg(plan.diagram)))

    if not too_big and suffix == "html" and diagrams.dot_program() is None:
        omitted = "Graphviz is not installed, so the diagram is shown as Mermaid source"
    return {
        "plan": plan,
        "document": _Later(plan.to_dict),
        "diagram_mermaid": diagram_mermaid,
        "diagram_svg": diagram_svg,
        "diagram_omitted": omitted,
    }


class _Later:
    """A value of the context made the first time a template uses it: ``document`` (a large
    plan's JSON data, quadratic in a saga's length) when a template asks for it, never else."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class _Context(Context):
    """Jinja's context, which makes a :class:`_Later` value when a template first resolves it
    (templates resolve each name they use once, when they start) and keeps what it made."""

    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        if isinstance(value, _Later):
            value = value.make()
            (self.vars if key in self.vars else self.parent)[key] = value
        return value


def _autoescape(name: str | None) -> bool:
    return name is not None and any(f".{ext}" in name for ext in ("html", "htm", "svg", "xml"))


# Text that the filters below would give back as it is (or only fenced): words of no special
# character, one space apart. Most of a plan is such text; one match spares the rewriting.
_MARKDOWN_PLAIN = re.compile(r"(?:[^\\`*_\[\]<>|&\s]+(?: [^\\`*_\[\]<>|&\s]+)*)?")
_CODE_PLAIN = re.compile(r"(?:[^`\s|]+(?: [^`\s|]+)*)?")


def _markdown(value: Any) -> str:
    text = str(value)
    if _MARKDOWN_PLAIN.fullmatch(text):
        return text
    return _markdown_rewritten(text)


@functools.lru_cache(maxsize=1024)
def _markdown_rewritten(text: str) -> str:
    """``text`` on one line with Markdown's characters escaped (kept: a plan repeats the same
    few such values, a resource's name or a guard's condition, on every step)."""
    text = " ".join(text.split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")


def _code(value: Any) -> str:
    text = str(value)
    if _CODE_PLAIN.fullmatch(text):
        return f"`{text}`"
    # A pipe ends a GitHub table cell even inside a code span unless escaped, so an input of
    # "a | b" added a cell; a code span outside a table shows only names, which have no pipe.
    text = " ".join(text.split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


_PLACEHOLDER = re.compile(r"«([^«»]+)»")


def _placeholders(value: Any) -> Markup:
    """Escaped text whose ``«results.x»`` placeholders are marked up (for HTML)."""
    escaped = str(Markup.escape(str(value)))
    return Markup(_PLACEHOLDER.sub(r'<span class="placeholder">«\1»</span>', escaped))


def _amounts(resources: Mapping[str, float], format: str = "text") -> str:
    """Estimated resources as ``name amount, ...``, by name as ``dictsort`` orders them; each
    name Markdown-escaped for ``md`` (one call per step instead of a loop in the template)."""
    escape = _markdown if format == "md" else str
    if len(resources) == 1:  # as a rule
        for name, amount in resources.items():
            return f"{escape(name)} {'%g' % (amount,)}"  # noqa: UP031
    names = sorted(resources, key=lambda name: name.lower() if isinstance(name, str) else name)
    # %g as Jinja's format filter writes it, the filter the templates used
    return ", ".join(f"{escape(name)} {'%g' % (resources[name],)}" for name in names)  # noqa: UP031


@pass_environment
def _wordwrap(environment: Environment, text: Any, width: int = 79, *args: Any, **kw: Any) -> Any:
    """Jinja's ``wordwrap``, which gives a short line of single-spaced words back as it is
    without running it through ``textwrap`` (a plan's doc sentences are such lines)."""
    if type(text) is str and len(text) <= width and _ONE_LINE.fullmatch(text):
        return text
    return do_wordwrap(environment, text, width, *args, **kw)


_ONE_LINE = re.compile(r"\S+(?: \S+)*")


def _json(value: Any, indent: int | None = None) -> str:
    """JSON text: compact on one line, or indented by ``indent``."""
    if indent is None:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return jsontext.dumps(value, indent)


@functools.lru_cache(maxsize=32)
def _environment(folder: str | None) -> Environment:
    builtin = PackageLoader("journeys.renderers", "templates")
    options: dict[str, Any] = {
        "undefined": StrictUndefined,
        "autoescape": _autoescape,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    environment: Environment
    if folder is None:
        # the built-in templates ship with the package: no need to stat them on every render
        environment = Environment(loader=builtin, auto_reload=False, **options)
    else:
        # the folder's templates first; the built-in ones by their names, and also as
        # builtin/<name> so that a template of the folder can extend the one it replaces
        loader = ChoiceLoader(
            [FileSystemLoader(folder), builtin, PrefixLoader({"builtin": builtin})]
        )
        environment = ImmutableSandboxedEnvironment(loader=loader, **options)
    environment.context_class = _Context
    environment.filters.update(
        duration=words.duration,
        md=_markdown,
        code=_code,
        json=_json,
        placeholders=_placeholders,
        amounts=_amounts,
        wordwrap=_wordwrap,
    )
    return environment
