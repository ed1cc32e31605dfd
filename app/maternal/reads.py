"""A resident's pregnancies as the API shows them: each with its schedule, antenatal visits,
births and postpartum visits (GET …/pregnancies and the archive's ``pregnancies`` section)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import select

from app.archive.services import read_purpose
from app.audit import services as audit
from app.common.time import age_on
from app.extensions import db
from app.maternal import schedule
from app.maternal.models import AntenatalVisit, Birth, PostpartumVisit, Pregnancy

# The archive shows the section to women of the ages a pregnancy is recorded at (no statement is
# spent on anybody else's archive).
SECTION_AGES = (10, 60)

_PREGNANCY_FIELDS = (
    "id", "status", "registered_on", "last_menstrual_on", "expected_on", "early_registration", "gravidity",
    "parity", "risk_factors", "high_risk", "outcome", "delivered_on", "discharged_on", "delivery_place",
)  # fmt: skip
_ANTENATAL_FIELDS = (
    "id", "visit_on", "slot", "gestational_days", "sbp", "dbp", "weight_kg", "fundal_height_cm",
    "abdominal_circumference_cm", "fetal_heart_rate", "fetal_position", "hemoglobin", "urine_protein",
    "risk_factors", "classification", "guidance", "referred", "note",
)  # fmt: skip
_POSTPARTUM_FIELDS = (
    "id", "kind", "visit_on", "days_after_delivery", "sbp", "dbp", "temperature_c", "breasts", "lochia",
    "uterus", "wound", "mental", "classification", "guidance", "referred", "note",
)  # fmt: skip


def _fields(obj, names) -> dict:
    return {name: getattr(obj, name) for name in names}


def present_antenatal_visit(visit: AntenatalVisit) -> dict:
    return {
        **_fields(visit, _ANTENATAL_FIELDS),
        "pregnancy_id": visit.pregnancy_id,
        "gestational_age": schedule.gestational_age(visit.gestational_days),
    }


def present_postpartum_visit(visit: PostpartumVisit) -> dict:
    return {**_fields(visit, _POSTPARTUM_FIELDS), "pregnancy_id": visit.pregnancy_id}


def present_pregnancy(pregnancy: Pregnancy, antenatal: list, births: list, postpartum: list, day: date) -> dict:
    done = {v.slot: v.visit_on for v in antenatal if v.slot}
    done.update({v.kind: v.visit_on for v in postpartum})
    return {
        **_fields(pregnancy, _PREGNANCY_FIELDS),
        "resident_id": pregnancy.resident_id,
        "gestational_weeks_at_registration": pregnancy.gestational_days_at_registration // 7,
        "gestational_age_at_registration": schedule.gestational_age(pregnancy.gestational_days_at_registration),
        "gestational_age": (
            schedule.gestational_age(schedule.gestational_days(pregnancy.last_menstrual_on, day))
            if pregnancy.status == "ongoing"
            else None
        ),
        "antenatal_visit_count": len(antenatal),
        "schedule": schedule.schedule(pregnancy, done, day),
        "antenatal_visits": [present_antenatal_visit(v) for v in sorted(antenatal, key=lambda v: (v.visit_on, v.id))],
        "births": [
            {"resident_id": b.resident_id, "live": b.live, "sex": b.sex, "birth_weight_g": b.birth_weight_g}
            for b in births
        ],
        "postpartum_visits": [present_postpartum_visit(v) for v in sorted(postpartum, key=lambda v: v.visit_on)],
    }


def pregnancies_of(resident_id: int, day: date) -> list[dict]:
    """Every pregnancy of the resident, newest first (4 statements, 1 when she has none)."""
    pregnancies = db.session.scalars(
        select(Pregnancy)
        .where(Pregnancy.resident_id == resident_id)
        .order_by(Pregnancy.registered_on.desc(), Pregnancy.id.desc())
    ).all()
    return present_all(pregnancies, day) if pregnancies else []


def present_all(pregnancies: list[Pregnancy], day: date) -> list[dict]:
    """The pregnancies with their visits and births (3 statements)."""
    ids = [p.id for p in pregnancies]
    by = {kind: defaultdict(list) for kind in (AntenatalVisit, Birth, PostpartumVisit)}
    for model in by:
        for row in db.session.scalars(select(model).where(model.pregnancy_id.in_(ids)).order_by(model.id)):
            by[model][row.pregnancy_id].append(row)
    return [
        present_pregnancy(p, by[AntenatalVisit][p.id], by[Birth][p.id], by[PostpartumVisit][p.id], day)
        for p in pregnancies
    ]


def pregnancies(actor, resident, day: date) -> dict:
    """GET …/pregnancies: one access-log row."""
    items = pregnancies_of(resident.id, day)
    purpose = read_purpose(actor, resident.id, None)
    audit.record(actor, resident.id, action="read", section="pregnancies", purpose=purpose)
    return {"resident_id": resident.id, "items": items}


def applies(resident, day: date) -> bool:
    """Whether the archive's views carry the pregnancies (the archive section, the FHIR export)."""
    return resident.sex == "female" and SECTION_AGES[0] <= age_on(resident.birth_on, day) < SECTION_AGES[1]


def archive_section(resident, args: dict):
    """ARCHIVE_SECTIONS hook: the archive's ``pregnancies`` (the archive writes the access-log row);
    None for an archive a pregnancy does not apply to (GET …/pregnancies lists them whatever the age)."""
    day = args["today"]
    return "pregnancies", pregnancies_of(resident.id, day) if applies(resident, day) else None


def babies_of(resident_id: int) -> list[int]:
    """family.BIRTH_CHILDREN hook: the archives of the live-born babies of her deliveries."""
    return list(
        db.session.scalars(
            select(Birth.resident_id)
            .join(Pregnancy, Pregnancy.id == Birth.pregnancy_id)
            .where(Pregnancy.resident_id == resident_id, Birth.resident_id.is_not(None))
            .order_by(Birth.id)
        )
    )
