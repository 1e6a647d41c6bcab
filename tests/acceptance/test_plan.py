"""``journeys plan`` and ``journeys diagram`` end to end: the installed command in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import ROOT, Run

ORDER = "definitions/order_fulfillment.yaml"
INPUTS = [
    *("-i", "order_id=A-1", "-i", "customer_id=c1", "-i", "sku=SKU-1", "-i", "quantity=2"),
    *("-i", "amount=20", "-i", "currency=EUR", "-i", "shipping_address=1 Main St"),
]


def test_plan_without_handlers_is_a_preview_with_warnings(journeys_cli: Run) -> None:
    done = journeys_cli("plan", ORDER)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Plan: Order fulfillment")
    assert "handlers not checked" in done.stdout
    assert "- if shipping fails: undo inventory, then payment, then order" in done.stdout
    assert "```mermaid" in done.stdout


def test_plan_with_inputs_and_handlers_in_every_format(journeys_cli: Run) -> None:
    for format in ("md", "html", "text", "json"):
        done = journeys_cli("plan", ORDER, *INPUTS, "--handlers", "examples", "--format", format)
        assert done.returncode == 0, (format, done.stderr)
        assert "Charge 20 EUR to customer c1" in done.stdout, format
    document = json.loads(
        journeys_cli("plan", ORDER, *INPUTS, "--handlers", "examples", "-f", "json").stdout
    )
    assert document["ok"] is True and document["errors"] == []
    assert [s["id"] for s in document["steps"]] == ["order", "payment", "inventory", "shipping"]
    assert document["steps"][1]["retry"].startswith("up to 4 retries, 2 s then 6 s")


def test_a_plan_with_errors_is_printed_and_exits_1(journeys_cli: Run) -> None:
    done = journeys_cli("plan", ORDER, "-i", "order_id=A-1", "--handlers", "examples")
    assert done.returncode == 1
    assert "## Errors" in done.stdout  # printed all the same
    assert "error: input /: 'amount' is a required property" in done.stderr


def test_unknown_handlers_are_errors_once_handlers_are_loaded(
    journeys_cli: Run, tmp_path: Path
) -> None:
    handlers = tmp_path / "few.py"
    handlers.write_text(
        "import journeys\n\n@journeys.handler('orders.create_order')\ndef create(ctx):\n"
        "    return {}\n"
    )
    done = journeys_cli("plan", ORDER, *INPUTS, "--handlers", str(handlers), "-f", "text")
    assert done.returncode == 1
    assert "no handler is registered as 'payments.charge'" in done.stderr


def test_output_file_and_format_from_its_suffix(journeys_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "plan.html"
    done = journeys_cli("plan", ORDER, *INPUTS, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert f"written to {out}" in done.stderr
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and 'id="compensation"' in page


def test_template_dir(journeys_cli: Run, tmp_path: Path) -> None:
    (tmp_path / "plan.txt.j2").write_text(
        "{% for s in plan.steps %}{{ s.id }} {{ s.worst_case | duration }}\n{% endfor %}"
    )
    done = journeys_cli("plan", ORDER, "-f", "text", "--template-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "order 46.5 s",
        "payment 270 s",
        "inventory 66 s",
        "shipping 29 min 15 s",
    ]


def test_bad_input_is_a_clear_error(journeys_cli: Run, tmp_path: Path) -> None:
    cases = [
        (("plan", "missing.yaml"), "missing.yaml: no such file"),
        (("plan", ORDER, "--format", "pdf"), "unknown format 'pdf'"),
        (("plan", ORDER, "--template-dir", str(tmp_path / "nope")), "no such folder"),
        (("plan", ORDER, "--inputs", str(tmp_path / "none.yaml")), "none.yaml"),
        (("plan", ORDER, "--deadline", "soon"), "--deadline"),
        (("diagram", ORDER, "--format", "png"), "unknown diagram format 'png'"),
    ]
    for args, says in cases:
        done = journeys_cli(*args)
        assert done.returncode == 1, args
        assert says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_deadline_shorter_than_the_worst_case_is_an_error(journeys_cli: Run) -> None:
    done = journeys_cli("plan", ORDER, *INPUTS, "--deadline", "10m", "-f", "text")
    assert done.returncode == 1
    assert "beyond the deadline of 10 min" in done.stderr


def test_plan_with_a_store_learns_from_its_runs(journeys_cli: Run, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run_inputs = ["-i", "file_path=examples/data/sample.csv", "-i", "file_name=sample.csv"]
    run_inputs += ["-i", "dataset=sales"]
    definition = "definitions/data_ingest_pipeline.yaml"
    env = {"JOURNEYS_DATA_DIR": str(tmp_path / "data")}
    ran = journeys_cli(
        "run", definition, "--handlers", "examples", "--db", db, *run_inputs, env=env
    )
    assert ran.returncode == 0, ran.stderr
    policy = tmp_path / "learn.yaml"
    policy.write_text("default:\n  planning: {enabled: true, learn_from_results: true}\n")
    done = journeys_cli(
        "plan", definition, *run_inputs, "--db", db, "--policy", str(policy), "-f", "json"
    )
    assert done.returncode == 0, done.stderr
    estimates = {s["id"]: s["estimate"] for s in json.loads(done.stdout)["steps"]}
    assert estimates["ingest"]["source"] == "history" and estimates["ingest"]["runs"] == 1


def test_diagram(journeys_cli: Run, tmp_path: Path) -> None:
    done = journeys_cli("diagram", ORDER)
    assert done.returncode == 0, done.stderr
    assert "stateDiagram-v2" in done.stdout and '"undo:shipping: Book the shipment"' in done.stdout
    out = tmp_path / "d.svg"
    drawn = journeys_cli("diagram", ORDER, "--format", "svg", "-o", str(out))
    if drawn.returncode == 0:
        assert "<svg" in out.read_text("utf-8")
    else:  # without Graphviz: a clear error, not a traceback
        assert "Graphviz's dot" in drawn.stderr
    assert ROOT.is_dir()


def test_a_deadline_in_plain_seconds_and_a_bad_input_pair(journeys_cli: Run) -> None:
    fine = journeys_cli("plan", "definitions/order_fulfillment.yaml", "--deadline", "90000")
    assert fine.returncode == 0, fine.stderr
    short = journeys_cli("plan", "definitions/order_fulfillment.yaml", "--deadline", "60")
    assert short.returncode == 1 and "beyond the deadline of 60 s" in short.stderr
    for pair in ("noequals", "=x"):
        bad = journeys_cli("plan", "definitions/order_fulfillment.yaml", "-i", pair)
        assert bad.returncode == 1
        assert bad.stderr.strip().splitlines() == [
            f"error: --input {pair!r}: write KEY=VALUE (for example -i order_id=A-1)"
        ]


def test_terminal_escapes_in_a_definition_are_shown_not_obeyed(
    journeys_cli: Run, tmp_path: Path
) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(
        'journey: hostile\ntitle: "Pwn \\e]0;owned\\a \\e[31mred"\n'
        'milestones:\n  - {id: a, action: t.step, doc: "x \\e[2J y"}\n'
    )
    for format_ in ("text", "md"):
        shown = journeys_cli("plan", str(hostile), "-f", format_)
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
        assert "\\x1b" in shown.stdout and "owned" in shown.stdout  # shown, escaped
