"""Hypothesis strategies shared by the fuzz tests (tests/*/test_*fuzz*.py) and the long fuzzing
run (fuzz/atheris_loaders.py): YAML as people, tools and attackers write it."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

__all__ = ["TOKENS", "dumped", "json_values", "scalars", "spliced", "token_soup"]

# Tokens an attacker or a careless author may put in YAML: tags (Python's among them), anchors
# and aliases, merge keys, directives, document markers, flow and block indicators, templates.
TOKENS = [
    "!!python/object:os.system",
    "!!python/name:os.system",
    "!!python/object/apply:os.system",
    "!!python/tuple",
    "!!binary",
    "!!timestamp",
    "!!set",
    "!!omap",
    "!custom",
    "!<tag:x>",
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!map",
    "!!seq",
    "&a",
    "*a",
    "&b",
    "*b",
    "<<:",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "---\n",
    "...\n",
    "? ",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "'",
    '"',
    "|",
    ">",
    "#",
    "\n",
    "\n  ",
    "\n    ",
    "\t",
    "\\",
    "\x00",
    "\ufeff",
    "journey: j\n",
    "milestones:\n",
    "  - id: m\n",
    "    action: a.b\n",
    "kind: saga\n",
    "{{ inputs.x }}",
    "{{ ''.__class__ }}",
    "{% for %}",
    "on",
    "no",
    "1e999",
    "0x",
    "0o8",
    "~",
    "null",
    ".inf",
    "-.nan",
    "2024-01-01",
    "é",
    "\u202e",
    "\U0001d501",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(TOKENS)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["id", "action", "with"]), children, max_size=4
        )
    ),
    max_leaves=12,
)


@st.composite
def dumped(draw: st.DrawFn, data: st.SearchStrategy[Any] = json_values) -> str:
    """Data written as YAML in one of the styles people (and tools) use."""
    return yaml.safe_dump(
        draw(data),
        default_flow_style=draw(st.sampled_from([None, True, False])),
        canonical=draw(st.booleans()),
        allow_unicode=draw(st.booleans()),
        width=draw(st.sampled_from([20, 80, 10_000])),
        explicit_start=draw(st.booleans()),
        sort_keys=False,
    )


@st.composite
def spliced(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    """A text with tokens inserted and stretches deleted at random places."""
    text = draw(texts)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=8))
        token = draw(st.sampled_from(TOKENS) | st.text(max_size=3))
        text = text[:at] + token + text[at + cut :]
    return text


token_soup = st.lists(st.sampled_from(TOKENS) | st.text(max_size=4), max_size=40).map("".join)
