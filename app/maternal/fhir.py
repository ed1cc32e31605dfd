"""The pregnancies in the archive's FHIR export (``app.archive.fhir.FHIR_SECTIONS``): per pregnancy an
EpisodeOfCare (孕产期保健, registration to the end of the postpartum period) with the last menstrual
period (LOINC 8665-2), the estimated delivery date (11778-8) and the delivery date (93857-1) as
Observations; each antenatal and postpartum visit an Encounter of that episode with its measurements
(blood pressure, weight, fundal height 11881-0, fetal heart rate 55283-6, haemoglobin 718-7, body
temperature)."""

from __future__ import annotations

from datetime import timedelta

from app.archive import fhir
from app.common.time import today
from app.maternal import reads, schedule

_MEASURED = ("sbp", "dbp", "weight_kg", "fundal_height_cm", "fetal_heart_rate", "hemoglobin", "temperature_c")
_DATES = (
    ("last_menstrual_on", "8665-2", "Last menstrual period start date"),
    ("expected_on", "11778-8", "Delivery date Estimated"),
    ("delivered_on", "93857-1", "Date and time of obstetric delivery"),
)


def _date_observation(key: str, field: str, code: str, display: str, value, patient_ref) -> dict:
    return {
        "resourceType": "Observation",
        "id": f"{key}-{field.replace('_', '-')}",
        "status": "final",
        "subject": patient_ref,
        "code": {"coding": [{"system": fhir.LOINC, "code": code, "display": display}]},
        "valueDateTime": value.isoformat(),
    }


def pregnancy_fhir(resident, ctx) -> list[dict]:
    """FHIR_SECTIONS hook (the archive's rule: ``reads.applies``)."""
    if not reads.applies(resident, today()):
        return []
    out = []
    patient_ref = ctx["patient_ref"]
    for pregnancy in reads.pregnancies_of(resident.id, today()):
        key = f"pregnancy-{pregnancy['id']}"
        episode_url = ctx["ref"]("EpisodeOfCare", key)
        end = pregnancy["delivered_on"] and pregnancy["delivered_on"] + timedelta(days=42)
        out.append(
            {
                "resourceType": "EpisodeOfCare",
                "id": key,
                "status": "active" if pregnancy["status"] == "ongoing" or (end and end >= today()) else "finished",
                "type": [{"text": "孕产期保健" + ("（高危）" if pregnancy["high_risk"] else "")}],
                "patient": patient_ref,
                "period": {"start": pregnancy["registered_on"].isoformat(), "end": end.isoformat() if end else None},
            }
        )
        for field, code, display in _DATES:
            if pregnancy[field] is not None:
                out.append(_date_observation(key, field, code, display, pregnancy[field], patient_ref))
        visits = [
            ("antenatal", v, schedule.BY_KIND[v["slot"]].label if v["slot"] else "产前随访")
            for v in pregnancy["antenatal_visits"]
        ]
        visits += [("postpartum", v, schedule.BY_KIND[v["kind"]].label) for v in pregnancy["postpartum_visits"]]
        for line, visit, text in visits:
            visit_key = f"{line}-visit-{visit['id']}"
            encounter = fhir.encounter(
                visit_key,
                day=visit["visit_on"],
                patient_ref=patient_ref,
                klass=("HH", "home health") if visit.get("kind") == "home_visit" else ("AMB", "ambulatory"),
                text=text,
                institution=None,
                doctor=None,
            )
            encounter["episodeOfCare"] = [{"reference": episode_url}]
            out.append(encounter)
            values = {f: visit.get(f) for f in _MEASURED}
            out += fhir.observations(
                visit_key, visit["visit_on"], patient_ref, ctx["ref"]("Encounter", visit_key), values
            )
    return out
