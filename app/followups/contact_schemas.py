"""Input and output shapes of the worklist's contact attempts and their review (app.followups.contacts)."""

import marshmallow as ma

from app.common.pagination import PageArgs, page_schema
from app.common.schemas import Out, Strict
from app.common.schemas import choice as _choice
from app.common.schemas import text as _text
from app.followups.models import CONTACT_METHODS, CONTACT_OUTCOMES, REVIEW_STATUSES


class ContactIn(Strict):
    method = _choice(CONTACT_METHODS, required=True, metadata={"description": "phone | wechat | visit (上门)"})
    outcome = _choice(
        CONTACT_OUTCOMES,
        required=True,
        metadata={
            "description": "call_later needs call_back_on (the entry leaves the worklist until then); "
            "moved_away / died go to the institution admins' review list; refused needs a note (the reason)"
        },
    )
    call_back_on = ma.fields.Date(metadata={"description": "call_later only: tomorrow … 90 days ahead"})
    note = _text(500)


class LastContactOut(Out):
    id = ma.fields.Integer()
    contacted_on = ma.fields.Date()
    method = ma.fields.String()
    outcome = ma.fields.String()
    call_back_on = ma.fields.Date(allow_none=True)
    note = ma.fields.String(allow_none=True)


class ContactOut(LastContactOut):
    plan_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    programme = ma.fields.String()
    due_on = ma.fields.Date(metadata={"description": "the entry's due date when contacted"})
    overdue = ma.fields.Boolean(metadata={"description": "the entry was overdue at the contact"})
    contacted_by = ma.fields.String(metadata={"description": "the staff member's name"})
    review_status = ma.fields.String(allow_none=True, metadata={"description": "pending | confirmed | dismissed"})
    review_note = ma.fields.String(allow_none=True)
    effective_on = ma.fields.Date(allow_none=True)


ContactsPage = page_schema(ContactOut, "ContactsPage")


class ContactReviewArgs(PageArgs):
    status = _choice(REVIEW_STATUSES, load_default="pending")
    institution_id = ma.fields.Integer(metadata={"description": "default: the caller's institution subtree"})


class ContactReviewResidentOut(Out):
    id = ma.fields.Integer()
    name = ma.fields.String()
    archive_no = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    institution_id = ma.fields.Integer()


class ContactReviewOut(ContactOut):
    resident = ma.fields.Nested(ContactReviewResidentOut)


ContactReviewPage = page_schema(ContactReviewOut, "ContactReviewPage")


class ContactConfirmIn(Strict):
    effective_on = ma.fields.Date(
        metadata={
            "description": "the day the resident moved away / died (default: the contact's day); not in the future"
        }
    )
    note = _text(500)


class ContactDismissIn(Strict):
    note = _text(500, required=True, metadata={"description": "why the report was not confirmed"})
