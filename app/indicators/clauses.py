"""The clauses the indicators are built from (docs/domain.md §7), each a function of an evaluation
:class:`~app.indicators.engine.Context` returning a SQL boolean over ``Resident``; each shared term is
one function here, reading the facts the features keep:

- **archive open on D** (:func:`archive_open`): status ``active``, or moved away / deceased after D
  (``status_changed_on > D``) — so a past D is evaluated as it was;
- the **year window** is 1 January … D; the **dynamic-use window** is D minus one year … D
  (:func:`app.archive.metrics.dynamic_window`);
- populations on D are :func:`app.residents.populations.population_clause`;
- **managed patient** of a disease on D (:func:`managed`): an active hypertension / T2DM diagnosis
  recorded on or before D, and the archive open on D;
- **signed on D** (:func:`signed_on`): a contract signed by the end of D whose period covers D and
  that was not terminated on or before D.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, true

from app.archive.metrics import active_residents_select, dynamic_window, standardised_clause
from app.archive.models import ChildCheck, HealthCheck, ServiceRecord
from app.common.time import years_before
from app.contracts.models import Contract
from app.followups.child_plans import schedule_rows
from app.followups.indicators import STANDARD_VISITS, visit_stats
from app.followups.plans import add_days_column
from app.indicators.engine import Context
from app.residents.models import Condition, Resident
from app.residents.populations import population_clause
from app.surveys.models import Survey, SurveyResponse
from app.surveys.rules import positive_respondent as survey_positive


def archive_open(on: date):
    """The archive is open on ``on``: active, or closed (moved, deceased) only after that day."""
    return or_(
        Resident.status == "active", and_(Resident.status_changed_on.is_not(None), Resident.status_changed_on > on)
    )


def population(name: str, ctx: Context):
    """:func:`app.residents.populations.population_clause` — with the diagnosis populations
    (hypertension, T2DM: an active diagnosis on record) written as a set of the conditions table
    instead of a correlated ``EXISTS``: the same residents (a test checks it), but computed once per
    statement instead of probed per resident."""
    if name in ("hypertension", "t2dm"):
        return ctx.member_of(
            f"diagnosis:{name}", Condition.__table__, and_(Condition.disease == name, Condition.active)
        )
    return population_clause(name, ctx.as_of)


def health_check_in_year(ctx: Context):
    return ctx.member(
        f"health_check:{ctx.year}:{ctx.tag}",
        select(HealthCheck.resident_id).where(HealthCheck.checked_on >= ctx.since, HealthCheck.checked_on <= ctx.as_of),
    )


def tcm_in_year(ctx: Context):
    return ctx.member(
        f"tcm:{ctx.year}:{ctx.tag}",
        select(ServiceRecord.resident_id).where(
            ServiceRecord.kind == "tcm", ServiceRecord.served_on >= ctx.since, ServiceRecord.served_on <= ctx.as_of
        ),
    )


def standardised_archive(ctx: Context):
    return standardised_clause()


def dynamic_use(ctx: Context):
    return ctx.member(f"activity:{ctx.tag}", active_residents_select(*dynamic_window(ctx.as_of)))


@cache
def managed(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        diagnosed = and_(Condition.disease == disease, Condition.active.is_(True), Condition.diagnosed_on <= ctx.as_of)
        return and_(
            archive_open(ctx.as_of), ctx.member_of(f"managed:{disease}:{ctx.tag}", Condition.__table__, diagnosed)
        )

    clause.__name__ = f"managed_{disease}"
    return clause


def _followup_stats(ctx: Context):
    """Per patient and disease: face-to-face visits this year and whether the latest is on target
    (:func:`app.followups.indicators.visit_stats`), once per statement."""

    def build():
        stats = visit_stats(ctx.since, ctx.as_of)
        return select(stats.c.resident_id, stats.c.disease, stats.c.n, stats.c.ok).cte(f"followup_stats_{ctx.tag}")

    return ctx.memo(f"followup_stats_{ctx.tag}", build)


@cache
def standardised_management(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        stats = _followup_stats(ctx)
        return ctx.member_of(
            f"standardised:{disease}:{ctx.year}:{ctx.tag}",
            stats,
            and_(stats.c.disease == disease, stats.c.n >= STANDARD_VISITS),
        )

    return clause


@cache
def controlled(disease: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        stats = _followup_stats(ctx)
        return ctx.member_of(
            f"controlled:{disease}:{ctx.year}:{ctx.tag}", stats, and_(stats.c.disease == disease, stats.c.ok == 1)
        )

    return clause


# children (docs/domain.md §7, 儿童健康管理) -------------------------------------------------------------


def under_3(ctx: Context):
    """Children 0–36 months on D (before the 3rd birthday) with an open archive."""
    return and_(archive_open(ctx.as_of), Resident.birth_on > years_before(ctx.as_of, 3), Resident.birth_on <= ctx.as_of)


def child_check_in_year(ctx: Context):
    return ctx.member(
        f"child_check:{ctx.year}:{ctx.tag}",
        select(ChildCheck.resident_id).where(ChildCheck.checked_on >= ctx.since, ChildCheck.checked_on <= ctx.as_of),
    )


def child_eye_check_in_year(ctx: Context):
    return ctx.member(
        f"child_eye_check:{ctx.year}:{ctx.tag}",
        select(ChildCheck.resident_id).where(
            ChildCheck.eye_checked.is_(True), ChildCheck.checked_on >= ctx.since, ChildCheck.checked_on <= ctx.as_of
        ),
    )


def _missed_due_check(ctx: Context, column: str, with_tcm: bool):
    """Residents with a check of the schedule (``column``: under3 or tcm) whose window closed between
    1 January and D and that was not done by D (with TCM guidance, for ``with_tcm``)."""
    kinds = schedule_rows()
    due = add_days_column(Resident.birth_on, kinds.c.due_day)
    done = select(ChildCheck.id).where(
        ChildCheck.resident_id == Resident.id, ChildCheck.kind == kinds.c.kind, ChildCheck.checked_on <= ctx.as_of
    )
    if with_tcm:
        done = done.where(ChildCheck.tcm_guidance != [])
    return (
        select(Resident.id)
        .select_from(Resident)
        .join(kinds, true())
        .where(kinds.c[column] == 1, due >= ctx.since, due <= ctx.as_of, Resident.birth_on > years_before(ctx.as_of, 3))
        .where(~exists(done))
    )


def _outside(membership):
    """Not in a set — also where the membership is NULL (a resident without any row of the count's
    joined facts is in none of its sets)."""
    return case((membership, 0), else_=1) == 1


def every_due_check_done(ctx: Context):
    """Every under-3 check (3, 6, 8, 12, 18, 24, 30, 36 months) whose window closed this year was done."""
    return _outside(ctx.member(f"missed_under3_check:{ctx.year}:{ctx.tag}", _missed_due_check(ctx, "under3", False)))


def every_due_tcm_given(ctx: Context):
    """Every check with TCM guidance (6 … 36 months) whose window closed this year gave it."""
    return _outside(ctx.member(f"missed_child_tcm:{ctx.year}:{ctx.tag}", _missed_due_check(ctx, "tcm", True)))


# signing (docs/domain.md §5) ----------------------------------------------------------------------

KEY_POPULATIONS = (
    "elderly",
    "hypertension",
    "t2dm",
    "children_0_6",
    "pregnant",
    "disabled",
    "poverty_alleviated",
    "special_family",
)


def _contract_signed_by(ctx: Context):
    return and_(Contract.signed_at.is_not(None), Contract.signed_at < ctx.cutoff)


def _in_force(on: date):
    return and_(
        Contract.starts_on <= on,
        Contract.ends_on >= on,
        or_(Contract.terminated_on.is_(None), Contract.terminated_on > on),
    )


def _contracts(ctx: Context):
    """Per resident, over the contracts signed by the end of D (one pass, once per statement):
    ``signed`` (one in force on D), ``family`` (… under a family contract), ``ended`` (a period
    ended in the year before D, not terminated) and ``renewed`` (a contract starting later than the
    latest such period)."""

    def build():
        ended = _ended_in_window(ctx)
        return (
            select(
                Contract.resident_id.label("resident_id"),
                func.max(case((_in_force(ctx.as_of), 1), else_=0)).label("signed"),
                func.max(case((and_(_in_force(ctx.as_of), Contract.family_group_id.is_not(None)), 1), else_=0)).label(
                    "family"
                ),
                func.max(case((ended, 1), else_=0)).label("ended"),
                case(
                    (func.max(Contract.starts_on) > func.max(case((ended, Contract.starts_on), else_=None)), 1), else_=0
                ).label("renewed"),
            )
            .where(_contract_signed_by(ctx))
            .group_by(Contract.resident_id)
            .cte(f"contracts_{ctx.tag}")
        )

    return ctx.memo(f"contracts_{ctx.tag}", build)


def _with_contract(ctx: Context, column: str):
    flags = _contracts(ctx)
    return ctx.member_of(f"contract_{column}:{ctx.tag}", flags, flags.c[column] == 1)


def signed_on(ctx: Context):
    """Signed on D: a contract signed by the end of D, in force on D (period covers D, not terminated)."""
    return _with_contract(ctx, "signed")


def family_signed_on(ctx: Context):
    return _with_contract(ctx, "family")


@cache
def active_population(name: str | None) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        if name is None:
            return archive_open(ctx.as_of)
        return and_(archive_open(ctx.as_of), population(name, ctx))

    return clause


def key_population(ctx: Context):
    return and_(archive_open(ctx.as_of), or_(*(population(p, ctx) for p in KEY_POPULATIONS)))


def _ended_in_window(ctx: Context):
    """A period that ended in the year before D (on D − 1 year … D − 1 day), not terminated."""
    return and_(
        Contract.ends_on >= years_before(ctx.as_of, 1), Contract.ends_on < ctx.as_of, Contract.terminated_on.is_(None)
    )


def renewal_base(ctx: Context):
    return and_(archive_open(ctx.as_of), _with_contract(ctx, "ended"))


def renewed(ctx: Context):
    """A later contract (by start) than the latest period that ended in the window, signed by D."""
    return _with_contract(ctx, "renewed")


# surveys ----------------------------------------------------------------------------------------


def _responses(ctx: Context, kind: str):
    """This year's responses of ``kind`` by the end of D, ranked per resident (latest first)."""

    def build():
        resp = SurveyResponse
        positive = case(
            (survey_positive(resp.scored_count, resp.positive_count, Survey.positive_threshold_permille), 1), else_=0
        )
        return (
            select(
                resp.resident_id,
                positive.label("positive"),
                func.row_number()
                .over(partition_by=resp.resident_id, order_by=(resp.submitted_at.desc(), resp.id.desc()))
                .label("rn"),
            )
            .join(Survey, Survey.id == resp.survey_id)
            .where(
                Survey.status == "published",
                Survey.kind == kind,
                Survey.opens_on >= ctx.since,
                Survey.opens_on <= ctx.as_of,
                resp.submitted_at < ctx.cutoff,
            )
            .cte(f"{kind}_responses_{ctx.tag}")
        )

    return ctx.memo(f"{kind}_responses_{ctx.tag}", build)


@cache
def respondent(kind: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        responses = _responses(ctx, kind)
        return ctx.member_of(f"{kind}_respondent:{ctx.year}:{ctx.tag}", responses, responses.c.rn == 1)

    return clause


@cache
def positive_respondent(kind: str) -> Callable[[Context], Any]:
    def clause(ctx: Context):
        responses = _responses(ctx, kind)
        return ctx.member_of(
            f"{kind}_positive:{ctx.year}:{ctx.tag}", responses, and_(responses.c.rn == 1, responses.c.positive == 1)
        )

    return clause
