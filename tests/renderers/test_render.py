"""render(): formats, user template folders, and what it refuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import journeys
from journeys.renderers import diagrams

ROOT = Path(__file__).parents[2]
ORDER = ROOT / "definitions" / "order_fulfillment.yaml"


def test_every_format_lists_the_steps_and_compensations_in_order(
    plan_of: Callable[..., journeys.Plan],
) -> None:
    plan = plan_of(ORDER)
    steps = ["Record the order", "Charge the customer", "Reserve the stock", "Book the shipment"]
    for format in ("md", "html", "text", "json"):
        text = journeys.render(plan, format=format)
        positions = [text.index(title) for title in steps]
        assert positions == sorted(positions), format
        assert "if shipping fails: undo inventory, then payment, then order" in text or (
            format == "html" and "undo inventory" in text
        ), format


def test_json_is_the_plan_as_data(plan_of: Callable[..., journeys.Plan]) -> None:
    plan = plan_of(ORDER)
    assert json.loads(journeys.render(plan, format="json")) == json.loads(
        json.dumps(plan.to_dict())
    )


def test_markdown_embeds_the_mermaid_diagram(plan_of: Callable[..., journeys.Plan]) -> None:
    text = journeys.render(plan_of(ORDER), format="md")
    assert "```mermaid\nstateDiagram-v2\n" in text


def test_html_falls_back_to_mermaid_source_without_graphviz(
    plan_of: Callable[..., journeys.Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagrams, "dot_program", lambda: None)
    page = journeys.render(plan_of(ORDER), format="html")
    assert "<svg" not in page and 'class="mermaid"' in page
    assert "Graphviz is not installed" in page


def test_a_big_journey_leaves_the_diagram_out() -> None:
    lines = ["journey: big", "milestones:"]
    lines += [f"  - {{id: m{i}, action: t.step, timeout: 1s}}" for i in range(200)]
    plan = journeys.plan(journeys.load_definition("\n".join(lines) + "\n"))
    text = journeys.render(plan, format="md")
    assert "```mermaid" not in text and "draw it with journeys diagram" in text


def test_unknown_format_and_missing_folder_are_clear_errors(
    plan_of: Callable[..., journeys.Plan], tmp_path: Path
) -> None:
    plan = plan_of(ORDER)
    with pytest.raises(journeys.JourneyError, match="unknown plan format 'pdf'"):
        journeys.render(plan, format="pdf")
    with pytest.raises(journeys.JourneyError, match="no such folder"):
        journeys.render(plan, template_dir=tmp_path / "missing")


def test_a_user_template_replaces_the_builtin_one(
    plan_of: Callable[..., journeys.Plan], tmp_path: Path
) -> None:
    (tmp_path / "plan.txt.j2").write_text(
        "{% for step in plan.steps %}{{ step.number }} {{ step.id }}: {{ step.retry }}\n"
        "{% endfor %}"
    )
    text = journeys.render(plan_of(ORDER), format="text", template_dir=tmp_path)
    assert text.splitlines()[0] == "1 order: up to 2 retries, 500 ms then 1 s"
    # the formats without a user template stay built in
    assert journeys.render(plan_of(ORDER), format="md", template_dir=tmp_path).startswith("# Plan")


def test_a_broken_user_template_names_its_file_and_line(
    plan_of: Callable[..., journeys.Plan], tmp_path: Path
) -> None:
    (tmp_path / "plan.md.j2").write_text("ok\n{% for x in %}\n")
    with pytest.raises(journeys.JourneyError, match=r"plan.md.j2:2: template syntax error"):
        journeys.render(plan_of(ORDER), template_dir=tmp_path)
    (tmp_path / "plan.md.j2").write_text("{{ plan.nothing }}")
    with pytest.raises(journeys.JourneyError, match=r"plan\.md\.j2:1: template failed"):
        journeys.render(plan_of(ORDER), template_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("one\n{{ plan.journey }}\n{{ 1 / 0 }}\n", 3, "ZeroDivisionError: division by zero"),
        ("one\n{{ plan.nosuch.attr }}\n", 2, "UndefinedError"),
    ],
)
def test_a_user_template_that_fails_is_named_with_its_line(
    plan_of: Callable[..., journeys.Plan], tmp_path: Path, text: str, line: int, says: str
) -> None:
    (tmp_path / "plan.md.j2").write_text(text)
    with pytest.raises(journeys.JourneyError) as failed:
        journeys.render(plan_of(ORDER), format="md", template_dir=tmp_path)
    assert str(failed.value).startswith(f"{tmp_path / 'plan.md.j2'}:{line}: template failed")
    assert says in str(failed.value)


def test_a_user_template_sees_the_plan_as_data_wherever_it_asks(
    plan_of: Callable[..., journeys.Plan], tmp_path: Path
) -> None:
    # ``document`` is made only when a template uses it: in a block, an include or a macro too
    (tmp_path / "plan.md.j2").write_text(
        '{% extends "builtin/plan.md.j2" %}\n'
        "{% macro kind() %}{{ document.kind }}{% endmacro %}\n"
        "{% block inputs %}\nDATA {{ document.steps | length }} {{ kind() }}"
        ' {% include "part.j2" %}\n{% endblock %}\n'
    )
    (tmp_path / "part.j2").write_text("{{ document.steps[0].id }} {{ document.ok }}")
    text = journeys.render(plan_of(ORDER), format="md", template_dir=tmp_path)
    assert "\nDATA 4 saga order True\n" in text
    assert text.startswith("# Plan")
