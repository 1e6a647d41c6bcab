"""Shared test settings.

Hypothesis runs a modest number of examples by default (the ``ci`` profile); for a longer fuzzing
session run ``HYPOTHESIS_PROFILE=fuzz pytest tests/definitions/test_fuzz.py`` (and the other
``test_*fuzz.py``), or atheris: README.md, "Fuzzing".
``small_disk`` is a real, small file system for the store's full-disk and read-only tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Disk]:
    """A real file system of its own (a tmpfs of 1 MB, mounted in the test's folder), to be
    filled, grown, or remounted read-only; skipped, loudly, where mounting is not allowed."""
    disk = Disk(tmp_path / "disk")
    disk.path.mkdir()
    try:
        disk.mount("size=1m")
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"full/read-only disk NOT TESTED: cannot mount a tmpfs here ({error})")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk.path)], check=False, capture_output=True)


@dataclass
class Disk:
    """A mounted tmpfs at ``path``."""

    path: Path

    def mount(self, options: str) -> None:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(self.path)],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def remount(self, options: str) -> None:
        """``size=16m`` (space is back), ``ro`` or ``rw``."""
        subprocess.run(
            ["mount", "-o", f"remount,{options}", str(self.path)],
            check=True,
            capture_output=True,
            timeout=30,
        )
