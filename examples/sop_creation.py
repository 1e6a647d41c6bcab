"""Handlers of ``interactive_sop_creation``: a wizard session, a draft, a published Markdown SOP.

Effects, in the data folder: the wizard session ``operations/wizard/<session_id>.json``, the draft
``operations/sop_drafts/<draft_id>.json``, and the published ``<output_dir>/<title>.md`` (in the
format ``operations_workflow_generation`` reads back). The run waits at ``collect_steps`` until the
steps arrive::

    journeys run definitions/interactive_sop_creation.yaml \\
        --handlers examples/sop_creation.py -i sop_title="Invoice approval" -i author=ana \\
        -i output_dir=sops
    journeys advance RUN_ID collect_steps --handlers examples/sop_creation.py --data '{"steps": [
        {"title": "Log the invoice", "owner": "Accounts Payable", "outcome": "invoice logged"},
        {"title": "Approve it", "owner": "Budget Holder", "outcome": "approval decision"}]}'

A step is ``{"title", "owner", "outcome"}`` (or a plain string, which then fails validation for
want of an owner: a real failure that shows the compensation).
"""

from __future__ import annotations

from typing import Any

import journeys

from . import _files as files

records = files.Records("operations")


@files.handler("wizard.start")
def start(ctx: Any) -> dict[str, Any]:
    session_id = files.key_id(ctx, "wizard")
    session = {
        "session_id": session_id,
        "run_id": ctx.run_id,
        "title": ctx.args["title"],
        "author": ctx.args["author"],
        "status": "collecting",
    }
    files.write_json(records.path("wizard", session_id), session)
    return {"session_id": session_id, "status": "collecting"}


@files.handler("wizard.delete_wizard_session")
def delete_wizard_session(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "session_id", "wizard")


@files.handler("wizard.clear_wizard_state")
def clear_wizard_state(ctx: Any) -> dict[str, Any]:
    """Undo ``collect_steps``: the steps live in the run's results (the engine forgets them with
    the run); the session goes back to collecting, if anything moved it on."""
    session_id = (ctx.results.get("start_wizard") or {}).get("session_id", "")
    path = records.path("wizard", session_id)
    session = files.read_json(path) if session_id else None
    if not session or (session.get("status") == "collecting" and "steps" not in session):
        return {"cleared": False}
    session["status"] = "collecting"
    session.pop("steps", None)
    files.write_json(path, session)
    return {"cleared": True}


def _steps(data: Any) -> list[dict[str, Any]]:
    raw = data.get("steps") if isinstance(data, dict) else data
    if not isinstance(raw, list) or not raw:
        raise journeys.Fatal('collect_steps gave no steps: advance it with {"steps": [...]}')
    steps = []
    for number, item in enumerate(raw, start=1):
        step = item if isinstance(item, dict) else {"title": str(item)}
        steps.append(
            {
                "number": number,
                "title": str(step.get("title") or "").strip(),
                "owner": step.get("owner") or None,
                "outcome": step.get("outcome") or None,
            }
        )
    return steps


@files.handler("sop.generate")
def generate(ctx: Any) -> dict[str, Any]:
    session = files.need_json(records.path("wizard", ctx.args["session_id"]), "wizard session")
    steps = _steps(ctx.results.get("collect_steps"))
    draft_id = files.key_id(ctx, "sop")
    draft = {
        "draft_id": draft_id,
        "session_id": session["session_id"],
        "title": ctx.args["title"],
        "author": session["author"],
        "status": "draft",
        "steps": steps,
    }
    files.write_json(records.path("sop_drafts", draft_id), draft)
    return {"draft_id": draft_id, "steps": len(steps)}


@files.handler("sop.delete_sop_draft")
def delete_sop_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "sop_drafts")


@files.handler("sop.validate")
def validate(ctx: Any) -> dict[str, Any]:
    path = records.path("sop_drafts", ctx.args["draft_id"])
    draft = files.need_json(path, "SOP draft")
    minimum = int(ctx.args.get("min_steps") or 1)
    problems = []
    if len(draft["steps"]) < minimum:
        problems.append(f"it has {len(draft['steps'])} step(s), at least {minimum} are needed")
    for step in draft["steps"]:
        missing = [field for field in ("title", "owner", "outcome") if not step[field]]
        if missing:
            problems.append(f"step {step['number']} has no {' and no '.join(missing)}")
    if problems:
        raise journeys.Fatal("the SOP draft is not valid: " + "; ".join(problems))
    files.mark_validated(path, draft, ctx.run_id)
    return {"draft_id": draft["draft_id"], "valid": True, "steps": len(draft["steps"])}


@files.handler("sop.mark_sop_as_invalid")
def mark_sop_as_invalid(ctx: Any) -> dict[str, Any]:
    return files.unmark_validated(records.path("sop_drafts", ctx.args["draft_id"]))


def markdown(draft: dict[str, Any]) -> str:
    """The SOP as Markdown, one numbered line per step with its owner and outcome."""
    lines = [f"# {draft['title']}", "", f"Author: {draft['author']}", "", "## Steps"]
    for step in draft["steps"]:
        lines.append(
            f"{step['number']}. {step['title'].rstrip('.')}. Owner: {step['owner']}."
            f" Outcome: {step['outcome']}."
        )
    return "\n".join(lines) + "\n"


@files.handler("sop.publish")
def publish(ctx: Any) -> dict[str, Any]:
    draft = files.need_validated(records.path("sop_drafts", ctx.args["draft_id"]), "SOP draft")
    target = files.output_path(ctx.args["destination"]) / f"{files.slug(draft['title'])}.md"
    return files.replace_file(target, markdown(draft).encode(), ctx.idempotency_key)


@files.handler("sop.delete_published_sop")
def delete_published_sop(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}
