"""Recording a pregnancy: registration (建册), antenatal visits, the delivery (its babies' archives)
and the postpartum visits; the resident's pregnancies with their schedules.

Every record is a delivery (履约) of the contract's matching item and fulfils the plan of
``app.followups.maternal_plans`` (``events.service_delivered``: the contracts and the plan engine
listen). The basic sheet's ``pregnancy_due_on`` is the ongoing pregnancy's expected delivery date,
set here and nowhere else.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_resident
from app.archive.services import check_day, record_service
from app.audit import services as audit
from app.common import events
from app.common.time import age_on, now, today
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.maternal import schedule
from app.maternal.models import DELIVERED_OUTCOMES, AntenatalVisit, Birth, PostpartumVisit, Pregnancy
from app.orgs.models import Institution
from app.residents.models import Resident
from app.residents.services import number_archive

ADVANCED_AGE = 35  # 高龄孕妇: 35 or over at the expected delivery date — a risk factor of its own
# a baby is the head's child when the mother is the head of the household or the head's wife
HEAD_OR_SPOUSE = ("户主", "妻子", "配偶")


def pregnancy_in_scope(actor, pregnancy_id: int) -> tuple[Pregnancy, Resident]:
    """The pregnancy and its resident, 404 unless the resident is in the actor's scope."""
    pregnancy = db.session.get(Pregnancy, pregnancy_id)
    try:
        if pregnancy is None:
            raise NotFound()
        return pregnancy, get_resident(actor, pregnancy.resident_id)
    except NotFound:
        raise NotFound("no such pregnancy") from None  # out of scope reads exactly like missing


def register(actor, resident: Resident, data: dict) -> Pregnancy:
    """建册: gestational age and early registration from the LMP, high risk from the factors."""
    registered_on, lmp = data["registered_on"], data["last_menstrual_on"]
    check_day("registered_on", registered_on, resident)
    if resident.sex != "female":
        raise Invalid("resident_id", "a pregnancy is registered in a woman's archive")
    if resident.status != "active":
        raise Invalid("resident_id", f"the archive is {resident.status}")
    days = schedule.gestational_days(lmp, registered_on)
    if days < 0:
        raise Invalid("last_menstrual_on", "must be on or before registered_on")
    if days > schedule.MAX_GESTATION_DAYS:
        raise Invalid(
            "last_menstrual_on", f"on registered_on the gestation would be {schedule.gestational_age(days)} weeks"
        )
    now_days = schedule.gestational_days(lmp, today())
    if now_days > schedule.MAX_GESTATION_DAYS:
        raise Invalid(
            "last_menstrual_on",
            f"the gestation would be {schedule.gestational_age(now_days)} weeks today: record how the pregnancy ended",
        )
    if data.get("parity") is not None and data.get("gravidity") is not None and data["parity"] >= data["gravidity"]:
        raise Invalid("parity", "the births before this pregnancy are fewer than the pregnancies including it")
    ongoing = db.session.scalar(
        select(Pregnancy.id).where(Pregnancy.resident_id == resident.id, Pregnancy.status == "ongoing")
    )
    if ongoing is not None:
        raise Conflict("this resident already has an ongoing pregnancy", error="pregnancy_ongoing")
    expected = schedule.expected_on(lmp)
    factors = list(dict.fromkeys(data.get("risk_factors") or []))
    if age_on(resident.birth_on, expected) >= ADVANCED_AGE and "advanced_age" not in factors:
        factors.append("advanced_age")
    pregnancy = Pregnancy(
        resident_id=resident.id,
        status="ongoing",
        registered_on=registered_on,
        last_menstrual_on=lmp,
        expected_on=expected,
        gestational_days_at_registration=days,
        early_registration=days < schedule.EARLY_REGISTRATION_DAYS,
        gravidity=data.get("gravidity"),
        parity=data.get("parity"),
        risk_factors=factors,
        high_risk=bool(factors),
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
    )
    db.session.add(pregnancy)
    resident.pregnancy_due_on = expected
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent registration of the same woman won the partial unique index
        db.session.rollback()
        raise Conflict("this resident already has an ongoing pregnancy", error="pregnancy_ongoing") from None
    audit.record(actor, resident.id, action="create", section="pregnancy", purpose="care")
    # the plan engine opens the first antenatal visit's plan (app.followups.maternal_plans)
    events.pregnancy_changed.send(None, resident_id=resident.id, day=registered_on)
    return pregnancy


def _ongoing(pregnancy: Pregnancy) -> None:
    if pregnancy.status != "ongoing":
        raise Conflict(f"this pregnancy has ended ({pregnancy.outcome})", error="pregnancy_ended")


def record_antenatal_visit(actor, pregnancy: Pregnancy, mother: Resident, data: dict) -> AntenatalVisit:
    """One antenatal visit: the gestational week derived, new risk factors added to the pregnancy's
    (a pregnancy that becomes high-risk is owed 7 visits), and every visit's slot of the schedule
    assigned again in date order (``schedule.slots_of_visits``: a visit recorded late for an earlier
    day becomes the first, one made under the ordinary schedule moves into the high-risk one)."""
    _ongoing(pregnancy)
    visit_on = data["visit_on"]
    check_day("visit_on", visit_on, mother)
    if visit_on < pregnancy.registered_on:
        raise Invalid("visit_on", f"before the registration on {pregnancy.registered_on}")
    days = schedule.gestational_days(pregnancy.last_menstrual_on, visit_on)
    if days > schedule.MAX_GESTATION_DAYS:
        raise Invalid("visit_on", f"the gestation would be {schedule.gestational_age(days)} weeks: record the delivery")
    new_factors = [f for f in dict.fromkeys(data.get("risk_factors") or []) if f not in pregnancy.risk_factors]
    if new_factors:
        pregnancy.risk_factors = [*pregnancy.risk_factors, *new_factors]
        pregnancy.high_risk = True
    visit = AntenatalVisit(
        pregnancy_id=pregnancy.id,
        resident_id=pregnancy.resident_id,
        gestational_days=days,
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
        **data,
    )
    db.session.add(visit)
    db.session.flush()
    _assign_slots(pregnancy)
    record_service(
        actor, pregnancy.resident_id, "prenatal_check", visit_on, source="antenatal_visit", source_id=visit.id,
        kind=visit.slot,
    )  # fmt: skip
    return visit


def _assign_slots(pregnancy: Pregnancy) -> None:
    visits = db.session.scalars(
        select(AntenatalVisit)
        .where(AntenatalVisit.pregnancy_id == pregnancy.id)
        .order_by(AntenatalVisit.visit_on, AntenatalVisit.id)
    ).all()
    for visit, slot in zip(
        visits, schedule.slots_of_visits(pregnancy.high_risk, [v.gestational_days for v in visits]), strict=True
    ):
        visit.slot = slot
    db.session.flush()


def _end(pregnancy: Pregnancy, status: str, **values) -> None:
    """End an ongoing pregnancy with one conditional UPDATE: of two concurrent deliveries one wins, the
    other is the same 409 as a second delivery."""
    ended = db.session.execute(
        update(Pregnancy)
        .where(Pregnancy.id == pregnancy.id, Pregnancy.status == "ongoing")
        .values(status=status, updated_at=now(), **values)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        raise Conflict("this pregnancy has ended already", error="pregnancy_ended")
    db.session.refresh(pregnancy)


def record_delivery(actor, pregnancy: Pregnancy, mother: Resident, data: dict) -> Pregnancy:
    """The end of the pregnancy: a delivery (live birth, stillbirth) or an early end (miscarriage,
    induced). Each live-born baby gets an archive in the mother's household, at her institution and
    team, without an ID number until the household registration gives one; the mother's account
    becomes the baby's guardian (``events.baby_archived``)."""
    _ongoing(pregnancy)
    delivered_on, discharged_on, outcome = data["delivered_on"], data.get("discharged_on"), data["outcome"]
    babies = data.get("babies") or []
    check_day("delivered_on", delivered_on, mother)
    if delivered_on < pregnancy.registered_on:
        raise Invalid("delivered_on", f"before the registration on {pregnancy.registered_on}")
    if discharged_on is not None:
        check_day("discharged_on", discharged_on, mother)
        if discharged_on < delivered_on:
            raise Invalid("discharged_on", "before delivered_on")
    last_visit = db.session.scalar(
        select(AntenatalVisit.visit_on)
        .where(AntenatalVisit.pregnancy_id == pregnancy.id)
        .order_by(AntenatalVisit.visit_on.desc())
        .limit(1)
    )
    if last_visit is not None and delivered_on < last_visit:
        raise Invalid("delivered_on", f"before the last antenatal visit on {last_visit}")
    if outcome in DELIVERED_OUTCOMES:
        if not babies:
            raise Invalid("babies", "a delivery lists its babies")
        if outcome == "live_birth" and not any(b.get("live", True) for b in babies):
            raise Invalid("babies", "a live birth has at least one live-born baby")
        if outcome == "stillbirth" and any(b.get("live", False) for b in babies):
            raise Invalid("babies", "a stillbirth has no live-born baby: record a live birth")
    elif babies:
        raise Invalid("babies", f"a {outcome} has no babies")
    _end(
        pregnancy,
        "delivered" if outcome in DELIVERED_OUTCOMES else "ended",
        outcome=outcome,
        delivered_on=delivered_on,
        discharged_on=discharged_on,
        delivery_place=data.get("delivery_place"),
    )
    mother.pregnancy_due_on = None
    db.session.flush()
    audit.record(actor, mother.id, action="update", section="pregnancy", purpose="care")
    for baby in babies:
        live = baby.get("live", outcome == "live_birth")
        child = _baby_archive(actor, mother, baby, delivered_on) if live else None
        db.session.add(
            Birth(
                pregnancy_id=pregnancy.id,
                resident_id=child.id if child else None,
                live=live,
                sex=baby["sex"],
                birth_weight_g=baby.get("birth_weight_g"),
            )
        )
    db.session.flush()
    # the plan engine closes the antenatal plan and opens the postpartum home visit's
    events.pregnancy_changed.send(None, resident_id=mother.id, day=delivered_on)
    return pregnancy


def _baby_archive(actor, mother: Resident, baby: dict, born_on: date) -> Resident:
    name = baby.get("name") or f"{mother.name}之{'子' if baby['sex'] == 'male' else '女'}"
    child = Resident(
        archive_no=uuid.uuid4().hex,
        name=name,
        sex=baby["sex"],
        birth_on=born_on,
        household_id=mother.household_id,
        relation_to_head=("子" if baby["sex"] == "male" else "女")
        if mother.relation_to_head in HEAD_OR_SPOUSE
        else None,
        residency_type=mother.residency_type,
        institution_id=mother.institution_id,
        team_id=mother.team_id,
        address=mother.address,
        phone=mother.phone,
    )
    db.session.add(child)
    db.session.flush()
    number_archive(child, db.session.get(Institution, mother.institution_id).code)
    audit.record(actor, child.id, action="create", section="basic_info", purpose="registration")
    events.baby_archived.send(
        None, actor=actor, mother_resident_id=mother.id, baby_resident_id=child.id, born_on=born_on
    )
    return child


def record_postpartum_visit(actor, pregnancy: Pregnancy, mother: Resident, data: dict) -> PostpartumVisit:
    """The home visit after discharge or the 42-day check; one of each per delivery (a second: 409)."""
    if pregnancy.status != "delivered":
        raise Conflict("postpartum visits follow a delivery; record the delivery first", error="not_delivered")
    visit_on, kind = data["visit_on"], data["kind"]
    check_day("visit_on", visit_on, mother)
    home_from = pregnancy.discharged_on or pregnancy.delivered_on
    if kind == "home_visit" and visit_on < home_from:
        raise Invalid("visit_on", f"the home visit follows the discharge on {home_from}")
    if visit_on < pregnancy.delivered_on:
        raise Invalid("visit_on", f"before the delivery on {pregnancy.delivered_on}")
    earliest = pregnancy.delivered_on + timedelta(days=schedule.DAY42_EARLIEST_DAYS)
    if kind == "day42_check" and visit_on < earliest:
        raise Invalid(
            "visit_on",
            f"the 42-day check is done from {earliest} ({schedule.DAY42_EARLIEST_DAYS} days after the delivery)",
        )
    exists = db.session.scalar(
        select(PostpartumVisit.id).where(PostpartumVisit.pregnancy_id == pregnancy.id, PostpartumVisit.kind == kind)
    )
    if exists is not None:
        raise Conflict(f"the {kind} of this delivery is already recorded", error="already_recorded")
    visit = PostpartumVisit(
        pregnancy_id=pregnancy.id,
        resident_id=pregnancy.resident_id,
        days_after_delivery=(visit_on - pregnancy.delivered_on).days,
        institution_id=actor.institution_id,
        recorded_by_id=actor.id,
        **data,
    )
    db.session.add(visit)
    try:
        db.session.flush()
    except IntegrityError:  # the same visit recorded concurrently
        db.session.rollback()
        raise Conflict(f"the {kind} of this delivery is already recorded", error="already_recorded") from None
    record_service(
        actor, pregnancy.resident_id, "postpartum_visit", visit_on, source="postpartum_visit", source_id=visit.id,
        kind=kind,
    )  # fmt: skip
    return visit
