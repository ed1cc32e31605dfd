"""The follow-up rules of the national specification (docs/domain.md §3), as pure functions.

- **On target**: hypertension when SBP < 140 and DBP < 90; T2DM when 3.9 < fasting glucose < 7.0
  (a glucose ≤ 3.9 is hypoglycaemia: not a satisfactory control, and an emergency).
- **Computed classification** of a disease at a visit (when the doctor gives none): 并发症
  ``complication`` when new or worse complications are recorded; else ``uncontrolled`` when
  the disease's measurement is off target; else ``adverse_reaction`` when an adverse drug
  reaction is recorded; else ``controlled``. Without the disease's measurement (and no
  complication) it cannot be computed, and the doctor must classify.
- **Next step** per disease:
  - emergency values (SBP ≥ 180 or DBP ≥ 110; glucose ≥ 16.7 or ≤ 3.9), whatever the disease
    → urgent referral, follow up within 2 weeks (priority 2);
  - complication, or a second ``uncontrolled`` in a row for that disease → referral suggested,
    within 2 weeks (priority 1); a referral the doctor filled in also makes the plan
    "referral pending" (priority 1);
  - first ``uncontrolled`` or ``adverse_reaction`` → within 2 weeks;
  - ``controlled`` → the normal quarterly cycle.
- **Window**: quarterly ``[visit + 80, visit + 90]``; recheck ``[visit + 1, visit + 14]``; a
  first plan for a patient never seen ``[today, today + 30]``. All configurable with
  ``app.config["FOLLOWUP_WINDOW"] = {"due_days": 90, "open_days": 80, "recheck_days": 14,
  "first_due_days": 30, "closing_days": 3, "reminder_hour": 9, "digest_top": 5}`` (any subset).
  The doctor's next date (下次随访日期) may bring the due date forward, never push it past the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, has_app_context

from app.followups.models import CLASSIFICATIONS

BP_TARGET = (140, 90)  # uncontrolled at SBP ≥ 140 or DBP ≥ 90
GLUCOSE_TARGET = 7.0  # mmol/L, uncontrolled at ≥ 7.0
EMERGENCY_SBP, EMERGENCY_DBP = 180, 110
EMERGENCY_GLUCOSE_HIGH, EMERGENCY_GLUCOSE_LOW = 16.7, 3.9

SEVERITY = {name: rank for rank, name in enumerate(CLASSIFICATIONS)}
DEFAULT_WINDOW = {
    "due_days": 90,
    "open_days": 80,
    "recheck_days": 14,
    "first_due_days": 30,
    "closing_days": 3,
    "reminder_hour": 9,
    "digest_top": 5,
}


def window_config() -> dict:
    cfg = dict(DEFAULT_WINDOW)
    if has_app_context():
        cfg.update(current_app.config.get("FOLLOWUP_WINDOW") or {})
    return cfg


def bp_on_target(sbp: int | None, dbp: int | None) -> bool | None:
    if sbp is None or dbp is None:
        return None
    return sbp < BP_TARGET[0] and dbp < BP_TARGET[1]


def glucose_on_target(glucose: float | None) -> bool | None:
    if glucose is None:
        return None
    return EMERGENCY_GLUCOSE_LOW < glucose < GLUCOSE_TARGET


def emergency_alerts(sbp: int | None, dbp: int | None, glucose: float | None) -> list[str]:
    alerts = []
    if sbp is not None and sbp >= EMERGENCY_SBP:
        alerts.append(f"sbp>={EMERGENCY_SBP}")
    if dbp is not None and dbp >= EMERGENCY_DBP:
        alerts.append(f"dbp>={EMERGENCY_DBP}")
    if glucose is not None and glucose >= EMERGENCY_GLUCOSE_HIGH:
        alerts.append(f"glucose>={EMERGENCY_GLUCOSE_HIGH}")
    if glucose is not None and glucose <= EMERGENCY_GLUCOSE_LOW:
        alerts.append(f"glucose<={EMERGENCY_GLUCOSE_LOW}")
    return alerts


def on_target(disease: str, values: dict) -> bool | None:
    if disease == "hypertension":
        return bp_on_target(values.get("sbp"), values.get("dbp"))
    return glucose_on_target(values.get("fasting_glucose"))


def compute_classification(disease: str, values: dict) -> str | None:
    """The classification the measurements give for one disease (None: cannot tell)."""
    if values.get("complications"):
        return "complication"
    target = on_target(disease, values)
    if target is None:
        return None
    if not target:
        return "uncontrolled"
    if values.get("adverse_reaction"):
        return "adverse_reaction"
    return "controlled"


def worst(classifications) -> str | None:
    found = [c for c in classifications if c is not None]
    return max(found, key=SEVERITY.__getitem__) if found else None


@dataclass(frozen=True)
class Outcome:
    disease: str
    classification: str
    referral_suggested: bool
    urgent_referral: bool
    reason: str  # routine | recheck | referral | urgent
    priority: int
    opens_on: date
    due_on: date

    @property
    def needs_recheck(self) -> bool:
        return self.reason != "routine"


def decide(
    disease: str,
    classification: str,
    previous: str | None,
    alerts: list[str],
    referral_made: bool,
    visit_on: date,
    next_visit_on: date | None = None,
    cfg: dict | None = None,
) -> Outcome:
    """What follows a visit for one disease: referral flags and the next plan's window."""
    cfg = cfg or window_config()
    urgent = bool(alerts)
    consecutive = classification == "uncontrolled" and previous == "uncontrolled"
    suggested = urgent or classification == "complication" or consecutive
    if urgent:
        reason, priority = "urgent", 2
    elif suggested or referral_made:
        reason, priority = "referral", 1
    elif classification != "controlled":
        reason, priority = "recheck", 0
    else:
        reason, priority = "routine", 0
    if reason == "routine":
        due_days, open_days = cfg["due_days"], cfg["open_days"]
    else:
        due_days, open_days = cfg["recheck_days"], 1
    due_on = visit_on + timedelta(days=due_days)
    opens_on = visit_on + timedelta(days=open_days)
    if next_visit_on is not None and visit_on < next_visit_on < due_on:
        length = due_days - open_days
        due_on = next_visit_on
        opens_on = max(visit_on + timedelta(days=1), due_on - timedelta(days=length))
    return Outcome(disease, classification, suggested, urgent, reason, priority, opens_on, due_on)


def first_window(today: date, cfg: dict | None = None) -> tuple[date, date]:
    """The window of a patient with no face-to-face visit on record."""
    cfg = cfg or window_config()
    return today, today + timedelta(days=cfg["first_due_days"])
