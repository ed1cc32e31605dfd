"""A valid row of an exchange sheet → the columns of its record, and what the product derives from them.

A row fills the attributes its sheet's columns name (app.exchange.layout): a record's column, a key
inside one of its JSON columns, or a reference (institution, team, household, doctor) resolved to an
id by the importer. A column the file carries but a row leaves empty clears the value (or puts the
column's default back); a column the file does not carry leaves the record's value alone.

What the product computes when a record is entered by hand is computed here the same way, from the
record as it will be: a visit's classification, alerts and referral flags (app.followups.rules), the
BMI (app.common.measures).
"""

from __future__ import annotations

import copy
from decimal import Decimal

from app.archive.models import HealthCheck
from app.common.measures import bmi
from app.contracts.models import Contract
from app.exchange import layout as L
from app.followups import rules
from app.followups.models import MANAGED_DISEASES, FollowupVisit
from app.residents.models import Condition, Resident

MODELS = {
    L.BASIC.name: Resident,
    L.CONDITIONS.name: Condition,
    L.HYPERTENSION.name: FollowupVisit,
    L.DIABETES.name: FollowupVisit,
    L.HEALTH_CHECKS.name: HealthCheck,
    L.CONTRACTS.name: Contract,
}
# References: resolved to ids by the importer, never a column of the record.
REFERENCES = {
    "id_number",
    "resident.id_number",
    "institution.code",
    "team.name",
    "team.institution.code",
    "household.code",
    "household.address",
    "doctor.name",
    "packages",
}


def plain(value):
    """A value as stored and compared: numbers in JSON are floats or ints, never Decimals."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def get_path(record: dict, attribute: str):
    head, *keys = attribute.split(".")
    value = record.get(head)
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def set_path(record: dict, attribute: str, value) -> None:
    """Set a column, or a key inside a JSON column (copied: the stored dict is never changed in place)."""
    head, *keys = attribute.split(".")
    if not keys:
        record[head] = value
        return
    before = record.get(head)
    top = copy.deepcopy(before) if isinstance(before, dict) else {}
    node = top
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    top = _pruned(top)
    record[head] = top if top or before is not None else None  # nothing to hold: stays empty as it was


def _pruned(tree: dict) -> dict:
    return {k: (_pruned(v) if isinstance(v, dict) else v) for k, v in tree.items() if v not in (None, {})}


def _empty_of(model, column: str):
    """What an emptied cell stores: None, or the column's default where the column cannot be null."""
    col = model.__table__.c[column]
    if col.nullable:
        return None
    default = col.default.arg if col.default is not None else None
    return default(None) if callable(default) else default


def attributes(sheet: L.Sheet, present: set[str]) -> list[str]:
    """The record attributes a sheet's rows set: its mapped columns, references and computed ones aside."""
    return [
        c.attribute
        for c in sheet.columns
        if c.attribute in present and not c.export_only and c.attribute not in REFERENCES
    ]


def proposed(sheet: L.Sheet, row_values: dict, attrs: list[str], current: dict | None = None) -> dict:
    """The record's columns once the row is applied to it (``current``: its columns now; None: a new
    record). What the product computes from them is :func:`derived`'s."""
    model = MODELS[sheet.name]
    record = dict(current or {})
    for attribute, value in sheet.fixed:
        record[attribute] = value
    for attribute in attrs:
        value = plain(row_values.get(attribute))
        if value is None and "." not in attribute:
            value = _empty_of(model, attribute)
        set_path(record, attribute, value)
    for column, value in list(record.items()):
        if value is None and column in model.__table__.c:
            record[column] = _empty_of(model, column)
    return record


def derived(sheet: L.Sheet, record: dict, attrs: list[str]) -> dict:
    """The columns the product computes from the record (a visit's classification, a BMI);
    ``attrs``: what the file gave."""
    return DERIVE[sheet.name](record, attrs) if sheet.name in DERIVE else {}


def changed_columns(record: dict, current: dict) -> dict[str, object]:
    """The columns of ``record`` whose value differs from the stored one."""
    return {k: v for k, v in record.items() if k in current and plain(current[k]) != plain(v)}


# --- what the product derives -----------------------------------------------------------------


def _given(record: dict, disease: str, attrs: list[str]) -> str | None:
    """A classification a person gave: the file's 此次随访分类 (empty: none), or else a doctor's on
    record — never one the product computed from values the file may have changed."""
    attribute = f"{disease}_classification"
    if attribute in attrs or record.get("classification_source") == "doctor":
        return record.get(attribute)
    return None


def derive_visit(record: dict, attrs: list[str]) -> dict:
    """A visit's computed columns, as app.followups.visits computes them for one entered by hand."""
    diseases = [d for d in MANAGED_DISEASES if record.get(d)]
    values = {
        "sbp": record.get("sbp"),
        "dbp": record.get("dbp"),
        "fasting_glucose": record.get("fasting_glucose"),
        "complications": record.get("complications"),
        "adverse_reaction": record.get("adverse_reaction"),
    }
    computed = {d: rules.compute_classification(d, values) for d in diseases}
    final = {d: _given(record, d, attrs) or computed[d] for d in diseases}
    overall = rules.worst(computed.values())
    alerts = rules.emergency_alerts(values["sbp"], values["dbp"], values["fasting_glucose"])
    outcomes = [
        rules.decide(
            d, final[d], None, alerts, bool(record.get("referral")), record["visit_on"], record.get("next_visit_on")
        )
        for d in diseases
    ]
    doctor = any(final[d] != computed[d] for d in diseases)
    return {
        **{f"{d}_classification": final[d] for d in diseases},
        "classification": rules.worst(final.values()),
        "computed_classification": overall,
        "classification_source": "doctor" if doctor else "computed",
        "bmi": bmi(record.get("weight_kg"), record.get("height_cm")),
        "target_bmi": bmi(record.get("target_weight_kg"), record.get("height_cm")),
        "alerts": alerts,
        "referral_suggested": any(o.referral_suggested for o in outcomes),
        "urgent_referral": any(o.urgent_referral for o in outcomes),
        "next_due_on": min(o.due_on for o in outcomes) if outcomes else None,
    }


def derive_check(record: dict, attrs: list[str]) -> dict:
    return {"bmi": bmi(record.get("weight_kg"), record.get("height_cm"))}


DERIVE = {
    L.HYPERTENSION.name: derive_visit,
    L.DIABETES.name: derive_visit,
    L.HEALTH_CHECKS.name: derive_check,
}


def visit_classification_rules(sheet: L.Sheet, row) -> None:
    """A visit needs a classification: from its values, or given (with a reason when it differs).
    Not said of a row rejected already: its values may be what is missing."""
    if sheet.record != "followup_visits" or not row.valid:
        return
    disease = dict(sheet.fixed)
    disease = next(d for d in MANAGED_DISEASES if disease.get(d))
    values = row.values
    computed = rules.compute_classification(
        disease,
        {k: plain(values.get(k)) for k in ("sbp", "dbp", "fasting_glucose", "complications", "adverse_reaction")},
    )
    given = values.get(f"{disease}_classification")
    column = next(c for c in sheet.columns if c.attribute == f"{disease}_classification")
    if given is None and computed is None:
        wanted = "收缩压 and 舒张压" if disease == "hypertension" else "空腹血糖值"
        row.reject(column, f"cannot be computed without {wanted}: give the values or 此次随访分类")
    elif given is not None and computed is not None and given != computed and not values.get("classification_reason"):
        row.reject(
            "分类理由", f"required when 此次随访分类 differs from the computed one ({column.label_of(computed)})"
        )
