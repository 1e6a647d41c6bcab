"""Handlers of ``roadmap_generation``: a phased roadmap drawn from what the pillars hold.

Effects, in the data folder: ``business/roadmap/analyses/``, ``business/roadmap/opportunities/``
and ``business/roadmap/drafts/`` (JSON, named from the idempotency key); the business rules are
written into the draft (its ``adjusted`` plan, removed again by the compensation); the roadmap is
stored as ``<output_dir>/roadmap-<session_id>.md``. Try::

    journeys run definitions/roadmap_generation.yaml \\
        --handlers examples/roadmap.py -i session_id=s1 -i horizon_months=12 -i output_dir=roadmaps
"""

from __future__ import annotations

from typing import Any

import journeys

from . import _files as files

records = files.Records("business", "roadmap")


@files.handler("roadmap.analyze_pillar_outputs")
def analyze_pillar_outputs(ctx: Any) -> dict[str, Any]:
    pillars = files.survey()
    analysis_id = files.key_id(ctx, "analysis")
    analysis = {"analysis_id": analysis_id, "session_id": ctx.args["session_id"], **pillars}
    files.write_json(records.path("analyses", analysis_id), analysis)
    return {"analysis_id": analysis_id, "datasets": len(pillars["content"]["datasets"])}


@files.handler("roadmap.revert_pillar_analysis")
def revert_pillar_analysis(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "analysis_id", "analyses")


def _candidates(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    content, insights, ops = analysis["content"], analysis["insights"], analysis["operations"]
    found = [
        ("Set up run monitoring and an audit trail", "operations", 3, 2),
        ("Train process owners on the new journeys", "operations", 2, 1),
    ]
    if not content["datasets"]:
        found.append(("Ingest the first datasets into the semantic layer", "content", 5, 2))
    else:
        found.append(("Build self-service reports on the exposed datasets", "insights", 4, 3))
    missing = sorted(set(content["datasets"]) - set(content["embedded_datasets"]))
    if missing:
        found.append((f"Embed the datasets {', '.join(missing)}", "content", 3, 1))
    if not insights["validation_reports"]:
        found.append(("Validate mapped data against target schemas", "insights", 4, 2))
    if insights["coexistence_analyses"]:
        found.append(("Resolve the SOP and workflow conflicts found", "operations", 4, 2))
    if ops["sop_drafts"] > ops["workflow_drafts"]:
        found.append(("Turn the documented SOPs into workflows", "operations", 5, 3))
    if not ops["sop_drafts"]:
        found.append(("Document the five busiest processes as SOPs", "operations", 4, 2))
    found.append(("Profile the remaining source systems", "insights", 3, 1))
    return [
        {"title": t, "pillar": p, "value": v, "effort": e, "score": round(v / e, 2)}
        for t, p, v, e in found
    ]


@files.handler("roadmap.identify_opportunities")
def identify_opportunities(ctx: Any) -> dict[str, Any]:
    analysis = files.need_json(records.path("analyses", ctx.args["analysis_id"]), "pillar analysis")
    limit = int(ctx.args.get("max_opportunities") or 10)
    ranked = sorted(_candidates(analysis), key=lambda o: (-o["score"], -o["value"], o["title"]))
    chosen = ranked[:limit]
    opportunities_id = files.key_id(ctx, "opportunities")
    files.write_json(
        records.path("opportunities", opportunities_id),
        {"opportunities_id": opportunities_id, "opportunities": chosen},
    )
    return {"opportunities_id": opportunities_id, "opportunities": len(chosen)}


@files.handler("roadmap.clear_opportunities_cache")
def clear_opportunities_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "opportunities_id", "opportunities")


@files.handler("roadmap.generate_structure")
def generate_structure(ctx: Any) -> dict[str, Any]:
    found = files.need_json(
        records.path("opportunities", ctx.args["opportunities_id"]), "opportunities"
    )
    items = found["opportunities"]
    horizon = int(ctx.args["horizon_months"])
    count = max(1, min(3, horizon, len(items)))
    phases = []
    for number in range(count):
        start, end = number * horizon // count + 1, (number + 1) * horizon // count
        share = items[number * len(items) // count : (number + 1) * len(items) // count]
        phases.append(
            {
                "phase": number + 1,
                "months": [start, end],
                "initiatives": [item["title"] for item in share],
            }
        )
    draft_id = files.key_id(ctx, "roadmap")
    files.write_json(
        records.path("drafts", draft_id),
        {"draft_id": draft_id, "horizon_months": horizon, "phases": phases},
    )
    return {"draft_id": draft_id, "phases": len(phases)}


@files.handler("roadmap.delete_roadmap_draft")
def delete_roadmap_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "drafts")


@files.handler("roadmap.apply_business_logic")
def apply_business_logic(ctx: Any) -> dict[str, Any]:
    path = records.path("drafts", ctx.args["draft_id"])
    draft = files.need_json(path, "roadmap draft")
    cap = int(ctx.args.get("max_parallel_initiatives") or 3)
    if cap < 1:
        raise journeys.Fatal(f"max_parallel_initiatives must be at least 1, not {cap}")
    carried: list[str] = []
    phases = []
    for phase in draft["phases"]:
        queue = carried + phase["initiatives"]
        phases.append({**phase, "initiatives": queue[:cap]})
        carried = queue[cap:]
    adjusted = {"max_parallel_initiatives": cap, "phases": phases, "backlog": carried}
    if draft.get("adjusted") != adjusted:
        draft["adjusted"] = adjusted
        files.write_json(path, draft)
    return {"draft_id": draft["draft_id"], "backlog": len(carried)}


@files.handler("roadmap.revert_business_logic")
def revert_business_logic(ctx: Any) -> dict[str, Any]:
    path = records.path("drafts", ctx.args["draft_id"])
    draft = files.read_json(path)
    if not draft or "adjusted" not in draft:
        return {"reverted": False}
    del draft["adjusted"]
    files.write_json(path, draft)
    return {"reverted": True}


@files.handler("roadmap.store")
def store(ctx: Any) -> dict[str, Any]:
    draft = files.need_json(records.path("drafts", ctx.args["draft_id"]), "roadmap draft")
    plan = draft.get("adjusted") or {"phases": draft["phases"], "backlog": []}
    session = str(ctx.inputs.get("session_id", draft["draft_id"]))
    lines = [f"# Roadmap: session {session}", "", f"Horizon: {draft['horizon_months']} months", ""]
    for phase in plan["phases"]:
        first, last = phase["months"]
        lines += [f"## Phase {phase['phase']} (months {first}-{last})", ""]
        lines += [f"- {title}" for title in phase["initiatives"]] + [""]
    if plan["backlog"]:
        lines += ["## Backlog", ""] + [f"- {title}" for title in plan["backlog"]] + [""]
    target = files.output_path(ctx.args["destination"]) / f"roadmap-{files.slug(session)}.md"
    return files.replace_file(target, "\n".join(lines).encode(), ctx.idempotency_key)


@files.handler("roadmap.delete_stored_roadmap")
def delete_stored_roadmap(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}
