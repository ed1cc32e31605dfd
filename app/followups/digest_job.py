"""The morning digest :func:`team_digest`: to every active member of each team with patients due
or overdue, the counts and the top of the worklist, in the staff inbox. Runs as
``app.followups.job_runs`` says.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select

from app.accounts.models import Staff
from app.common.time import today as local_today
from app.extensions import db
from app.followups import rules
from app.followups.job_runs import DISEASE_NAMES
from app.followups.job_runs import commit_run as _commit
from app.followups.models import FollowupPlan
from app.followups.notifications import TEAM_DIGEST
from app.followups.plans import managed_plan_clause, not_snoozed
from app.notify import services as notify
from app.orgs.models import Team, TeamMember
from app.residents.models import Resident


def team_digest(today: date | None = None) -> dict:
    """Morning: each team's due / overdue counts and the top of its worklist, to each member's inbox."""
    day = today or local_today()
    top_n = rules.window_config()["digest_top"]
    where = (
        FollowupPlan.status == "open",
        managed_plan_clause(),
        Resident.team_id.is_not(None),
        FollowupPlan.opens_on <= day,
        not_snoozed(day),
    )
    counts = {
        row.team_id: row
        for row in db.session.execute(
            select(
                Resident.team_id,
                func.sum(case((FollowupPlan.due_on < day, 1), else_=0)).label("overdue"),
                func.sum(case((FollowupPlan.due_on >= day, 1), else_=0)).label("due"),
            )
            .select_from(FollowupPlan)
            .join(Resident, Resident.id == FollowupPlan.resident_id)
            .where(*where)
            .group_by(Resident.team_id)
        )
    }
    if not counts:
        return _commit({"teams": 0, "enqueued": 0}, "team_digest", day)
    ranked = (
        select(
            Resident.team_id,
            Resident.name,
            FollowupPlan.disease,
            FollowupPlan.due_on,
            FollowupPlan.priority,
            func.row_number()
            .over(
                partition_by=Resident.team_id,
                order_by=(FollowupPlan.priority.desc(), FollowupPlan.due_on, FollowupPlan.id),
            )
            .label("rn"),
        )
        .select_from(FollowupPlan)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(*where)
        .subquery()
    )
    top: dict = {}
    for row in db.session.execute(select(ranked).where(ranked.c.rn <= top_n).order_by(ranked.c.team_id, ranked.c.rn)):
        top.setdefault(row.team_id, []).append(
            {
                "name": row.name,
                "disease": row.disease,
                "due_on": row.due_on.isoformat(),
                "overdue_days": max(0, (day - row.due_on).days),
                "priority": row.priority,
            }
        )
    members = db.session.execute(
        select(TeamMember.team_id, TeamMember.staff_id, Team.name)
        .join(Team, Team.id == TeamMember.team_id)
        .join(Staff, Staff.id == TeamMember.staff_id)
        .where(Team.active, Staff.active, TeamMember.team_id.in_(list(counts)))
        .order_by(TeamMember.team_id, TeamMember.staff_id)
    ).all()
    items = []
    for team_id, staff_id, team_name in members:
        due, overdue = int(counts[team_id].due or 0), int(counts[team_id].overdue or 0)
        lines = [
            f"{p['name']}（{DISEASE_NAMES[p['disease']]}，"
            + (f"逾期{p['overdue_days']}天" if p["overdue_days"] else f"{p['due_on']}到期")
            + ("，需转诊" if p["priority"] else "")
            + "）"
            for p in top.get(team_id, [])
        ]
        body = f"{team_name}今日待随访 {due} 项，已逾期 {overdue} 项。" + ("优先：" + "；".join(lines) if lines else "")
        payload = {
            "title": TEAM_DIGEST.title,
            "body": body,
            "team_id": team_id,
            "team": team_name,
            "day": day.isoformat(),
            "due": due,
            "overdue": overdue,
            "top": top.get(team_id, []),
        }
        key = f"followup-digest:{team_id}:{staff_id}:{day.isoformat()}"
        items.append((notify.staff(staff_id), TEAM_DIGEST.kind, key, payload, None))
    return _commit({"teams": len(counts), "enqueued": notify.enqueue_many(items)}, "team_digest", day)
