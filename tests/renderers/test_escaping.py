"""Hostile text from a definition or inputs is shown as text in every output, never run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import journeys
from journeys.engine import compiler
from journeys.planning import graph
from journeys.renderers import diagrams

SCRIPT = "<script>alert(1)</script>"
HOSTILE = f"""
journey: hostile
kind: saga
title: "{SCRIPT}"
description: 'Say "hi" & <b>bold</b> | pipe `tick` [link](http://x)'
milestones:
  - id: first
    title: "{SCRIPT}"
    action: t.step
    compensation: t.undo
    timeout: 1s
    doc: "Hello {{{{ inputs.name }}}}"
  - id: second
    title: 'quote " hash # semi ; amp &'
    action: t.step
    compensation: t.undo
    timeout: 1s
policies:
  saga: {{enabled: true}}
"""


@pytest.fixture
def plan() -> journeys.Plan:
    return journeys.plan(
        journeys.load_definition(HOSTILE), {"name": "<img src=x onerror=alert(2)>"}
    )


def test_html_shows_a_script_title_as_text(plan: journeys.Plan) -> None:
    page = journeys.render(plan, format="html")
    assert "<script" not in page
    assert "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_html_is_self_contained(plan: journeys.Plan) -> None:
    page = journeys.render(plan, format="html")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page


def test_markdown_escapes_html_and_markup(plan: journeys.Plan) -> None:
    text = journeys.render(plan, format="md")
    prose = re.sub(r"`[^`]*`", "", text)  # code spans show their text literally
    assert not re.search(r"(?<!\\)<(script|img|b>)", prose)  # every < of theirs is \<
    assert '`"<img src=x onerror=alert(2)>"`' in text  # the input's value, in a code span
    assert r"\<script\>alert(1)\</script\>" in text
    assert r"\| pipe \`tick\` \[link\]" in text


def test_json_and_text_keep_the_text_as_it_is(plan: journeys.Plan) -> None:
    document = json.loads(journeys.render(plan, format="json"))
    assert document["title"] == SCRIPT and document["steps"][0]["title"] == SCRIPT
    assert SCRIPT in journeys.render(plan, format="text")  # a terminal runs no script


def test_mermaid_labels_are_escaped(plan: journeys.Plan) -> None:
    source = diagrams.mermaid(plan.diagram, title=SCRIPT)
    assert "<" not in source and ">" not in source.replace("-->", "")
    assert "#lt;script#gt;alert(1)#lt;/script#gt;" in source
    assert "quote #quot; hash #35; semi #59; amp #amp;" in source


def test_svg_labels_are_escaped(plan: journeys.Plan, dot: str) -> None:
    drawn = diagrams.svg(plan.diagram, title=SCRIPT)
    assert "<script" not in drawn
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in drawn
    page = journeys.render(plan, format="html")
    assert "<svg" in page and "<script" not in page


def test_dot_strings_are_escaped() -> None:
    definition = journeys.load_definition(
        'journey: j\nmilestones:\n  - {id: a, title: "back\\\\slash \\" quote", action: t.step}\n'
    )
    source = diagrams.dot(graph.diagram(compiler.compile(definition)))
    assert 'back\\\\slash \\" quote' in source


def test_a_user_template_folder_is_sandboxed(tmp_path: Path, plan: journeys.Plan) -> None:
    (tmp_path / "plan.md.j2").write_text("{{ plan.__class__.__mro__ }}")
    with pytest.raises(journeys.JourneyError, match="unsafe"):
        journeys.render(plan, format="md", template_dir=tmp_path)


def test_a_user_html_template_is_autoescaped_and_may_extend_the_builtin(
    tmp_path: Path, plan: journeys.Plan
) -> None:
    (tmp_path / "plan.html.j2").write_text(
        '{% extends "builtin/plan.html.j2" %}{% block header %}<h1 id="mine">{{ plan.title }}</h1>'
        "{% endblock %}"
    )
    page = journeys.render(plan, format="html", template_dir=tmp_path)
    assert '<h1 id="mine">&lt;script&gt;' in page and "<script" not in page
    assert 'id="steps"' in page  # the rest is the built-in page
