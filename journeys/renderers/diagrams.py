"""Diagrams of a journey's machine: Mermaid source, Graphviz DOT, and SVG drawn by ``dot``.

They draw a :class:`~journeys.planning.model.Diagram`, read from the compiled ``transitions``
machine (:mod:`journeys.planning.graph`). transitions' own diagram support
(``transitions.extensions.diagrams``: a Mermaid engine, and two Graphviz engines) was weighed
and not used, for four reasons found in its 0.9.3 source:

- it draws a ``GraphMachine``: our shared machine is a plain ``Machine`` with no model attached
  (on purpose, see :mod:`journeys.engine.compiler`), so it would have to be rebuilt as a second
  machine with a model, per diagram;
- its Mermaid engine writes state names as Mermaid identifiers and labels as they are: our
  ``undo:order`` and ``session:hub`` are not valid identifiers, and a title with ``"`` or
  ``<script>`` goes into the source unescaped;
- its labels name conditions by their Python function (``[guard_is_false]``), which a reader
  of a journey cannot use; here a condition reads ``fail [saga]``;
- its Graphviz engines need the ``graphviz`` or ``pygraphviz`` Python package on top of the
  ``dot`` program; writing DOT text and running ``dot -Tsvg`` needs only the program.

Labels are escaped for each target: Mermaid entity codes (``#lt;``), DOT string escapes; ``dot``
escapes text for XML itself, so its SVG can go inline in an HTML page.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from typing import Final

from journeys.errors import JourneyError
from journeys.planning.model import Diagram, EdgeKind, NodeKind

__all__ = ["MOST_STATES", "dot", "dot_program", "mermaid", "svg"]

MOST_STATES: Final = 150
"""Plans draw their diagram inline up to this many states; bigger ones are left to
``journeys diagram`` (a Mermaid or Graphviz drawing of thousands of states is unreadable and
slow to lay out)."""

_DOT_TIMEOUT: Final = 60.0

_MERMAID_ESCAPES = str.maketrans(
    {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", ";": "#59;"}
)

_NODE_STYLE: Final[dict[NodeKind, str]] = {
    "milestone": "fill:#e8f0fe,stroke:#3367d6,color:#1a1a1a",
    "wait": "fill:#fff4e5,stroke:#e37400,color:#1a1a1a",
    "undo": "fill:#fdecea,stroke:#c5221f,color:#1a1a1a",
    "terminal": "fill:#f1f3f4,stroke:#5f6368,color:#1a1a1a",
    "hub": "fill:#f3e8fd,stroke:#8430ce,color:#1a1a1a",
}
_DOT_NODE: Final[dict[NodeKind, tuple[str, str, str]]] = {  # shape, fill, border
    "milestone": ("box", "#e8f0fe", "#3367d6"),
    "wait": ("box", "#fff4e5", "#e37400"),
    "undo": ("box", "#fdecea", "#c5221f"),
    "terminal": ("ellipse", "#f1f3f4", "#5f6368"),
    "hub": ("diamond", "#f3e8fd", "#8430ce"),
}
_DOT_EDGE: Final[dict[EdgeKind, tuple[str, str]]] = {  # colour, style
    "forward": ("#202124", "solid"),
    "skip": ("#5f6368", "dashed"),
    "session": ("#8430ce", "solid"),
    "failure": ("#c5221f", "dashed"),
    "compensation": ("#e37400", "solid"),
    "cancel": ("#9aa0a6", "dashed"),
    "rollback": ("#9aa0a6", "dotted"),
}
_TERMINAL_OK = {"completed"}


def _ids(diagram: Diagram) -> dict[str, str]:
    """Safe identifiers (``s0``, ``s1``...) for the states, whose names (``undo:order``) are
    not identifiers in Mermaid or DOT."""
    return {node.id: f"s{index}" for index, node in enumerate(diagram.nodes)}


def _mermaid_text(text: str) -> str:
    return " ".join(text.split()).translate(_MERMAID_ESCAPES)


def mermaid(diagram: Diagram, *, title: str | None = None) -> str:
    """Mermaid ``stateDiagram-v2`` source of ``diagram`` (for Markdown and the docs)."""
    ids = _ids(diagram)
    lines = []
    if title:
        # the front matter is YAML: a title with ": ", " #", a quote or a leading "<" or "`"
        # must be one quoted string (JSON's is YAML's double-quoted form)
        # must be one quoted string (JSON's is YAML's double-quoted form); < > & as \u escapes,
        # so no markup reaches whatever shows the source
        quoted = json.dumps(" ".join(title.split()))
        for char in "<>&":
            quoted = quoted.replace(char, f"\\u{ord(char):04x}")
        lines += ["---", f"title: {quoted}", "---"]
    lines.append("stateDiagram-v2")
    for name, style in _NODE_STYLE.items():
        lines.append(f"  classDef {name} {style}")
    for node in diagram.nodes:
        label = node.label if node.kind in ("terminal", "hub") else f"{node.id}: {node.label}"
        lines.append(f'  state "{_mermaid_text(label)}" as {ids[node.id]}')
    lines.append(f"  [*] --> {ids[diagram.initial]}")
    for edge in diagram.edges:
        lines.append(f"  {ids[edge.source]} --> {ids[edge.dest]}: {_mermaid_text(edge.label)}")
    for node in diagram.nodes:
        if node.kind == "terminal" and node.id in _TERMINAL_OK:
            lines.append(f"  {ids[node.id]} --> [*]")
    for kind in _NODE_STYLE:
        members = [ids[n.id] for n in diagram.nodes if n.kind == kind]
        if members:
            lines.append(f"  class {','.join(members)} {kind}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")


def dot(diagram: Diagram, *, title: str | None = None) -> str:
    """Graphviz DOT source of ``diagram``."""
    ids = _ids(diagram)
    lines = [
        "digraph journey {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, nodesep=0.35, ranksep=0.45'
        + (f', label="{_dot_text(title)}", labelloc=t' if title else "")
        + "];",
        '  node [fontname="Helvetica", fontsize=11, style="rounded,filled", penwidth=1.2];',
        '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        '  start [shape=point, width=0.15, label=""];',
    ]
    for node in diagram.nodes:
        shape, fill, border = _DOT_NODE[node.kind]
        label = node.label if node.kind in ("terminal", "hub") else f"{node.id}\n{node.label}"
        lines.append(
            f'  {ids[node.id]} [label="{_dot_text(label)}", shape={shape},'
            f' fillcolor="{fill}", color="{border}"];'
        )
    lines.append(f"  start -> {ids[diagram.initial]};")
    # each compensation beside its milestone: the forward chain down the left, the undoing
    # chain up the right
    for node in diagram.nodes:
        done = node.id.removeprefix("undo:")
        if node.kind == "undo" and done in ids:
            lines.append(f"  {{rank=same; {ids[done]}; {ids[node.id]}}}")
    ends = [ids[n.id] for n in diagram.nodes if n.kind == "terminal"]
    if ends:  # the ends in one row at the bottom
        lines.append(f"  {{rank=sink; {'; '.join(ends)}}}")
    for edge in diagram.edges:
        colour, style = _DOT_EDGE[edge.kind]
        laid = edge.kind in ("forward", "skip", "session", "compensation")
        constraint = "" if laid else ", constraint=false"
        lines.append(
            f'  {ids[edge.source]} -> {ids[edge.dest]} [label="{_dot_text(edge.label)}",'
            f' color="{colour}", fontcolor="{colour}", style={style}{constraint}];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or None when it is not installed."""
    return shutil.which("dot")


def svg(diagram: Diagram, *, title: str | None = None) -> str:
    """``diagram`` drawn as SVG by Graphviz's ``dot`` (an XML document, text escaped by ``dot``).

    Raises :class:`JourneyError` when ``dot`` is not installed or fails.
    """
    return _svg(dot(diagram, title=title))


@functools.lru_cache(maxsize=64)
def _svg(source: str) -> str:
    program = dot_program()
    if program is None:
        raise JourneyError(
            "drawing SVG needs Graphviz's dot program, which is not installed"
            " (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        )
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=source,
            capture_output=True,
            text=True,
            timeout=_DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise JourneyError(f"Graphviz's dot failed: {error}") from error
    if done.returncode != 0:
        raise JourneyError(f"Graphviz's dot failed: {done.stderr.strip()}")
    return done.stdout


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def inline_svg(document: str) -> str:
    """An SVG document as an element to put inside HTML: no XML prologue, doctype or comments."""
    return _COMMENT.sub("", _PROLOGUE.sub("", document, count=1)).strip()
