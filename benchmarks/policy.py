"""What policies cost (the policy issue's figures).

- a 5-milestone saga of no-op handlers, in memory, declaring every capability and switching
  each off, against the same journey declaring no policies at all (interleaved in one run);
- resolving the policy of a start with an unchanged policy file of 200 journey entries (globs
  and names): per start, against no policy file; and once per file version (the first start
  after an edit matches the journey against every entry);
- a whole start (the same journey, its first milestone waiting) with that file against none.
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

import journeys
from benchmarks import engine as engine_benchmark
from benchmarks._timing import per_call, table
from journeys.engine import policy

_OFF = """
policies:
  wal: {enabled: false, operations: [m0]}
  saga: {enabled: false}
  rollback: {enabled: false, auto_checkpoint: true}
  forward_docs: {enabled: false, generate_plan: true}
  planning: {enabled: false, validate_plan: true}
"""


def _saga(n: int, *, name: str = "bench_saga", wait_first: bool = False) -> str:
    """The engine benchmark's chain of no-op milestones, as a saga named ``name``."""
    chain = engine_benchmark._chain(n, wait_first=wait_first)
    return chain.replace(f"journey: chain_{n}\n", f"journey: {name}\nkind: saga\n", 1)


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


def main() -> None:
    registry = journeys.Registry()
    registry.register("bench.noop", lambda ctx: None)
    engine = journeys.Engine("memory:", registry=registry)
    bare = journeys.load_definition(_saga(5))
    off = journeys.load_definition(_saga(5) + _OFF)
    runs = per_call(
        {"no policies": lambda: engine.start(bare), "all off": lambda: engine.start(off)},
        number=2000,
    )

    with tempfile.TemporaryDirectory() as folder:
        file = _policy_file(Path(folder), 200)
        # Past the window in which a fresh file's text is compared as well as its stamp (the
        # steady state of a policy file; a start within 2 s of an edit also reads the text).
        time.sleep(2.1)
        with_file = policy.Policies(file)
        without = policy.Policies()
        waits = journeys.load_definition(_saga(5, wait_first=True))
        resolution = per_call(
            {
                "no file": lambda: without.for_run(waits),
                "200 entries": lambda: with_file.for_run(waits),
            },
            number=20000,
        )
        fresh = [
            journeys.load_definition(_saga(5, name=f"bench_saga{i}", wait_first=True))
            for i in range(2000)
        ]
        began = time.perf_counter()
        for definition in fresh:  # each one new to the cache: matched against all 200
            with_file.for_run(definition)
        first = (time.perf_counter() - began) / len(fresh)
        filed = journeys.Engine("memory:", registry=registry, policies=file)
        starts = per_call(
            {"no file": lambda: engine.start(waits), "200 entries": lambda: filed.start(waits)},
            number=2000,
        )

    ratio = runs["all off"] / runs["no policies"]
    rows = [
        ("figure", "value", "anchor / ratio"),
        (
            "run, every capability off",
            f"{runs['all off'] * 1e6:.1f} us",
            f"no policies declared {runs['no policies'] * 1e6:.1f} us -> {ratio:.3f}x",
        ),
        (
            "resolution per start, 200-entry file",
            f"{resolution['200 entries'] * 1e6:.1f} us",
            f"no policy file {resolution['no file'] * 1e6:.1f} us",
        ),
        ("resolution, first start per file version", f"{first * 1e6:.1f} us", "200 entries"),
        (
            "start, 200-entry policy file",
            f"{starts['200 entries'] * 1e6:.1f} us",
            f"no file {starts['no file'] * 1e6:.1f} us ->"
            f" {starts['200 entries'] / starts['no file']:.3f}x",
        ),
    ]
    print(f"# policy benchmark ({platform.python_version()}, {platform.machine()})")
    print(table(rows))


if __name__ == "__main__":
    main()
