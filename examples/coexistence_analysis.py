"""Handlers of ``operations_coexistence_analysis``: compare an SOP with a workflow, on disk.

Effects, in the data folder: cached copies of both documents in ``operations/cache/``, the
analysis in ``operations/coexistence/analyses/``, the blueprint draft in
``operations/coexistence/blueprints/``, and the blueprint
``<output_dir>/<sop>--<workflow>.blueprint.json``. The workflow is JSON:
``{"name": ..., "tasks": [{"id", "title", "owner"}, ...]}``. Try::

    journeys run definitions/operations_coexistence_analysis.yaml \\
        --handlers examples/coexistence_analysis.py -i sop_path=examples/data/sop.md \\
        -i workflow_path=examples/data/workflow.json -i output_dir=blueprints
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import journeys

from . import _files as files

records = files.Records("operations")

MATCH = 0.3  # word overlap from which a workflow task covers an SOP step

_STOP = frozenset("the and for from with its into onto that this are was were".split())


def _words(text: str) -> set[str]:
    """The lowercase words of ``text`` longer than two letters, stop words aside."""
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP}


def _similarity(a: str, b: str) -> float:
    """Jaccard similarity of the words of ``a`` and ``b`` (0 to 1)."""
    left, right = _words(a), _words(b)
    return round(len(left & right) / len(left | right), 3) if left | right else 0.0


@files.handler("sop.fetch_content")
def fetch_sop(ctx: Any) -> dict[str, Any]:
    text = files.read_text(ctx.args["sop_path"], "SOP")
    structure = files.sop_structure(text)
    content_id = files.key_id(ctx, "sop")
    cached = {"content_id": content_id, "source": str(ctx.args["sop_path"]), **structure}
    files.write_json(records.path("cache", content_id), cached)
    return {"content_id": content_id, "title": structure["title"], "steps": len(structure["steps"])}


@files.handler("sop.clear_sop_cache")
def clear_sop_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "content_id", "cache")


@files.handler("workflow.fetch_content")
def fetch_workflow(ctx: Any) -> dict[str, Any]:
    workflow = files.read_json_input(ctx.args["workflow_path"], "workflow")
    if not isinstance(workflow, dict) or not isinstance(workflow.get("tasks"), list):
        raise journeys.Fatal(f"{ctx.args['workflow_path']}: expected an object with a tasks list")
    content_id = files.key_id(ctx, "workflow")
    tasks = [
        {"id": str(t.get("id", i + 1)), "title": str(t.get("title", "")), "owner": t.get("owner")}
        for i, t in enumerate(workflow["tasks"])
    ]
    name = str(workflow.get("name") or Path(ctx.args["workflow_path"]).stem)
    cached = {"content_id": content_id, "name": name, "tasks": tasks}
    files.write_json(records.path("cache", content_id), cached)
    return {"content_id": content_id, "name": name, "tasks": len(tasks)}


@files.handler("workflow.clear_workflow_cache")
def clear_workflow_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "content_id", "cache")


@files.handler("coexistence.analyze")
def analyze(ctx: Any) -> dict[str, Any]:
    sop = files.need_json(records.path("cache", ctx.args["sop_id"]), "cached SOP")
    workflow = files.need_json(records.path("cache", ctx.args["workflow_id"]), "cached workflow")
    overlaps, conflicts, sop_only = [], [], []
    matched: set[str] = set()
    for step in sop["steps"]:
        scored = [(_similarity(step["title"], t["title"]), t) for t in workflow["tasks"]]
        score, task = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        if task is None or score < MATCH:
            sop_only.append({"step": step["number"], "title": step["title"]})
            continue
        matched.add(task["id"])
        overlap = {"step": step["number"], "task": task["id"], "score": score}
        overlaps.append(overlap)
        if (step["owner"] or "").lower() != (task["owner"] or "").lower():
            conflicts.append({**overlap, "sop_owner": step["owner"], "task_owner": task["owner"]})
    workflow_only = [
        {"task": t["id"], "title": t["title"]} for t in workflow["tasks"] if t["id"] not in matched
    ]
    analysis_id = files.key_id(ctx, "analysis")
    analysis = {
        "analysis_id": analysis_id,
        "sop": {"id": sop["content_id"], "title": sop["title"]},
        "workflow": {"id": workflow["content_id"], "name": workflow["name"]},
        "overlaps": overlaps,
        "conflicts": conflicts,
        "gaps": {"sop_only": sop_only, "workflow_only": workflow_only},
    }
    files.write_json(records.path("coexistence", "analyses", analysis_id), analysis)
    return {
        "analysis_id": analysis_id,
        "overlaps": len(overlaps),
        "conflicts": len(conflicts),
        "gaps": len(sop_only) + len(workflow_only),
    }


@files.handler("coexistence.revert_analysis")
def revert_analysis(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "analysis_id", "coexistence", "analyses")


@files.handler("blueprint.generate")
def generate_blueprint(ctx: Any) -> dict[str, Any]:
    analysis = files.need_json(
        records.path("coexistence", "analyses", ctx.args["analysis_id"]), "coexistence analysis"
    )
    conflicted = {c["step"]: c for c in analysis["conflicts"]}
    assignments = []
    for overlap in analysis["overlaps"]:
        conflict = conflicted.get(overlap["step"])
        assignments.append(
            {
                "step": overlap["step"],
                "task": overlap["task"],
                "runs_in": "review" if conflict else "workflow",
                "note": (
                    f"owners differ: {conflict['sop_owner']} (SOP) vs {conflict['task_owner']}"
                    " (workflow)"
                    if conflict
                    else "covered by the workflow"
                ),
            }
        )
    for gap in analysis["gaps"]["sop_only"]:
        assignments.append({"step": gap["step"], "runs_in": "sop", "note": "manual, per the SOP"})
    for gap in analysis["gaps"]["workflow_only"]:
        assignments.append({"task": gap["task"], "runs_in": "workflow", "note": "not in the SOP"})
    draft_id = files.key_id(ctx, "blueprint")
    draft = {
        "draft_id": draft_id,
        "sop": analysis["sop"],
        "workflow": analysis["workflow"],
        "assignments": assignments,
    }
    files.write_json(records.path("coexistence", "blueprints", draft_id), draft)
    return {"draft_id": draft_id, "assignments": len(assignments)}


@files.handler("blueprint.delete_blueprint_draft")
def delete_blueprint_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "coexistence", "blueprints")


@files.handler("blueprint.store")
def store_blueprint(ctx: Any) -> dict[str, Any]:
    draft = files.need_json(
        records.path("coexistence", "blueprints", ctx.args["draft_id"]), "blueprint draft"
    )
    name = f"{files.slug(draft['sop']['title'])}--{files.slug(draft['workflow']['name'])}"
    target = files.output_path(ctx.args["destination"]) / f"{name}.blueprint.json"
    blueprint = {k: draft[k] for k in ("sop", "workflow", "assignments")}
    return files.replace_file(target, files.dump(blueprint), ctx.idempotency_key)


@files.handler("blueprint.delete_stored_blueprint")
def delete_stored_blueprint(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}
