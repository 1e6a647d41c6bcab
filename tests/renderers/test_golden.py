"""Golden files: every format of every bundled journey's plan, compared with what is kept in
``golden/``. After a deliberate change, regenerate them with
``JOURNEYS_REGENERATE_GOLDEN=1 pytest tests/renderers/test_golden.py`` and review the diff.

The SVG drawing is replaced by a stub here (``dot``'s output varies by Graphviz version); it is
tested by itself in test_diagrams.py and in the browser in test_browser.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import journeys
from journeys.planning.model import Plan
from journeys.renderers import diagrams, templating

BUNDLED = sorted((Path(__file__).parents[2] / "definitions").glob("*.yaml"))
GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {"md": "md", "html": "html", "text": "txt", "json": "json"}
STUB_SVG = (
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>diagram</text></svg>'
)


Plans = Callable[..., Plan]


@pytest.fixture
def stub_svg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagrams, "dot_program", lambda: "/usr/bin/dot")
    monkeypatch.setattr(diagrams, "svg", lambda diagram, title=None: STUB_SVG)
    assert templating.diagrams is diagrams


@pytest.mark.usefixtures("stub_svg")
@pytest.mark.parametrize("format", list(SUFFIX))
@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_golden(path: Path, format: str, plan_of: Plans) -> None:
    text = journeys.render(plan_of(path), format=format)
    golden = GOLDEN / f"{path.stem}.{SUFFIX[format]}"
    if os.environ.get("JOURNEYS_REGENERATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with JOURNEYS_REGENERATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")
