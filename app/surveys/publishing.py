"""Publishing a survey to its target: who is targeted on a day, the invitations (one INSERT …
SELECT) and their reminders through the outbox at a civil hour. The daily job (``jobs``) invites
residents who join a running survey's target."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, cast, exists, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.access.actors import Actor
from app.common.time import at_local, local_tz, now, today
from app.common.types import UTCDateTime
from app.contracts.models import Contract
from app.contracts.periods import in_force_clause
from app.errors import Conflict
from app.extensions import db
from app.notify import services as notify
from app.orgs.models import subtree_ids
from app.residents.models import Resident
from app.residents.populations import population_clause
from app.surveys.models import Survey, SurveyInvitation
from app.surveys.notifications import SURVEY_INVITATION

log = logging.getLogger(__name__)

CIVIL_HOURS = (9, 20)  # invitations go out between 09:00 and 20:00 local time


def signed_clause(day: date):
    """SQL over ``Resident``: a contract in force on ``day`` (app.contracts)."""
    return exists(select(Contract.id).where(Contract.resident_id == Resident.id, in_force_clause(day)))


def _population(name: str, day: date):
    return signed_clause(day) if name == "signed" else population_clause(name, day)


def target_clause(survey: Survey, day: date):
    """SQL over ``Resident``: the survey's target on ``day``."""
    conditions = [Resident.status == "active", Resident.institution_id.in_(subtree_ids(survey.institution.path))]
    clauses = [_population(name, day) for name in survey.populations or []]
    if clauses:
        conditions.append(and_(*clauses) if survey.population_match == "all" else or_(*clauses))
    return and_(*conditions)


def invitation_time(survey: Survey, at: datetime) -> datetime:
    """When the invitation may go out: not before the survey opens, and at a civil hour."""
    start, end = CIVIL_HOURS
    when = max(at, at_local(survey.opens_on, start))
    local = when.astimezone(local_tz())
    if local.hour < start:
        return at_local(local.date(), start)
    if local.hour >= end:
        return at_local(local.date() + timedelta(days=1), start)
    return when


def _invitation_payload(survey: Survey) -> dict:
    return {
        "title": survey.title,
        "institution": survey.institution.name,
        "closes_on": survey.closes_on.isoformat(),
        "survey_id": survey.id,
        "page": f"pages/survey/answer?id={survey.id}",
        "body": f"{survey.institution.name}邀请您参加“{survey.title}”，请于 {survey.closes_on.isoformat()} 前"
        f"在小程序中填写。您的回答如实统计，仅用于改进服务。",
    }


def _insert(model):
    return (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(model)


def invite(survey: Survey, day: date | None = None, at: datetime | None = None) -> tuple[int, int]:
    """Invite every targeted resident not invited yet: one INSERT … SELECT, then one reminder
    each through the outbox (dedup ``survey:<id>:<resident_id>``). Returns (invited, enqueued)."""
    day, at = day or today(), at or now()
    already = exists(
        select(SurveyInvitation.id).where(
            SurveyInvitation.survey_id == survey.id, SurveyInvitation.resident_id == Resident.id
        )
    )
    chosen = select(literal(survey.id), Resident.id, literal(at, UTCDateTime)).where(
        target_clause(survey, day), ~already
    )
    statement = (
        _insert(SurveyInvitation)
        .from_select(["survey_id", "resident_id", "invited_at"], chosen)
        .on_conflict_do_nothing(index_elements=["survey_id", "resident_id"])
        .returning(SurveyInvitation.id)
    )
    invited = len(db.session.execute(statement).all())
    if not invited:
        return 0, 0
    # The rows just written carry this run's ``invited_at``; their reminders go in one statement.
    just_invited = select(
        SurveyInvitation.resident_id, literal(f"survey:{survey.id}:") + cast(SurveyInvitation.resident_id, String)
    ).where(SurveyInvitation.survey_id == survey.id, SurveyInvitation.invited_at == at)
    enqueued = notify.enqueue_select(
        SURVEY_INVITATION, "resident", just_invited, _invitation_payload(survey), invitation_time(survey, at)
    )
    log.info("survey %s: %d residents invited, %d invitations enqueued", survey.id, invited, enqueued)
    return invited, enqueued


def publish(actor: Actor, survey: Survey) -> Survey:
    """Freeze the questionnaire and invite its target. A retry (or a concurrent second
    publish) finds the survey published and adds nothing."""
    if survey.status == "published":
        return survey
    day = today()
    if survey.closes_on < day:
        raise Conflict("the survey's closing date has passed", error="survey_closed")
    at = now()
    claimed = db.session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.status == "draft")
        .values(status="published", published_at=at, published_by_id=actor.id, updated_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(survey)
    if claimed != 1:  # someone else published it meanwhile
        return survey
    invite(survey, day, at)
    return survey
