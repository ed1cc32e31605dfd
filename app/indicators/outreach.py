"""The worklist's outreach and two-way referral indicators: whether overdue patients are contacted,
whether contacted patients come back, whether hospitals answer referrals and whether returned
patients are followed up in time (the issue of the workable worklist; docs/indicators.md).

They count residents, like every indicator: a resident with two overdue entries counts once, in the
numerator if any of them was contacted (so the feedback rate is residents whose referral was answered
÷ residents referred, not referrals ÷ referrals). A resident enters a "within N days" denominator only
once their N days have run by D, so the latest days do not count as failures. No national target:
they are the team's own measures.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select

from app.followups.models import REFERRAL_CHASE, REVIEWED_OUTCOMES, ContactAttempt, FollowupPlan
from app.followups.plans import add_days
from app.indicators.engine import Context, Definition
from app.referrals.models import RETURN_FOLLOWUP_DAYS, Referral

RETURN_DAYS = 15  # "returned to care within 15 days of the contact"


def _overdue_plans(ctx: Context):
    """Plans whose due date fell in the year before D and were not done by it (still open, or done or
    closed later): the overdue worklist entries of the year. A referral's chase is the team's, not an
    overdue visit."""
    return and_(
        FollowupPlan.disease != REFERRAL_CHASE,
        FollowupPlan.due_on >= ctx.since,
        FollowupPlan.due_on < ctx.as_of,
        or_(FollowupPlan.status == "open", FollowupPlan.closed_on > FollowupPlan.due_on),
    )


def had_overdue_entry(ctx: Context):
    return ctx.member(f"overdue_entry:{ctx.tag}", select(FollowupPlan.resident_id).where(_overdue_plans(ctx)))


def overdue_entry_contacted(ctx: Context):
    contacted = (
        select(FollowupPlan.resident_id)
        .join(ContactAttempt, ContactAttempt.plan_id == FollowupPlan.id)
        .where(
            _overdue_plans(ctx),
            ContactAttempt.contacted_on > FollowupPlan.due_on,
            ContactAttempt.contacted_on <= ctx.as_of,
        )
    )
    return ctx.member(f"overdue_contacted:{ctx.tag}", contacted)


def _overdue_contacts(ctx: Context):
    """Contacts in the year about an entry overdue at the time, the resident not reported gone, whose
    15 days have run by D (a contact of last week cannot have failed yet)."""
    return and_(
        ContactAttempt.programme != REFERRAL_CHASE,
        ContactAttempt.contacted_on >= ctx.since,
        ContactAttempt.contacted_on <= ctx.as_of - timedelta(days=RETURN_DAYS),
        ContactAttempt.due_on < ContactAttempt.contacted_on,
        ContactAttempt.outcome.not_in(tuple(REVIEWED_OUTCOMES)),
    )


def contacted_overdue(ctx: Context):
    return ctx.member(f"contacted_overdue:{ctx.tag}", select(ContactAttempt.resident_id).where(_overdue_contacts(ctx)))


def returned_within_15_days(ctx: Context):
    returned = (
        select(ContactAttempt.resident_id)
        .join(FollowupPlan, FollowupPlan.id == ContactAttempt.plan_id)
        .where(
            _overdue_contacts(ctx),
            FollowupPlan.status == "done",
            FollowupPlan.closed_on >= ContactAttempt.contacted_on,
            FollowupPlan.closed_on <= add_days(ContactAttempt.contacted_on, RETURN_DAYS),
            FollowupPlan.closed_on <= ctx.as_of,
        )
    )
    return ctx.member(f"returned_15d:{ctx.tag}", returned)


def _issued_up(ctx: Context):
    return and_(
        Referral.direction == "up",
        Referral.status != "cancelled",
        Referral.issued_on >= ctx.since,
        Referral.issued_on <= ctx.as_of,
    )


def referred_up(ctx: Context):
    return ctx.member(f"referred_up:{ctx.tag}", select(Referral.resident_id).where(_issued_up(ctx)))


def referral_answered(ctx: Context):
    answered = select(Referral.resident_id).where(
        _issued_up(ctx), Referral.returned_on.is_not(None), Referral.returned_on <= ctx.as_of
    )
    return ctx.member(f"referral_answered:{ctx.tag}", answered)


def _back(ctx: Context):
    """Back with the team in the year, the 2 weeks run by D."""
    return and_(Referral.back_on >= ctx.since, Referral.back_on <= ctx.as_of - timedelta(days=RETURN_FOLLOWUP_DAYS))


def back_from_referral(ctx: Context):
    return ctx.member(f"back_from_referral:{ctx.tag}", select(Referral.resident_id).where(_back(ctx)))


def followed_up_in_2_weeks(ctx: Context):
    followed = select(Referral.resident_id).where(
        _back(ctx),
        Referral.followed_up_on.is_not(None),
        Referral.followed_up_on <= add_days(Referral.back_on, RETURN_FOLLOWUP_DAYS),
        Referral.followed_up_on <= ctx.as_of,
    )
    return ctx.member(f"followed_up_2w:{ctx.tag}", followed)


OUTREACH: tuple[Definition, ...] = (
    Definition(
        "overdue_contacted",
        "逾期患者联系率",
        "Overdue patients contacted",
        "outreach",
        had_overdue_entry,
        overdue_entry_contacted,
        None,
        text={
            "numerator": "of those, residents with a contact attempt (call, WeChat, home visit) about such an "
            "entry after its due date, by D",
            "denominator": "residents with a worklist entry (an open plan of any programme, a referral's chase "
            "left out) due between 1 January and the day before D and not done by its due date",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "return_to_care_15d",
        "联系后15天内回归率",
        "Contacted overdue patients back in care within 15 days",
        "outreach",
        contacted_overdue,
        returned_within_15_days,
        None,
        text={
            "numerator": f"of those, residents whose contacted entry was done (the missed visit or check made) "
            f"within {RETURN_DAYS} days of the contact, by D",
            "denominator": f"residents contacted between 1 January and D − {RETURN_DAYS} days about an entry "
            "overdue at the contact (contacts reporting the resident moved away or dead, and about a referral's "
            "chase, left out)",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "referral_feedback",
        "转诊反馈率",
        "Referral feedback rate",
        "referral",
        referred_up,
        referral_answered,
        None,
        text={
            "numerator": "of those, residents with such a referral returned (回转, the hospital's feedback) by D",
            "denominator": "residents referred up to a hospital between 1 January and D (cancelled referrals left out)",
            "window": "1 Jan … D",
        },
    ),
    Definition(
        "referral_return_followup",
        "回转患者2周内随访率",
        "Returned patients followed up within 2 weeks",
        "referral",
        back_from_referral,
        followed_up_in_2_weeks,
        None,
        text={
            "numerator": f"of those, residents followed up (a follow-up visit, check or service) within "
            f"{RETURN_FOLLOWUP_DAYS} days of the return, by D",
            "denominator": f"residents back with the team from a referral between 1 January and D − "
            f"{RETURN_FOLLOWUP_DAYS} days (an up referral returned, a down referral received)",
            "window": "1 Jan … D",
        },
    ),
)
