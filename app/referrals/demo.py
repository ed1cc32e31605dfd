"""Demo step "referrals" (after "contacts"): two-way referral.

Most patients whose latest visit suggested referral were referred up (urgent after an emergency
value), in every state by age: issued (the older ones chased on the worklist, programme
``referral``), received, returned (the hospital's feedback; followed up by the patient's next visit
or service, else the ``referral_return`` entry is open), cancelled; and a few patients came back
down from hospital. The plans are the ones ``app.referrals.services`` would have left.

Rows are built in Python from a few set-based reads and written with ``ctx.insert``. Randomness only
from ``ctx.rng("outreach", …)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select, union_all

from app.archive.models import HealthCheck, ServiceRecord
from app.extensions import db
from app.followups.demo_contacts import pick, team_members
from app.followups.models import (
    MANAGED_DISEASES,
    REFERRAL_CHASE,
    REFERRAL_RETURN,
    FollowupPlan,
    FollowupVisit,
)
from app.referrals.models import RETURN_FOLLOWUP_DAYS, Referral
from app.referrals.services import feedback_days
from app.residents.models import Condition, Resident

REFERRED_SHARE = 0.7  # of the patients whose latest visit suggested referral (an urgent one: always)
DOWN_REFERRALS = 400  # at scale 1: patients back from hospital to the team (at least 3)
RECENT_REFERRALS = 1500  # at scale 1: referred up in the last days on the doctor's judgement (at least 5)
RECENT_DAYS = 12

HOSPITALS = (("威海市立医院", 60), ("威海市中心医院", 25), ("威海卫人民医院", 15))
RETURNS = {
    "hypertension": (
        ("原发性高血压2级，调整为氨氯地平5mg+厄贝沙坦150mg联合降压", "继续联合用药，低盐饮食，2周后社区复测血压"),
        ("高血压3级，排除继发性高血压，加用利尿剂", "每日家庭自测血压并记录，1个月后复诊"),
        ("高血压伴左心室肥厚，调整降压方案", "控制血压<130/80 mmHg，社区定期随访"),
    ),
    "t2dm": (
        ("2型糖尿病血糖控制不佳，加用甘精胰岛素睡前10单位", "监测空腹及睡前血糖，2周后社区复查"),
        ("2型糖尿病，调整为二甲双胍+西格列汀", "控制饮食，每周运动5次，3个月后复查糖化血红蛋白"),
        ("糖尿病周围神经病变，予营养神经治疗", "注意足部护理，社区随访血糖"),
    ),
}
CANCEL_REASONS = ("患者拒绝转诊", "患者自行前往上级医院就诊", "复查后控制满意，暂不转诊", "家属要求暂缓转诊")
JUDGED_REASONS = (
    "血压波动大，建议心内科评估调整用药",
    "患者要求上级医院专科复诊",
    "血糖控制欠佳，建议内分泌科调整治疗方案",
    "胸闷气短，建议上级医院进一步检查",
    "需行眼底及肾功能检查，社区无条件开展",
)
DOWN_REASONS = ("术后康复回社区", "病情稳定转回社区管理", "脑卒中恢复期转社区康复", "冠脉支架术后转社区随访")
# Referral state by age in days (issued_on to the seed day): (up to, weights of issued/received/returned/cancelled)
STATE_BY_AGE = (
    (2, (80, 20, 0, 0)),
    (7, (50, 25, 20, 5)),
    (45, (25, 15, 45, 15)),
    (90, (12, 10, 63, 15)),
    (180, (4, 4, 77, 15)),
    (None, (0, 2, 83, 15)),
)
STATES = ("issued", "received", "returned", "cancelled")


def seed_referrals(ctx) -> None:
    referrals = _Referrals(ctx, team_members())
    referrals.build()
    referrals.write()
    states = Counter(row["status"] for row in referrals.rows if row["direction"] == "up")
    ctx.notes.append(
        f"Referrals: {sum(states.values())} up ("
        + ", ".join(f"{states[s]} {s}" for s in STATES)
        + f"; {referrals.urgent} urgent), {referrals.down} down; {referrals.chasing} chased on the worklist, "
        f"{referrals.returns_open} return follow-ups open."
    )


# --- referrals ------------------------------------------------------------------------------------


class _Referrals:
    def __init__(self, ctx, members: dict[int, list[int]]):
        self.ctx, self.members = ctx, members
        self.rng = ctx.rng("outreach", "referrals")
        self.rows: list[dict] = []
        self.plans: list[dict] = []
        self.urgent = self.down = self.chasing = self.returns_open = 0

    def build(self) -> None:
        suggested = self._suggested()
        recent_n = max(5, self.ctx.scaled(RECENT_REFERRALS))
        others = self._candidates(
            {row.resident_id for row in suggested}, recent_n + max(3, self.ctx.scaled(DOWN_REFERRALS))
        )
        recent, down = others[:recent_n], others[recent_n:]
        events = self._events([row.resident_id for row in others])
        for row in suggested:
            if row.urgent_referral or self.rng.random() < REFERRED_SHARE:
                self._up(row, events.get(row.resident_id, ()))
        for row in recent:
            self._up(row, events.get(row.resident_id, ()), judged=True)
        for row in down:
            self._down(row, events.get(row.resident_id, ()))
        self._plans()

    def _suggested(self) -> list:
        """Each patient's latest visit that suggested referral."""
        fv = FollowupVisit
        latest = (
            select(fv.resident_id, func.max(fv.visit_on).label("on"))
            .where(fv.referral_suggested, fv.visit_on <= self.ctx.today)
            .group_by(fv.resident_id)
            .subquery()
        )
        rows = db.session.execute(
            select(
                fv.id,
                fv.resident_id,
                fv.visit_on,
                fv.hypertension,
                fv.referral,
                fv.alerts,
                fv.urgent_referral,
                fv.recorded_by_id,
                Resident.institution_id,
                Resident.team_id,
            )
            .join(latest, (latest.c.resident_id == fv.resident_id) & (latest.c.on == fv.visit_on))
            .join(Resident, Resident.id == fv.resident_id)
            .where(fv.referral_suggested, Resident.status == "active", Resident.team_id.is_not(None))
            .order_by(fv.resident_id, fv.id)
        ).all()
        one = {row.resident_id: row for row in rows if self.members.get(row.team_id)}  # the last visit of the day
        return list(one.values())

    def _candidates(self, taken: set[int], k: int) -> list:
        """Chronic patients not referred after a visit: referred on the doctor's judgement, or back down."""
        candidates = db.session.execute(
            select(Resident.id.label("resident_id"), Resident.institution_id, Resident.team_id)
            .where(
                Resident.id.in_(
                    select(Condition.resident_id).where(Condition.active, Condition.disease.in_(MANAGED_DISEASES))
                ),
                Resident.status == "active",
                Resident.team_id.is_not(None),
            )
            .order_by(Resident.id)
        ).all()
        candidates = [row for row in candidates if row.resident_id not in taken and self.members.get(row.team_id)]
        return self.ctx.weighted_sample(self.rng, candidates, [1.0] * len(candidates), k)

    def _events(self, extra: list[int]) -> dict[int, list[date]]:
        """Per referred (or down-referred) patient: the days of their visits and services, sorted — a
        return is followed up by the first on or after it."""
        fv, hc, sr = FollowupVisit, HealthCheck, ServiceRecord
        who = select(fv.resident_id).where(fv.referral_suggested)
        parts = [
            select(fv.resident_id, fv.visit_on.label("day")).where(fv.resident_id.in_(who)),
            select(hc.resident_id, hc.checked_on.label("day")).where(hc.resident_id.in_(who)),
            select(sr.resident_id, sr.served_on.label("day")).where(sr.resident_id.in_(who)),
        ]
        if extra:
            parts += [
                select(fv.resident_id, fv.visit_on.label("day")).where(fv.resident_id.in_(extra)),
                select(hc.resident_id, hc.checked_on.label("day")).where(hc.resident_id.in_(extra)),
                select(sr.resident_id, sr.served_on.label("day")).where(sr.resident_id.in_(extra)),
            ]
        found: dict[int, set[date]] = defaultdict(set)
        for resident_id, day in db.session.execute(union_all(*parts)):
            if day <= self.ctx.today:
                found[resident_id].add(day)
        return {resident_id: sorted(days) for resident_id, days in found.items()}

    def _row(self, resident, **values) -> dict:
        row = {
            "id": None,
            "resident_id": resident.resident_id,
            "team_id": resident.team_id,
            "institution_id": resident.institution_id,
            "direction": "up",
            "to_institution_id": None,
            "to_hospital_name": None,
            "reason": None,
            "urgency": "routine",
            "source_visit_id": None,
            "status": "issued",
            "issued_on": None,
            "issued_by_id": None,
            "received_on": None,
            "returned_on": None,
            "summary": None,
            "advice": None,
            "cancelled_on": None,
            "cancel_reason": None,
            "back_on": None,
            "followed_up_on": None,
            "created_at": self.ctx.now,
            "updated_at": self.ctx.now,
        }
        row.update(values)
        self.rows.append(row)
        return row

    def _up(self, visit, events: list[date], judged: bool = False) -> None:
        """An up referral: after a visit that suggested it (``visit``: that visit), or — ``judged`` — on
        the doctor's judgement in the last days, without a source visit (``visit``: the patient)."""
        rng, today = self.rng, self.ctx.today
        if judged:
            urgent = rng.random() < 0.1
            issued_on = today - timedelta(days=rng.randrange(RECENT_DAYS + 1))
            reason, source, by = rng.choice(JUDGED_REASONS), None, rng.choice(self.members[visit.team_id])
            hypertension = visit.resident_id in self.ctx.conditions.get("hypertension", ())
            hospital = pick(rng, HOSPITALS)
        else:
            urgent = bool(visit.urgent_referral)
            issued_on = min(today, visit.visit_on + timedelta(days=0 if urgent else rng.choice((0, 0, 0, 1, 2))))
            entered = visit.referral or {}
            if visit.alerts:
                reason = "随访危急值：" + "、".join(visit.alerts)
            else:
                reason = entered.get("reason") or "连续两次随访控制不满意"
            if entered.get("department"):
                reason += f"，建议{entered['department']}就诊"
            source, by = visit.id, visit.recorded_by_id or self.members[visit.team_id][0]
            hypertension = bool(visit.hypertension)
            hospital = entered.get("institution") if entered.get("institution") and rng.random() < 0.6 else None
            hospital = hospital or pick(rng, HOSPITALS)
        age = (today - issued_on).days
        weights = next(w for limit, w in STATE_BY_AGE if limit is None or age <= limit)
        if urgent:  # the hospital takes an urgent patient at once
            weights = (weights[0] // 3, weights[1], weights[2] + weights[0] - weights[0] // 3, weights[3])
        status = rng.choices(STATES, weights=weights)[0]
        row = self._row(
            visit,
            to_hospital_name=hospital,
            reason=reason,
            urgency="urgent" if urgent else "routine",
            source_visit_id=source,
            issued_on=issued_on,
            issued_by_id=by,
        )
        self.urgent += urgent
        if status == "received":
            row.update(status="received", received_on=issued_on + timedelta(days=rng.randrange(min(3, age) + 1)))
        elif status == "returned":
            returned_on = self._returned_on(issued_on, events, urgent)
            summary, advice = rng.choice(RETURNS["hypertension" if hypertension else "t2dm"])
            row.update(
                status="returned",
                received_on=issued_on + timedelta(days=rng.randrange(min(2, (returned_on - issued_on).days) + 1)),
                returned_on=returned_on,
                back_on=returned_on,
                summary=summary,
                advice=advice if rng.random() < 0.9 else None,
                followed_up_on=next((day for day in events if day >= returned_on), None),
            )
        elif status == "cancelled":
            row.update(
                status="cancelled",
                cancelled_on=issued_on + timedelta(days=rng.randrange(min(10, age) + 1)),
                cancel_reason=rng.choice(CANCEL_REASONS),
            )

    def _returned_on(self, issued_on: date, events: list[date], urgent: bool) -> date:
        """Mostly a few days before the patient's next visit or service (followed up within 2 weeks)."""
        rng, today = self.rng, self.ctx.today
        room = (today - issued_on).days
        upper = min(room, 7 if urgent else 21)
        returned_on = issued_on + timedelta(days=min(upper, 1 + rng.randrange(max(1, upper))))
        following = next((day for day in events if day > issued_on), None)
        if following is not None and (following - issued_on).days <= 60 and rng.random() < 0.85:
            earliest = max(issued_on + timedelta(days=1), following - timedelta(days=RETURN_FOLLOWUP_DAYS - 1))
            returned_on = earliest + timedelta(days=rng.randrange((following - earliest).days + 1))
        return min(returned_on, today)

    def _down(self, resident, events: list[date]) -> None:
        rng, today = self.rng, self.ctx.today
        issued_on = today - timedelta(days=rng.randrange(60))
        received_on = min(today, issued_on + timedelta(days=rng.randrange(4)))
        self._row(
            resident,
            direction="down",
            to_hospital_name=pick(rng, HOSPITALS),
            reason=rng.choice(DOWN_REASONS),
            status="received",
            issued_on=issued_on,
            issued_by_id=self.members[resident.team_id][0],
            received_on=received_on,
            back_on=received_on,
            followed_up_on=next((day for day in events if day >= received_on), None),
        )
        self.down += 1

    def _plans(self) -> None:
        """What the services leave open: one chase per resident with an up referral unanswered (off the
        worklists for the hospital's days), one follow-up per resident back and not yet followed up."""
        days = feedback_days()
        chase: dict[int, dict] = {}
        back: dict[int, date] = {}
        for row in sorted(self.rows, key=lambda r: (r["issued_on"], r["resident_id"])):
            if row["direction"] == "up" and row["status"] in ("issued", "received"):
                chase.setdefault(row["resident_id"], row)
            if row["back_on"] is not None and row["followed_up_on"] is None:
                back[row["resident_id"]] = min(row["back_on"], back.get(row["resident_id"], row["back_on"]))
        for resident_id, row in chase.items():
            due = row["issued_on"] + timedelta(days=days)
            urgent = row["urgency"] == "urgent"
            self.plans.append(
                self._plan(
                    resident_id, REFERRAL_CHASE, due, due, "urgent" if urgent else "referral", 2 if urgent else 1, due
                )
            )
        for resident_id, on in back.items():
            due = on + timedelta(days=RETURN_FOLLOWUP_DAYS)
            self.plans.append(self._plan(resident_id, REFERRAL_RETURN, on, due, "referral", 1, None))
        self.chasing = sum(
            1 for p in self.plans if p["disease"] == REFERRAL_CHASE and p["snoozed_until"] <= self.ctx.today
        )
        self.returns_open = len(back)

    def _plan(self, resident_id, disease, opens_on, due_on, reason, priority, snoozed_until) -> dict:
        return {
            "id": None,
            "resident_id": resident_id,
            "disease": disease,
            "kind": None,
            "opens_on": opens_on,
            "due_on": due_on,
            "status": "open",
            "reason": reason,
            "priority": priority,
            "last_visit_id": None,
            "closed_by_visit_id": None,
            "closed_on": None,
            "close_reason": None,
            "snoozed_until": snoozed_until,
            "created_at": self.ctx.now,
            "updated_at": self.ctx.now,
        }

    def write(self) -> None:
        self.rows.sort(key=lambda row: (row["issued_on"], row["resident_id"], row["direction"]))
        for row, referral_id in zip(self.rows, self.ctx.allocate_ids(Referral, len(self.rows)), strict=True):
            row["id"] = referral_id
        self.ctx.insert(Referral, self.rows)
        for plan, plan_id in zip(self.plans, self.ctx.allocate_ids(FollowupPlan, len(self.plans)), strict=True):
            plan["id"] = plan_id
        self.ctx.insert(FollowupPlan, self.plans)
