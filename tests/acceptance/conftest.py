"""Acceptance tests drive the real, installed ``journeys`` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.databases import postgres_schema

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store the command and the test share: a SQLite file, or a PostgreSQL schema of its
    own (dropped after) in ``JOURNEYS_TEST_POSTGRES_URL``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    base = os.environ.get("JOURNEYS_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL variant NOT RUN: set JOURNEYS_TEST_POSTGRES_URL")
    yield from postgres_schema(base)
