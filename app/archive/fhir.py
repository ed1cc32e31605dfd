"""The archive as a FHIR R4 ``Bundle`` (type ``collection``).

- Patient: the ID number (GB 11643) as an identifier — masked unless the caller is the
  resident — and the archive number; name, gender, birth date, address (phone only for the
  resident themself).
- Condition: the chronic-condition registry, ICD-10 coded where the code is unambiguous.
- Observation: vital signs and labs of every health check and service record — blood pressure
  as the LOINC panel 85354-9 with components 8480-6 (systolic) / 8462-4 (diastolic), fasting
  glucose 14771-0, weight 29463-7, height 8302-2, BMI 39156-5, waist 8280-0, heart rate
  8867-4, temperature 8310-5, respiratory rate 9279-1, HbA1c 4548-4 — and of every child health
  check: weight, height, head circumference 9843-4, haemoglobin 718-7 — UCUM units.
- Encounter: each health check, child health check and service record (home visits and the
  newborn home visit as class HH).
- EpisodeOfCare + CareTeam: the family-doctor contract, through :data:`FHIR_SECTIONS`
  (the contracts feature fills it; see :func:`contract_episode_resources`); the pregnancies as
  EpisodeOfCare with their visits (``app.maternal.fhir``).

Entries are identified by ``urn:uuid:`` full URLs derived from the row ids (stable between
exports of the same database) and reference each other by them.
"""

from __future__ import annotations

import uuid

from app.archive import child_schedule, services, view
from app.audit import services as audit
from app.common.ids import mask_id_number, vault
from app.common.time import now

# Functions ``(resident, ctx) -> list[dict]`` of extra FHIR resources, where ctx is a dict with
# "actor", "patient_ref" ({"reference": "urn:uuid:…"}), "owner" and ``ref(kind, key)`` which
# gives the urn of any resource (use it for your own fullUrls). Each resource dict must carry
# "resourceType" and "id"; the bundle wraps it in an entry.
FHIR_SECTIONS: list = []

ID_NUMBER_SYSTEM = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号 (CN health data standard OID)
ARCHIVE_NO_SYSTEM = "urn:family-doctor:archive-no"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_NAMESPACE = uuid.UUID("6f1c2a36-5b1e-4d8e-9a57-2f3f0c1d8e11")

DISEASE_CODES = {  # disease -> (ICD-10 code or None, display, Chinese text)
    "hypertension": ("I10", "Essential (primary) hypertension", "高血压"),
    "t2dm": ("E11", "Type 2 diabetes mellitus", "2型糖尿病"),
    "coronary": ("I25", "Chronic ischaemic heart disease", "冠心病"),
    "stroke": ("I64", "Stroke, not specified as haemorrhage or infarction", "脑卒中"),
    "copd": ("J44", "Other chronic obstructive pulmonary disease", "慢性阻塞性肺疾病"),
    "tuberculosis": (None, None, "肺结核"),
    "severe_mental": (None, None, "严重精神障碍"),
}
# field -> (LOINC, display, UCUM code, category)
SIMPLE_OBSERVATIONS = {
    "heart_rate": ("8867-4", "Heart rate", "/min", "vital-signs"),
    "weight_kg": ("29463-7", "Body weight", "kg", "vital-signs"),
    "height_cm": ("8302-2", "Body height", "cm", "vital-signs"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "vital-signs"),
    "waist_cm": ("8280-0", "Waist Circumference at umbilicus by Tape measure", "cm", "vital-signs"),
    "temperature": ("8310-5", "Body temperature", "Cel", "vital-signs"),
    "respiration": ("9279-1", "Respiratory rate", "/min", "vital-signs"),
    "fasting_glucose": ("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma", "mmol/L", "laboratory"),
    "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "laboratory"),
    "head_circumference_cm": ("9843-4", "Head Occipital-frontal circumference", "cm", "vital-signs"),
    "hemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", "laboratory"),
    "fundal_height_cm": ("11881-0", "Uterus Fundal height Tape measure", "cm", "exam"),
    "fetal_heart_rate": ("55283-6", "Fetal Heart rate", "/min", "exam"),
    "temperature_c": ("8310-5", "Body temperature", "Cel", "vital-signs"),
}
SERVICE_TEXT = {
    "consultation": "接诊",
    "referral": "转诊",
    "home_visit": "上门访视",
    "tcm": "中医药健康管理服务",
    "other": "其他医疗卫生服务",
}


def ref(kind: str, key) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{key}')}"


def _prune(value):
    """Drop None and empty containers (FHIR JSON forbids empty arrays and objects)."""
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _prune(v)) for k, v in value.items()) if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [v for v in map(_prune, value) if v not in (None, [], {}, "")]
    return value


def _quantity(value, unit):
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _category(code):
    return [{"coding": [{"system": OBS_CATEGORY, "code": code}]}]


def observations(source_key: str, day, patient_ref, encounter_ref, values: dict) -> list[dict]:
    effective = day.isoformat()
    out = []
    base = {
        "resourceType": "Observation",
        "status": "final",
        "subject": patient_ref,
        "encounter": {"reference": encounter_ref},
        "effectiveDateTime": effective,
    }
    if values.get("sbp") is not None and values.get("dbp") is not None:
        out.append(
            {
                **base,
                "id": f"{source_key}-bp",
                "category": _category("vital-signs"),
                "code": {
                    "coding": [
                        {
                            "system": LOINC,
                            "code": "85354-9",
                            "display": "Blood pressure panel with all children optional",
                        }
                    ],
                    "text": "血压",
                },
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                        "valueQuantity": _quantity(values["sbp"], "mm[Hg]"),
                    },
                    {
                        "code": {
                            "coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]
                        },
                        "valueQuantity": _quantity(values["dbp"], "mm[Hg]"),
                    },
                ],
            }
        )
    for field, (code, display, unit, category) in SIMPLE_OBSERVATIONS.items():
        value = values.get(field)
        if value is None:
            continue
        out.append(
            {
                **base,
                "id": f"{source_key}-{field.replace('_', '-')}",
                "category": _category(category),
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": _quantity(value, unit),
            }
        )
    return out


def encounter(key, *, day, patient_ref, klass, text, institution, doctor, reason=None) -> dict:
    return {
        "resourceType": "Encounter",
        "id": key,
        "status": "finished",
        "class": {"system": ACT_CODE, "code": klass[0], "display": klass[1]},
        "type": [{"text": text}],
        "subject": patient_ref,
        "participant": [{"individual": {"display": doctor}}] if doctor else None,
        "period": {"start": day.isoformat(), "end": day.isoformat()},
        "reasonCode": [{"text": reason}] if reason else None,
        "serviceProvider": {"display": institution} if institution else None,
    }


def _official(number: str | None, owner: bool) -> list[dict]:
    """The ID number as an identifier (none yet for a newborn's archive)."""
    if number is None:
        return []
    return [
        {
            "use": "official",
            "system": ID_NUMBER_SYSTEM,
            "value": number if owner else mask_id_number(number),
            "type": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                        "code": "NI",
                        "display": "National unique individual identifier",
                    }
                ],
                "text": "居民身份证号",
            },
        },
    ]


def patient_resource(resident, *, owner: bool) -> dict:
    number = vault().decrypt(resident.id_number_enc)
    institution = resident.institution
    return {
        "resourceType": "Patient",
        "id": f"resident-{resident.id}",
        "identifier": [
            *_official(number, owner),
            {
                "use": "usual",
                "system": ARCHIVE_NO_SYSTEM,
                "value": resident.archive_no,
                "type": {"text": "健康档案编号"},
            },
        ],
        "active": resident.status == "active",
        "name": [{"use": "official", "text": resident.name}],
        "gender": resident.sex if resident.sex in ("male", "female") else "unknown",
        "birthDate": resident.birth_on.isoformat(),
        "deceasedBoolean": True if resident.status == "deceased" else None,
        "telecom": [{"system": "phone", "value": resident.phone, "use": "mobile"}]
        if owner and resident.phone
        else None,
        "address": [{"text": resident.address}] if resident.address else None,
        "managingOrganization": {"display": institution.name} if institution else None,
    }


def condition_resource(condition, patient_ref) -> dict:
    code, display, text = DISEASE_CODES.get(condition.disease, (None, None, condition.disease))
    return {
        "resourceType": "Condition",
        "id": f"condition-{condition.id}",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active" if condition.active else "inactive",
                }
            ]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}
                ]
            }
        ],
        "code": {"coding": [{"system": ICD10, "code": code, "display": display}] if code else None, "text": text},
        "subject": patient_ref,
        "onsetDateTime": condition.diagnosed_on.isoformat(),
        "recordedDate": condition.created_at.date().isoformat() if condition.created_at else None,
    }


def build_bundle(actor, resident) -> dict:
    owner = actor.resident_id == resident.id and not actor.is_staff
    patient_url = ref("Patient", resident.id)
    patient_ref = {"reference": patient_url}
    entries = [(patient_url, patient_resource(resident, owner=owner))]
    for condition in resident.conditions:
        entries.append((ref("Condition", condition.id), condition_resource(condition, patient_ref)))

    for check in view.rows_of(view.HEALTH_CHECKS, resident.id):
        key = f"health-check-{check.id}"
        encounter_url = ref("Encounter", key)
        entries.append(
            (
                encounter_url,
                encounter(
                    key,
                    day=check.checked_on,
                    patient_ref=patient_ref,
                    klass=("AMB", "ambulatory"),
                    text="健康体检",
                    institution=check.institution_name,
                    doctor=check.doctor,
                ),
            )
        )
        values = {
            f: getattr(check, f)
            for f in (
                "sbp",
                "dbp",
                "heart_rate",
                "weight_kg",
                "height_cm",
                "bmi",
                "waist_cm",
                "temperature",
                "respiration",
                "fasting_glucose",
            )
        }
        values["hba1c"] = (check.labs or {}).get("hba1c")
        for obs in observations(key, check.checked_on, patient_ref, encounter_url, values):
            entries.append((ref("Observation", obs["id"]), obs))

    for record in view.rows_of(view.SERVICE_RECORDS, resident.id):
        key = f"service-record-{record.id}"
        encounter_url = ref("Encounter", key)
        referral = (record.details or {}).get("referral") or {}
        reason = referral.get("reason") or record.summary
        entries.append(
            (
                encounter_url,
                encounter(
                    key,
                    day=record.served_on,
                    patient_ref=patient_ref,
                    klass=("HH", "home health") if record.kind == "home_visit" else ("AMB", "ambulatory"),
                    text=SERVICE_TEXT.get(record.kind, record.kind),
                    institution=record.institution_name,
                    doctor=record.doctor,
                    reason=reason[:500] if reason else None,
                ),
            )
        )
        values = {f: getattr(record, f) for f in ("sbp", "dbp", "heart_rate", "weight_kg", "fasting_glucose")}
        for obs in observations(key, record.served_on, patient_ref, encounter_url, values):
            entries.append((ref("Observation", obs["id"]), obs))

    for check in view.rows_of(view.CHILD_CHECKS, resident.id):
        key = f"child-check-{check.id}"
        encounter_url = ref("Encounter", key)
        home = check.kind == "newborn_visit"  # 新生儿家庭访视: at home
        entries.append(
            (
                encounter_url,
                encounter(
                    key,
                    day=check.checked_on,
                    patient_ref=patient_ref,
                    klass=("HH", "home health") if home else ("AMB", "ambulatory"),
                    text=child_schedule.BY_KIND[check.kind].label,
                    institution=check.institution_name,
                    doctor=check.doctor,
                ),
            )
        )
        values = {f: getattr(check, f) for f in ("weight_kg", "height_cm", "head_circumference_cm", "hemoglobin")}
        for obs in observations(key, check.checked_on, patient_ref, encounter_url, values):
            entries.append((ref("Observation", obs["id"]), obs))

    ctx = {"actor": actor, "patient_ref": patient_ref, "owner": owner, "ref": ref}
    for contribute in FHIR_SECTIONS:
        for resource in contribute(resident, ctx) or []:
            entries.append((ref(resource["resourceType"], resource["id"]), resource))

    return _prune(
        {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "collection",
            "timestamp": now().isoformat(timespec="seconds"),
            "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
        }
    )


def export_bundle(actor, resident, purpose: str | None) -> dict:
    bundle = build_bundle(actor, resident)
    audit.record(
        actor, resident.id, action="export", section="fhir", purpose=services.read_purpose(actor, resident.id, purpose)
    )
    return bundle


# --- the family-doctor contract as EpisodeOfCare + CareTeam -------------------------------------


def contract_episode_resources(contract: dict, ctx: dict) -> list[dict]:
    """EpisodeOfCare (the signed contract) with its CareTeam (the family-doctor team).

    ``contract`` is a plain summary: {"id", "status", "starts_on", "ends_on", "team": {"id", "name",
    "members": [{"name", "role"}]}, "institution": name, "doctor": name, "packages": [names]}
    (keys may be missing). The contracts feature's FHIR_SECTIONS function calls this.
    """
    status = {
        "active": "active",
        "pending": "planned",
        "expired": "finished",
        "terminated": "finished",
        "rejected": "cancelled",
        "cancelled": "cancelled",
    }.get(contract.get("status"), "active")
    team = contract.get("team") or {}
    team_key = f"team-{team.get('id', contract.get('id'))}-contract-{contract.get('id')}"
    team_url = ctx["ref"]("CareTeam", team_key)
    period = {"start": _iso(contract.get("starts_on")), "end": _iso(contract.get("ends_on"))}
    care_team = {
        "resourceType": "CareTeam",
        "id": team_key,
        "status": "active" if status == "active" else ("proposed" if status == "planned" else "inactive"),
        "name": team.get("name"),
        "subject": ctx["patient_ref"],
        "period": period,
        "participant": [
            {"role": [{"text": m.get("role")}] if m.get("role") else None, "member": {"display": m.get("name")}}
            for m in team.get("members", [])
            if m.get("name")
        ],
        "managingOrganization": [{"display": contract["institution"]}] if contract.get("institution") else None,
    }
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": f"contract-{contract.get('id')}",
        "status": status,
        "type": [{"text": "家庭医生签约服务"}] + [{"text": p} for p in contract.get("packages", [])],
        "patient": ctx["patient_ref"],
        "period": period,
        "careManager": {"display": contract["doctor"]} if contract.get("doctor") else None,
        "managingOrganization": {"display": contract["institution"]} if contract.get("institution") else None,
        "team": [{"reference": team_url}],
    }
    return [episode, care_team]


def _iso(value):
    return None if value is None else getattr(value, "isoformat", lambda: str(value))()
