"""Body measures computed from what a form records (the health check, the follow-up visit)."""

from __future__ import annotations


def bmi(weight_kg: float | None, height_cm: float | None) -> float | None:
    """Body mass index, kg/m², one decimal; ``None`` when either measure is missing."""
    if weight_kg is None or height_cm is None:
        return None
    return round(weight_kg / (height_cm / 100) ** 2, 1)
