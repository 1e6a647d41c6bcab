"""Plans rendered by Jinja templates (Markdown, HTML, text, JSON), and diagrams.

``journeys.render(plan, format="md")`` is :func:`~journeys.renderers.templating.render`;
:mod:`~journeys.renderers.diagrams` draws a journey's machine as Mermaid, DOT or SVG.
"""

from journeys.renderers.templating import FORMATS, render

__all__ = ["FORMATS", "render"]
