"""Fixtures of the renderer tests: deterministic plans of the bundled journeys, and the external
programs some tests need (Graphviz's ``dot``, Chromium).

A test that needs a program that is missing fails when ``JOURNEYS_REQUIRE_TOOLS`` is set
(``.ci/run`` sets it, after installing them) and is skipped, saying so loudly, otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import journeys

ROOT = Path(__file__).parents[2]
BUNDLED = sorted((ROOT / "definitions").glob("*.yaml"))


def bundled_plan(path: Path, **options: object) -> journeys.Plan:
    """The plan of a bundled journey, the same on every machine: loaded from its text under
    its relative name, with a fixed id and time."""
    definition = journeys.load_definition(path.read_text("utf-8"), name=f"definitions/{path.name}")
    plan = journeys.plan(definition, **options)  # type: ignore[arg-type]
    return dataclasses.replace(plan, plan_id="golden", created_at="2025-01-01T00:00:00+00:00")


def require(program: str, package: str) -> str:
    """The path of ``program``; fails (CI) or skips loudly (elsewhere) when it is missing."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} NOT INSTALLED: apt-get install {package} (.ci/run installs it)"
        if os.environ.get("JOURNEYS_REQUIRE_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def dot() -> str:
    return require("dot", "graphviz")


@pytest.fixture
def chromium() -> str:
    return require("chromium", "chromium")


Plans = Callable[..., journeys.Plan]


@pytest.fixture
def plan_of() -> Plans:
    """``plan_of(path, **options)``: :func:`bundled_plan`."""
    return bundled_plan
