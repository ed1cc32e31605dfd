"""FHIR R4 export: the bundle parses with fhir.resources and carries the coded vital signs.

fhir.resources 8.x ships R4B (4.3), the R4-compatible release, besides R5 and STU3."""

from datetime import date

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.common.time import at_local, freeze
from tests.archive.helpers import (
    check,
    fresh_id_sequence,  # noqa: F401  (autouse)
    grant,
    log_rows,
    record,
)

LOINC = "http://loinc.org"


@pytest.fixture
def filled(api, world):
    freeze(at_local(date(2025, 6, 15), 10))
    check(
        api,
        "a-doc",
        world.grandpa,
        "2025-05-20",
        sbp=146,
        dbp=91,
        height_cm=170,
        weight_kg=72.5,
        waist_cm=90,
        heart_rate=76,
        temperature=36.6,
        respiration=18,
        fasting_glucose=6.4,
        labs={"hba1c": 6.9},
    )
    record(api, "a-nurse", world.grandpa, "home_visit", "2025-06-02", sbp=138, dbp=84, summary="上门随访")
    record(
        api,
        "a-doc",
        world.grandpa,
        "referral",
        "2025-06-03",
        referral={"to_institution": "威海市立医院", "reason": "血压控制不满意"},
    )
    api.post(
        "a-doc", f"/api/v1/residents/{world.grandpa}/conditions", json={"disease": "t2dm", "diagnosed_on": "2024-02-02"}
    )


def export(api, who, rid):
    r = api.get(who, f"/api/v1/residents/{rid}/archive/fhir")
    assert r.status_code == 200, r.json
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    return r


def by_type(bundle, kind):
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == kind]


def coding(concept):
    return [(c.system, c.code) for c in concept.coding or []]


def test_bundle_parses_and_carries_the_coded_observations(api, world, app, filled):
    r = export(api, "a-doc", world.grandpa)
    bundle = Bundle.model_validate(r.json)
    assert bundle.type == "collection"
    assert sorted({e.resource.get_resource_type() for e in bundle.entry}) == [
        "Condition",
        "Encounter",
        "Observation",
        "Patient",
    ]

    bp = [o for o in by_type(bundle, "Observation") if (LOINC, "85354-9") in coding(o.code)]
    assert len(bp) == 2
    components = sorted(
        (coding(c.code)[0][1], float(c.valueQuantity.value), c.valueQuantity.code) for c in bp[0].component
    )
    assert components == [("8462-4", 91.0, "mm[Hg]"), ("8480-6", 146.0, "mm[Hg]")]
    assert str(bp[0].effectiveDateTime) == "2025-05-20"
    values = {
        coding(o.code)[0][1]: (float(o.valueQuantity.value), o.valueQuantity.code)
        for o in by_type(bundle, "Observation")
        if o.valueQuantity is not None and o.encounter.reference == bp[0].encounter.reference
    }
    assert values == {
        "14771-0": (6.4, "mmol/L"),
        "29463-7": (72.5, "kg"),
        "39156-5": (25.1, "kg/m2"),
        "8302-2": (170.0, "cm"),
        "8280-0": (90.0, "cm"),
        "8867-4": (76.0, "/min"),
        "8310-5": (36.6, "Cel"),
        "9279-1": (18.0, "/min"),
        "4548-4": (6.9, "%"),
    }

    encounters = {e.type[0].text: e for e in by_type(bundle, "Encounter")}
    assert set(encounters) == {"健康体检", "上门访视", "转诊"}
    assert encounters["上门访视"].class_fhir.code == "HH" and encounters["健康体检"].class_fhir.code == "AMB"
    assert encounters["转诊"].reasonCode[0].text == "血压控制不满意"
    assert encounters["上门访视"].participant[0].individual.display == "李护士"

    conditions = {c.code.text: c for c in by_type(bundle, "Condition")}
    assert set(conditions) == {"2型糖尿病", "高血压"}
    assert coding(conditions["高血压"].code) == [("http://hl7.org/fhir/sid/icd-10", "I10")]
    assert str(conditions["2型糖尿病"].onsetDateTime) == "2024-02-02"

    # every reference resolves inside the bundle
    urls = {e.fullUrl for e in bundle.entry}
    patient_url = next(e.fullUrl for e in bundle.entry if e.resource.get_resource_type() == "Patient")
    for obs in by_type(bundle, "Observation"):
        assert obs.subject.reference == patient_url and obs.encounter.reference in urls

    exports = log_rows(app, world.grandpa, action="export")
    assert [(x.actor_display, x.section, x.purpose) for x in exports] == [("王医生", "fhir", "care")]


def test_patient_identifier_is_masked_unless_the_caller_is_the_resident(api, world, app, filled):
    number = world.numbers["grandpa"]
    masked = number[:6] + "*" * 12  # the area code only (birthDate and gender give away digits 7-14 and 17)

    def patient_of(who):
        bundle = Bundle.model_validate(export(api, who, world.grandpa).json)
        return by_type(bundle, "Patient")[0]

    staff_view = patient_of("a-doc")
    assert staff_view.identifier[0].value == masked and staff_view.telecom is None
    assert number not in api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive/fhir").get_data(as_text=True)
    own = patient_of("grandpa")
    assert own.identifier[0].value == number
    assert (own.name[0].text, own.gender, str(own.birthDate)) == ("张建国", "male", "1950-08-01")
    assert own.telecom[0].value == "13812345678"

    grant_id = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    api.post("grandpa", f"/api/v1/me/family/requests/{grant_id}/accept")
    assert patient_of("alice").identifier[0].value == masked
    purposes = [(x.actor_kind, x.purpose) for x in log_rows(app, world.grandpa, action="export")]
    assert purposes == [("staff", "care"), ("staff", "care"), ("resident", "self_access"), ("family", "family_access")]


def test_an_empty_archive_still_exports_a_valid_bundle(api, world):
    bundle = Bundle.model_validate(export(api, "bob", world.bob).json)
    assert [e.resource.get_resource_type() for e in bundle.entry] == ["Patient", "Condition"]
