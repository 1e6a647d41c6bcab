"""Handlers of ``poc_proposal_generation``: requirements, financials, risks and a proposal, on disk.

Effects, in the data folder: ``business/poc/requirements/``, ``business/poc/financials/``,
``business/poc/risks/`` and ``business/poc/drafts/`` (JSON, named from the idempotency key), and the
proposal ``<output_dir>/poc-<client>.md``. The requirements are Markdown with ``## Goals``,
``## Scope`` and ``## Success criteria`` bullet lists. Try::

    journeys run definitions/poc_proposal_generation.yaml \\
        --handlers examples/poc_proposal.py -i client_name="Acme Logistics" \\
        -i requirements_path=examples/data/requirements.md -i budget=75000 -i duration_weeks=6 \\
        -i output_dir=proposals
"""

from __future__ import annotations

import math
import re
from typing import Any

import journeys

from . import _files as files

WEEKLY_RATE = 3000  # per person and week
INFRASTRUCTURE = 500  # per week
CONTINGENCY = 0.15
BENEFIT_PER_GOAL = 25000  # a year
TECHNICAL = re.compile(r"\b(legacy|integration|migration|real-time|erp)\b", re.IGNORECASE)


records = files.Records("business", "poc")


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip().lower()
            sections[current] = []
        elif current is not None and re.match(r"\s*[-*]\s+", line):
            sections[current].append(re.sub(r"^\s*[-*]\s+", "", line).strip())
    return sections


@files.handler("poc.analyze_requirements")
def analyze_requirements(ctx: Any) -> dict[str, Any]:
    sections = _sections(files.read_text(ctx.args["requirements_path"], "requirements"))

    def pick(*names: str) -> list[str]:
        return next((v for k, v in sections.items() if any(n in k for n in names)), [])

    goals, scope, success = pick("goal", "objective"), pick("scope"), pick("success", "criteria")
    if not goals and not scope:
        raise journeys.Fatal(f"{ctx.args['requirements_path']}: no goals or scope bullets found")
    requirements_id = files.key_id(ctx, "requirements")
    files.write_json(
        records.path("requirements", requirements_id),
        {
            "requirements_id": requirements_id,
            "client": ctx.args["client_name"],
            "goals": goals,
            "scope": scope,
            "success_criteria": success,
        },
    )
    return {"requirements_id": requirements_id, "goals": len(goals), "scope": len(scope)}


@files.handler("poc.revert_requirements_analysis")
def revert_requirements_analysis(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "requirements_id", "requirements")


@files.handler("finance.calculate_financials")
def calculate_financials(ctx: Any) -> dict[str, Any]:
    needs = files.need_json(
        records.path("requirements", ctx.args["requirements_id"]), "requirements"
    )
    weeks, budget = int(ctx.args["duration_weeks"]), float(ctx.args["budget"])
    team = min(5, 1 + math.ceil(len(needs["scope"]) / 2))
    labour = team * weeks * WEEKLY_RATE
    base = labour + weeks * INFRASTRUCTURE
    total = round(base * (1 + CONTINGENCY), 2)
    benefit = BENEFIT_PER_GOAL * len(needs["goals"])
    financials_id = files.key_id(ctx, "financials")
    financials = {
        "financials_id": financials_id,
        "currency": ctx.args.get("currency", "USD"),
        "team_size": team,
        "weeks": weeks,
        "labour": labour,
        "infrastructure": weeks * INFRASTRUCTURE,
        "contingency": round(base * CONTINGENCY, 2),
        "total": total,
        "budget": budget,
        "within_budget": total <= budget,
        "annual_benefit": benefit,
        "roi": round((benefit - total) / total, 2),
    }
    files.write_json(records.path("financials", financials_id), financials)
    return {"financials_id": financials_id, "total": total, "within_budget": total <= budget}


@files.handler("finance.clear_financials_cache")
def clear_financials_cache(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "financials_id", "financials")


def _level(score: float) -> str:
    return "high" if score >= 0.66 else "medium" if score >= 0.33 else "low"


@files.handler("risk.assess")
def assess(ctx: Any) -> dict[str, Any]:
    needs = files.need_json(
        records.path("requirements", ctx.args["requirements_id"]), "requirements"
    )
    money = files.need_json(records.path("financials", ctx.args["financials_id"]), "financials")
    margin = (money["budget"] - money["total"]) / money["budget"]
    load = len(needs["scope"]) / money["weeks"]
    technical = [item for item in needs["scope"] if TECHNICAL.search(item)]
    risks = [
        {
            "kind": "financial",
            "score": round(min(1.0, max(0.0, 0.5 - margin)), 2),
            "mitigation": "fix the scope per phase and review spend weekly",
        },
        {
            "kind": "delivery",
            "score": round(min(1.0, load / 2), 2),
            "mitigation": "deliver the scope items in weekly increments with a demo each",
        },
        {
            "kind": "technical",
            "score": round(min(1.0, 0.3 * len(technical)), 2),
            "mitigation": "spike the risky items first: " + ("; ".join(technical) or "none"),
        },
    ]
    for risk in risks:
        risk["level"] = _level(risk["score"])
    risk_id = files.key_id(ctx, "risks")
    files.write_json(records.path("risks", risk_id), {"risk_id": risk_id, "risks": risks})
    return {"risk_id": risk_id, "highest": max(risks, key=lambda r: r["score"])["kind"]}


@files.handler("risk.revert_risk_assessment")
def revert_risk_assessment(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "risk_id", "risks")


@files.handler("poc.generate_structure")
def generate_structure(ctx: Any) -> dict[str, Any]:
    needs = files.need_json(
        records.path("requirements", ctx.args["requirements_id"]), "requirements"
    )
    money = files.need_json(records.path("financials", ctx.args["financials_id"]), "financials")
    risks = files.need_json(records.path("risks", ctx.args["risk_id"]), "risk assessment")["risks"]
    draft_id = files.key_id(ctx, "poc")
    weeks = money["weeks"]
    timeline = [
        {"weeks": [1, max(1, weeks // 3)], "focus": "set-up and the riskiest scope item"},
        {"weeks": [max(1, weeks // 3) + 1, max(1, weeks - 1)], "focus": "remaining scope"},
        {"weeks": [weeks, weeks], "focus": "measure the success criteria, decide go/no-go"},
    ]
    draft = {
        "draft_id": draft_id,
        "client": ctx.args["client_name"],
        "requirements": needs,
        "financials": money,
        "risks": risks,
        "timeline": timeline,
    }
    files.write_json(records.path("drafts", draft_id), draft)
    return {"draft_id": draft_id, "within_budget": money["within_budget"]}


@files.handler("poc.delete_poc_draft")
def delete_poc_draft(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "draft_id", "drafts")


def _markdown(draft: dict[str, Any]) -> str:
    needs, money = draft["requirements"], draft["financials"]
    lines = [f"# Proof-of-concept proposal: {draft['client']}", ""]
    for title, items in (
        ("Goals", needs["goals"]),
        ("Scope", needs["scope"]),
        ("Success criteria", needs["success_criteria"]),
    ):
        lines += [f"## {title}", ""] + [f"- {item}" for item in items] + [""]
    verdict = "within" if money["within_budget"] else "OVER"
    lines += [
        "## Financials",
        "",
        f"- Team of {money['team_size']} for {money['weeks']} weeks",
        f"- Total {money['total']:,.2f} {money['currency']} ({verdict} the budget of"
        f" {money['budget']:,.2f})",
        f"- Expected annual benefit {money['annual_benefit']:,} {money['currency']},"
        f" ROI {money['roi']:.0%}",
        "",
        "## Risks",
        "",
    ]
    lines += [f"- {r['kind']}: {r['level']} ({r['mitigation']})" for r in draft["risks"]]
    lines += ["", "## Timeline", ""]
    for step in draft["timeline"]:
        first, last = step["weeks"]
        when = f"Week {first}" if first == last else f"Weeks {first}-{last}"
        lines.append(f"- {when}: {step['focus']}")
    return "\n".join(lines) + "\n"


@files.handler("poc.store")
def store(ctx: Any) -> dict[str, Any]:
    draft = files.need_json(records.path("drafts", ctx.args["draft_id"]), "proposal draft")
    target = files.output_path(ctx.args["destination"]) / f"poc-{files.slug(draft['client'])}.md"
    return files.replace_file(target, _markdown(draft).encode(), ctx.idempotency_key)


@files.handler("poc.delete_stored_poc")
def delete_stored_poc(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}
