"""What policies cost (the policy issue's figures).

- a 5-milestone saga of no-op handlers, in memory, declaring every capability and switching
  each off, against the same journey declaring no policies at all (interleaved in one run);
- in the notes: resolving the policy of a start with an unchanged policy file of 200 journey
  entries (globs and names), per start and once per file version (the first start after an
  edit matches the journey against every entry), and a whole start with that file against none.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import journeys
from benchmarks import _setup
from benchmarks._timing import Figure, python_calls, ratios, rounds, time_text, within
from journeys.engine import policy

_OFF = """
policies:
  wal: {enabled: false, operations: [m1]}
  saga: {enabled: false}
  rollback: {enabled: false, auto_checkpoint: true}
  forward_docs: {enabled: false, generate_plan: true}
  planning: {enabled: false, validate_plan: true}
"""


def _saga(n: int, *, name: str = "bench_saga", wait_first: bool = False) -> str:
    return _setup.chain(n, name=name, kind="saga", wait_first=wait_first)


def _policy_file(folder: Path, entries: int) -> Path:
    """``entries`` entries: names and globs of other teams' journeys, a few matching ours."""
    lines = ["default: {wal: {enabled: false}}", "journeys:"]
    for i in range(entries - 3):
        lines.append(f"  team{i}_{'*' if i % 2 else 'journey'}: {{saga: {{enabled: true}}}}")
    lines += [
        "  'bench_*': {rollback: {enabled: true}}",
        "  'bench_s*': {forward_docs: {enabled: false}}",
        "  bench_saga: {saga: {enabled: false}}",
    ]
    file = folder / "policies.yaml"
    file.write_text("\n".join(lines) + "\n")
    return file


def _resolution(settings: _setup.Settings, notes: list[str]) -> None:
    registry = _setup.registry()
    engine = journeys.Engine("memory:", registry=registry)
    with tempfile.TemporaryDirectory(dir=settings.folder) as folder:
        file = _policy_file(Path(folder), 200)
        # Past the window in which a fresh file's text is compared as well as its stamp (the
        # steady state of a policy file; a start within 2 s of an edit also reads the text).
        time.sleep(2.1)
        with_file, without = policy.Policies(file), policy.Policies()
        waits = journeys.load_definition(_saga(5, wait_first=True))
        resolution = rounds(
            {"none": lambda: without.for_run(waits), "200": lambda: with_file.for_run(waits)},
            seconds=settings.seconds / 4,
            count=settings.count,
        )
        fresh = [
            journeys.load_definition(_saga(5, name=f"bench_saga{i}", wait_first=True))
            for i in range(50 if settings.quick else 200)
        ]
        began = time.perf_counter()
        for definition in fresh:  # each one new to the cache: matched against all 200
            with_file.for_run(definition)
        first = (time.perf_counter() - began) / len(fresh)
        filed = journeys.Engine("memory:", registry=registry, policies=file)
        starts = rounds(
            {"none": lambda: engine.start(waits), "200": lambda: filed.start(waits)},
            seconds=settings.seconds / 2,
            count=settings.count,
        )
    notes.append(
        f"policy resolution per start, 200-entry file: {time_text(resolution['200'])}"
        f" (no file {time_text(resolution['none'])}); first start per file version"
        f" {first * 1e6:.0f} us; a whole start with that file"
        f" {statistics.median(ratios(starts['200'], starts['none'])):.3f}x one without"
    )


def figures(settings: _setup.Settings, notes: list[str]) -> list[Figure]:
    engine = journeys.Engine("memory:", registry=_setup.registry())
    bare = journeys.load_definition(_saga(5))
    off = journeys.load_definition(_saga(5) + _OFF)
    runs = rounds(
        {"bare": lambda: engine.start(bare), "off": lambda: engine.start(off)},
        seconds=settings.seconds / 4,  # a 2% mark: many short turns, so the neighbours'
        count=settings.count * 4,  # bursts fall on both sides alike
        cpu=True,
    )
    notes.append(
        f"Python calls per run: all off {python_calls(lambda: engine.start(off)):,.0f},"
        f" none declared {python_calls(lambda: engine.start(bare)):,.0f}"
    )
    _resolution(settings, notes)
    return [
        Figure(
            "every capability declared and off (in memory)",
            f"{time_text(runs['off'])}/run",
            f"none declared {time_text(runs['bare'])}/run",
            ratios(runs["off"], runs["bare"]),
            within(0.02),
            percent=True,
        )
    ]


def main() -> None:
    _setup.standalone(figures)


if __name__ == "__main__":
    main()
