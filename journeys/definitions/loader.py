"""Loading definitions and policy files: YAML -> schema -> checks -> typed object, or every problem.

:func:`load_definition` is the public entry point. :func:`check_file` serves ``journeys validate``,
which accepts definitions and policy files alike and tells them apart by their top-level keys.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from journeys import schemas
from journeys.definitions import checks, model, source, validation
from journeys.errors import DefinitionError

__all__ = ["DocumentKind", "check_file", "load_definition", "load_policy_file"]

DocumentKind = Literal["journey", "policy"]


def load_definition(
    definition: str | os.PathLike[str], *, name: str | None = None
) -> model.Definition:
    """Load and validate a journey definition from a file path or from YAML text.

    A :class:`os.PathLike`, or a one-line string ending in ``.yaml``/``.yml`` or naming an
    existing file, is read as a path; any other string is the YAML text itself, reported under
    ``name`` (default ``<string>``) in messages. Giving ``name`` makes a string always text.

    Raises :class:`journeys.DefinitionError` listing every problem, each with its file, line,
    column, JSON pointer and message.
    """
    document = _document(definition, name)
    _raise_problems(document, "journey")
    data = document.data
    lines = {
        index: document.position(("milestones", index))[0]
        for index in range(len(data["milestones"]))
    }
    return model.build(data, source=document.file, text=document.text, lines=lines)


def load_policy_file(
    policy: str | os.PathLike[str], *, name: str | None = None
) -> Mapping[str, Any]:
    """Load and validate a policy file (``default:`` and ``journeys:``); its data, read-only.

    Raises :class:`journeys.DefinitionError` as :func:`load_definition` does.
    """
    document = _document(policy, name)
    _raise_problems(document, "policy")
    frozen: Mapping[str, Any] = model.freeze(document.data or {})
    return frozen


def check_file(path: str | os.PathLike[str]) -> DocumentKind:
    """Validate one file as a definition or a policy file; return which it was.

    A mapping with ``default:`` or ``journeys:`` and no ``journey:`` is a policy file; anything
    else is checked as a definition. Raises :class:`journeys.DefinitionError` when invalid.
    """
    document = _document(Path(path), None)
    kind = kind_of(document.data)
    _raise_problems(document, kind)
    return kind


def kind_of(data: Any) -> DocumentKind:
    """Whether parsed YAML data looks like a policy file or (by default) a journey definition."""
    if (
        isinstance(data, dict)
        and "journey" not in data
        and ("default" in data or "journeys" in data)
    ):
        return "policy"
    return "journey"


def _document(origin: str | os.PathLike[str], name: str | None) -> source.Document:
    if isinstance(origin, os.PathLike) or (name is None and _looks_like_a_path(origin)):
        file = os.fspath(origin)
        return source.parse(source.read(file), name or file)
    return source.parse(origin, name or "<string>")


def _looks_like_a_path(text: str) -> bool:
    if "\n" in text or ":" in text.split(os.sep)[-1]:
        return False
    return text.endswith((".yaml", ".yml")) or Path(text).is_file()


def _raise_problems(document: source.Document, kind: DocumentKind) -> None:
    if document.data is None:
        what = "journey: and milestones:" if kind == "journey" else "default: or journeys:"
        raise DefinitionError([document.problem((), f"the document is empty; it needs {what}")])
    found = validation.problems(document, schemas.validator(kind))
    if kind == "journey":
        found += checks.problems(document)
    if found:
        raise DefinitionError(found)
