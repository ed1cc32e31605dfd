"""How a resident's basic sheet is shown: masked unless the viewer owns it."""

from __future__ import annotations

from app.common.ids import mask_id_number, mask_phone, vault
from app.common.time import age_on, today
from app.residents.populations import populations_of

_PLAIN_FIELDS = (
    "id",
    "archive_no",
    "name",
    "sex",
    "birth_on",
    "address",
    "household_id",
    "relation_to_head",
    "residency_type",
    "institution_id",
    "team_id",
    "status",
    "ethnicity",
    "marital_status",
    "education",
    "occupation",
    "blood_type",
    "payment_methods",
    "allergies",
    "exposures",
    "past_history",
    "family_history",
    "disabilities",
    "living_environment",
    "disabled_certified",
    "poverty_alleviated",
    "special_family",
    "pregnancy_due_on",
)


def present_resident(resident, *, owner: bool = False) -> dict:
    """The basic sheet as the API shows it.

    The ID number and the phone are shown in full only to the resident themself
    (``owner``: their own sheet, archive, ``/me`` and the bind answer); everyone else
    (staff, family members acting for them) sees them masked. The sheet carries the
    birth date and sex, so the ID mask must not show the digits those do not give away.
    """
    data = {name: getattr(resident, name) for name in _PLAIN_FIELDS}
    day = today()
    number = vault().decrypt(resident.id_number_enc)
    data["id_number"] = number if owner else mask_id_number(number)
    data["phone"] = resident.phone if owner else mask_phone(resident.phone)
    data["age"] = age_on(resident.birth_on, day)
    data["populations"] = populations_of(resident, day)
    data["conditions"] = [
        {"disease": c.disease, "diagnosed_on": c.diagnosed_on} for c in resident.conditions if c.active
    ]
    return data
