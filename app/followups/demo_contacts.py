"""Demo step "contacts" (after "checkup_plans"): the worklist's contact histories.

- **Contacts on overdue entries.** A deterministic sample of the residents with an open plan overdue
  on the seed day is called (mostly by phone) by a member of their team, some after an earlier
  unanswered try: most agree to come, some are unreachable, some ask to be called later (the entries
  leave the worklists until the call-back day, ``snoozed_until``), a few refuse (with the reason) and
  a few are reported moved away or dead — pending their institution admin's review.
- **Contacts that brought patients back.** The plans the chronic visits of the last year fulfilled
  late (the visit after the previous one's due date) are written as done plans — the history the
  "followups" step leaves out — and about half of them got a call in the days before the visit, so
  the outreach indicators (contacted, back within 15 days) have numbers.

Rows are built in Python from a few set-based reads and written with ``ctx.insert``; the call-later
snoozes are one executemany UPDATE. Randomness only from ``ctx.rng("outreach", …)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import bindparam, func, select, update

from app.extensions import db
from app.followups.models import (
    FACE_TO_FACE,
    MANAGED_DISEASES,
    REFERRAL_PROGRAMMES,
    REVIEWED_OUTCOMES,
    ContactAttempt,
    FollowupPlan,
    FollowupVisit,
)
from app.followups.worklist import programme_of
from app.orgs.models import TeamMember
from app.residents.models import Resident

CONTACTED_SHARE = 0.45  # of the residents with an overdue entry
RETURN_HISTORY_DAYS = 365  # the late visits written as done plans
RETURN_CONTACTED_SHARE = 0.5  # of those, called before the visit
METHODS = (("phone", 80), ("wechat", 14), ("visit", 6))
FINAL_OUTCOMES = (
    ("agreed", 44),
    ("unreachable", 17),
    ("call_later", 14),
    ("refused", 8),
    ("visited_elsewhere", 5),
    ("wrong_number", 4),
    ("moved_away", 5),
    ("died", 3),
)
EARLIER_OUTCOMES = (("unreachable", 75), ("wrong_number", 5), ("call_later", 20))
NOTES = {
    "agreed": ("同意本周内到站点随访", "约定下周一上午来测血压", "同意预约上门随访", "家属同意陪同前来", None, None),
    "unreachable": ("电话无人接听", "关机", "多次拨打无人接听", None),
    "call_later": ("在外地探亲，回来后再联系", "正在上班，约定改天再打", "住院中，出院后再联系"),
    "refused": (
        "本人表示身体无不适，暂不愿来随访",
        "工作忙，没有时间到站点",
        "已在上级医院规律复诊，不愿再来社区",
        "对免费体检不感兴趣",
        "家属代答：老人行动不便，拒绝上门",
    ),
    "visited_elsewhere": ("已在威海市立医院复查", "已在外地医院体检", "已在药店自测血压，结果正常"),
    "wrong_number": ("号码为空号，需核实联系方式", "接听者称不认识本人"),
    "moved_away": ("家属告知已随子女迁居外地", "邻居反映已搬离本社区", "本人称已长期在外地居住"),
    "died": ("家属告知已于近期去世", "村委会反映本人已去世"),
}


def pick(rng, table):
    """One value of a ``((value, weight), …)`` table."""
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def seed_contacts(ctx) -> None:
    contacts = _Contacts(ctx, team_members())
    _contact_overdue(ctx, contacts)
    done_plans, back = _late_visits_done(ctx, contacts)
    contacts.write()
    outcomes = Counter(row["outcome"] for row in contacts.rows if row["contacted_on"] == contacts.last[row["plan_id"]])
    ctx.notes.append(
        f"Contacts: {len(contacts.rows)} attempts on {len(contacts.last)} worklist entries "
        f"({outcomes['agreed']} agreed, {outcomes['call_later']} call back later, {outcomes['refused']} refused, "
        f"{contacts.pending} moved away / died waiting for review); {done_plans} late visits this past year, "
        f"{back} of them after a call."
    )


def team_members() -> dict[int, list[int]]:
    """Each team's staff ids, in membership order."""
    members: dict[int, list[int]] = defaultdict(list)
    for team_id, staff_id in db.session.execute(
        select(TeamMember.team_id, TeamMember.staff_id).order_by(TeamMember.team_id, TeamMember.id)
    ):
        members[team_id].append(staff_id)
    return members


# --- contacts -------------------------------------------------------------------------------------


class _Contacts:
    def __init__(self, ctx, members: dict[int, list[int]]):
        self.ctx, self.members = ctx, members
        self.rows: list[dict] = []
        self.snoozed: dict[int, date] = {}  # plan id -> call-back day
        self.last: dict[int, date] = {}  # plan id -> latest contact day
        self.pending = 0

    def add(self, plan, day: date, by: int, method: str, outcome: str, note, call_back_on=None) -> None:
        self.rows.append(
            {
                "id": None,
                "plan_id": plan.id,
                "resident_id": plan.resident_id,
                "institution_id": plan.institution_id,
                "programme": programme_of(plan.disease, plan.kind),
                "due_on": plan.due_on,
                "method": method,
                "outcome": outcome,
                "call_back_on": call_back_on,
                "note": note,
                "contacted_on": day,
                "contacted_by_id": by,
                "review_status": "pending" if outcome in REVIEWED_OUTCOMES else None,
                "created_at": self.ctx.now,
            }
        )
        self.last[plan.id] = max(day, self.last.get(plan.id, day))
        self.pending += outcome in REVIEWED_OUTCOMES

    def write(self) -> None:
        self.rows.sort(key=lambda row: (row["contacted_on"], row["resident_id"], row["plan_id"]))
        for row, contact_id in zip(self.rows, self.ctx.allocate_ids(ContactAttempt, len(self.rows)), strict=True):
            row["id"] = contact_id
        self.ctx.insert(ContactAttempt, self.rows)
        if self.snoozed:
            table = FollowupPlan.__table__
            db.session.execute(
                update(table).where(table.c.id == bindparam("pid")).values(snoozed_until=bindparam("until")),
                [{"pid": pid, "until": until} for pid, until in self.snoozed.items()],
            )


def _contact_overdue(ctx, contacts: _Contacts) -> None:
    """Calls about the open entries overdue today (a referral's entries come later, from this step)."""
    today = ctx.today
    rng = ctx.rng("outreach", "contacts")
    plans = db.session.execute(
        select(
            FollowupPlan.id,
            FollowupPlan.resident_id,
            FollowupPlan.disease,
            FollowupPlan.kind,
            FollowupPlan.due_on,
            Resident.institution_id,
            Resident.team_id,
        )
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(
            FollowupPlan.status == "open",
            FollowupPlan.due_on < today,
            FollowupPlan.disease.not_in(REFERRAL_PROGRAMMES),
            Resident.status == "active",
            Resident.team_id.is_not(None),
        )
        .order_by(FollowupPlan.resident_id, FollowupPlan.due_on, FollowupPlan.id)
    ).all()
    per_resident: dict[int, list] = defaultdict(list)
    for plan in plans:
        if contacts.members.get(plan.team_id):
            per_resident[plan.resident_id].append(plan)
    residents = list(per_resident)
    picked = ctx.weighted_sample(
        rng,
        residents,
        [1.0 + 0.5 * (len(per_resident[r]) - 1) for r in residents],
        round(len(residents) * CONTACTED_SHARE),
    )
    for resident_id in sorted(picked):
        entries = per_resident[resident_id]
        first_day = max(p.due_on for p in entries) + timedelta(days=1)  # overdue for every entry called about
        final = max(first_day, today - timedelta(days=30)) + timedelta(days=rng.randrange(31))
        final = min(final, today)
        caller = rng.choice(contacts.members[entries[0].team_id])
        method = pick(rng, METHODS)
        outcome = pick(rng, FINAL_OUTCOMES)
        # earlier tries that reached nobody (or were asked to call back on the day of the next)
        days = [final]
        for _ in range(rng.choices((0, 1, 2), weights=(65, 28, 7))[0]):
            earlier = days[0] - timedelta(days=1 + rng.randrange(7))
            if earlier < first_day:
                break
            days.insert(0, earlier)
        for day, following in zip(days[:-1], days[1:], strict=True):
            tried = pick(rng, EARLIER_OUTCOMES)
            call_back = following if tried == "call_later" else None
            for plan in entries:
                contacts.add(plan, day, caller, "phone", tried, rng.choice(NOTES[tried]), call_back)
        note = rng.choice(NOTES[outcome])
        call_back = today + timedelta(days=1 + rng.randrange(30)) if outcome == "call_later" else None
        # a report of moving away or death is one review, about the most overdue entry
        for plan in entries[:1] if outcome in REVIEWED_OUTCOMES else entries:
            contacts.add(plan, final, caller, method, outcome, note, call_back)
            if call_back is not None:
                contacts.snoozed[plan.id] = call_back


def _late_visits_done(ctx, contacts: _Contacts) -> tuple[int, int]:
    """The plans the last year's face-to-face chronic visits fulfilled after their due date (the
    previous visit's ``next_due_on``), as done plans; about half had a call in the two weeks before."""
    today = ctx.today
    since = today - timedelta(days=RETURN_HISTORY_DAYS)
    rng = ctx.rng("outreach", "returns")
    fv = FollowupVisit
    order = (fv.visit_on, fv.id)

    def previous(column):
        return func.lag(column, type_=column.type).over(partition_by=fv.resident_id, order_by=order)

    seq = (
        select(
            fv.id,
            fv.resident_id,
            fv.visit_on,
            fv.method,
            fv.hypertension,
            fv.t2dm,
            previous(fv.id).label("prev_id"),
            previous(fv.visit_on).label("prev_on"),
            previous(fv.next_due_on).label("prev_due"),
            previous(fv.hypertension).label("prev_htn"),
            previous(fv.t2dm).label("prev_t2dm"),
            previous(fv.referral_suggested).label("prev_referral"),
            previous(fv.urgent_referral).label("prev_urgent"),
        )
        .where(fv.visit_on >= since - timedelta(days=RETURN_HISTORY_DAYS))
        .subquery()
    )
    rows = db.session.execute(
        select(seq, Resident.institution_id, Resident.team_id)
        .join(Resident, Resident.id == seq.c.resident_id)
        .where(
            seq.c.visit_on >= since,
            seq.c.visit_on <= today,
            seq.c.method.in_(FACE_TO_FACE),
            seq.c.prev_due.is_not(None),
            seq.c.prev_due < seq.c.visit_on,
            Resident.status == "active",
            Resident.team_id.is_not(None),
        )
        .order_by(seq.c.visit_on, seq.c.id)
    ).all()
    plans: list[dict] = []
    calls: list[tuple] = []  # (plan, row, day, days before the visit)
    for row in rows:
        disease = next(
            (d for d in MANAGED_DISEASES if getattr(row, d) and getattr(row, _PREVIOUS_FLAG[d])),
            None,
        )
        late = (row.visit_on - row.prev_due).days
        if disease is None or late < 2:
            continue
        if row.prev_urgent:
            reason, priority = "urgent", 2
        elif row.prev_referral:
            reason, priority = "referral", 1
        else:
            reason, priority = ("recheck" if (row.prev_due - row.prev_on).days <= 14 else "routine"), 0
        plan = {
            "id": None,
            "resident_id": row.resident_id,
            "disease": disease,
            "kind": None,
            "opens_on": max(row.prev_on + timedelta(days=1), row.prev_due - timedelta(days=10)),
            "due_on": row.prev_due,
            "status": "done",
            "reason": reason,
            "priority": priority,
            "last_visit_id": row.prev_id,
            "closed_by_visit_id": row.id,
            "closed_on": row.visit_on,
            "close_reason": "visit",
            "snoozed_until": None,
            "created_at": ctx.now,
            "updated_at": ctx.now,
        }
        plans.append(plan)
        if contacts.members.get(row.team_id) and rng.random() < RETURN_CONTACTED_SHARE:
            # most came within 15 days of the call, some only later
            most = min(14, late - 1) if rng.random() < 0.85 else min(40, late - 1)
            before = 1 + rng.randrange(most)
            calls.append((plan, row, row.visit_on - timedelta(days=before), before))
    for plan, plan_id in zip(plans, ctx.allocate_ids(FollowupPlan, len(plans)), strict=True):
        plan["id"] = plan_id
    ctx.insert(FollowupPlan, plans)
    for plan, row, day, before in calls:
        outcome = rng.choices(("agreed", "call_later", "unreachable"), weights=(80, 12, 8))[0]
        call_back = day + timedelta(days=1 + rng.randrange(before)) if outcome == "call_later" else None
        entry = _Entry(plan["id"], row.resident_id, plan["disease"], None, plan["due_on"], row.institution_id)
        team = contacts.members[row.team_id]
        contacts.add(entry, day, rng.choice(team), pick(rng, METHODS), outcome, rng.choice(NOTES[outcome]), call_back)
        if call_back is not None:  # done since: the snooze stays on the closed plan, as the API leaves it
            contacts.snoozed[plan["id"]] = call_back
    return len(plans), sum(1 for *_, before in calls if before <= 15)


_PREVIOUS_FLAG = {"hypertension": "prev_htn", "t2dm": "prev_t2dm"}


class _Entry:
    """What a contact needs of its plan (a done plan has no id before it is numbered)."""

    __slots__ = ("id", "resident_id", "disease", "kind", "due_on", "institution_id")

    def __init__(self, id, resident_id, disease, kind, due_on, institution_id):  # noqa: A002
        self.id, self.resident_id, self.disease, self.kind = id, resident_id, disease, kind
        self.due_on, self.institution_id = due_on, institution_id
