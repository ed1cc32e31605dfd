"""Chronic-disease follow-up (慢病随访): the visit record and the plans that say who is due.

- :class:`FollowupVisit` is one 随访服务记录表 (docs/domain.md §4). One row serves both
  variants: ``hypertension`` / ``t2dm`` say which parts of the form were filled in, so a
  patient with both diseases is seen once and the visit counts for both. Each covered
  disease gets its own classification (BP decides hypertension, fasting glucose decides
  T2DM); ``classification`` is the worst of them.
- :class:`FollowupPlan` is the obligation — the one plan engine of every service line: per
  resident and programme (its ``disease`` column: ``hypertension`` / ``t2dm`` for the chronic
  line, ``elderly_check`` / ``elderly_tcm`` / ``disabled_check`` for the yearly checks of
  ``app.followups.checkups``), exactly one *open* plan with a window ``[opens_on, due_on]`` (a
  partial unique index guarantees "at most one"; the daily job guarantees "at least one"). The
  visit or check that fulfils it closes it (``done``); moving away, death or the end of the
  programme close it (``closed``), a yearly check not done by the year's end lapses. "Overdue"
  (``due_on < today``) is never stored.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

MANAGED_DISEASES = ("hypertension", "t2dm")
# The yearly check programmes (app.followups.checkups); with the diseases, every programme a plan has.
CHECK_PROGRAMMES = ("elderly_check", "elderly_tcm", "disabled_check")
# The children's checks of 0–6 years (app.followups.child_plans): one plan, the next check of the schedule.
CHILD_PROGRAMME = "child"
# The programmes the worklist and /me name: a child whose next check is the newborn home visit is
# listed under ``newborn`` (the phone apps' 新生儿访视), every later check under ``child``.
NEWBORN_PROGRAMME, NEWBORN_KIND = "newborn", "newborn_visit"
# A pregnancy's visits (app.followups.maternal_plans): the next antenatal visit; after the delivery the next postpartum one.
MATERNAL_PROGRAMMES = ("antenatal", "postpartum")
# Two-way referral (app.referrals): ``referral`` — an issued referral still without feedback after the
# set days (the team chases the hospital); ``referral_return`` — the follow-up owed within 2 weeks of a
# patient's return from hospital.
REFERRAL_CHASE, REFERRAL_RETURN = "referral", "referral_return"
REFERRAL_PROGRAMMES = (REFERRAL_CHASE, REFERRAL_RETURN)
PROGRAMMES = MANAGED_DISEASES + CHECK_PROGRAMMES + (CHILD_PROGRAMME,) + MATERNAL_PROGRAMMES + REFERRAL_PROGRAMMES
LISTED_PROGRAMMES = (
    *MANAGED_DISEASES,
    *MATERNAL_PROGRAMMES,
    NEWBORN_PROGRAMME,
    CHILD_PROGRAMME,
    *CHECK_PROGRAMMES,
    *REFERRAL_PROGRAMMES,
)
METHODS = ("clinic", "home", "phone")  # 门诊 / 家庭 / 电话
FACE_TO_FACE = ("clinic", "home")
# 1 控制满意 2 控制不满意 3 不良反应 4 并发症 — ordered here by severity (worst wins)
CLASSIFICATIONS = ("controlled", "adverse_reaction", "uncontrolled", "complication")
PLAN_STATUSES = ("open", "done", "closed")
# Why the plan's window is what it is; priority: 2 urgent referral, 1 referral pending, 0 otherwise.
PLAN_REASONS = ("first", "routine", "recheck", "referral", "urgent")
# lapsed: a yearly check's plan still open when its year ended (the new year's plan replaces it)
# ended: the pregnancy ended, so its antenatal visits are no longer owed
# returned / cancelled: the referral a ``referral`` plan chased got its feedback or was withdrawn
CLOSE_REASONS = ("visit", "moved", "deceased", "not_managed", "lapsed", "ended", "returned", "cancelled")
# What a call, message or home visit to a resident on the worklist came to (ContactAttempt.outcome).
CONTACT_METHODS = ("phone", "wechat", "visit")
CONTACT_OUTCOMES = (
    "agreed",  # agreed to come
    "call_later",  # the entry leaves the worklist until call_back_on
    "unreachable",
    "wrong_number",
    "moved_away",  # → an institution admin's review list; confirmed, the archive closes
    "died",  # → the review list likewise
    "refused",  # stays on the list, with the reason
    "visited_elsewhere",
)
REVIEWED_OUTCOMES = {"moved_away": "moved", "died": "deceased"}  # outcome → the archive's status once confirmed
REVIEW_STATUSES = ("pending", "confirmed", "dismissed")

_OPEN = text("status = 'open'")


class FollowupVisit(db.Model):
    """One follow-up visit (随访服务记录表), hypertension and/or T2DM parts."""

    __tablename__ = "followup_visits"
    __table_args__ = (
        Index("ix_followup_visits_resident_on", "resident_id", "visit_on"),
        Index("ix_followup_visits_visit_on", "visit_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    visit_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(10))
    hypertension: Mapped[bool] = mapped_column(Boolean, default=False)
    t2dm: Mapped[bool] = mapped_column(Boolean, default=False)

    # classification per disease (null when that part was not filled in) and overall
    hypertension_classification: Mapped[str | None] = mapped_column(String(20))
    t2dm_classification: Mapped[str | None] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(20))
    computed_classification: Mapped[str | None] = mapped_column(String(20))
    classification_source: Mapped[str] = mapped_column(String(10), default="computed")  # computed | doctor
    classification_reason: Mapped[str | None] = mapped_column(String(300))

    symptoms: Mapped[list] = mapped_column(JSONType, default=list)
    symptoms_other: Mapped[str | None] = mapped_column(String(200))
    # signs
    sbp: Mapped[int | None] = mapped_column(SmallInteger)
    dbp: Mapped[int | None] = mapped_column(SmallInteger)
    heart_rate: Mapped[int | None] = mapped_column(SmallInteger)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    target_weight_kg: Mapped[float | None] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    target_bmi: Mapped[float | None] = mapped_column(Float)
    dorsalis_pedis: Mapped[str | None] = mapped_column(String(10))  # T2DM: normal | weakened | absent
    # lifestyle now and target: {"now": {...}, "target": {...}}
    lifestyle: Mapped[dict] = mapped_column(JSONType, default=dict)
    psychological_adjustment: Mapped[str | None] = mapped_column(String(10))  # good | fair | poor
    compliance: Mapped[str | None] = mapped_column(String(10))
    # tests
    fasting_glucose: Mapped[float | None] = mapped_column(Float)  # mmol/L
    hba1c: Mapped[float | None] = mapped_column(Float)  # %
    hba1c_on: Mapped[date | None] = mapped_column(Date)
    # medication
    adherence: Mapped[str | None] = mapped_column(String(15))  # regular | intermittent | none
    adverse_reaction: Mapped[bool] = mapped_column(Boolean, default=False)
    adverse_reaction_text: Mapped[str | None] = mapped_column(String(200))
    hypoglycaemia: Mapped[str | None] = mapped_column(String(12))  # none | occasional | frequent
    complications: Mapped[list] = mapped_column(JSONType, default=list)  # new or worse 并发症
    medications: Mapped[list] = mapped_column(JSONType, default=list)  # [{name, frequency, dose}]
    insulin: Mapped[dict | None] = mapped_column(JSONType)  # {type, dose}
    referral: Mapped[dict | None] = mapped_column(JSONType)  # {reason, institution, department}
    next_visit_on: Mapped[date | None] = mapped_column(Date)  # the doctor's 下次随访日期, as entered
    note: Mapped[str | None] = mapped_column(Text)

    # what the rules concluded
    alerts: Mapped[list] = mapped_column(JSONType, default=list)  # emergency values, e.g. ["sbp>=180"]
    referral_suggested: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent_referral: Mapped[bool] = mapped_column(Boolean, default=False)
    next_due_on: Mapped[date | None] = mapped_column(Date)

    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    @property
    def diseases(self) -> list[str]:
        return diseases_of(self)

    @property
    def face_to_face(self) -> bool:
        return is_face_to_face(self.method)


def is_face_to_face(method: str | None) -> bool:
    return method in FACE_TO_FACE


def diseases_of(visit) -> list[str]:
    """The diseases a visit (an object or a row of ``followup_visits``) covers."""
    return [d for d in MANAGED_DISEASES if getattr(visit, d)]


class FollowupPlan(db.Model):
    """The next visit or check a resident is due for, per programme (``disease``)."""

    __tablename__ = "followup_plans"
    __table_args__ = (
        # "One open plan per patient and disease", enforced by the database.
        Index(
            "uq_followup_plans_open", "resident_id", "disease", unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN
        ),
        # The reminder job's scan of open windows.
        Index("ix_followup_plans_open_window", "opens_on", "due_on", sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_followup_plans_resident", "resident_id", "disease", "opens_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    disease: Mapped[str] = mapped_column(String(20))  # the programme: one of PROGRAMMES
    # which visit or check of the programme's schedule, where it has one (the child checks: month_3 …)
    kind: Mapped[str | None] = mapped_column(String(20))
    opens_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    reason: Mapped[str] = mapped_column(String(10), default="routine")
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    # The latest visit for this disease when the plan was made or last tightened (the worklist's
    # "last BP / glucose").
    last_visit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("followup_visits.id"))
    closed_by_visit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("followup_visits.id"))
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(12))
    # Off the worklists until this day (a contact's "call later", a referral's days to wait for feedback).
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


_PENDING = text("review_status = 'pending'")


class ContactAttempt(db.Model):
    """One attempt to reach a resident about a worklist entry (a plan): how, what came of it, when to
    call back. ``moved_away`` / ``died`` wait for an institution admin's review (``review_status``);
    only the confirmation closes the archive."""

    __tablename__ = "contact_attempts"
    __table_args__ = (
        Index("ix_contact_attempts_plan", "plan_id", "id"),
        Index("ix_contact_attempts_resident", "resident_id", "contacted_on"),
        Index("ix_contact_attempts_pending", "institution_id", sqlite_where=_PENDING, postgresql_where=_PENDING),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("followup_plans.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    # the resident's institution when contacted: whose admins review a moved_away / died
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    programme: Mapped[str] = mapped_column(String(20))  # the plan's, as listed
    due_on: Mapped[date] = mapped_column(Date)  # the plan's due date when contacted (overdue if before contacted_on)
    method: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    call_back_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
    contacted_on: Mapped[date] = mapped_column(Date)  # the local day of the contact
    contacted_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    review_status: Mapped[str | None] = mapped_column(String(10))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(500))
    effective_on: Mapped[date | None] = mapped_column(Date)  # confirmed: the day the resident moved / died
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
