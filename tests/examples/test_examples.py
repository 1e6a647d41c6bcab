"""The example handlers run every bundled journey end to end, with real files.

Each journey runs through :class:`journeys.Engine` on a real SQLite file, with the data folder
(``JOURNEYS_DATA_DIR``) in ``tmp_path``. A successful run leaves its files; a run told to fail at a
milestone (the ``fail_at`` input) compensates, and the data folder is byte for byte what it was
before that run (checked after a first successful run, so undoing must not disturb other runs'
data either).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import journeys
from journeys.handlers.registry import default_registry

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
SAMPLES = ROOT / "examples" / "data"


def _load_examples() -> ModuleType:
    """Import the ``examples`` package from this repository (not whatever else is on sys.path)."""
    init = ROOT / "examples" / "__init__.py"
    loaded = sys.modules.get("examples")
    if loaded is not None and Path(loaded.__file__ or "").resolve() == init:
        return loaded
    spec = importlib.util.spec_from_file_location(
        "examples", init, submodule_search_locations=[str(init.parent)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["examples"] = module
    spec.loader.exec_module(module)
    return module


examples = _load_examples()

STEPS = {
    "steps": [
        {"title": "Log the invoice", "owner": "Accounts Payable", "outcome": "invoice logged"},
        {"title": "Approve the invoice", "owner": "Budget Holder", "outcome": "approval"},
        {"title": "Schedule the payment", "owner": "Treasury", "outcome": "payment scheduled"},
    ]
}

# journey -> inputs of a run (the fail_at runs use the same, with ``second`` overrides)
INPUTS: dict[str, dict[str, Any]] = {
    "data_ingest_pipeline": {
        "file_name": "sample.csv",
        "file_path": str(SAMPLES / "sample.csv"),
        "dataset": "sales",
    },
    "data_mapping": {
        "source_path": str(SAMPLES / "sample.csv"),
        "target_schema_path": str(SAMPLES / "target_schema.json"),
        "output_path": "mapped/sales.csv",
    },
    "operations_workflow_generation": {
        "sop_path": str(SAMPLES / "sop.md"),
        "workflow_name": "invoice-approval",
        "output_dir": "workflows",
    },
    "operations_coexistence_analysis": {
        "sop_path": str(SAMPLES / "sop.md"),
        "workflow_path": str(SAMPLES / "workflow.json"),
        "output_dir": "blueprints",
    },
    "interactive_sop_creation": {
        "sop_title": "Invoice approval",
        "author": "ana",
        "output_dir": "sops",
    },
    "pillar_summaries_compilation": {"session_id": "s1", "output_dir": "summaries"},
    "roadmap_generation": {"session_id": "s1", "horizon_months": 12, "output_dir": "roadmaps"},
    "poc_proposal_generation": {
        "client_name": "Acme Logistics",
        "requirements_path": str(SAMPLES / "requirements.md"),
        "budget": 75000,
        "duration_weeks": 6,
        "output_dir": "proposals",
    },
    "order_fulfillment": {
        "order_id": "A-1",
        "customer_id": "c-7",
        "sku": "BEANS-1KG",
        "quantity": 2,
        "amount": 37.0,
        "currency": "EUR",
        "shipping_address": "1 Main St, Springfield",
    },
}
SECOND = {"order_fulfillment": {"order_id": "A-2"}}
SAGAS = sorted(INPUTS)


def _milestones(journey: str) -> list[str]:
    definition = journeys.load_definition(DEFINITIONS / f"{journey}.yaml")
    return [m.id for m in definition.milestones if m.action]


FAIL_CASES = [(journey, milestone) for journey in SAGAS for milestone in _milestones(journey)]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("JOURNEYS_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[journeys.Engine]:
    with journeys.Engine(store=f"sqlite:///{tmp_path / 'runs.db'}") as engine:
        yield engine


def definition_with_fail_at(journey: str, folder: Path) -> Path:
    """The bundled definition, with ``fail_at`` allowed in its inputs (whether or not it is)."""
    text = (DEFINITIONS / f"{journey}.yaml").read_text()
    if "fail_at:" not in text:
        marker = "\n  properties:\n"
        assert marker in text, journey
        fail_at = "    fail_at: {type: string, description: Make this milestone fail.}\n"
        text = text.replace(marker, marker + fail_at, 1)
    path = folder / f"{journey}.yaml"
    path.write_text(text)
    assert "fail_at" in journeys.load_definition(path).inputs["properties"]
    return path


def run(engine: journeys.Engine, definition: Path, inputs: dict[str, Any]) -> journeys.Run:
    """Start a run and feed its wait milestone, if it stops there."""
    started = engine.start(definition, inputs=inputs)
    if started.status == "waiting" and started.state == "collect_steps":
        return engine.advance(started.id, "collect_steps", STEPS)
    return started


def snapshot(folder: Path) -> dict[str, str]:
    """Every file (by content digest) and folder under ``folder``."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        found[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


def compensations(engine: journeys.Engine, run_id: str) -> list[str]:
    return [
        entry.milestone
        for entry in engine.history(run_id)
        if entry.kind == "compensation" and entry.status == "completed" and entry.milestone
    ]


# --- every journey succeeds, and every milestone's failure is undone ----------------------------


@pytest.mark.parametrize("journey", SAGAS)
def test_every_saga_completes_with_real_files(
    journey: str, data: Path, engine: journeys.Engine
) -> None:
    done = run(engine, DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
    assert done.status == "completed", done.error
    files = snapshot(data)
    assert any(not name.startswith("backups") for name in files)
    assert not any(Path(name).name.startswith(".") for name in files)  # no temporary files left


@pytest.mark.parametrize(("journey", "milestone"), FAIL_CASES)
def test_fail_at_compensates_and_restores_the_folder(
    journey: str, milestone: str, data: Path, engine: journeys.Engine, tmp_path: Path
) -> None:
    definition = definition_with_fail_at(journey, tmp_path)
    first = run(engine, definition, INPUTS[journey])
    assert first.status == "completed", first.error
    before = snapshot(data)

    failed = run(
        engine, definition, {**INPUTS[journey], **SECOND.get(journey, {}), "fail_at": milestone}
    )

    assert failed.status == "compensated", failed.error
    assert f"failing {milestone} on purpose (fail_at)" in (failed.error or "")
    assert snapshot(data) == before
    order = _milestones(journey)
    done = [m for m in order[: order.index(milestone)]]
    if journey == "interactive_sop_creation" and "collect_steps" in failed.results:
        done.insert(1, "collect_steps")
    assert compensations(engine, failed.id) == list(reversed(done))


def test_fail_at_the_first_milestone_leaves_nothing(
    data: Path, engine: journeys.Engine, tmp_path: Path
) -> None:
    definition = definition_with_fail_at("data_ingest_pipeline", tmp_path)
    inputs = {**INPUTS["data_ingest_pipeline"], "fail_at": "ingest"}
    failed = engine.start(definition, inputs=inputs)
    assert failed.status == "compensated"
    assert snapshot(data) == {}


# --- what each journey leaves -------------------------------------------------------------------


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_ingest_stores_parses_embeds_and_exposes(data: Path, engine: journeys.Engine) -> None:
    done = engine.start(DEFINITIONS / "data_ingest_pipeline.yaml", INPUTS["data_ingest_pipeline"])
    assert done.status == "completed", done.error
    file_id = done.results["ingest"]["file_id"]
    stored = data / "storage" / file_id
    assert stored.read_bytes() == (SAMPLES / "sample.csv").read_bytes()

    parsed = read(data / "parsed" / f"{file_id}.json")
    columns = {c["name"]: c["type"] for c in parsed["structure"]["columns"]}
    assert columns["quantity"] == "integer" and columns["order_date"] == "date"
    assert parsed["structure"]["rows"] == 12
    assert "".join(c["text"] for c in parsed["chunks"]) == stored.read_text()
    assert all(len(c["text"]) <= 1000 for c in parsed["chunks"])

    embedded = read(data / "embeddings" / f"{file_id}.json")
    assert embedded["dimensions"] == 256
    assert len(embedded["vectors"]) == len(parsed["chunks"])
    for item in embedded["vectors"]:
        assert len(item["vector"]) == 256
        assert math.isclose(math.fsum(v * v for v in item["vector"]), 1.0, abs_tol=1e-4)

    index = read(data / "semantic_layer" / "index.json")
    (version,) = index["datasets"]["sales"]
    assert version["file_id"] == file_id and version["run_id"] == done.id
    assert version["embeddings"] == f"embeddings/{file_id}.json"


def test_ingest_without_embeddings_skips_embed(data: Path, engine: journeys.Engine) -> None:
    inputs = {**INPUTS["data_ingest_pipeline"], "generate_embeddings": False}
    done = engine.start(DEFINITIONS / "data_ingest_pipeline.yaml", inputs)
    assert done.status == "completed", done.error
    assert "embed" not in done.results
    assert not (data / "embeddings").exists()
    index = read(data / "semantic_layer" / "index.json")
    assert index["datasets"]["sales"][0]["embeddings"] is None


def test_embeddings_are_local_and_stable() -> None:
    embed = examples.data_ingest.embed_text
    assert embed("espresso beans", 64) == embed("Espresso, beans!", 64)
    assert embed("espresso beans", 64) != embed("oat milk", 64)
    assert embed("", 8) == [0.0] * 8


def context(milestone: str, args: dict[str, Any], **fields: Any) -> journeys.Context:
    values: dict[str, Any] = {
        "run_id": "r1",
        "journey": "data_ingest_pipeline",
        "milestone": milestone,
        "inputs": {},
        "args": args,
        "results": {},
        "attempt": 1,
        "idempotency_key": f"r1:{milestone}",
    }
    values.update(fields)
    return journeys.Context(**values)


def test_a_retried_attempt_does_not_duplicate_and_undo_twice_is_harmless(data: Path) -> None:
    ingest = examples.data_ingest
    args = {"source_path": str(SAMPLES / "sample.csv"), "name": "sample.csv"}
    first = ingest.upload(context("ingest", args))
    again = ingest.upload(context("ingest", args, attempt=2))
    assert first == again
    assert [p.name for p in (data / "storage").iterdir()] == [first["file_id"]]

    undo = context(
        "ingest", args, idempotency_key="r1:ingest:undo", compensating=True, result=first
    )
    assert ingest.delete_uploaded_file(undo)["deleted"] is True
    assert ingest.delete_uploaded_file(undo)["deleted"] is False
    assert snapshot(data) == {}


def test_mapping_writes_the_transformed_dataset(data: Path, engine: journeys.Engine) -> None:
    done = engine.start(DEFINITIONS / "data_mapping.yaml", INPUTS["data_mapping"])
    assert done.status == "completed", done.error
    lines = (data / "mapped" / "sales.csv").read_text().splitlines()
    assert lines[0] == "order_id,customer,date,product,quantity,price,country_code"
    assert lines[1].startswith("SO-1001,Northwind Traders,2024-03-01,")
    assert len(lines) == 13
    assert list(done.results["generate_mapping"]["unmapped"]) == ["discount"]
    assert done.results["validate"]["error_rate"] == 0


def test_an_output_that_replaced_a_file_is_put_back(data: Path, engine, tmp_path: Path) -> None:
    (data / "mapped").mkdir(parents=True)
    (data / "mapped" / "sales.csv").write_text("someone else's file\n")
    before = snapshot(data)
    definition = definition_with_fail_at("data_mapping", tmp_path)
    failed = engine.start(definition, {**INPUTS["data_mapping"], "fail_at": "validate"})
    assert failed.status == "compensated"
    assert failed.results["apply_mapping"]["backup"]  # the old file was kept while it ran
    assert snapshot(data) == before


def test_workflow_is_generated_from_the_sop(data: Path, engine: journeys.Engine) -> None:
    done = engine.start(
        DEFINITIONS / "operations_workflow_generation.yaml",
        INPUTS["operations_workflow_generation"],
    )
    assert done.status == "completed", done.error
    workflow = read(data / "workflows" / "invoice-approval.workflow.json")
    assert [t["owner"] for t in workflow["tasks"]][:2] == ["Accounts Payable"] * 2
    decision = workflow["tasks"][2]
    assert [e["when"] for e in decision["exits"]] == ["approved", "rejected"]


def test_a_step_without_an_owner_fails_validation_for_real(
    data: Path, engine: journeys.Engine, tmp_path: Path
) -> None:
    sop = tmp_path / "sop.md"
    sop.write_text("# Broken\n\n1. Do it. Owner: Ops. Outcome: done.\n2. Then this.\n")
    inputs = {**INPUTS["operations_workflow_generation"], "sop_path": str(sop)}
    failed = engine.start(DEFINITIONS / "operations_workflow_generation.yaml", inputs)
    assert failed.status == "compensated"
    assert "has no owner" in (failed.error or "")
    assert snapshot(data) == {}


def test_coexistence_blueprint_flags_conflicts(data: Path, engine: journeys.Engine) -> None:
    journey = "operations_coexistence_analysis"
    done = engine.start(DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
    assert done.status == "completed", done.error
    (stored,) = (data / "blueprints").iterdir()
    assert stored.name == "invoice-approval--invoice-processing.blueprint.json"
    placed = {a.get("step", a.get("task")): a["runs_in"] for a in read(stored)["assignments"]}
    assert placed[1] == "review"  # Accounts Payable in the SOP, a bot in the workflow
    assert placed[4] == "workflow"  # Treasury in both
    assert placed[3] == "sop"  # approval: not in the workflow
    assert placed["notify"] == "workflow"


def test_sop_creation_waits_for_steps_then_publishes(data: Path, engine: journeys.Engine) -> None:
    journey = "interactive_sop_creation"
    started = engine.start(DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
    assert (started.status, started.state) == ("waiting", "collect_steps")
    session = read(next((data / "operations" / "wizard").iterdir()))
    assert session["status"] == "collecting" and session["author"] == "ana"

    done = engine.advance(started.id, "collect_steps", STEPS)
    assert done.status == "completed", done.error
    published = data / "sops" / "invoice-approval.md"
    assert "2. Approve the invoice. Owner: Budget Holder. Outcome: approval." in (
        published.read_text()
    )

    # the published SOP is one the workflow generation reads
    inputs = {**INPUTS["operations_workflow_generation"], "sop_path": str(published)}
    again = engine.start(DEFINITIONS / "operations_workflow_generation.yaml", inputs)
    assert again.status == "completed", again.error
    assert again.results["extract_sop_structure"]["steps"] == 3


def test_sop_steps_without_owners_are_refused_and_undone(
    data: Path, engine: journeys.Engine
) -> None:
    journey = "interactive_sop_creation"
    started = engine.start(DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
    failed = engine.advance(started.id, "collect_steps", {"steps": ["one", "two"]})
    assert failed.status == "compensated"
    assert "step 1 has no owner" in (failed.error or "")
    assert compensations(engine, failed.id) == ["generate_sop", "collect_steps", "start_wizard"]
    assert snapshot(data) == {}


def test_a_failed_wait_milestone_undoes_the_wizard(data: Path, engine: journeys.Engine) -> None:
    journey = "interactive_sop_creation"
    started = engine.start(DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
    failed = engine.fail(started.id, "collect_steps", "the author gave up")
    assert failed.status == "compensated"
    assert snapshot(data) == {}


def test_business_outcomes_see_what_other_journeys_left(
    data: Path, engine: journeys.Engine
) -> None:
    engine.start(DEFINITIONS / "data_ingest_pipeline.yaml", INPUTS["data_ingest_pipeline"])
    for journey in (
        "pillar_summaries_compilation",
        "roadmap_generation",
        "poc_proposal_generation",
    ):
        done = engine.start(DEFINITIONS / f"{journey}.yaml", INPUTS[journey])
        assert done.status == "completed", done.error
    summary = (data / "summaries" / "summary-s1.md").read_text()
    assert "1 dataset(s) in the semantic layer (sales), 1 with embeddings" in summary
    roadmap = (data / "roadmaps" / "roadmap-s1.md").read_text()
    assert "## Phase 1 (months 1-4)" in roadmap
    assert "Build self-service reports on the exposed datasets" in roadmap
    for phase in roadmap.split("## ")[1:]:
        assert phase.count("\n- ") <= 3  # the business rule: at most 3 initiatives at once
    proposal = (data / "proposals" / "poc-acme-logistics.md").read_text()
    assert "Team of 3 for 6 weeks" in proposal and "(within the budget of 75,000.00)" in proposal


def test_an_order_is_recorded_charged_reserved_and_shipped(
    data: Path, engine: journeys.Engine
) -> None:
    done = engine.start(DEFINITIONS / "order_fulfillment.yaml", INPUTS["order_fulfillment"])
    assert done.status == "completed", done.error
    commerce = data / "commerce"
    assert read(commerce / "orders.json")["A-1"]["quantity"] == 2
    (payment,) = (commerce / "payments").iterdir()
    assert read(payment)["amount"] == 37.0
    assert read(commerce / "inventory.json")["reserved"] == {"BEANS-1KG": 2}
    (shipment,) = (commerce / "shipments").iterdir()
    assert read(shipment)["tracking_number"] == done.results["shipping"]["tracking_number"]


def test_an_order_beyond_the_stock_is_refunded_and_cancelled(
    data: Path, engine: journeys.Engine
) -> None:
    engine.start(DEFINITIONS / "order_fulfillment.yaml", INPUTS["order_fulfillment"])
    before = snapshot(data)
    inputs = {**INPUTS["order_fulfillment"], "order_id": "A-2", "quantity": 99}
    failed = engine.start(DEFINITIONS / "order_fulfillment.yaml", inputs)
    assert failed.status == "compensated"
    assert "only 98 x BEANS-1KG available" in (failed.error or "")
    assert compensations(engine, failed.id) == ["payment", "order"]
    assert snapshot(data) == before


def test_the_same_order_id_twice_is_refused(data: Path, engine: journeys.Engine) -> None:
    engine.start(DEFINITIONS / "order_fulfillment.yaml", INPUTS["order_fulfillment"])
    before = snapshot(data)
    failed = engine.start(DEFINITIONS / "order_fulfillment.yaml", INPUTS["order_fulfillment"])
    assert failed.status == "compensated"
    assert "order A-1 already exists" in (failed.error or "")
    assert snapshot(data) == before


def test_mvp_session_opens_pillars_as_the_user_moves(data: Path, engine: journeys.Engine) -> None:
    inputs = {"session_id": "s1", "workspace_dir": "workspaces"}
    session = engine.start(DEFINITIONS / "mvp_session.yaml", inputs)
    assert session.status == "waiting", session.error
    for pillar in ("insights", "operations", "business_outcomes", "content"):
        session = engine.navigate(session.id, pillar)
        assert session.status == "waiting", session.error
    done = engine.complete(session.id)
    assert done.status == "completed"
    root = data / "workspaces" / "s1"
    assert read(root / "content" / "pillar.json")["visit"] == 2
    assert read(root / "insights" / "pillar.json")["visit"] == 1
    visits = [(v["pillar"], v["visit"]) for v in read(root / "session.json")["visits"]]
    assert visits == [
        ("content", 1),
        ("insights", 1),
        ("operations", 1),
        ("business_outcomes", 1),
        ("content", 2),
    ]


# --- loading ------------------------------------------------------------------------------------


def test_every_bundled_handler_is_registered() -> None:
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        for milestone in journeys.load_definition(path).milestones:
            for name in (milestone.action, milestone.compensation):
                assert name is None or name in default_registry, (path.name, name)


def test_a_module_loads_by_path_from_anywhere_as_a_module_of_the_package(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import journeys
        from journeys.handlers.registry import default_registry
        default_registry.load({str(ROOT / "examples" / "data_ingest.py")!r})
        print(sys.modules["examples.data_ingest"].files is sys.modules["examples._files"])
        engine = journeys.Engine(store="sqlite:///runs.db")
        run = engine.start({str(DEFINITIONS / "data_ingest_pipeline.yaml")!r},
                           inputs={INPUTS["data_ingest_pipeline"]!r})
        print(run.status)
        default_registry.load({str(ROOT / "examples" / "__init__.py")!r})  # all, by path
        sys.path.insert(0, {str(ROOT)!r})
        default_registry.load("examples")  # and as a package: the same handlers, no conflict
        print(len(default_registry))
        """
    )
    environment = {**os.environ, "JOURNEYS_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    as_package, status, count = out.stdout.split()
    assert as_package == "True"  # imported as examples.data_ingest, beside examples._files
    assert status == "completed"
    assert int(count) >= 89
    assert (tmp_path / "data" / "semantic_layer" / "index.json").exists()
