"""What ``GET /me`` reads from this feature (registered in ``app.wiring``): the next visits and checks
due for the account's own archive and the family members it may view."""

from __future__ import annotations

from sqlalchemy import select

from app.access.scope import resident_ids_for_account
from app.audit import services as audit
from app.common.time import today
from app.extensions import db
from app.followups.models import REFERRAL_CHASE, FollowupPlan
from app.followups.plans import plan_applies_clause, window_of
from app.followups.worklist import kind_of, programme_of
from app.residents.models import Resident


def me_section(actor, resident, body: dict) -> None:
    """ME_SECTIONS hook: ``due`` — every open plan that still applies of the account's own archive
    and its active family grants, earliest due first (the phone's "what is due for my family").
    A family member's plans are archive data: each one listed gets an access-log row."""
    day = today()
    ids = resident_ids_for_account(actor)
    rows = db.session.execute(
        select(
            FollowupPlan.id,
            FollowupPlan.disease,
            FollowupPlan.opens_on,
            FollowupPlan.due_on,
            FollowupPlan.kind.label("plan_kind"),
            Resident.id.label("resident_id"),
            Resident.name,
        )
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(
            FollowupPlan.resident_id.in_(ids),
            FollowupPlan.status == "open",
            FollowupPlan.disease != REFERRAL_CHASE,  # the team's chase of a hospital, not the resident's to do
            plan_applies_clause(),
        )
        .order_by(FollowupPlan.due_on, FollowupPlan.id)
    ).all()
    body["due"] = [
        {
            "plan_id": row.id,
            "resident_id": row.resident_id,
            "name": row.name,
            "programme": programme_of(row.disease, row.plan_kind),
            "kind": kind_of(row.disease, row.plan_kind),
            "opens_on": row.opens_on,
            "due_on": row.due_on,
            "window": window_of(row.opens_on, row.due_on, day),
            "overdue_days": max(0, (day - row.due_on).days),
        }
        for row in rows
    ]
    family = list(dict.fromkeys(r.resident_id for r in rows if r.resident_id != resident.id))
    audit.record_many(actor, family, action="read", section="due_plans", purpose="family_access")
