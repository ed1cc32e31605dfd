"""The reminder job :func:`send_reminders` (daily): one resident reminder when a plan's window
opens and one when it is about to close (``closing_days`` before ``due_on``), per service line
(:data:`LINES`: the chronic follow-ups, the yearly checks), deduplicated by
``{line}:{resident}:open:{opens_on}`` / ``{line}:{resident}:closing:{due_on}``: a patient with
both diseases whose windows coincide gets one message naming both. Delivered from
``reminder_hour`` (09:00 local), never at night. Runs as ``app.followups.job_runs`` says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import String, case, cast, exists, func, literal, select

from app.common.time import at_local
from app.common.time import today as local_today
from app.family.models import FamilyGrant
from app.followups import checkups, child_plans, maternal_plans, rules
from app.followups.job_runs import DISEASE_NAMES
from app.followups.job_runs import commit_run as _commit
from app.followups.models import (
    CHECK_PROGRAMMES,
    CHILD_PROGRAMME,
    MANAGED_DISEASES,
    MATERNAL_PROGRAMMES,
    REFERRAL_RETURN,
    FollowupPlan,
)
from app.followups.notifications import (
    CHECKUP_CLOSING,
    CHECKUP_DUE,
    CHILD_CHECK_CLOSING,
    CHILD_CHECK_DUE,
    MATERNAL_CLOSING,
    MATERNAL_DUE,
    REFERRAL_RETURN_CLOSING,
    REFERRAL_RETURN_DUE,
    WINDOW_CLOSING,
    WINDOW_OPEN,
)
from app.followups.plans import managed_plan_clause
from app.notify import services as notify
from app.notify.models import Outbox
from app.orgs.models import Team
from app.residents.models import Resident

DEFAULT_TEAM = "家庭医生团队"


@dataclass(frozen=True)
class Line:
    """A service line's reminders: its programmes (plans' ``disease``), what each is called, the
    clause saying a plan still applies, the dedup keys' prefix, the two message kinds, and each
    body's four pieces of text around the item, the due date and the team (joined in SQL), and the
    payload key listing the programmes a message names."""

    prefix: str
    programmes: tuple[str, ...]
    names: dict
    applies: Callable[[], Any]
    templates: dict  # "open" / "closing" → Template
    bodies: dict  # "open" / "closing" → the four pieces of text around the item, due date and team
    listed_as: str  # the payload key of the programmes named
    suffix: str = ""  # after the joined names ("随访": 高血压、糖尿病随访)
    # Who is told, when not the resident: a SELECT of (resident_id, recipient_id) — a child's guardians.
    recipients: Callable[[], Any] | None = None

    @property
    def sets(self) -> list[tuple[str, ...]]:
        """Every non-empty set of programmes one message can name, in programme order."""
        return [s for n in range(1, len(self.programmes) + 1) for s in combinations(self.programmes, n)]

    def mask(self, programmes) -> int:
        return sum(1 << self.programmes.index(p) for p in programmes)

    def item(self, programmes) -> str:
        return "、".join(self.names[p] for p in self.programmes if p in programmes) + self.suffix


def _active_resident():
    return Resident.status == "active"


CHRONIC = Line(
    prefix="followup",
    programmes=MANAGED_DISEASES,
    names=DISEASE_NAMES,
    applies=managed_plan_clause,
    templates={"open": WINDOW_OPEN, "closing": WINDOW_CLOSING},
    bodies={
        "open": ("您的", "时间到了：请于 ", " 前到", "面对面随访（门诊或预约上门）。"),
        "closing": ("您的", "将于 ", " 到期，请尽快联系", "完成随访。"),
    },
    listed_as="diseases",
    suffix="随访",
)
# The yearly checks (app.followups.checkups): the daily plan job closes a plan whose resident the
# programme no longer covers, so an open plan of an active archive still applies.
CHECKUPS = Line(
    prefix=checkups.REMINDER_PREFIX,
    programmes=CHECK_PROGRAMMES,
    names={p.key: p.item for p in checkups.PROGRAMMES},
    applies=_active_resident,
    templates={"open": CHECKUP_DUE, "closing": CHECKUP_CLOSING},
    bodies={
        "open": ("您今年的", "时间到了：请于 ", " 前到", "免费检查（可预约）。"),
        "closing": ("您今年的", "将于 ", " 到期，请尽快联系", "完成。"),
    },
    listed_as="programmes",
)


def _guardians():
    """Whom a child's reminders go to: every account holder with an active family grant on the child."""
    return (
        select(FamilyGrant.resident_id.label("resident_id"), FamilyGrant.grantor_resident_id.label("recipient_id"))
        .where(FamilyGrant.status == "active")
        .distinct()
    )


# The children's checks (app.followups.child_plans): told to the guardians; a child nobody holds a
# grant for is on the worklist only.
CHILDREN = Line(
    prefix=child_plans.REMINDER_PREFIX,
    programmes=(CHILD_PROGRAMME,),
    names={CHILD_PROGRAMME: "儿童健康检查"},
    applies=_active_resident,
    templates={"open": CHILD_CHECK_DUE, "closing": CHILD_CHECK_CLOSING},
    bodies={
        "open": ("您孩子的", "时间到了：请于 ", " 前带孩子到", "检查（可预约）。"),
        "closing": ("您孩子的", "将于 ", " 到期，请尽快联系", "带孩子完成检查。"),
    },
    listed_as="programmes",
    recipients=_guardians,
)
# A pregnancy's visits (app.followups.maternal_plans): told to the woman.
MATERNAL = Line(
    prefix=maternal_plans.REMINDER_PREFIX,
    programmes=MATERNAL_PROGRAMMES,
    names={"antenatal": "产前检查", "postpartum": "产后访视"},
    applies=_active_resident,
    templates={"open": MATERNAL_DUE, "closing": MATERNAL_CLOSING},
    bodies={
        "open": ("您的", "时间到了：请于 ", " 前到", "检查（可预约）。"),
        "closing": ("您的", "将于 ", " 到期，请尽快联系", "完成检查。"),
    },
    listed_as="programmes",
)
# The follow-up owed within 2 weeks of a return from hospital (app.referrals): told to the resident.
REFERRAL = Line(
    prefix="referral_return",
    programmes=(REFERRAL_RETURN,),
    names={REFERRAL_RETURN: "转诊回转后随访"},
    applies=_active_resident,
    templates={"open": REFERRAL_RETURN_DUE, "closing": REFERRAL_RETURN_CLOSING},
    bodies={
        "open": ("您", "时间到了：请于 ", " 前到", "随访（门诊、上门或电话）。"),
        "closing": ("您的", "将于 ", " 到期，请尽快联系", "完成随访。"),
    },
    listed_as="programmes",
)
LINES = (CHRONIC, CHECKUPS, CHILDREN, MATERNAL, REFERRAL)


def _text(expr):
    """A DATE or number as SQL text: dates as ``YYYY-MM-DD`` (SQLite stores them so; PostgreSQL
    with its default ``DateStyle`` ISO), as ``date.isoformat()`` gave when Python built the rows."""
    return cast(expr, String)


def _reminder_rows(day: date, kind: str, cfg: dict, line: Line = CHRONIC):
    """SELECT of (resident id, dedup key, payload) — one row per resident and window date, built
    by the database — for the line's plans whose window opens (``open``) or is about to close today."""
    plan = FollowupPlan
    anchor = plan.opens_on if kind == "open" else plan.due_on
    mask = sum(func.max(case((plan.disease == p, 1 << i), else_=0)) for i, p in enumerate(line.programmes))
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
        .where(
            plan.status == "open",
            plan.disease.in_(line.programmes),
            line.applies(),
            plan.opens_on <= day,
            plan.due_on >= day,
        )
        .group_by(plan.resident_id, anchor)
    )
    if kind == "closing":
        windows = windows.where(plan.due_on <= day + timedelta(days=cfg["closing_days"]), plan.opens_on < day)
    w = windows.subquery("windows")
    recipient, source = w.c.resident_id, w
    key = literal(f"{line.prefix}:", String) + _text(w.c.resident_id)
    if line.recipients is not None:
        to = line.recipients().subquery("recipients")
        recipient, source = to.c.recipient_id, w.join(to, to.c.resident_id == w.c.resident_id)
        key = key + literal(":to:", String) + _text(to.c.recipient_id)
    key = key + literal(f":{kind}:", String) + _text(w.c.anchor)
    item = case({line.mask(s): line.item(s) for s in line.sets}, value=w.c.mask)
    programmes = notify.json_parse(case({line.mask(s): json.dumps(list(s)) for s in line.sets}, value=w.c.mask))
    team = func.coalesce(func.nullif(w.c.team, ""), DEFAULT_TEAM)
    due_on = _text(w.c.due_on)
    template = line.templates[kind]
    before, middle, after_due, end = line.bodies[kind]
    body = before + item + middle + due_on + after_due + team + end
    payload = notify.json_object(
        {
            "title": literal(template.title, String),
            "body": body,
            "item": item,
            "team": team,
            "opens_on": _text(w.c.opens_on),
            "due_on": due_on,
            line.listed_as: programmes,
        }
    )
    # Keys already sent are skipped here rather than by ON CONFLICT alone: a rerun then builds
    # no payload and draws no outbox id.
    stmt = (
        select(recipient, key, payload)
        .select_from(source)
        .where(~exists(select(Outbox.id).where(Outbox.dedup_key == key)))
        .order_by(w.c.resident_id, w.c.first_plan, recipient)
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
    for line in LINES:
        for name, kind in (("window_open", "open"), ("window_closing", "closing")):
            template, rows = _reminder_rows(day, kind, cfg, line)
            label = name if line is CHRONIC else f"{line.prefix}_{name}"
            counts[label] = notify.enqueue_select(template.kind, "resident", rows, not_before=at)
    return _commit(counts, "send_reminders", day)
