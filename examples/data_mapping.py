"""Handlers of ``data_mapping``: profile, map, transform and validate a dataset, on disk.

Effects, in the data folder: the source and target profiles in ``mapping/profiles/``, the rules in
``mapping/rules/``, the validation report in ``mapping/reports/`` (JSON, named from the
idempotency key), and the transformed dataset at ``output_path`` (CSV, or JSON lines for ``.json``
and ``.jsonl``; a relative path is taken inside the data folder; a file it replaces is kept in
``backups/`` until undone). The target schema is ``{"fields": [{"name", "type", "required"}]}`` or
a JSON Schema with ``properties``. Try::

    journeys run definitions/data_mapping.yaml \\
        --handlers examples/data_mapping.py -i source_path=examples/data/sample.csv \\
        -i target_schema_path=examples/data/target_schema.json -i output_path=mapped/sales.csv
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from pathlib import Path
from typing import Any

import journeys

from . import _files as files

records = files.Records("mapping")


def _rows(path: str) -> list[dict[str, Any]]:
    text = files.read_text(path, "source dataset")
    if Path(path).suffix.lower() in (".json", ".jsonl"):
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as error:
            raise journeys.Fatal(f"{path}: not JSON lines: {error}") from None
    return list(csv.DictReader(io.StringIO(text)))


def _type(value: Any) -> str:
    text = str(value)
    if re.fullmatch(r"[-+]?\d+", text):
        return "integer"
    if re.fullmatch(r"[-+]?\d*\.\d+|[-+]?\d+\.\d*", text):
        return "number"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return "date"
    return "string"


def _convert(value: Any, kind: str) -> Any:
    """``value`` as the target ``kind``; ValueError if it does not fit."""
    if value is None or value == "":
        return None
    if kind == "integer":
        return int(str(value))
    if kind == "number":
        return float(str(value))
    if kind == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
        raise ValueError(f"{value!r} is not a date")
    return str(value)


@files.handler("mapping.analyze_source")
def analyze_source(ctx: Any) -> dict[str, Any]:
    rows = _rows(ctx.args["path"])[: int(ctx.args.get("sample_rows") or 1000)]
    if not rows:
        raise journeys.Fatal(f"{ctx.args['path']}: no rows to profile")
    columns = []
    for name in rows[0]:
        values = [row.get(name) for row in rows]
        kinds = {_type(v) for v in values if v not in (None, "")}
        kind = (
            kinds.pop()
            if len(kinds) == 1
            else ("number" if kinds == {"integer", "number"} else "string")
        )
        nulls = sum(1 for v in values if v in (None, ""))
        columns.append({"name": name, "type": kind, "nulls": nulls, "example": values[0]})
    profile_id = files.key_id(ctx, "source")
    files.write_json(
        records.path("profiles", profile_id),
        {"profile_id": profile_id, "rows": len(rows), "columns": columns},
    )
    return {"profile_id": profile_id, "rows": len(rows), "columns": [c["name"] for c in columns]}


@files.handler("mapping.revert_source_analysis")
def revert_source_analysis(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "profile_id", "profiles")


@files.handler("mapping.analyze_target")
def analyze_target(ctx: Any) -> dict[str, Any]:
    schema = files.read_json_input(ctx.args["path"], "target schema")
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        fields = [
            {"name": name, "type": _schema_type(spec), "required": name in required}
            for name, spec in schema["properties"].items()
        ]
    elif isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        fields = [
            {
                "name": f["name"],
                "type": f.get("type", "string"),
                "required": bool(f.get("required")),
            }
            for f in schema["fields"]
        ]
    else:
        raise journeys.Fatal(f"{ctx.args['path']}: expected fields or properties")
    profile_id = files.key_id(ctx, "target")
    files.write_json(
        records.path("profiles", profile_id), {"profile_id": profile_id, "fields": fields}
    )
    return {"profile_id": profile_id, "fields": [f["name"] for f in fields]}


@files.handler("mapping.revert_target_analysis")
def revert_target_analysis(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "profile_id", "profiles")


def _schema_type(spec: Any) -> str:
    spec = spec if isinstance(spec, dict) else {}
    return "date" if spec.get("format") == "date" else str(spec.get("type", "string"))


def _confidence(source: str, target: str) -> float:
    a, b = (re.sub(r"[^a-z0-9]", "", name.lower()) for name in (source, target))
    if a == b:
        return 1.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return round(max(ratio, 0.9 if a and b and (a in b or b in a) else 0.0), 3)


@files.handler("mapping.generate_rules")
def generate_rules(ctx: Any) -> dict[str, Any]:
    source = files.need_json(
        records.path("profiles", ctx.args["source_profile_id"]), "source profile"
    )
    target = files.need_json(
        records.path("profiles", ctx.args["target_profile_id"]), "target profile"
    )
    floor = float(ctx.args.get("min_confidence") or 0.8)
    free = [column["name"] for column in source["columns"]]
    rules, unmapped = [], []
    for field in target["fields"]:
        scored = sorted(((_confidence(c, field["name"]), c) for c in free), reverse=True)
        if scored and scored[0][0] >= floor:
            confidence, column = scored[0]
            free.remove(column)
            rules.append(
                {
                    "from": column,
                    "to": field["name"],
                    "type": field["type"],
                    "confidence": confidence,
                }
            )
        else:
            unmapped.append(field["name"])
    missing = [f["name"] for f in target["fields"] if f["required"] and f["name"] in unmapped]
    if missing:
        raise journeys.Fatal(f"no source column matches required field(s) {', '.join(missing)}")
    rules_id = files.key_id(ctx, "rules")
    files.write_json(
        records.path("rules", rules_id),
        {"rules_id": rules_id, "rules": rules, "unmapped": unmapped},
    )
    return {"rules_id": rules_id, "rules": len(rules), "unmapped": unmapped}


@files.handler("mapping.delete_mapping_rules")
def delete_mapping_rules(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "rules_id", "rules")


@files.handler("transform.apply_mapping")
def apply_mapping(ctx: Any) -> dict[str, Any]:
    rules = files.need_json(records.path("rules", ctx.args["rules_id"]), "mapping rules")["rules"]
    out, errors = [], 0
    for row in _rows(ctx.args["source_path"]):
        mapped = {}
        for rule in rules:
            try:
                mapped[rule["to"]] = _convert(row.get(rule["from"]), rule["type"])
            except ValueError:
                mapped[rule["to"]], errors = row.get(rule["from"]), errors + 1
        out.append(mapped)
    target = files.output_path(ctx.args["output_path"])
    if target.suffix.lower() in (".json", ".jsonl"):
        content = "".join(json.dumps(r, sort_keys=True) + "\n" for r in out)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=[rule["to"] for rule in rules], lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(out)
        content = buffer.getvalue()
    written = files.replace_file(target, content.encode(), ctx.idempotency_key)
    return {**written, "rows": len(out), "conversion_errors": errors}


@files.handler("transform.revert_transformation")
def revert_transformation(ctx: Any) -> dict[str, Any]:
    return {"restored": files.restore_file(ctx.result)}


@files.handler("validation.validate_mapping")
def validate_mapping(ctx: Any) -> dict[str, Any]:
    target = files.need_json(
        records.path("profiles", ctx.args["target_profile_id"]), "target profile"
    )
    output = files.output_path(ctx.args["output_path"])
    rows = _rows(str(output))
    bad = []
    for number, row in enumerate(rows, start=1):
        for field in target["fields"]:
            value = row.get(field["name"])
            try:
                ok = _convert(value, field["type"]) is not None or not field["required"]
            except ValueError:
                ok = False
            if not ok:
                bad.append({"row": number, "field": field["name"], "value": value})
                break
    rate = round(len(bad) / len(rows), 4) if rows else 1.0
    report_id = files.key_id(ctx, "report")
    report = {
        "report_id": report_id,
        "output": str(output),
        "rows": len(rows),
        "bad_rows": bad,
        "error_rate": rate,
    }
    limit = float(ctx.args.get("max_error_rate") or 0.0)
    if rate > limit:
        raise journeys.Fatal(
            f"{len(bad)} of {len(rows)} rows do not fit the target"
            f" ({rate:.2%} > {limit:.2%}); first: {bad[:3]}"
        )
    files.write_json(records.path("reports", report_id), report)
    return {"report_id": report_id, "valid": True, "rows": len(rows), "error_rate": rate}


@files.handler("validation.mark_as_invalid")
def mark_as_invalid(ctx: Any) -> dict[str, Any]:
    return records.undo(ctx, "report_id", "reports")
