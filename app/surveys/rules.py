"""The respondent rule stated with every survey, and its SQL and Python forms (results, the
indicators' "satisfaction" and "awareness" definitions, the demo data all count with it)."""

from __future__ import annotations

from sqlalchemy import and_

from app.surveys.models import Survey

INDICATOR_OF = {"satisfaction": "满意度", "awareness": "知晓率"}
_POSITIVE_WORD = {"satisfaction": "satisfied", "awareness": "aware"}


def rule_text(survey: Survey) -> str:
    """The respondent rule, as shown with the survey and its results."""
    return (
        f"A respondent counts as {_POSITIVE_WORD[survey.kind]} when at least "
        f"{survey.positive_threshold_permille / 10:g} % of the scored questions they answered have a "
        f"positive answer. Scored questions are the choice and 1–5 scale questions with an answer marked "
        f"positive; a single-choice or scale answer is positive when the chosen option is marked positive, "
        f"a multiple-choice answer when every chosen option is. Free text is never scored. "
        f"Positive rate = such respondents ÷ respondents; response rate = respondents ÷ invited."
    )


def positive_respondent(scored, positive, permille):
    """SQL: the respondent rule, exact in integers (columns or binds)."""
    return and_(scored > 0, positive * 1000 >= permille * scored)


def is_positive_respondent(scored: int, positive: int, permille: int) -> bool:
    return scored > 0 and positive * 1000 >= permille * scored
