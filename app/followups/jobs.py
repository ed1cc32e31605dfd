"""The follow-up feature's daily jobs (listed in ``app.scheduler.jobs``).

Each is a plain function (``today`` may be given for catch-up runs and tests; it defaults to
``app.common.time.today()``), works set-based — one query to find, bulk statements to change —
commits once and is idempotent: a second run on the same day changes and enqueues nothing.

- :func:`ensure_plans` — every managed patient has exactly one open plan per disease: closes the
  plans of residents who moved away or died and of diagnoses no longer active, then opens the
  missing ones with one ``INSERT … SELECT`` (window from the last face-to-face visit, or a first
  window from today for a patient never seen).
- :func:`send_reminders` — one resident reminder when a window opens and one when it is about to
  close (``closing_days`` before ``due_on``), deduplicated by ``followup:{resident}:open:{opens_on}``
  / ``followup:{resident}:closing:{due_on}``: a patient with both diseases whose windows coincide
  gets one message naming both. Delivered from ``reminder_hour`` (09:00 local), never at night.
- :func:`team_digest` — each morning, to every active member of each team with patients due or
  overdue: the counts and the top of the worklist, in the staff inbox.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import (
    Date,
    Integer,
    String,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.accounts.models import Staff
from app.common.time import at_local, now
from app.common.time import today as local_today
from app.common.types import UTCDateTime
from app.extensions import db
from app.followups import rules
from app.followups.models import FACE_TO_FACE, MANAGED_DISEASES, FollowupPlan, FollowupVisit
from app.followups.notifications import TEAM_DIGEST, WINDOW_CLOSING, WINDOW_OPEN
from app.followups.plans import managed_plan_clause
from app.notify import services as notify
from app.notify.models import Outbox
from app.orgs.models import Team, TeamMember
from app.residents.models import Condition, Resident

log = logging.getLogger(__name__)

DISEASE_NAMES = {"hypertension": "高血压", "t2dm": "糖尿病"}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def add_days(expr, days: int):
    """``expr + days`` for a DATE expression, on SQLite and PostgreSQL."""
    if _dialect() == "sqlite":
        return func.date(expr, f"{int(days):+d} days", type_=Date)
    return type_coerce(expr + literal_column(str(int(days)), Integer), Date)


def _commit(counts: dict, name: str, day: date) -> dict:
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    log.info("followups %s for %s: %s", name, day, counts)
    return counts


# --- plans --------------------------------------------------------------------------------------


def close_inactive(day: date) -> int:
    """Close the open plans of residents whose archive is no longer active (moved / deceased)."""
    status = select(Resident.status).where(Resident.id == FollowupPlan.resident_id).scalar_subquery()
    result = db.session.execute(
        update(FollowupPlan)
        .where(
            FollowupPlan.status == "open",
            FollowupPlan.resident_id.in_(select(Resident.id).where(Resident.status != "active")),
        )
        .values(status="closed", closed_on=day, close_reason=status, updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def close_not_managed(day: date) -> int:
    """Close the open plans whose diagnosis is no longer active (management ended)."""
    active = exists(
        select(Condition.id).where(
            Condition.resident_id == FollowupPlan.resident_id,
            Condition.disease == FollowupPlan.disease,
            Condition.active,
        )
    )
    result = db.session.execute(
        update(FollowupPlan)
        .where(FollowupPlan.status == "open", ~active)
        .values(status="closed", closed_on=day, close_reason="not_managed", updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def missing_plans_select(day: date, cfg: dict | None = None):
    """SELECT of the plans to open: (resident_id, disease, opens_on, due_on, status, reason, priority,
    last_visit_id, created_at, updated_at) for each managed patient and disease without one."""
    cfg = cfg or rules.window_config()
    condition, visit, plan = Condition, FollowupVisit, FollowupPlan
    covers = case((condition.disease == "hypertension", visit.hypertension), else_=visit.t2dm)
    last_visit = (
        select(visit.id)
        .where(visit.resident_id == condition.resident_id, covers, visit.method.in_(FACE_TO_FACE))
        .order_by(visit.visit_on.desc(), visit.id.desc())
        .limit(1)
        .correlate(condition)
        .scalar_subquery()
    )
    missing = (
        select(
            condition.resident_id.label("resident_id"),
            condition.disease.label("disease"),
            last_visit.label("last_visit_id"),
        )
        .select_from(condition)
        .join(Resident, Resident.id == condition.resident_id)
        .where(
            condition.active,
            condition.disease.in_(MANAGED_DISEASES),
            Resident.status == "active",
            ~exists(
                select(plan.id).where(
                    plan.resident_id == condition.resident_id, plan.disease == condition.disease, plan.status == "open"
                )
            ),
        )
        .subquery("missing")
    )
    classification = case(
        (missing.c.disease == "hypertension", visit.hypertension_classification), else_=visit.t2dm_classification
    )
    recheck = or_(classification != "controlled", visit.referral_suggested, visit.urgent_referral)
    never = visit.id.is_(None)
    first_opens, first_due = rules.first_window(day, cfg)
    reason = case(
        (never, "first"),
        (visit.urgent_referral, "urgent"),
        (visit.referral_suggested, "referral"),
        (recheck, "recheck"),
        else_="routine",
    )
    priority = case((visit.urgent_referral, 2), (visit.referral_suggested, 1), else_=0)
    opens_on = case(
        (never, literal(first_opens, Date)),
        (recheck, add_days(visit.visit_on, 1)),
        else_=add_days(visit.visit_on, cfg["open_days"]),
    )
    due_on = case(
        (never, literal(first_due, Date)),
        (recheck, add_days(visit.visit_on, cfg["recheck_days"])),
        else_=add_days(visit.visit_on, cfg["due_days"]),
    )
    at = literal(now(), UTCDateTime)
    return (
        select(
            missing.c.resident_id,
            missing.c.disease,
            opens_on,
            due_on,
            literal("open", String),
            reason,
            priority,
            missing.c.last_visit_id,
            at,
            at,
        )
        .select_from(missing.outerjoin(visit, visit.id == missing.c.last_visit_id))
        .where(true())
    )  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT


PLAN_COLUMNS = (
    "resident_id",
    "disease",
    "opens_on",
    "due_on",
    "status",
    "reason",
    "priority",
    "last_visit_id",
    "created_at",
    "updated_at",
)


def open_missing(day: date) -> int:
    """One INSERT … SELECT … ON CONFLICT DO NOTHING (a visit racing the job wins)."""
    insert = pg_insert if _dialect() == "postgresql" else sqlite_insert
    stmt = (
        insert(FollowupPlan)
        .from_select(list(PLAN_COLUMNS), missing_plans_select(day))
        .on_conflict_do_nothing(index_elements=["resident_id", "disease"], index_where=text("status = 'open'"))
        .returning(FollowupPlan.id)
    )
    return len(db.session.execute(stmt).all())


def ensure_plans(today: date | None = None) -> dict:
    """Daily: close plans that ended, open the missing ones. Idempotent."""
    day = today or local_today()
    counts = {"closed_inactive": close_inactive(day), "closed_not_managed": close_not_managed(day)}
    counts["opened"] = open_missing(day)
    return _commit(counts, "ensure_plans", day)


# --- reminders ----------------------------------------------------------------------------------


def _key(kind: str, column):
    """SQL for the dedup key ``followup:{resident_id}:{kind}:{date}`` (matches :func:`_py_key`)."""
    return (
        literal("followup:", String)
        + cast(FollowupPlan.resident_id, String)
        + literal(f":{kind}:", String)
        + cast(column, String)
    )


def _py_key(kind: str, resident_id: int, day: date) -> str:
    return f"followup:{resident_id}:{kind}:{day.isoformat()}"


def _item(diseases) -> str:
    return "、".join(DISEASE_NAMES[d] for d in MANAGED_DISEASES if d in diseases) + "随访"


def _window_rows(day: date, kind: str, cfg: dict):
    column = FollowupPlan.opens_on if kind == "open" else FollowupPlan.due_on
    stmt = (
        select(
            FollowupPlan.resident_id,
            FollowupPlan.disease,
            FollowupPlan.opens_on,
            FollowupPlan.due_on,
            Team.name.label("team"),
        )
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .outerjoin(Team, Team.id == Resident.team_id)
        .where(
            FollowupPlan.status == "open",
            managed_plan_clause(),
            FollowupPlan.opens_on <= day,
            FollowupPlan.due_on >= day,
            ~exists(select(Outbox.id).where(Outbox.dedup_key == _key(kind, column))),
        )
    )
    if kind == "closing":
        stmt = stmt.where(FollowupPlan.due_on <= day + timedelta(days=cfg["closing_days"]), FollowupPlan.opens_on < day)
    return db.session.execute(stmt.order_by(FollowupPlan.resident_id, FollowupPlan.id)).all()


def _reminders(day: date, kind: str, cfg: dict) -> list:
    groups: dict = {}
    for row in _window_rows(day, kind, cfg):
        anchor = row.opens_on if kind == "open" else row.due_on
        group = groups.setdefault((row.resident_id, anchor), {"diseases": set(), "rows": []})
        group["diseases"].add(row.disease)
        group["rows"].append(row)
    at = at_local(day, cfg["reminder_hour"])
    items = []
    for (resident_id, anchor), group in groups.items():
        rows = group["rows"]
        item = _item(group["diseases"])
        team = rows[0].team or "家庭医生团队"
        opens_on, due_on = min(r.opens_on for r in rows), min(r.due_on for r in rows)
        if kind == "open":
            template = WINDOW_OPEN
            body = f"您的{item}时间到了：请于 {due_on.isoformat()} 前到{team}面对面随访（门诊或预约上门）。"
        else:
            template = WINDOW_CLOSING
            body = f"您的{item}将于 {due_on.isoformat()} 到期，请尽快联系{team}完成随访。"
        payload = {
            "title": template.title,
            "body": body,
            "item": item,
            "team": team,
            "opens_on": opens_on.isoformat(),
            "due_on": due_on.isoformat(),
            "diseases": [d for d in MANAGED_DISEASES if d in group["diseases"]],
        }
        items.append((notify.resident(resident_id), template.kind, _py_key(kind, resident_id, anchor), payload, at))
    return items


def send_reminders(today: date | None = None) -> dict:
    """Daily: a reminder when a window opens, and one when it is about to close. Idempotent."""
    day = today or local_today()
    cfg = rules.window_config()
    counts = {
        "window_open": notify.enqueue_many(_reminders(day, "open", cfg)),
        "window_closing": notify.enqueue_many(_reminders(day, "closing", cfg)),
    }
    return _commit(counts, "send_reminders", day)


# --- the morning digest -------------------------------------------------------------------------


def team_digest(today: date | None = None) -> dict:
    """Morning: each team's due / overdue counts and the top of its worklist, to each member's inbox."""
    day = today or local_today()
    top_n = rules.window_config()["digest_top"]
    where = (
        FollowupPlan.status == "open",
        managed_plan_clause(),
        Resident.team_id.is_not(None),
        FollowupPlan.opens_on <= day,
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
