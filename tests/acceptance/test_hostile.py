"""Hostile input through the real ``journeys`` command: exit 1, a located error, no traceback,
nothing run and no store written; hostile text in a plan is shown as text, never as markup."""

from __future__ import annotations

import html
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from .conftest import Run

MINIMAL = "journey: hostile\nmilestones:\n  - id: first\n    action: builtin.noop\n"


def bomb() -> str:
    lines = ['a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\njourney: bomb\nmilestones: *a9\n"


HOSTILE_FILES = {
    "python-tag": (MINIMAL + "    title: !!python/object/apply:os.system [touch {marker}]\n"),
    "unknown-tag": MINIMAL + "    title: !shell touch {marker}\n",
    "alias-bomb": bomb(),
    "deep": MINIMAL + "    with: {{v: " + "[" * 10_000 + "]" * 10_000 + "}}\n",
    "escape-with": MINIMAL
    + "    with: {{v: \"{{{{ cycler.__init__.__globals__.os.popen('touch {marker}') }}}}\"}}\n",
    "escape-doc": MINIMAL + "    doc: \"{{{{ ''.__class__.__mro__[1].__subclasses__() }}}}\"\n",
    "escape-when": MINIMAL + "    when: \"'{{0.__class__}}'.format(inputs)\"\n",
    "memory-bomb": MINIMAL + "    with: {{v: \"{{{{ 'x' * 10 ** 12 }}}}\"}}\n",
}
WHERE = {
    "python-tag": ":5:12: /milestones/0/title:",
    "unknown-tag": ":5:12: /milestones/0/title:",
    "alias-bomb": "alias bomb",
    "deep": "nested more than 64 levels deep",
    "escape-with": ":5:15: /milestones/0/with/v:",
    "escape-doc": ":5:10: /milestones/0/doc:",
    "escape-when": ":5:11: /milestones/0/when:",
    "memory-bomb": ":5:15: /milestones/0/with/v: the value is too big to compute",
}


def assert_clear_failure(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    output = done.stdout + done.stderr  # validate reports on stdout, the other commands on stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    for text in expected:
        assert text in output, output


@pytest.mark.parametrize("kind", list(HOSTILE_FILES))
def test_a_hostile_definition_is_refused_by_run_and_nothing_is_written(
    journeys_cli: Run, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "pwned"
    file = tmp_path / f"{kind}.yaml"
    file.write_text(HOSTILE_FILES[kind].format(marker=marker))
    db = tmp_path / "store.db"
    done = journeys_cli("run", str(file), "--db", f"sqlite:///{db}")
    assert_clear_failure(done, str(file), WHERE[kind])
    assert not db.exists()
    assert not marker.exists()
    validated = journeys_cli("validate", str(file))
    assert_clear_failure(validated, WHERE[kind])


def test_a_50_mb_definition_policy_or_inputs_file_is_refused_naming_the_limit(
    journeys_cli: Run, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as file:
        file.write(b"description: ")
        file.write(b"x" * (50 * 1024 * 1024))
    definition = tmp_path / "ok.yaml"
    definition.write_text(MINIMAL)
    db = tmp_path / "store.db"
    for args in (
        [str(huge)],
        [str(definition), "--policy", str(huge)],
        [str(definition), "--inputs", str(huge)],
    ):
        done = journeys_cli("run", *args, "--db", f"sqlite:///{db}")
        assert_clear_failure(done, f"{huge}: is larger than 4096 KiB")
        assert not db.exists()


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("v=" + "[" * 10_000 + "]" * 10_000, "nested more than 64 levels deep"),
        ("v=!!python/object/apply:os.system [id]", "is not allowed"),
        ("v=&a [*a, *a]", "alias *a refers to no anchor"),
        ("v=caf\udce9", "U+DCE9 stands for a byte that is not UTF-8"),  # argv not UTF-8
    ],
)
def test_hostile_input_values_are_refused_and_nothing_is_written(
    journeys_cli: Run, tmp_path: Path, pair: str, message: str
) -> None:
    definition = tmp_path / "ok.yaml"
    definition.write_text(MINIMAL)
    db = tmp_path / "store.db"
    done = journeys_cli("run", str(definition), "-i", pair, "--db", f"sqlite:///{db}")
    assert_clear_failure(done, "--input v", message)
    assert not db.exists()


def test_a_module_path_as_a_handler_is_unknown_and_the_store_has_no_run(
    journeys_cli: Run, tmp_path: Path
) -> None:
    definition = tmp_path / "system.yaml"
    definition.write_text(MINIMAL.replace("builtin.noop", "os.system"))
    db = tmp_path / "store.db"
    done = journeys_cli("run", str(definition), "--db", f"sqlite:///{db}")
    assert_clear_failure(done, "no handler is registered as 'os.system'")
    if db.exists():
        with sqlite3.connect(db) as connection:
            assert connection.execute("select count(*) from runs").fetchone() == (0,)


INJECTION = """\
journey: injected
title: "<script>alert('title')</script>"
description: "<img src=x onerror=alert('description')> [click](javascript:alert(1)) <!--"
milestones:
  - id: first
    title: "</td></tr></table><iframe src=//evil>"
    action: builtin.noop
    doc: "Pay {{ inputs.who }} <b onmouseover=alert(1)>here</b> ![x](http://evil/x.png)"
  - id: second
    title: "line one\\n# Injected heading\\n| a | b |"
    action: builtin.noop
    doc: "```\\n<script>alert('fence')</script>\\n```"
"""


def test_html_plans_escape_every_title_doc_and_input(journeys_cli: Run, tmp_path: Path) -> None:
    definition = tmp_path / "injected.yaml"
    definition.write_text(INJECTION)
    done = journeys_cli(
        "plan", str(definition), "-i", "who=<svg onload=alert(2)>", "--format", "html"
    )
    assert done.returncode == 0, done.stderr
    page = done.stdout
    for raw in ("<script>alert", "<img src=x", "<iframe", "<b onmouseover", "<svg onload"):
        assert raw not in page, raw
    assert html.escape("<script>alert('title')</script>", quote=False) in page.replace("&#39;", "'")
    assert "&lt;svg onload=alert(2)&gt;" in page
    assert "javascript:alert(1)" not in re.findall(r'href="([^"]*)"', page)


def test_markdown_plans_escape_markup_links_and_line_breaks(
    journeys_cli: Run, tmp_path: Path
) -> None:
    definition = tmp_path / "injected.yaml"
    definition.write_text(INJECTION)
    done = journeys_cli("plan", str(definition), "-i", "who=<svg onload=alert(2)> | cell |")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    (row,) = [line for line in text.splitlines() if line.startswith("| `who` |")]
    assert len(re.split(r"(?<!\\)\|", row)) == 4  # "", name, value, "": two cells, not four
    # outside code (where Markdown shows everything as typed), no markup survives unescaped
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.S)
    assert not re.search(r"(?<!\\)<[a-zA-Z!/]", prose), prose
    assert not re.search(r"(?<!\\)\]\(", prose), prose  # no link or image: [x](...)
    assert not any(line.startswith(("# Injected", "| a |")) for line in text.splitlines())
    assert "\\<script\\>alert('title')\\</script\\>" in text


def test_a_policy_file_with_a_python_tag_is_refused_at_its_line(
    journeys_cli: Run, tmp_path: Path
) -> None:
    definition = tmp_path / "ok.yaml"
    definition.write_text(MINIMAL)
    policy = tmp_path / "policy.yaml"
    marker = tmp_path / "pwned"
    policy.write_text(f"default:\n  saga: !!python/object/apply:os.system [touch {marker}]\n")
    db = tmp_path / "store.db"
    done = journeys_cli("run", str(definition), "--policy", str(policy), "--db", f"sqlite:///{db}")
    assert_clear_failure(done, f"{policy}:2:9: /default/saga: tag !!python/object/apply:os.system")
    assert not db.exists() and not marker.exists()
