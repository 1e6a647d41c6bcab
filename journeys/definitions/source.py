"""Safe, line-aware YAML loading: plain data plus the position of every key and value.

PyYAML's loaders lose the source positions, keep the last of two duplicate keys, read ``on``/``no``
as booleans (YAML 1.1) and expand aliases without limit. Definitions need the opposite, so this
module builds the data itself from libyaml's event stream (the C parser when present: it keeps
its own stack, so no nesting depth can overflow ours):

- scalars resolve by the YAML 1.2 core schema: ``true``/``false``, ``null``/``~``, decimal, octal
  (``0o``) and hexadecimal integers, floats; everything else is a string, so ``on``, ``off``,
  ``yes``, ``no``, ``1_000``, ``.inf`` and ``2024-01-01`` stay text;
- only the standard tags ``!!str !!int !!float !!bool !!null !!map !!seq`` are accepted; any other
  tag, Python's above all, is refused, so a file can never construct an object;
- a duplicate key is a problem at the second key's line;
- aliases are allowed, but every alias counts the size of what it repeats, so an alias bomb
  ("billion laughs") is refused after :data:`MAX_NODES` nodes, in milliseconds;
- files larger than :data:`MAX_BYTES` and nesting deeper than :data:`MAX_DEPTH` are refused.

Problems found while reading are collected and raised together as one
:class:`~journeys.errors.DefinitionError`; limits stop the reading at once.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from journeys.errors import DefinitionError, Problem

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Document",
    "JsonPath",
    "parse",
    "pointer",
    "read",
]

MAX_BYTES: Final = 4 * 1024 * 1024
"""The largest document read: a 1,000-milestone journey is a few hundred kilobytes."""

MAX_NODES: Final = 200_000
"""The most scalars and collections a document may expand to, aliases included."""

MAX_DEPTH: Final = 64
"""The deepest nesting of mappings and sequences."""

JsonPath = tuple[str | int, ...]

try:  # libyaml's parser is ~10x faster than the pure-Python one, with the same grammar
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner

    class _Parser(_Reader, _Scanner, _PyParser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            _Reader.__init__(self, stream)
            _Scanner.__init__(self)
            _PyParser.__init__(self)

        def dispose(self) -> None:
            pass


_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_SCALAR_TAGS = {_CORE + name for name in ("str", "int", "float", "bool", "null")}


def pointer(path: JsonPath) -> str:
    """The JSON pointer (RFC 6901) of a path: ``("milestones", 2)`` -> ``/milestones/2``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded YAML document: its data and where each part of it stands in the source."""

    file: str
    text: str
    data: Any
    key_positions: dict[JsonPath, tuple[int, int]] = field(repr=False)
    value_positions: dict[JsonPath, tuple[int, int]] = field(repr=False)
    lines: list[str] = field(repr=False, default_factory=list)

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int]:
        """The 1-based (line, column) of the value at ``path``, or of its key with ``key=True``.

        A path with no position of its own (inside an alias, or one that does not exist, such
        as a missing required field) takes the nearest enclosing one.
        """
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path:
            if path in self.value_positions:
                return self.value_positions[path]
            path = path[:-1]
        return self.value_positions.get((), (1, 1))

    def problem(self, path: JsonPath, message: str, *, key: bool = False) -> Problem:
        """A :class:`Problem` at ``path`` (at its key with ``key=True``)."""
        line, column = self.position(path, key=key)
        return Problem(self.file, line, column, pointer(path), message, self.source_line(line))

    def source_line(self, line: int) -> str | None:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else None


def read(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> str:
    """The text of a file, or a :class:`DefinitionError` saying why it cannot be read."""
    name = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(name).st_mode) and not Path(name).is_dir():
            raise _whole_file(name, "is not a regular file")
        with Path(name).open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except FileNotFoundError:
        raise _whole_file(name, "no such file") from None
    except IsADirectoryError:
        raise _whole_file(name, "is a folder, not a file") from None
    except OSError as error:
        raise _whole_file(name, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise _whole_file(
            name, f"is larger than {max_bytes // 1024} KiB, the most a definition may be"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DefinitionError(
            [Problem(name, line, 1, "", f"is not UTF-8 text (byte {error.start})")]
        ) from None


def parse(
    text: str,
    file: str = "<string>",
    *,
    max_bytes: int = MAX_BYTES,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Document:
    """Parse one YAML document safely; raise :class:`DefinitionError` listing every problem."""
    if len(text) > max_bytes:
        raise _whole_file(file, f"is larger than {max_bytes // 1024} KiB, the most allowed")
    builder = _Builder(file, text, max_nodes, max_depth)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        # A lone surrogate: text decoded with errors="surrogateescape", as Python decodes
        # command-line arguments and file names that are not UTF-8. libyaml cannot take it.
        line = text.count("\n", 0, error.start) + 1
        column = error.start - (text.rfind("\n", 0, error.start) + 1) + 1
        builder.add(
            line,
            column,
            (),
            f"not valid text: U+{ord(text[error.start]):04X} stands for a byte that is not"
            " UTF-8; write the text in UTF-8",
        )
        raise DefinitionError(builder.problems) from None
    try:
        builder.build(_events(text))
    except _Stop:
        pass
    except yaml.MarkedYAMLError as error:
        builder.syntax_error(error)
    except yaml.YAMLError as error:  # a reader error: a character YAML does not allow
        position = getattr(error, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = getattr(error, "character", None)
        shown = f"U+{ord(character):04X}" if isinstance(character, str) else "a character"
        builder.add(
            line,
            column,
            (),
            f"not valid YAML: {shown} is a control character YAML does not allow;"
            " remove it (or write it as an escape inside double quotes)",
        )
    if builder.problems:
        raise DefinitionError(builder.problems)
    return Document(file, text, builder.root, builder.keys, builder.values, builder.lines)


def _events(text: str) -> Iterator[yaml.Event]:
    parser = _Parser(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            assert event is not None
            yield event
    finally:
        parser.dispose()


def _whole_file(file: str, message: str) -> DefinitionError:
    return DefinitionError([Problem(file, 0, 0, "", message)])


class _Stop(Exception):
    """A limit was reached: reading stops, the problems so far are reported."""


_NO_KEY: Final = object()
_BAD_KEY: Final = object()


@dataclass(slots=True)
class _Frame:
    container: dict[str, Any] | list[Any]
    path: JsonPath
    anchor: str | None
    mark: tuple[int, int]
    size: int = 1
    key: object = _NO_KEY
    key_mark: tuple[int, int] = (0, 0)


class _Builder:
    def __init__(self, file: str, text: str, max_nodes: int, max_depth: int) -> None:
        self.file = file
        self.lines = text.splitlines()
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.problems: list[Problem] = []
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.nodes = 0
        self.documents = 0
        self.aliased = False

    def add(self, line: int, column: int, path: JsonPath, message: str) -> None:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        self.problems.append(Problem(self.file, line, column, pointer(path), message, source))

    def syntax_error(self, error: yaml.MarkedYAMLError) -> None:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or ""
        if error.context_mark is not None and (
            mark is None
            or mark.line >= len(self.lines)  # "found end of stream": where the open thing began
            or "could not find expected ':'" in problem  # a key without its colon
        ):
            mark = error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = _plain_syntax_message(error)
        path = self.stack[-1].path if self.stack else ()
        self.add(line, column, path, f"YAML syntax error: {message}")

    def build(self, events: Iterator[yaml.Event]) -> None:
        for event in events:
            start = event.start_mark
            mark = (start.line + 1, start.column + 1) if start is not None else (1, 1)
            if isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event, mark)
                self._attach(value, mark, 1, 1, event.anchor, raw=event.value)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                is_map = isinstance(event, yaml.MappingStartEvent)
                self._check_collection_tag(event, mark, is_map)
                if len(self.stack) >= self.max_depth:
                    self.add(
                        *mark, self._next_path(), f"nested more than {self.max_depth} levels deep"
                    )
                    raise _Stop
                container: dict[str, Any] | list[Any] = {} if is_map else []
                self.stack.append(_Frame(container, self._next_path(), event.anchor, mark))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = self.stack.pop()
                self._attach(frame.container, frame.mark, frame.size, 1, frame.anchor)
            elif isinstance(event, yaml.AliasEvent):
                self._alias(event, mark)
            elif isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    self.add(*mark, (), "more than one YAML document (`---`): a file holds one")
                    raise _Stop

    def _next_path(self) -> JsonPath:
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        if frame.key is _NO_KEY or frame.key is _BAD_KEY:
            return frame.path
        return (*frame.path, str(frame.key))

    def _scalar(self, event: yaml.ScalarEvent, mark: tuple[int, int]) -> Any:
        tag, text = event.tag, event.value
        if tag is None and event.implicit[0]:
            return resolve_plain(text)
        if tag is None or tag == "!" or tag == _CORE + "str":
            return text
        if tag not in _SCALAR_TAGS:
            self.add(*mark, self._next_path(), _tag_message(tag))
            return None
        if tag == _CORE + "null":
            return None
        value, kind = resolve_plain(text), tag.removeprefix(_CORE)
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        self.add(*mark, self._next_path(), f"{text!r} is not a valid {kind}")
        return None

    def _check_collection_tag(
        self, event: yaml.CollectionStartEvent, mark: tuple[int, int], is_map: bool
    ) -> None:
        expected = _CORE + ("map" if is_map else "seq")
        if event.tag not in (None, "!", expected):
            self.add(*mark, self._next_path(), _tag_message(event.tag))

    def _alias(self, event: yaml.AliasEvent, mark: tuple[int, int]) -> None:
        anchor = event.anchor
        if anchor not in self.anchors:
            self.add(
                *mark,
                self._next_path(),
                f"alias *{anchor} refers to no anchor &{anchor} defined before it"
                " (an anchor cannot contain an alias to itself)",
            )
            self._attach(None, mark, 1, 1, None)
            return
        value, size = self.anchors[anchor]
        self.aliased = True
        self._attach(value, mark, size, size, None)

    def _attach(
        self,
        value: Any,
        mark: tuple[int, int],
        size: int,
        added: int,
        anchor: str | None,
        *,
        raw: str | None = None,
    ) -> None:
        """Put a finished value in place. ``size`` is how many values it holds in all (so an
        alias to it can count them again); ``added`` is how many of those are new."""
        self.nodes += added
        if self.nodes > self.max_nodes:
            self.add(
                *mark,
                self._next_path(),
                f"the document has more than {self.max_nodes:,} values, the most allowed"
                + (
                    "; aliases (*name) count every value they repeat, so nested aliases"
                    " explode (an alias bomb)"
                    if self.aliased
                    else ""
                ),
            )
            raise _Stop
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            self.values[()] = mark
            return
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.container, list):
            path = (*frame.path, len(frame.container))
            self.values[path] = mark
            frame.container.append(value)
            return
        if frame.key is _NO_KEY:
            if raw is None or isinstance(value, dict | list):
                text = self.lines[mark[0] - 1] if 0 < mark[0] <= len(self.lines) else ""
                if "{{" in text[max(mark[1] - 2, 0) : mark[1] + 1]:
                    message = 'a Jinja template must be quoted: write "{{ ... }}"'
                else:
                    message = "a key must be a plain name, not a list or a mapping"
                self.add(*mark, frame.path, message)
                frame.key = _BAD_KEY
            elif raw == "<<":
                self.add(
                    *mark,
                    frame.path,
                    "merge keys (<<) are not supported: use `defaults:` or named `retries:`"
                    " to share settings",
                )
                frame.key = _BAD_KEY
            else:
                frame.key = raw
            frame.key_mark = mark
            return
        key, frame.key = frame.key, _NO_KEY
        if key is _BAD_KEY:
            return
        assert isinstance(key, str) and isinstance(frame.container, dict)
        path = (*frame.path, key)
        if key in frame.container:
            first = self.keys[path][0]
            self.add(
                *frame.key_mark,
                path,
                f"duplicate key {key!r} (first defined at line {first}); a key may appear once",
            )
            return
        self.keys[path] = frame.key_mark
        self.values[path] = mark
        frame.container[key] = value


def resolve_plain(text: str) -> Any:
    """The value of an unquoted scalar under the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text)
    if _INT_OCT.fullmatch(text):
        return int(text[2:], 8)
    if _INT_HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else text  # 1e400: JSON has no infinity
    return text


_JARGON = {
    "<block end>": "the end of an indented block",
    "<block sequence start>": "a list item ('- ')",
    "<block mapping start>": "a key",
    "<document start>": "the start of a document ('---')",
    "<stream end>": "the end of the file",
    "<scalar>": "a value",
}


def _plain_syntax_message(error: yaml.MarkedYAMLError) -> str:
    """PyYAML's message, with its token jargon in words and advice for the usual slips."""
    problem = error.problem or error.context or "not valid YAML"
    for jargon, words in _JARGON.items():
        problem = problem.replace(jargon, words)
    if "could not find expected ':'" in problem:
        return "a key is missing its ':' (write key: value), or a quote is not closed"
    if "tab character" in problem or "'\\t'" in problem:
        return "a tab character: YAML is indented with spaces, never tabs"
    if "mapping values are not allowed" in problem:
        return f"{problem}: check this line's indentation, or quote a value that contains ': '"
    if error.context and error.context_mark is not None:
        context = error.context
        for jargon, words in _JARGON.items():
            context = context.replace(jargon, words)
        return f"{problem} ({context} at line {error.context_mark.line + 1})"
    return problem


def _tag_message(tag: str) -> str:
    shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
    return (
        f"tag {shown} is not allowed: a definition is plain data (only !!str, !!int, !!float,"
        " !!bool, !!null, !!map and !!seq), so no tag can construct objects or run code"
    )
