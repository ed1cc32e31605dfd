"""Satisfaction (满意度) and awareness (知晓率) surveys: questionnaires, invitations, responses.

Design:
- A survey is owned by an institution and targets the active residents of that institution's
  subtree, optionally narrowed to populations (``residents.populations`` plus ``signed``: an
  active contract). ``draft`` surveys are edited freely; ``published`` ones are frozen — the
  questions, options and the positive threshold never change again, so every stored answer
  keeps the meaning it was given.
- Publishing writes one :class:`SurveyInvitation` per targeted resident (unique per survey and
  resident, written with one INSERT … SELECT) and one reminder each through the outbox.
- One :class:`SurveyResponse` per (survey, resident): a unique constraint, so two concurrent
  submissions cannot both succeed. A response records who submitted it (the account, and the
  account holder's own archive when answering for a family member: ``proxy``).
- Answers are one row per answered question (:class:`SurveyAnswer`) plus one row per chosen
  option (:class:`SurveyAnswerOption`, also for a scale answer: the option of that value).
  ``positive`` on an answer and ``scored_count`` / ``positive_count`` on a response are derived
  once, at submission, from the frozen options; results only count them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

SURVEY_KINDS = ("satisfaction", "awareness")
SURVEY_STATUSES = ("draft", "published")
QUESTION_TYPES = ("single", "multi", "scale", "text")
SCORED_TYPES = ("single", "multi", "scale")
POPULATION_MATCHES = ("any", "all")
SCALE_VALUES = (1, 2, 3, 4, 5)


class Survey(db.Model):
    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("closes_on >= opens_on", name="window"),
        CheckConstraint("positive_threshold_permille BETWEEN 1 AND 1000", name="threshold_in_range"),
        Index("ix_surveys_status_window", "status", "opens_on", "closes_on"),
        Index("ix_surveys_institution", "institution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(100))
    introduction: Mapped[str | None] = mapped_column(Text)
    # Owner and target: the active residents of this institution's subtree.
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))
    populations: Mapped[list] = mapped_column(JSONType, default=list)
    population_match: Mapped[str] = mapped_column(String(3), default="any")
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)  # inclusive, local date
    # Integer per mille so the rule compares exactly on every engine (0.8 → 800).
    positive_threshold_permille: Mapped[int] = mapped_column(default=800)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    institution: Mapped[Institution] = relationship()  # noqa: F821
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyQuestion.position"
    )

    @property
    def positive_threshold(self) -> float:
        return self.positive_threshold_permille / 1000

    def state_on(self, day: date) -> str:
        """draft · scheduled (published, not open yet) · open · closed."""
        if self.status == "draft":
            return "draft"
        if day < self.opens_on:
            return "scheduled"
        return "open" if day <= self.closes_on else "closed"


class SurveyQuestion(db.Model):
    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int]
    text: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(10))
    required: Mapped[bool] = mapped_column(default=True)

    survey: Mapped[Survey] = relationship(back_populates="questions")
    options: Mapped[list[SurveyOption]] = relationship(
        back_populates="question", cascade="all, delete-orphan", order_by="SurveyOption.position"
    )

    @property
    def scored(self) -> bool:
        """Counts toward the respondent's positive share: a choice or scale question with a positive option."""
        return self.type in SCORED_TYPES and any(o.positive for o in self.options)


class SurveyOption(db.Model):
    __tablename__ = "survey_options"
    __table_args__ = (UniqueConstraint("question_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"))
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(100))
    positive: Mapped[bool] = mapped_column(default=False)
    value: Mapped[int | None]  # scale questions: 1…5

    question: Mapped[SurveyQuestion] = relationship(back_populates="options")


class SurveyInvitation(db.Model):
    __tablename__ = "survey_invitations"
    __table_args__ = (
        UniqueConstraint("survey_id", "resident_id"),
        Index("ix_survey_invitations_resident", "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SurveyResponse(db.Model):
    __tablename__ = "survey_responses"
    __table_args__ = (
        # One response per resident and survey: this constraint decides concurrent duplicates.
        UniqueConstraint("survey_id", "resident_id", name="uq_survey_responses_survey_resident"),
        Index("ix_survey_responses_resident", "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))  # whose answers these are
    account_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_accounts.id"))
    submitted_by_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    proxy: Mapped[bool] = mapped_column(default=False)  # answered by a family member on their behalf
    scored_count: Mapped[int] = mapped_column(default=0)
    positive_count: Mapped[int] = mapped_column(default=0)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    answers: Mapped[list[SurveyAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="SurveyAnswer.id"
    )


class SurveyAnswer(db.Model):
    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_id"),
        Index("ix_survey_answers_question", "question_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(BigId, ForeignKey("survey_responses.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id"))
    value: Mapped[int | None]  # scale
    text: Mapped[str | None] = mapped_column(Text)  # free text
    positive: Mapped[bool | None]  # None: not a scored question

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")
    options: Mapped[list[SurveyAnswerOption]] = relationship(cascade="all, delete-orphan")


class SurveyAnswerOption(db.Model):
    __tablename__ = "survey_answer_options"
    __table_args__ = (
        UniqueConstraint("answer_id", "option_id"),
        Index("ix_survey_answer_options_option", "option_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    answer_id: Mapped[int] = mapped_column(BigId, ForeignKey("survey_answers.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("survey_options.id"))
