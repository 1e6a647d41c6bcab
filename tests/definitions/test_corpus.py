"""The data-driven corpus: every valid file loads; every invalid file reports exactly what it says.

An invalid file declares, in comments at its top, each problem it must produce::

    # expect: 12 /milestones/2/retry/backoff
    # expect: 0 ""            (a problem with the file as a whole)

The loader must report exactly that set of (line, JSON pointer) pairs: a missing one is a problem
not found, an extra one is noise an author would have to read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import journeys
from journeys.definitions import loader

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
VALID = sorted((HERE / "valid").glob("*.yaml")) + sorted((ROOT / "definitions").glob("*.yaml"))
POLICIES = sorted((ROOT / "policies").glob("*.yaml"))
INVALID = sorted((HERE / "invalid").glob("*.yaml"))
_EXPECT = re.compile(r"^#\s*expect:\s*(\d+)\s+(\S+)\s*$", re.MULTILINE)


def expected(file: Path) -> set[tuple[int, str]]:
    text = file.read_bytes().decode("utf-8", errors="replace")
    pairs = {(int(line), "" if path == '""' else path) for line, path in _EXPECT.findall(text)}
    assert pairs, f"{file.name} declares no '# expect: LINE POINTER' comment"
    return pairs


def test_the_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 30
    assert len(VALID) >= 10


@pytest.mark.parametrize("file", VALID, ids=lambda f: f.name)
def test_valid_definitions_load(file: Path) -> None:
    definition = journeys.load_definition(file)
    assert definition.milestones
    assert definition.source == str(file)


@pytest.mark.parametrize("file", POLICIES, ids=lambda f: f.name)
def test_bundled_policy_files_load(file: Path) -> None:
    assert loader.check_file(file) == "policy"


@pytest.mark.parametrize("file", INVALID, ids=lambda f: f.name)
def test_invalid_files_report_their_line_and_pointer(file: Path) -> None:
    with pytest.raises(journeys.DefinitionError) as raised:
        loader.check_file(file)
    problems = raised.value.problems
    reported = {(p.line, p.path) for p in problems}
    assert reported == expected(file), "\n".join(str(p) for p in problems)
    for problem in problems:
        assert problem.file == str(file)
        assert problem.message
        if problem.line:
            assert problem.column >= 1
