"""The visits a pregnancy is owed (孕产妇健康管理, docs/domain.md §3 and §7) and their windows.

Antenatal visits count from the last menstrual period (LMP) in days of gestation: the first before
13 weeks, then 16–20, 21–24, 28–36 and 37–40 weeks — five; a high-risk pregnancy is seen at least
seven times, so its 28–36 weeks split in two and 25–27 weeks is added. The first visit is whichever
comes first: registered after 13 weeks, it is due at registration (and the registration was not
early). After the delivery: the home visit 3–7 days after discharge (the indicator counts one
within 28 days) and the 42-day check.

A slot's *turn* — how long it stays the open plan of ``app.followups.maternal_plans`` — lasts
until the next slot's window opens; the last antenatal one's until 42 weeks (the delivery ends
them all), the home visit's 28 days after discharge, the 42-day check's 90 days after delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

ANTENATAL, POSTPARTUM = "antenatal", "postpartum"
EARLY_REGISTRATION_DAYS = 91  # 建册 before 13 weeks of gestation
TERM_DAYS = 280  # the expected delivery date: LMP + 40 weeks
MAX_GESTATION_DAYS = 300  # nobody is still pregnant after 42 weeks and a few days
HIGH_RISK_MIN_VISITS = 7


@dataclass(frozen=True)
class Slot:
    kind: str
    label: str
    programme: str
    anchor: str  # lmp | discharge | delivery: the day the ages count from
    opens_day: int
    due_day: int
    turn_ends_day: int
    normal: bool = True  # part of an ordinary pregnancy's schedule
    high_risk: bool = True  # … of a high-risk one's


def _weeks(kind: str, label: str, first: int, last: int, turn_ends: int, **kw) -> Slot:
    """A slot from week ``first`` (day 0 of it) to the last day of week ``last``."""
    return Slot(kind, label, ANTENATAL, "lmp", first * 7, last * 7 + 6, turn_ends * 7, **kw)


SLOTS: tuple[Slot, ...] = (
    _weeks("first", "第1次产前检查", 0, 12, 16),  # due before 13 weeks, or at a later registration
    _weeks("w16_20", "孕16~20周产前随访", 16, 20, 21),
    _weeks("w21_24", "孕21~24周产前随访", 21, 24, 25),
    _weeks("w25_27", "孕25~27周产前随访(高危)", 25, 27, 28, normal=False),
    _weeks("w28_36", "孕28~36周产前随访", 28, 36, 37, high_risk=False),
    _weeks("w28_31", "孕28~31周产前随访(高危)", 28, 31, 32, normal=False),
    _weeks("w32_36", "孕32~36周产前随访(高危)", 32, 36, 37, normal=False),
    _weeks("w37_40", "孕37~40周产前随访", 37, 40, 42),
    Slot("home_visit", "产后访视", POSTPARTUM, "discharge", 3, 7, 28),
    Slot("day42_check", "产后42天健康检查", POSTPARTUM, "delivery", 42, 56, 90),
)
BY_KIND = {s.kind: s for s in SLOTS}
ANTENATAL_KINDS = tuple(s.kind for s in SLOTS if s.programme == ANTENATAL)
POSTPARTUM_KINDS = tuple(s.kind for s in SLOTS if s.programme == POSTPARTUM)
SYSTEMATIC_VISITS = sum(s.normal for s in SLOTS if s.programme == ANTENATAL)  # 孕产妇系统管理: at least 5
# The postpartum visit rate counts a home visit within its turn (28 days of discharge); the 42-day check
# is done from a week before its window.
HOME_VISIT_DAYS = BY_KIND["home_visit"].turn_ends_day
DAY42_EARLIEST_DAYS = BY_KIND["day42_check"].opens_day - 7
assert SYSTEMATIC_VISITS == 5
assert sum(s.high_risk for s in SLOTS if s.programme == ANTENATAL) == HIGH_RISK_MIN_VISITS


def antenatal_slots(high_risk: bool) -> tuple[Slot, ...]:
    return tuple(s for s in SLOTS if s.programme == ANTENATAL and (s.high_risk if high_risk else s.normal))


def gestational_days(last_menstrual_on: date, day: date) -> int:
    return (day - last_menstrual_on).days


def gestational_age(days: int) -> str:
    """``95`` → ``"13+4"`` (weeks + days, as the forms write it)."""
    return f"{days // 7}+{days % 7}"


def expected_on(last_menstrual_on: date) -> date:
    return last_menstrual_on + timedelta(days=TERM_DAYS)


def anchor_day(slot: Slot, pregnancy) -> date | None:
    if slot.anchor == "lmp":
        return pregnancy.last_menstrual_on
    if slot.anchor == "discharge":
        return pregnancy.discharged_on or pregnancy.delivered_on
    return pregnancy.delivered_on


def window(slot: Slot, pregnancy) -> tuple[date, date]:
    """The slot's [opens_on, due_on]; the first visit opens at registration and is due by 13 weeks,
    or at registration when that was later."""
    start = anchor_day(slot, pregnancy)
    opens_on, due_on = start + timedelta(days=slot.opens_day), start + timedelta(days=slot.due_day)
    if slot.kind == "first":
        return pregnancy.registered_on, max(due_on, pregnancy.registered_on)
    return opens_on, due_on


def slots_of_visits(high_risk: bool, visit_days: list[int]) -> list[str | None]:
    """Which slot each antenatal visit fulfils, the visits given in date order by their days of
    gestation: the earliest is ``first`` (whenever it was); each later one the slot whose window
    holds it — the last one's until its turn ends (a visit at 41 weeks is still the 37–40 weeks
    visit, late) — unless that slot is fulfilled already (an extra visit: None)."""
    slots = antenatal_slots(high_risk)
    filled: set[str] = set()
    out: list[str | None] = []
    for index, days in enumerate(visit_days):
        found = "first" if index == 0 else None
        for slot in slots[1:] if index else ():
            until = slot.turn_ends_day - 1 if slot is slots[-1] else slot.due_day
            if slot.kind not in filled and slot.opens_day <= days <= until:
                found = slot.kind
                break
        if found:
            filled.add(found)
        out.append(found)
    return out


def schedule(pregnancy, done: dict[str, date], today: date) -> list[dict]:
    """The pregnancy's visits: the antenatal ones, then — once delivered — the postpartum ones,
    each with its window, the day it was done and whether its window passed undone (``missed``)."""
    slots = list(antenatal_slots(pregnancy.high_risk))
    if pregnancy.status == "delivered":
        slots += [BY_KIND[k] for k in POSTPARTUM_KINDS]
    out = []
    for slot in slots:
        opens_on, due_on = window(slot, pregnancy)
        limit = today
        if slot.programme == ANTENATAL and pregnancy.status != "ongoing":
            if opens_on > pregnancy.delivered_on:
                continue  # the pregnancy ended before this visit's turn
            limit = min(today, pregnancy.delivered_on)
        done_on = done.get(slot.kind)
        out.append(
            {
                "kind": slot.kind,
                "label": slot.label,
                "programme": slot.programme,
                "opens_on": opens_on,
                "due_on": due_on,
                "done_on": done_on,
                "missed": done_on is None and due_on < limit,
            }
        )
    return out
