"""Creating, finding and changing archives (建档), with the access log written alongside."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_institution, get_resident, get_team, resident_clause
from app.audit import services as audit
from app.common.ids import IdNumberError, parse_id_number, vault
from app.common.time import now, today
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.orgs.models import subtree_ids
from app.residents.models import Condition, Household, Resident
from app.residents.populations import population_clause
from app.residents.presenters import present_resident

RESIDENT_LEVELS = (3, 4)  # residents belong to centres/health centres and their clinics


def id_number_clause(number: str):
    """WHERE clause finding a resident by (already validated) ID number, rotation-aware."""
    return Resident.id_number_hash.in_(vault().lookup_hashes(number))


def find_by_id_number(number: str) -> Resident | None:
    return db.session.scalar(select(Resident).where(id_number_clause(number)))


def lookup_resident(actor, id_number: str) -> Resident:
    """POST /residents/lookup: the archive with this ID number, if the caller may see it.

    The number comes in a body because URLs end up in access logs. Out of scope reads
    exactly like "no such number" (the same 404), so the lookup cannot tell a caller
    whether a number is registered elsewhere in the district.
    """
    try:
        parsed = parse_id_number(id_number)
    except IdNumberError as err:
        raise Invalid("id_number", str(err)) from None
    found = find_by_id_number(parsed.value)
    if found is None:
        raise NotFound("resident not found")
    resident = get_resident(actor, found.id)
    audit.record(actor, resident.id, action="read", section="basic_info")
    db.session.flush()
    return resident


# An ID number (18 characters, or the old 15 digits; a trailing X) or any long run of digits:
# refused in the list's query string, where proxies' and gunicorn's access logs would keep it.
_ID_SHAPED = re.compile(r"^(\d{14}|\d{17})[\dX]$|\d{15,}", re.IGNORECASE)
ID_IN_QUERY = 'ID numbers must not travel in a URL: use POST /api/v1/residents/lookup {"id_number"}'


def _check_links(actor, data: dict) -> None:
    """Household and team must exist inside the caller's scope (else a 422 naming the field)."""
    if data.get("household_id") is not None:
        household = db.session.get(Household, data["household_id"])
        try:
            if household is None:
                raise NotFound()
            get_institution(actor, household.institution_id)
        except NotFound:
            raise Invalid("household_id", "no such household in your institutions") from None
    if data.get("team_id") is not None:
        try:
            team = get_team(actor, data["team_id"])
        except NotFound:
            raise Invalid("team_id", "no such team in your institutions") from None
        if not team.active:
            raise Invalid("team_id", "this team is no longer active")


def number_archive(resident: Resident, institution_code: str) -> None:
    """The archive number (健康档案编号): the institution's code and the row's id, once it has one."""
    resident.archive_no = f"{institution_code}{resident.id:08d}"


def create_resident(actor, data: dict) -> Resident:
    try:
        parsed = parse_id_number(data.pop("id_number"))
    except IdNumberError as err:
        raise Invalid("id_number", str(err)) from None
    try:
        institution = get_institution(actor, data["institution_id"])
    except NotFound:
        raise Invalid("institution_id", "no such institution in your scope") from None
    if institution.level not in RESIDENT_LEVELS:
        raise Invalid("institution_id", "residents are registered at a health centre or its clinics")
    _check_links(actor, data)
    lookup = vault().lookup_hash(parsed.value)
    if find_by_id_number(parsed.value) is not None:
        raise Conflict("an archive with this ID number already exists", error="duplicate_id_number")
    conditions = data.pop("conditions", [])
    resident = Resident(
        archive_no=uuid.uuid4().hex,
        id_number_enc=vault().encrypt(parsed.value),
        id_number_hash=lookup,
        sex=parsed.sex,
        birth_on=parsed.birth_on,
        **data,
    )
    db.session.add(resident)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request registered the same number
        db.session.rollback()
        raise Conflict("an archive with this ID number already exists", error="duplicate_id_number") from None
    number_archive(resident, institution.code)
    for item in conditions:
        db.session.add(
            Condition(
                resident_id=resident.id,
                disease=item["disease"],
                diagnosed_on=item["diagnosed_on"],
                recorded_by_id=actor.id,
            )
        )
    audit.record(actor, resident.id, action="create", section="basic_info", purpose="registration")
    db.session.flush()
    db.session.refresh(resident)
    return resident


def update_resident(actor, resident: Resident, data: dict) -> Resident:
    _check_links(actor, data)
    if "id_number" in data:
        _give_id_number(resident, data.pop("id_number"))
    if "status" in data and data["status"] != resident.status:
        data.setdefault("status_changed_on", today())
    for field, value in data.items():
        setattr(resident, field, value)
    audit.record(actor, resident.id, action="update", section="basic_info")
    db.session.flush()
    return resident


def _give_id_number(resident: Resident, number: str) -> None:
    """A newborn's archive gets its ID number once the household registration gives it."""
    if resident.id_number_enc is not None:
        raise Invalid("id_number", "this archive has an ID number; it cannot be changed")
    try:
        parsed = parse_id_number(number)
    except IdNumberError as err:
        raise Invalid("id_number", str(err)) from None
    if (parsed.birth_on, parsed.sex) != (resident.birth_on, resident.sex):
        raise Invalid("id_number", "its birth date and sex are not the archive's")
    if find_by_id_number(parsed.value) is not None:
        raise Conflict("an archive with this ID number already exists", error="duplicate_id_number")
    resident.id_number_enc, resident.id_number_hash = vault().encrypt(parsed.value), vault().lookup_hash(parsed.value)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request gave the same number to another archive
        db.session.rollback()
        raise Conflict("an archive with this ID number already exists", error="duplicate_id_number") from None


def register_condition(actor, resident: Resident, disease: str, diagnosed_on: date) -> Condition:
    """Register a diagnosis (慢病登记). An active one of the same disease is a 409; an inactive
    one (e.g. a past registration closed) is reopened with the new diagnosis date."""
    if diagnosed_on > today():
        raise Invalid("diagnosed_on", "cannot be in the future")
    if diagnosed_on < resident.birth_on:
        raise Invalid("diagnosed_on", "cannot be before the resident's birth date")
    existing = db.session.scalar(
        select(Condition).where(Condition.resident_id == resident.id, Condition.disease == disease)
    )
    if existing is not None and existing.active:
        raise Conflict(f"{disease} is already registered for this resident", error="duplicate_condition")
    if existing is not None:
        existing.active, existing.diagnosed_on, existing.recorded_by_id = True, diagnosed_on, actor.id
        condition = existing
    else:
        condition = Condition(
            resident_id=resident.id, disease=disease, diagnosed_on=diagnosed_on, recorded_by_id=actor.id
        )
        db.session.add(condition)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request registered the same disease
        db.session.rollback()
        raise Conflict(f"{disease} is already registered for this resident", error="duplicate_condition") from None
    audit.record(actor, resident.id, action="create", section="conditions", purpose="care")
    return condition


def assign_team(resident_ids: list[int], team_id: int) -> None:
    """The responsible team (责任团队) of these residents becomes ``team_id`` (set-based: one UPDATE).

    The contracts feature calls it when a contract starts: residents are served by the team they
    signed with."""
    if resident_ids:
        db.session.execute(
            update(Resident).where(Resident.id.in_(resident_ids)).values(team_id=team_id, updated_at=now())
        )


def search_residents(actor, args: dict):
    """A scoped select of residents for the staff list."""
    stmt = select(Resident).where(resident_clause(actor))
    if q := args.get("q"):
        q = q.strip()
        if _ID_SHAPED.search(re.sub(r"[\s-]", "", q)):  # "371002 19500801 1071" is one too
            raise Invalid("q", ID_IN_QUERY)
        stmt = stmt.where(or_(Resident.name.startswith(q), Resident.archive_no == q))
    if population := args.get("population"):
        stmt = stmt.where(population_clause(population, today()))
    if (team_id := args.get("team_id")) is not None:
        get_team(actor, team_id)
        stmt = stmt.where(Resident.team_id == team_id)
    if (institution_id := args.get("institution_id")) is not None:
        institution = get_institution(actor, institution_id)
        stmt = stmt.where(Resident.institution_id.in_(subtree_ids(institution.path)))
    if status := args.get("status"):
        stmt = stmt.where(Resident.status == status)
    return stmt.order_by(Resident.id)


def me_summary(actor) -> dict:
    """What the phone's home screen needs about the logged-in resident (the actor is loaded from
    the WeChat account on this request: its id and the archive it is bound to)."""
    body = {
        "account": {"id": actor.id, "bound": actor.resident_id is not None, "resident_id": actor.resident_id},
        "resident": None,
        "family": [],
        "populations": [],
        "contract": None,
        "due": [],
    }
    if actor.resident_id is None:
        return body
    resident = db.session.get(Resident, actor.resident_id)
    body["resident"] = present_resident(resident, owner=True)
    body["populations"] = body["resident"]["populations"]
    for contribute in ME_SECTIONS:
        contribute(actor, resident, body)
    audit.record(actor, resident.id, action="read", section="basic_info", purpose="self_access")
    return body


# Features add sections to GET /me (family, contract…) without residents importing them.
ME_SECTIONS: list = []


def rotate_id_number_key(batch: int = 5000) -> Iterator[int]:
    """Re-encrypt every ID number under the current key and re-key its lookup hash, one batch
    at a time: yields the number of archives each batch rotated, once it is flushed.

    The caller commits after each batch (the CLI command does), so a long rotation holds no
    lock for long. Runs online: until a row is rotated, lookups still find it through the old
    keys' hashes (``lookup_hashes``). One UPDATE per batch (executemany), not per row.
    """
    box, last_id = vault(), 0
    table = Resident.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("rid"))
        .values(id_number_enc=bindparam("enc"), id_number_hash=bindparam("hash"))
    )
    while True:
        rows = db.session.execute(
            select(Resident.id, Resident.id_number_enc)
            .where(Resident.id > last_id, Resident.id_number_enc.is_not(None))
            .order_by(Resident.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        params = []
        for rid, token in rows:
            number = box.decrypt(token)
            params.append({"rid": rid, "enc": box.encrypt(number), "hash": box.lookup_hash(number)})
        db.session.execute(statement, params)
        db.session.flush()
        last_id = rows[-1][0]
        yield len(rows)
