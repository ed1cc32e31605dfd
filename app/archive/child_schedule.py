"""The child health checks of 0–6 years (儿童健康管理, docs/domain.md §3 and §7): which check is done
at which age, and what each includes.

The specification: a newborn home visit within 7 days of discharge, the full-month check at 28–30
days, checks at 3, 6, 8 and 12 months, at 18 and 24, at 30 and 36 months, then once a year at 4, 5
and 6 years; eye and vision checks with the checks; TCM guidance at 6, 12, 18, 24, 30 and 36 months.
The windows ("the team's to set within the specification") are ages in days: each check's nominal
age with a margin that grows with the child (15 days in the first year, a month up to 3, two
months after), never overlapping, so a check's age names its kind and an age outside every window
is refused. Without discharge data the newborn visit counts from the birth date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class ChildCheckKind:
    kind: str
    label: str
    opens_day: int  # age in days the window opens (inclusive)
    due_day: int  # … and closes (inclusive)
    tcm: bool = False  # 中医药健康管理: TCM guidance is part of this check
    # counts for the under-3 systematic management (3岁以下儿童系统管理: the 3 … 36-month checks)
    under3: bool = True


def _around(kind: str, label: str, nominal: int, margin: int, **kw) -> ChildCheckKind:
    return ChildCheckKind(kind, label, nominal - margin, nominal + margin, **kw)


KINDS: tuple[ChildCheckKind, ...] = (
    ChildCheckKind("newborn_visit", "新生儿家庭访视", 0, 7, under3=False),
    ChildCheckKind("month_1", "满月健康检查", 28, 35, under3=False),
    _around("month_3", "3月龄健康检查", 91, 15),
    _around("month_6", "6月龄健康检查", 182, 15, tcm=True),
    _around("month_8", "8月龄健康检查", 243, 15),
    _around("month_12", "12月龄健康检查", 365, 30, tcm=True),
    _around("month_18", "18月龄健康检查", 547, 30, tcm=True),
    _around("month_24", "24月龄健康检查", 730, 30, tcm=True),
    _around("month_30", "30月龄健康检查", 912, 30, tcm=True),
    _around("month_36", "36月龄健康检查", 1095, 30, tcm=True),
    _around("year_4", "4岁健康检查", 1461, 60, under3=False),
    _around("year_5", "5岁健康检查", 1826, 60, under3=False),
    _around("year_6", "6岁健康检查", 2191, 60, under3=False),
)
BY_KIND = {k.kind: k for k in KINDS}
KIND_NAMES = tuple(BY_KIND)
assert all(a.due_day < b.opens_day for a, b in zip(KINDS, KINDS[1:], strict=False))  # never overlapping


def age_days(birth_on: date, day: date) -> int:
    return (day - birth_on).days


def kind_at(birth_on: date, day: date) -> ChildCheckKind | None:
    """The check whose window holds the child's age on ``day`` (None: no check is due at that age)."""
    age = age_days(birth_on, day)
    return next((k for k in KINDS if k.opens_day <= age <= k.due_day), None)


def window(birth_on: date, kind: ChildCheckKind) -> tuple[date, date]:
    return birth_on + timedelta(days=kind.opens_day), birth_on + timedelta(days=kind.due_day)


def nearest(birth_on: date, day: date) -> str:
    """Why an age has no check: the windows either side, for the 422's reason."""
    age = age_days(birth_on, day)
    before = [k for k in KINDS if k.due_day < age]
    after = [k for k in KINDS if k.opens_day > age]
    parts = [f"{k.kind} is done at {k.opens_day}–{k.due_day} days" for k in (before[-1:] + after[:1])]
    return f"at {age} days of age no child check is due ({'; '.join(parts) or 'checks end at 6 years'})"


def schedule(birth_on: date, done: dict[str, date], today: date) -> list[dict]:
    """Every check of the child's 0–6 years with its window and the day it was done (None: not done),
    and whether its window has passed undone (``missed``)."""
    out = []
    for k in KINDS:
        opens_on, due_on = window(birth_on, k)
        done_on = done.get(k.kind)
        out.append(
            {
                "kind": k.kind,
                "label": k.label,
                "opens_on": opens_on,
                "due_on": due_on,
                "done_on": done_on,
                "missed": done_on is None and due_on < today,
            }
        )
    return out
