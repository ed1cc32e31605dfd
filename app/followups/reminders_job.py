"""The reminder job :func:`send_reminders` (daily): one resident reminder when a follow-up window
opens and one when it is about to close (``closing_days`` before ``due_on``), deduplicated by
``followup:{resident}:open:{opens_on}`` / ``followup:{resident}:closing:{due_on}``: a patient with
both diseases whose windows coincide gets one message naming both. Delivered from
``reminder_hour`` (09:00 local), never at night. Runs as ``app.followups.job_runs`` says.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import combinations

from sqlalchemy import String, case, cast, exists, func, literal, select

from app.common.time import at_local
from app.common.time import today as local_today
from app.followups import rules
from app.followups.job_runs import DISEASE_NAMES
from app.followups.job_runs import commit_run as _commit
from app.followups.models import MANAGED_DISEASES, FollowupPlan
from app.followups.notifications import WINDOW_CLOSING, WINDOW_OPEN
from app.followups.plans import managed_plan_clause
from app.notify import services as notify
from app.notify.models import Outbox
from app.orgs.models import Team
from app.residents.models import Resident

DEFAULT_TEAM = "家庭医生团队"

# Which managed diseases a reminder names, as a bit mask computed in SQL (one bit per disease of
# MANAGED_DISEASES); each possible set maps to its item text and its JSON list, in that order.
_SETS = [s for n in range(1, len(MANAGED_DISEASES) + 1) for s in combinations(MANAGED_DISEASES, n)]
_MASKS = {s: sum(1 << MANAGED_DISEASES.index(d) for d in s) for s in _SETS}


def _item(diseases) -> str:
    return "、".join(DISEASE_NAMES[d] for d in MANAGED_DISEASES if d in diseases) + "随访"


def _text(expr):
    """A DATE or number as SQL text: dates as ``YYYY-MM-DD`` (SQLite stores them so; PostgreSQL
    with its default ``DateStyle`` ISO), as ``date.isoformat()`` gave when Python built the rows."""
    return cast(expr, String)


def _reminder_rows(day: date, kind: str, cfg: dict):
    """SELECT of (resident id, dedup key, payload) — one row per resident and window date, built
    by the database — for the plans whose window opens (``open``) or is about to close today."""
    plan = FollowupPlan
    anchor = plan.opens_on if kind == "open" else plan.due_on
    mask = sum(func.max(case((plan.disease == d, 1 << i), else_=0)) for i, d in enumerate(MANAGED_DISEASES))
    windows = (
        select(
            plan.resident_id.label("resident_id"),
            anchor.label("anchor"),
            func.min(plan.opens_on).label("opens_on"),
            func.min(plan.due_on).label("due_on"),
            func.min(Team.name).label("team"),  # one resident, one team
            mask.label("mask"),
            func.min(plan.id).label("first_plan"),
        )
        .join(Resident, Resident.id == plan.resident_id)
        .outerjoin(Team, Team.id == Resident.team_id)
        .where(plan.status == "open", managed_plan_clause(), plan.opens_on <= day, plan.due_on >= day)
        .group_by(plan.resident_id, anchor)
    )
    if kind == "closing":
        windows = windows.where(plan.due_on <= day + timedelta(days=cfg["closing_days"]), plan.opens_on < day)
    w = windows.subquery("windows")
    key = literal("followup:", String) + _text(w.c.resident_id) + literal(f":{kind}:", String) + _text(w.c.anchor)
    item = case({_MASKS[s]: _item(s) for s in _SETS}, value=w.c.mask)
    diseases = notify.json_parse(case({_MASKS[s]: json.dumps(list(s)) for s in _SETS}, value=w.c.mask))
    team = func.coalesce(func.nullif(w.c.team, ""), DEFAULT_TEAM)
    due_on = _text(w.c.due_on)
    if kind == "open":
        template = WINDOW_OPEN
        body = "您的" + item + "时间到了：请于 " + due_on + " 前到" + team + "面对面随访（门诊或预约上门）。"
    else:
        template = WINDOW_CLOSING
        body = "您的" + item + "将于 " + due_on + " 到期，请尽快联系" + team + "完成随访。"
    payload = notify.json_object(
        {
            "title": literal(template.title, String),
            "body": body,
            "item": item,
            "team": team,
            "opens_on": _text(w.c.opens_on),
            "due_on": due_on,
            "diseases": diseases,
        }
    )
    # Keys already sent are skipped here rather than by ON CONFLICT alone: a rerun then builds
    # no payload and draws no outbox id.
    stmt = (
        select(w.c.resident_id, key, payload)
        .where(~exists(select(Outbox.id).where(Outbox.dedup_key == key)))
        .order_by(w.c.resident_id, w.c.first_plan)
    )
    return template, stmt


def send_reminders(today: date | None = None) -> dict:
    """Daily: a reminder when a window opens, and one when it is about to close. Idempotent.

    One ``INSERT … SELECT`` per kind (``notify.enqueue_select``): the rows never pass through Python.
    """
    day = today or local_today()
    cfg = rules.window_config()
    at = at_local(day, cfg["reminder_hour"])
    counts = {}
    for name, kind in (("window_open", "open"), ("window_closing", "closing")):
        template, rows = _reminder_rows(day, kind, cfg)
        counts[name] = notify.enqueue_select(template.kind, "resident", rows, not_before=at)
    return _commit(counts, "send_reminders", day)
