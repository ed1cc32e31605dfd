"""Input and output shapes of two-way referral."""

import marshmallow as ma

from app.common.pagination import PageArgs, page_schema
from app.common.schemas import Out, Strict
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text
from app.referrals.models import DIRECTIONS, STATUSES, URGENCIES


class ReferralCreateIn(Strict):
    resident_id = ma.fields.Integer(required=True)
    direction = _choice(
        DIRECTIONS, required=True, metadata={"description": "up: to a hospital; down: back to the team"}
    )
    to_institution_id = ma.fields.Integer(metadata={"description": "an institution of the tree (or to_hospital_name)"})
    to_hospital_name = _text(100, metadata={"description": "a named outside hospital (or to_institution_id)"})
    reason = _text(500, required=True)
    urgency = _choice(URGENCIES, load_default="routine", metadata={"description": "urgent: the team leader is told"})
    source_visit_id = ma.fields.Integer(metadata={"description": "the follow-up visit it came from"})


class ReferralReceiveIn(Strict):
    received_on = ma.fields.Date(metadata={"description": "default today; not in the future"})


class ReferralReturnIn(Strict):
    returned_on = ma.fields.Date(required=True)
    summary = _text(4000, required=True, metadata={"description": "the hospital's diagnosis and treatment"})
    advice = _text(4000, metadata={"description": "what the team should do next"})


class ReferralCancelIn(Strict):
    reason = _text(500, required=True)


class ReferralListArgs(PageArgs):
    team_id = ma.fields.Integer(metadata={"description": "default: the caller's own team(s)"})
    status = _choice(STATUSES)


class ReferralOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    team_id = ma.fields.Integer(allow_none=True)
    direction = ma.fields.String()
    to_institution_id = ma.fields.Integer(allow_none=True)
    to_hospital_name = ma.fields.String(allow_none=True)
    destination = ma.fields.String(allow_none=True, metadata={"description": "the institution's or hospital's name"})
    reason = ma.fields.String()
    urgency = ma.fields.String()
    source_visit_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.String(metadata={"description": "issued | received | returned | cancelled"})
    issued_on = ma.fields.Date()
    received_on = ma.fields.Date(allow_none=True)
    returned_on = ma.fields.Date(allow_none=True)
    summary = ma.fields.String(allow_none=True)
    advice = ma.fields.String(allow_none=True)
    cancelled_on = ma.fields.Date(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)
    waiting_days = ma.fields.Integer(allow_none=True, metadata={"description": "days since issued, while unresolved"})
    return_followup_due_on = ma.fields.Date(
        allow_none=True, metadata={"description": "the follow-up owed within 2 weeks of the patient's return"}
    )
    followed_up_on = ma.fields.Date(allow_none=True)


ReferralPage = page_schema(ReferralOut, "ReferralPage")
