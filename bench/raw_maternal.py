"""The raw baseline's own pregnancies section and growth judgement (the product's are
``app/maternal/`` and ``app/archive/growth.py``): hand-written over plain rows, the same answer."""

from __future__ import annotations

from datetime import date, timedelta

from pygrowup import Observation
from pygrowup.exceptions import PyGrowUpException

GROWTH_STANDARD = "WHO Child Growth Standards 2006 (pygrowup2)"


def _z(compute, value):
    if value is None:
        return None
    try:
        z = float(compute(value))
    except PyGrowUpException:
        return None
    return {"z": round(z, 2), "judgement": "low" if z < -2 else ("high" if z > 2 else "normal")}


def growth(sex: str, birth_on: date, checked_on: date, weight, height, head):
    if sex not in ("male", "female") or (weight is None and height is None and head is None):
        return None
    obs = Observation(sex=Observation.MALE if sex == "male" else Observation.FEMALE, dob=birth_on,
                      date_of_observation=checked_on)  # fmt: skip
    lying = (checked_on - birth_on).days < 730
    return {
        "standard": GROWTH_STANDARD,
        "weight_for_age": _z(obs.wfa, weight),
        "length_for_age": _z(lambda v: obs.lhfa(v, recumbent=lying), height),
        "head_circumference_for_age": _z(obs.hcfa, head),
    }


# (kind, label, programme, anchor, opens_day, due_day, normal, high_risk)
_SLOTS = (
    ("first", "第1次产前检查", "antenatal", "lmp", 0, 90, True, True),
    ("w16_20", "孕16~20周产前随访", "antenatal", "lmp", 112, 146, True, True),
    ("w21_24", "孕21~24周产前随访", "antenatal", "lmp", 147, 174, True, True),
    ("w25_27", "孕25~27周产前随访(高危)", "antenatal", "lmp", 175, 195, False, True),
    ("w28_36", "孕28~36周产前随访", "antenatal", "lmp", 196, 258, True, False),
    ("w28_31", "孕28~31周产前随访(高危)", "antenatal", "lmp", 196, 223, False, True),
    ("w32_36", "孕32~36周产前随访(高危)", "antenatal", "lmp", 224, 258, False, True),
    ("w37_40", "孕37~40周产前随访", "antenatal", "lmp", 259, 286, True, True),
    ("home_visit", "产后访视", "postpartum", "discharge", 3, 7, True, True),
    ("day42_check", "产后42天健康检查", "postpartum", "delivery", 42, 56, True, True),
)

PREGNANCIES = """
SELECT id, status, registered_on, last_menstrual_on, expected_on, early_registration, gravidity, parity, risk_factors,
       high_risk, outcome, delivered_on, discharged_on, delivery_place, resident_id, gestational_days_at_registration
FROM pregnancies WHERE resident_id = %s ORDER BY registered_on DESC, id DESC
"""
_P = ("id", "status", "registered_on", "last_menstrual_on", "expected_on", "early_registration", "gravidity", "parity",
      "risk_factors", "high_risk", "outcome", "delivered_on", "discharged_on", "delivery_place", "resident_id",
      "gestational_days_at_registration")  # fmt: skip
_A = ("id", "visit_on", "slot", "gestational_days", "sbp", "dbp", "weight_kg", "fundal_height_cm",
      "abdominal_circumference_cm", "fetal_heart_rate", "fetal_position", "hemoglobin", "urine_protein",
      "risk_factors", "classification", "guidance", "referred", "note", "pregnancy_id")  # fmt: skip
_PP = ("id", "kind", "visit_on", "days_after_delivery", "sbp", "dbp", "temperature_c", "breasts", "lochia", "uterus",
       "wound", "mental", "classification", "guidance", "referred", "note", "pregnancy_id")  # fmt: skip


def _iso(value):
    return value.isoformat() if value is not None else None


def _ga(days: int) -> str:
    return f"{days // 7}+{days % 7}"


def _schedule(p: dict, done: dict, day: date) -> list[dict]:
    out = []
    for kind, label, programme, anchor, opens_day, due_day, normal, high in _SLOTS:
        if programme == "antenatal" and not (high if p["high_risk"] else normal):
            continue
        if programme == "postpartum" and p["status"] != "delivered":
            continue
        start = {"lmp": p["last_menstrual_on"], "delivery": p["delivered_on"]}.get(anchor) or (
            p["discharged_on"] or p["delivered_on"]
        )
        opens, due = start + timedelta(days=opens_day), start + timedelta(days=due_day)
        if kind == "first":
            opens, due = p["registered_on"], max(due, p["registered_on"])
        limit = day
        if programme == "antenatal" and p["status"] != "ongoing":
            if opens > p["delivered_on"]:
                continue
            limit = min(day, p["delivered_on"])
        done_on = done.get(kind)
        out.append({"kind": kind, "label": label, "programme": programme, "opens_on": opens.isoformat(),
                    "due_on": due.isoformat(), "done_on": _iso(done_on), "missed": done_on is None and due < limit})  # fmt: skip
    return out


def _rows(cursor, columns):
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def pregnancies(c, rid: int, day: date) -> list[dict]:
    ps = _rows(c.execute(PREGNANCIES, (rid,)), _P)
    if not ps:
        return []
    ids = [p["id"] for p in ps]
    with c.pipeline():
        qa = c.execute(f"SELECT {', '.join(_A)} FROM antenatal_visits WHERE pregnancy_id = ANY(%s) ORDER BY id", (ids,))
        qb = c.execute("SELECT pregnancy_id, resident_id, live, sex, birth_weight_g FROM births "
                       "WHERE pregnancy_id = ANY(%s) ORDER BY id", (ids,))  # fmt: skip
        qp = c.execute(f"SELECT {', '.join(_PP)} FROM postpartum_visits WHERE pregnancy_id = ANY(%s) ORDER BY id",
                       (ids,))  # fmt: skip
        visits, births, postpartum = _rows(qa, _A), qb.fetchall(), _rows(qp, _PP)
    out = []
    for p in ps:
        mine = sorted((v for v in visits if v["pregnancy_id"] == p["id"]), key=lambda v: (v["visit_on"], v["id"]))
        after = sorted((v for v in postpartum if v["pregnancy_id"] == p["id"]), key=lambda v: v["visit_on"])
        done = {v["slot"]: v["visit_on"] for v in mine if v["slot"]}
        done.update({v["kind"]: v["visit_on"] for v in after})
        registered = p["gestational_days_at_registration"]
        body = {
            k: _iso(p[k]) if isinstance(p[k], date) else p[k] for k in _P if k != "gestational_days_at_registration"
        }
        body.update(
            gestational_weeks_at_registration=registered // 7,
            gestational_age_at_registration=_ga(registered),
            gestational_age=_ga((day - p["last_menstrual_on"]).days) if p["status"] == "ongoing" else None,
            antenatal_visit_count=len(mine),
            schedule=_schedule(p, done, day),
            antenatal_visits=[
                {**{k: _iso(v[k]) if isinstance(v[k], date) else v[k] for k in _A}, "gestational_age": _ga(v["gestational_days"])}
                for v in mine
            ],
            births=[{"resident_id": b[1], "live": b[2], "sex": b[3], "birth_weight_g": b[4]} for b in births if b[0] == p["id"]],
            postpartum_visits=[{k: _iso(v[k]) if isinstance(v[k], date) else v[k] for k in _PP} for v in after],
        )  # fmt: skip
        out.append(body)
    return out
