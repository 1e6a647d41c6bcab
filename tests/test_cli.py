"""Pieces of the command line that acceptance tests cannot reach easily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from journeys.cli import bench
from journeys.cli import output as cli
from journeys.errors import JourneyError


def test_printable_escapes_control_characters_and_surrogates() -> None:
    assert cli.printable("a\x1b]0;x\x07b\tc\nd") == "a\\x1b]0;x\\x07b\tc\nd"
    assert cli.printable("act\ud800ion") == "act\\ud800ion"
    assert cli.printable("café ✓") == "café ✓"


def test_bench_says_where_it_looked_when_the_checkout_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(JourneyError) as raised:
        bench.find_suite([tmp_path])
    message = str(raised.value)
    assert str(tmp_path / "benchmarks") in message
    assert "pip install -e '.[bench]'" in message


def test_the_command_line_imports_the_benchmarks_only_when_bench_runs() -> None:
    probe = "import sys, journeys.cli; print('benchmarks' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/"
    )
    assert done.stdout.strip() == "False"
