"""Acceptance tests drive the real, installed ``journeys`` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _command() -> list[str]:
    beside = Path(sys.executable).parent / "journeys"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("journeys")
    if found:
        return [found]
    pytest.fail("the journeys command is not installed: pip install -e '.[test]'")


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def journeys_cli() -> Run:
    """Run ``journeys ARGS...`` from the repository root; returns the completed process."""
    command = _command()

    def run(
        *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, **(env or {})}
        environment.pop("JOURNEYS_DEBUG", None)
        return subprocess.run(
            [*command, *args],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run
