"""A masked ID number cannot be rebuilt from what the same reader sees.

A GB 11643 number is 6 digits of area + 8 of birth date + a 3-digit sequence (the last of them
odd for men) + a check character. Whoever reads a resident's birth date and sex, and knows the
area code (every institution's residents share it), lacks only the sequence: 500 candidates.
Any visible character of positions 15–18 narrows them down, the last four to exactly one. So
each reader below tries to rebuild the number from the area code, the birth date, the sex and
the visible characters, and must be left with all 500 candidates. The resident themself still
sees their own number in full.
"""

from __future__ import annotations

from datetime import date

from fhir.resources.R4B.bundle import Bundle

from app.common.ids import check_char
from tests.archive.helpers import (
    fresh_id_sequence,  # noqa: F401  (autouse)
    grant,
)

AREA = "371002"  # the test district's area code (tests.factories): public, like any institution's


def candidates(masked: str, birth_on: str, sex: str, area: str = AREA) -> list[str]:
    """Every valid number agreeing with the area code, birth date, sex and the visible characters."""
    assert len(masked) == 18, masked
    known = area + date.fromisoformat(str(birth_on)).strftime("%Y%m%d")
    found = []
    for sequence in range(1000):
        if (sequence % 2 == 1) != (sex == "male"):
            continue
        first17 = known + f"{sequence:03d}"
        number = first17 + check_char(first17)
        if all(shown in ("*", real) for shown, real in zip(masked, number)):
            found.append(number)
    return found


def assert_not_rebuildable(masked: str, number: str, birth_on, sex: str, area: str = AREA) -> None:
    assert masked != number and number not in masked
    assert masked[14:] == "****", f"{masked}: positions 15-18 must never be shown"
    assert all(shown in ("*", real) for shown, real in zip(masked, number)), f"{masked} is not a mask of {number}"
    found = candidates(masked, birth_on, sex, area)
    assert number in found and len(found) == 500, f"{masked} narrows {number} down to {len(found)} candidates"


def test_the_old_mask_was_rebuildable():
    """The check above is not vacuous: first 3 + last 4 give the number back from the birth date."""
    number = "371002195008011039"
    old = number[:3] + "*" * 11 + number[-4:]
    assert candidates(old, "1950-08-01", "male") == [number]


def test_staff_list_does_not_let_anyone_rebuild_a_number(api, world):
    body = api.get("admin", "/api/v1/residents?per_page=100").json
    assert body["total"] == 4
    by_id = {i["id"]: i for i in body["items"]}
    for who in ("alice", "child", "grandpa", "bob"):
        item = by_id[world.ids[who]]
        assert_not_rebuildable(item["id_number"], world.numbers[who], item["birth_on"], item["sex"])


def test_staff_basic_sheet_and_archive_do_not_let_anyone_rebuild_a_number(api, world):
    number = world.numbers["grandpa"]
    sheet = api.get("a-doc", f"/api/v1/residents/{world.grandpa}").json
    assert_not_rebuildable(sheet["id_number"], number, sheet["birth_on"], sheet["sex"])
    basic = api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive").json["basic_info"]
    assert_not_rebuildable(basic["id_number"], number, basic["birth_on"], basic["sex"])
    patched = api.patch("a-doc", f"/api/v1/residents/{world.grandpa}", json={"occupation": "退休工人"}).json
    assert_not_rebuildable(patched["id_number"], number, patched["birth_on"], patched["sex"])


def test_staff_fhir_export_does_not_let_anyone_rebuild_a_number(api, world):
    r = api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive/fhir")
    assert r.status_code == 200
    patient = next(
        e.resource for e in Bundle.model_validate(r.json).entry if e.resource.get_resource_type() == "Patient"
    )
    official = next(i for i in patient.identifier if i.use == "official")
    assert_not_rebuildable(official.value, world.numbers["grandpa"], patient.birthDate, patient.gender)
    assert world.numbers["grandpa"] not in r.get_data(as_text=True)


def test_the_creating_response_is_masked_the_same_way(api, world):
    r = api.post(
        "a-doc",
        "/api/v1/residents",
        json={"name": "孙悦", "id_number": "11010519491231002X", "institution_id": world.a},
    )
    assert r.status_code == 201, r.json
    assert r.json["id_number"] == "110105************"
    assert_not_rebuildable(r.json["id_number"], "11010519491231002X", r.json["birth_on"], r.json["sex"], area="110105")


def test_a_family_proxy_sees_the_number_masked(api, world):
    grant_id = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    assert api.post("grandpa", f"/api/v1/me/family/requests/{grant_id}/accept").status_code == 200
    number = world.numbers["grandpa"]
    sheet = api.get("alice", f"/api/v1/residents/{world.grandpa}").json
    assert_not_rebuildable(sheet["id_number"], number, sheet["birth_on"], sheet["sex"])
    basic = api.get("alice", f"/api/v1/residents/{world.grandpa}/archive").json["basic_info"]
    assert_not_rebuildable(basic["id_number"], number, basic["birth_on"], basic["sex"])
    bundle = Bundle.model_validate(api.get("alice", f"/api/v1/residents/{world.grandpa}/archive/fhir").json)
    patient = next(e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient")
    assert_not_rebuildable(patient.identifier[0].value, number, patient.birthDate, patient.gender)


def test_the_resident_sees_their_own_number_in_full(api, world, client):
    number = world.numbers["alice"]
    assert api.get("alice", f"/api/v1/residents/{world.alice}").json["id_number"] == number
    assert api.get("alice", f"/api/v1/residents/{world.alice}/archive").json["basic_info"]["id_number"] == number
    assert api.get("alice", "/api/v1/me").json["resident"]["id_number"] == number
    token = client.post("/api/v1/auth/wechat/login", json={"code": "bob:own-number"}).json["access_token"]
    bound = client.post(
        "/api/v1/auth/wechat/bind",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": world.names["bob"], "id_number": world.numbers["bob"]},
    )
    assert bound.status_code == 200 and bound.json["resident"]["id_number"] == world.numbers["bob"]
    # the same archive read by staff is masked
    assert api.get("b-doc", f"/api/v1/residents/{world.bob}").json["id_number"] == "371002" + "*" * 12
