"""Instructions per run, counted by callgrind: a measure for changes to the hot path.

On a shared machine a ratio's range is often ±15%, more than most changes to the engine's CPU
move it. ``valgrind --tool=callgrind`` counts the instructions a process executes, the same
whatever its neighbours do. This counts a process making ``--runs`` durable runs of the suite's
journeys (5 no-op milestones; the saga whose step 4 fails) on a SQLite file with
``synchronous=normal`` (the disk is out of it, not SQLite's own work), and of the in-memory
figure's (5 no-op milestones, policies off, ``memory:``), minus the same process
making none (start-up and imports), and divides by the runs::

    python -m benchmarks.instructions                 # this checkout
    python -m benchmarks.instructions --base HEAD~3   # and a git ref, side by side

``--base`` checks the ref out in a temporary git worktree and counts it with the same
interpreter. Each count is one process under callgrind (about 50 times slower than without).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_RUN = """
import sys, tempfile
sys.path.insert(0, {root!r})
import journeys
from benchmarks import _setup, durability
if {journey!r} == "in memory":  # the in-memory figure's journey: policies off
    definition = journeys.load_definition(_setup.chain(5, compensation=None))
    url = "memory:"
else:
    text = durability.FAILING if {journey!r} == "saga" else durability.FIVE
    definition = journeys.load_definition(text)
    url = f"sqlite:///{{tempfile.mkdtemp()}}/i.db?synchronous=normal"
engine = journeys.Engine(url, registry=_setup.registry())
engine.start(definition)
for _ in range({runs}):
    engine.start(definition)
engine.close()
"""

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count(root: Path, journey: str, runs: int) -> int:
    """Instructions of a process making ``runs`` durable runs of ``journey`` with the code at
    ``root``."""
    program = _RUN.format(root=str(root), journey=journey, runs=runs)
    callgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    done = subprocess.run(
        [*callgrind, sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"the runs under valgrind failed (code at {root}, exit {done.returncode}):"
            f" {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'no output'}"
        )
    found = _COLLECTED.search(done.stderr)
    if found is None:  # pragma: no cover - valgrind's output changed
        raise RuntimeError(f"no instruction count in callgrind's output: {done.stderr[-500:]}")
    return int(found.group(1))


def per_run(root: Path, journey: str, runs: int) -> float:
    return (count(root, journey, runs) - count(root, journey, 0)) / runs


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--base", help="a git ref to count beside this checkout")
    parser.add_argument("--runs", type=int, default=300)
    options = parser.parse_args()
    if options.runs < 1:
        parser.error("--runs: at least 1")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    here = Path(__file__).resolve().parents[1]
    roots = {"this checkout": here}
    with tempfile.TemporaryDirectory() as folder:
        if options.base:
            base = Path(folder) / "base"
            add = ["git", "-C", str(here), "worktree", "add", "-q", "--detach"]
            made = subprocess.run(
                [*add, str(base), options.base], capture_output=True, text=True, check=False
            )
            if made.returncode != 0:
                sys.exit(f"--base {options.base!r}: not a git ref here ({made.stderr.strip()})")
            roots = {options.base: base, **roots}
        try:
            for journey in ("five", "saga", "in memory"):
                counts = {name: per_run(at, journey, options.runs) for name, at in roots.items()}
                shown = ", ".join(f"{name} {value / 1e6:.3f}M" for name, value in counts.items())
                if len(counts) == 2:
                    before, after = counts.values()
                    shown += f" ({(after - before) / before:+.1%})"
                kind = "run" if journey == "in memory" else "durable run"
                print(f"instructions per {kind}, {journey}: {shown}")
        finally:
            if options.base:
                subprocess.run(
                    ["git", "-C", str(here), "worktree", "remove", "--force", str(base)],
                    check=False,
                )


if __name__ == "__main__":
    main()
