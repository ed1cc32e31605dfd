"""The maternal and child indicators of the district's 附件2 second table (docs/domain.md §7): their
clauses over the maternal records (``app.maternal``) and the child checks, and their definitions, in
the table's column order (catalogue.DEFINITIONS splices them in after the elderly's).

"Live births" are the live-born deliveries of the year (delivered 1 January … D) of mothers whose
archive is in the subtree — whatever became of the archive since (a mother who moved away after the
delivery still delivered here). A mother counts once however many deliveries she had in the year.
"""

from __future__ import annotations

from sqlalchemy import and_, exists, func, select

from app.archive.models import ChildCheck
from app.followups.plans import add_days
from app.indicators.clauses import (
    active_population,
    archive_open,
    child_check_in_year,
    child_eye_check_in_year,
    every_due_check_done,
    every_due_tcm_given,
    under_3,
)
from app.indicators.engine import Context, Definition
from app.maternal.models import AntenatalVisit, PostpartumVisit, Pregnancy
from app.maternal.schedule import EARLY_REGISTRATION_DAYS, HOME_VISIT_DAYS, SYSTEMATIC_VISITS
from app.residents.models import Resident

children_0_6 = active_population("children_0_6")


def _live_births(ctx: Context, *where):
    """The mothers (resident ids) of the year's live births whose pregnancy meets ``where``."""
    return select(Pregnancy.resident_id).where(
        Pregnancy.outcome == "live_birth",
        Pregnancy.delivered_on >= ctx.since,
        Pregnancy.delivered_on <= ctx.as_of,
        *where,
    )


def live_birth_mother(ctx: Context):
    return ctx.member(f"live_birth:{ctx.year}:{ctx.tag}", _live_births(ctx))


def _early():
    """Registered before 13 weeks and first examined before 13 weeks (the first visit's gestation)."""
    first = select(AntenatalVisit.id).where(
        AntenatalVisit.pregnancy_id == Pregnancy.id,
        AntenatalVisit.slot == "first",
        AntenatalVisit.gestational_days < EARLY_REGISTRATION_DAYS,
    )
    return and_(Pregnancy.early_registration.is_(True), exists(first))


def early_registered(ctx: Context):
    return ctx.member(f"early_registration:{ctx.year}:{ctx.tag}", _live_births(ctx, _early()))


def systematically_managed(ctx: Context):
    visits = (
        select(func.count(AntenatalVisit.id))
        .where(AntenatalVisit.pregnancy_id == Pregnancy.id, AntenatalVisit.visit_on <= ctx.as_of)
        .scalar_subquery()
    )
    postpartum = select(PostpartumVisit.id).where(
        PostpartumVisit.pregnancy_id == Pregnancy.id, PostpartumVisit.visit_on <= ctx.as_of
    )
    managed = and_(_early(), visits >= SYSTEMATIC_VISITS, exists(postpartum))
    return ctx.member(f"maternal_systematic:{ctx.year}:{ctx.tag}", _live_births(ctx, managed))


def visited_after_discharge(ctx: Context):
    home = select(PostpartumVisit.id).where(
        PostpartumVisit.pregnancy_id == Pregnancy.id,
        PostpartumVisit.kind == "home_visit",
        PostpartumVisit.visit_on <= ctx.as_of,
        PostpartumVisit.visit_on
        <= add_days(func.coalesce(Pregnancy.discharged_on, Pregnancy.delivered_on), HOME_VISIT_DAYS),
    )
    return ctx.member(f"postpartum_visit:{ctx.year}:{ctx.tag}", _live_births(ctx, exists(home)))


def newborn(ctx: Context):
    """Children born this year (1 January … D) with an open archive."""
    return and_(archive_open(ctx.as_of), Resident.birth_on >= ctx.since, Resident.birth_on <= ctx.as_of)


def newborn_visited(ctx: Context):
    return ctx.member(
        f"newborn_visit:{ctx.year}:{ctx.tag}",
        select(ChildCheck.resident_id).where(ChildCheck.kind == "newborn_visit", ChildCheck.checked_on <= ctx.as_of),
    )


_LIVE_BIRTHS = "mothers of the year's live births (a live-born delivery 1 January … D) in the subtree"

MATERNAL_AND_CHILD: tuple[Definition, ...] = (
    Definition(
        "early_registration",
        "早孕建册率",
        "Early pregnancy registration rate",
        "maternal",
        live_birth_mother,
        early_registered,
        0.90,
        text={
            "numerator": "of those, mothers whose pregnancy was registered (建册) and first examined before "
            "13 weeks of gestation (from the last menstrual period)",
            "denominator": _LIVE_BIRTHS,
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "maternal_systematic_management",
        "孕产妇系统管理率",
        "Systematic maternal management rate",
        "maternal",
        live_birth_mother,
        systematically_managed,
        0.90,
        csv_column="maternal_sys_mgmt_target_90pct",
        text={
            "numerator": "of those, mothers with early registration, at least 5 antenatal visits and a "
            "postpartum visit (home visit or 42-day check) by D",
            "denominator": _LIVE_BIRTHS,
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "postpartum_visit",
        "产后访视率",
        "Postpartum visit rate",
        "maternal",
        live_birth_mother,
        visited_after_discharge,
        0.90,
        csv_column="postpartum_visit_target_90pct",
        text={
            "numerator": "of those, mothers with a postpartum home visit within 28 days of discharge "
            "(of the delivery when no discharge date is recorded), by D",
            "denominator": _LIVE_BIRTHS,
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "newborn_visit",
        "新生儿访视率",
        "Newborn home visit rate",
        "children",
        newborn,
        newborn_visited,
        0.90,
        csv_column="newborn_visit_target_90pct",
        text={
            "numerator": "of those, newborns with a newborn home visit (新生儿家庭访视) by D",
            "denominator": "children born 1 January … D with an open archive (newborns, born here or moved in)",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "under7_health_management",
        "7岁以下儿童健康管理率",
        "Health management of children under 7",
        "children",
        children_0_6,
        child_check_in_year,
        0.90,
        csv_column="under7_mgmt_target_90pct",
        text={
            "numerator": "of those, children with a child health check (儿童健康检查) this year",
            "denominator": "children 0–6 (before the 7th birthday) on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "child_eye_check",
        "0-6岁儿童眼保健和视力检查覆盖率",
        "Eye and vision check coverage of children 0–6",
        "children",
        children_0_6,
        child_eye_check_in_year,
        0.90,
        csv_column="child_eye_check_target_90pct",
        text={
            "numerator": "of those, children with an eye and vision check at a child check this year",
            "denominator": "children 0–6 on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "under3_systematic_management",
        "3岁以下儿童系统管理率",
        "Systematic management of children under 3",
        "children",
        under_3,
        every_due_check_done,
        0.80,
        csv_column="under3_sys_mgmt_target_80pct",
        text={
            "numerator": "of those, children who had every check due this year for their age: each of "
            "the 3, 6, 8, 12, 18, 24, 30 and 36-month checks whose window (app.archive.child_schedule) "
            "closed between 1 January and D was done (a child with none due yet counts)",
            "denominator": "children 0–36 months (before the 3rd birthday) on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "child_tcm",
        "儿童中医药健康管理率",
        "TCM health management of children under 3",
        "children",
        under_3,
        every_due_tcm_given,
        0.84,
        csv_column="child_tcm_target_84pct",
        text={
            "numerator": "of those, children who had the TCM guidance due for their age this year: each "
            "of the 6, 12, 18, 24, 30 and 36-month checks whose window closed between 1 January and D "
            "gave TCM guidance (a child with none due yet counts)",
            "denominator": "children 0–36 months on D with an open archive",
            "window": "1 Jan … D",
        },
    ),
)
