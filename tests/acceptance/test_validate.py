"""`journeys validate` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ROOT, Run

CORPUS = ROOT / "tests" / "definitions"


def test_the_bundled_journeys_and_policies_are_valid(journeys_cli: Run) -> None:
    done = journeys_cli("validate", "definitions", "policies")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("14 files checked: all valid")
    assert done.stderr == ""


def test_every_invalid_file_is_reported_at_its_line_without_a_traceback(journeys_cli: Run) -> None:
    done = journeys_cli("validate", str(CORPUS / "invalid"))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    files = sorted((CORPUS / "invalid").glob("*.yaml"))
    for file in files:
        assert f"{file}:" in done.stdout or f"{file}: " in done.stdout, file.name
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{len(files)} files checked: 0 valid, {len(files)} invalid")


def test_the_problem_line_format(journeys_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "travel.yaml"
    bad.write_text(
        "journey: travel\nmilestones:\n  - id: book\n    retry: {retries: 2, backoff: quadratic}\n"
    )
    done = journeys_cli("validate", str(bad))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"{bad}:4:34: /milestones/0/retry/backoff:"
        " 'quadratic' is not one of fixed, linear, exponential"
    )
    assert lines[1] == "        retry: {retries: 2, backoff: quadratic}"
    assert lines[2].endswith("^") and len(lines[2]) == 4 + 34
    assert lines[-1].startswith("1 file checked: 0 valid, 1 invalid, 1 problem")


def test_valid_and_invalid_files_together(journeys_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "ok.yml").write_text("journey: ok\nmilestones: [{id: a}]\n")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "bad.yaml").write_text("journey: bad\nmilestones: []\n")
    (tmp_path / "notes.txt").write_text("not yaml")
    done = journeys_cli("validate", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith(f"{tmp_path / 'nested' / 'bad.yaml'}:2:13")
    assert "2 files checked: 1 valid, 1 invalid, 1 problem" in done.stdout


def test_json_output_for_editors_and_ci(journeys_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("journey: bad\nmilestones:\n  - id: a\n    actoin: x.y\n")
    done = journeys_cli("validate", "--json", str(bad), "definitions/order_fulfillment.yaml")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid"] is False
    first, second = report["files"]
    assert first["valid"] is False and second["valid"] is True
    assert first["problems"] == [
        {
            "line": 4,
            "column": 5,
            "path": "/milestones/0/actoin",
            "message": "unknown field 'actoin' (did you mean 'action'?)",
        }
    ]
    assert second["kind"] == "journey"


def test_a_missing_file_is_a_clear_error(journeys_cli: Run, tmp_path: Path) -> None:
    done = journeys_cli("validate", str(tmp_path / "missing.yaml"))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == f"{tmp_path / 'missing.yaml'}: no such file"
    assert "Traceback" not in done.stderr


def test_a_folder_without_yaml_is_a_clear_error(journeys_cli: Run, tmp_path: Path) -> None:
    done = journeys_cli("validate", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {tmp_path}: no *.yaml or *.yml files in this folder"


def test_usage_errors_exit_2(journeys_cli: Run) -> None:
    assert journeys_cli("validate").returncode == 2
    assert journeys_cli("validate", "--nope", "x.yaml").returncode == 2
    assert journeys_cli("frobnicate").returncode == 2


def test_debug_shows_a_traceback_only_when_asked(journeys_cli: Run, tmp_path: Path) -> None:
    quiet = journeys_cli("validate", str(tmp_path))
    loud = journeys_cli("--debug", "validate", str(tmp_path))
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
    assert loud.returncode == 1


def test_hostile_text_is_printed_escaped(journeys_cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "hostile.yaml"
    # an escape sequence in a key that would retitle the terminal if printed raw
    bad.write_text('journey: x\nmilestones:\n  - id: a\n    "\\e]0;pwned\\a": 1\n')
    done = journeys_cli("validate", str(bad))
    assert done.returncode == 1
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "\\x1b]0;pwned\\x07" in done.stdout
    # a lone surrogate escape: refused by the parser, printed without crashing the output
    bad.write_text('journey: x\nmilestones:\n  - id: a\n    "act\\ud800ion": 2\n')
    done = journeys_cli("validate", str(bad))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_a_dangling_symlink_in_a_folder_is_reported(journeys_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text("journey: ok\nmilestones: [{id: a}]\n")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing-target.yaml")
    done = journeys_cli("validate", str(tmp_path))
    assert done.returncode == 1
    assert f"{tmp_path / 'gone.yaml'}: no such file" in done.stdout


def test_a_fifo_is_refused_instead_of_hanging(journeys_cli: Run, tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    done = journeys_cli("validate", str(fifo))
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == f"{fifo}: is not a regular file"


def test_a_flood_of_problems_is_capped_in_text_but_complete_in_json(
    journeys_cli: Run, tmp_path: Path
) -> None:
    bad = tmp_path / "flood.yaml"
    bad.write_text(
        "journey: flood\nmilestones:\n"
        + "".join(f"  - id: m{i}\n    actoin: x.y\n" for i in range(120))
    )
    text = journeys_cli("validate", str(bad))
    assert text.stdout.count("unknown field 'actoin'") == 50
    assert f"{bad}: ... and 70 more problems (--json lists all)" in text.stdout
    assert "120 problems" in text.stdout.splitlines()[-1]
    report = json.loads(journeys_cli("validate", "--json", str(bad)).stdout)
    assert len(report["files"][0]["problems"]) == 120
