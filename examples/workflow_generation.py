"""Handlers of ``operations_workflow_generation``: turn a Markdown SOP into a stored workflow.

Effects, in the data folder: ``operations/sop_structures/``, ``operations/workflow_requirements/``
and ``operations/workflow_drafts/`` (one JSON file each, named from the idempotency key), and the
accepted workflow ``<output_dir>/<workflow_name>.workflow.json`` (a relative ``output_dir`` is
taken inside the data folder; a file it replaces is kept in ``backups/`` until undone).
Validation fails, for real, when a step has no owner. Try::

    journeys run definitions/operations_workflow_generation.yaml \\
        --handlers examples/workflow_generation.py -i sop_path=examples/data/sop.md \\
        -i workflow_name=invoice-approval -i output_dir=workflows
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import journeys

from . import _files as files

_DECISION = re.compile(r"\b(if|whether|approve|approval|decide)\b", re.IGNORECASE)


records = files.Records("operations")


@files.handler("sop.extract_structure")
def extract_structure(ctx: Any) -> dict[str, Any]:
    text = files.read_text(ctx.args["sop_path"], "SOP")
    structure = files.sop_structure(text)
    if not structure["steps"]:
        raise journeys.Fatal(f"{ctx.args['sop_path']}: no numbered steps found")
    structure_id = files.key_id(ctx, "structure")
    structure.update(structure_id=structure_id, source=str(ctx.args["sop_path"]))
    files.write_json(records.path("sop_structures", structure_id), structure)
    return {
        "structure_id": structure_id,
        "title": structure["title"],
        "steps": len(structure["steps"]),
        "roles": structure["roles"],
    }


@files.handler("sop.revert_sop_parsing")
def revert_sop_parsing(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "structure_id", "sop_structures")


@files.handler("workflow.analyze_requirements")
def analyze_requirements(ctx: Any) -> dict[str, Any]:
    ident = ctx.args["structure_id"]
    structure = files.need_json(records.path("sop_structures", ident), f"SOP structure {ident}")
    steps = structure["steps"]
    handoffs = [
        {"from": a["number"], "to": b["number"], "roles": [a["owner"], b["owner"]]}
        for a, b in itertools.pairwise(steps)
        if a["owner"] != b["owner"]
    ]
    decisions = [step["number"] for step in steps if _DECISION.search(step["title"])]
    requirements_id = files.key_id(ctx, "requirements")
    files.write_json(
        records.path("workflow_requirements", requirements_id),
        {
            "requirements_id": requirements_id,
            "structure_id": ident,
            "tasks": [step["number"] for step in steps],
            "handoffs": handoffs,
            "decisions": decisions,
        },
    )
    return {
        "requirements_id": requirements_id,
        "tasks": len(steps),
        "handoffs": len(handoffs),
        "decisions": len(decisions),
    }


@files.handler("workflow.clear_analysis_cache")
def clear_analysis_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "requirements_id", "workflow_requirements")


@files.handler("workflow.generate")
def generate(ctx: Any) -> dict[str, Any]:
    structure = files.need_json(
        records.path("sop_structures", ctx.args["structure_id"]), "SOP structure"
    )
    needs = files.need_json(
        records.path("workflow_requirements", ctx.args["requirements_id"]), "workflow requirements"
    )
    steps = structure["steps"]
    tasks = []
    for index, step in enumerate(steps):
        following = f"step-{steps[index + 1]['number']}" if index + 1 < len(steps) else "end"
        exits = [{"to": following, "when": "done"}]
        if step["number"] in needs["decisions"]:
            exits = [{"to": following, "when": "approved"}, {"to": "end", "when": "rejected"}]
        tasks.append(
            {
                "id": f"step-{step['number']}",
                "title": step["title"],
                "owner": step["owner"],
                "outcome": step["outcome"],
                "covers": step["number"],
                "exits": exits,
            }
        )
    draft_id = files.key_id(ctx, "workflow")
    draft = {
        "draft_id": draft_id,
        "name": ctx.args["name"],
        "title": structure["title"],
        "status": "draft",
        "start": tasks[0]["id"] if tasks else "end",
        "steps": len(steps),
        "tasks": tasks,
    }
    files.write_json(records.path("workflow_drafts", draft_id), draft)
    return {"draft_id": draft_id, "name": ctx.args["name"], "tasks": len(tasks)}


@files.handler("workflow.delete_workflow_draft")
def delete_workflow_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "workflow_drafts")


@files.handler("workflow.validate")
def validate(ctx: Any) -> dict[str, Any]:
    path = records.path("workflow_drafts", ctx.args["draft_id"])
    draft = files.need_json(path, "workflow draft")
    ids = {task["id"] for task in draft["tasks"]} | {"end"}
    problems = [
        f"SOP step {n} is not covered"
        for n in range(1, draft["steps"] + 1)
        if n not in {task["covers"] for task in draft["tasks"]}
    ]
    for task in draft["tasks"]:
        if not task["owner"]:
            problems.append(f"task {task['id']} ({task['title']}) has no owner")
        if not task["exits"] or any(e["to"] not in ids for e in task["exits"]):
            problems.append(f"task {task['id']} has no valid exit")
    if problems:
        raise journeys.Fatal("workflow draft is not valid: " + "; ".join(problems))
    files.mark_validated(path, draft, ctx.run_id)
    return {"draft_id": draft["draft_id"], "valid": True, "tasks": len(draft["tasks"])}


@files.handler("workflow.mark_workflow_as_invalid")
def mark_workflow_as_invalid(ctx: Any) -> dict[str, Any]:
    return files.unmark_validated(records.path("workflow_drafts", ctx.args["draft_id"]))


@files.handler("workflow.store")
def store(ctx: Any) -> dict[str, Any]:
    draft = files.need_validated(
        records.path("workflow_drafts", ctx.args["draft_id"]), "workflow draft"
    )
    target = files.output_path(ctx.args["destination"]) / f"{draft['name']}.workflow.json"
    workflow = {k: draft[k] for k in ("name", "title", "start", "tasks")}
    return files.replace_file(target, files.dump(workflow), ctx.idempotency_key)


@files.handler("workflow.delete_stored_workflow")
def delete_stored_workflow(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}
