"""Pieces of the command line that acceptance tests cannot reach easily."""

from __future__ import annotations

from journeys.cli import output as cli


def test_printable_escapes_control_characters_and_surrogates() -> None:
    assert cli.printable("a\x1b]0;x\x07b\tc\nd") == "a\\x1b]0;x\\x07b\tc\nd"
    assert cli.printable("act\ud800ion") == "act\\ud800ion"
    assert cli.printable("café ✓") == "café ✓"
