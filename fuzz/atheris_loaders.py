"""Coverage-guided fuzzing of the loaders with atheris (libFuzzer for Python): the long run.

    pip install -e '.[fuzz]'
    python fuzz/atheris_loaders.py -max_total_time=600 -print_final_stats=1 /tmp/journeys-corpus

The first byte of an input picks the target, the rest is its text (decoded as Python decodes
command-line arguments: UTF-8 with ``surrogateescape``):

0. a journey definition (:func:`journeys.load_definition`); one that loads is compiled, planned
   and rendered in one of the four formats;
1. a policy file (:func:`load_policy_file`), then resolved for the bundled order journey;
2. an ``--input`` value (:func:`journeys.cli.options.yaml_value`), checked as the inputs of a
   journey with an ``inputs`` schema;
3. an ``--inputs`` file's text, the same way.

Any exception but a :class:`journeys.JourneyError` is a crash: atheris stops, prints the
traceback and writes the input to ``crash-<sha1>``. The bundled definitions and policies seed the
corpus folder (created if missing). The CI suite runs the same contract with hypothesis
(tests/*/test_*fuzz.py); ``HYPOTHESIS_PROFILE=fuzz`` runs those for minutes instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]

with atheris.instrument_imports(include=["journeys", "yaml", "jsonschema", "jinja2"]):
    import journeys
    from journeys.cli.options import yaml_value
    from journeys.definitions import source
    from journeys.definitions.loader import load_policy_file
    from journeys.engine import compiler, inputs, policy

FORMATS = ("md", "html", "text", "json")
ORDER = journeys.load_definition(ROOT / "definitions/order_fulfillment.yaml")
SCHEMA = journeys.load_definition(
    "journey: fuzzed\ninputs:\n  type: object\n  properties:\n"
    "    name: {type: string, pattern: '^[a-z]+$'}\n    when: {type: string, format: date}\n"
    "    size: {type: integer, minimum: 0}\nmilestones:\n  - id: only\n    action: builtin.noop\n",
    name="fuzzed.yaml",
)


def definition(text: str) -> None:
    try:
        loaded = journeys.load_definition(text, name="fuzzed.yaml")
    except journeys.DefinitionError as error:
        assert all(p.file == "fuzzed.yaml" for p in error.problems), error
        return
    compiler.compile(loaded)
    plan = journeys.plan(loaded)
    journeys.render(plan, format=FORMATS[len(text) % 4])


def policy_file(text: str) -> None:
    data = load_policy_file(text, name="fuzzed-policy.yaml")
    layers = [("fuzzed", data.get("default") or {})]
    policy.resolve(ORDER, layers)


def input_value(text: str) -> None:
    inputs.validate(SCHEMA, {"name": yaml_value(text, "--input name")})


def inputs_file(text: str) -> None:
    data = source.parse(text, "inputs.yaml").data
    if isinstance(data, dict):
        inputs.validate(SCHEMA, data)


TARGETS = (definition, policy_file, input_value, inputs_file)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    text = data[1:].decode("utf-8", "surrogateescape")
    try:
        TARGETS[data[0] % len(TARGETS)](text)
    except journeys.JourneyError:
        pass


def seed(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = [(0, f) for f in sorted((ROOT / "definitions").glob("*.yaml"))]
    seeds += [(0, f) for f in sorted((ROOT / "tests/definitions").rglob("*.yaml"))]
    seeds += [(1, f) for f in sorted((ROOT / "policies").glob("*.yaml"))]
    for target, file in seeds:
        (corpus / f"seed-{target}-{file.stem}").write_bytes(bytes([target]) + file.read_bytes())
    for target, text in ((2, "[a, {b: 1}]"), (3, "name: abc\nsize: 3\nwhen: 2024-01-01\n")):
        (corpus / f"seed-{target}").write_bytes(bytes([target]) + text.encode())


def main() -> None:
    folders = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    for folder in folders[:1]:
        seed(Path(folder))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
