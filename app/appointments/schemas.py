import marshmallow as ma

from app.appointments.models import APPOINTMENT_STATUSES, SERVICES, SLOT_STATUSES
from app.common.pagination import PageArgs, page_schema
from app.common.schemas import Out, Strict

_service = dict(
    validate=ma.validate.OneOf(list(SERVICES)),
    metadata={
        "description": "elderly_check (65+) | chronic_followup (hypertension/T2DM) | "
        "child_check (0-6) | prenatal_check (pregnant) | consultation (anyone)"
    },
)
_note = dict(load_default=None, allow_none=True, validate=ma.validate.Length(max=200))
_instant = dict(metadata={"description": "ISO 8601 with offset"})


# --- slots ---------------------------------------------------------------------------


class SlotIn(Strict):
    team_id = ma.fields.Integer(required=True)
    service = ma.fields.String(required=True, **_service)
    starts_at = ma.fields.AwareDateTime(required=True, **_instant)
    ends_at = ma.fields.AwareDateTime(required=True, **_instant)
    capacity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=500))
    note = ma.fields.String(**_note)


class TimeWindowIn(Strict):
    start = ma.fields.Time(required=True, metadata={"description": "local time HH:MM (Asia/Shanghai)"})
    end = ma.fields.Time(required=True, metadata={"description": "local time HH:MM"})


class SlotPatternIn(Strict):
    """A weekly pattern, e.g. elderly checks on Tuesday and Thursday mornings for 8 weeks."""

    team_id = ma.fields.Integer(required=True)
    service = ma.fields.String(required=True, **_service)
    starts_on = ma.fields.Date(required=True, metadata={"description": "first day of the range"})
    ends_on = ma.fields.Date(
        load_default=None, allow_none=True, metadata={"description": "last day of the range (or give weeks)"}
    )
    weeks = ma.fields.Integer(load_default=None, allow_none=True, validate=ma.validate.Range(min=1, max=52))
    weekdays = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=1, max=7)),
        required=True,
        validate=ma.validate.Length(min=1, max=7),
        metadata={"description": "ISO weekdays, 1 = Monday … 7 = Sunday"},
    )
    times = ma.fields.List(ma.fields.Nested(TimeWindowIn), required=True, validate=ma.validate.Length(min=1, max=12))
    capacity = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=500))
    skip_holidays = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "skip public holidays (chinese-calendar; weekends for years it does not cover)"},
    )
    note = ma.fields.String(**_note)


class SlotOut(Out):
    id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    team_name = ma.fields.String(allow_none=True)
    service = ma.fields.String()
    service_name = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    date = ma.fields.Date(metadata={"description": "local date"})
    capacity = ma.fields.Integer()
    booked = ma.fields.Integer()
    available = ma.fields.Integer()
    bookable = ma.fields.Boolean(metadata={"description": "open, places left, and online booking not closed"})
    booking_closes_at = ma.fields.DateTime()
    status = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    cancelled_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


SlotPage = page_schema(SlotOut, "SlotPage")


class SkippedOut(Out):
    date = ma.fields.Date()
    starts_at = ma.fields.DateTime(allow_none=True)
    reason = ma.fields.String(metadata={"description": "holiday | past | exists"})
    holiday = ma.fields.String(allow_none=True)


class SlotPatternOut(Out):
    created = ma.fields.List(ma.fields.Nested(SlotOut))
    skipped = ma.fields.List(ma.fields.Nested(SkippedOut))


class SlotListArgs(PageArgs):
    team_id = ma.fields.Integer()
    service = ma.fields.String(**_service)
    from_ = ma.fields.Date(data_key="from", metadata={"description": "first local date (default today)"})
    to = ma.fields.Date(metadata={"description": "last local date"})
    status = ma.fields.String(validate=ma.validate.OneOf(SLOT_STATUSES), metadata={"description": "staff only"})
    available = ma.fields.Boolean(metadata={"description": "only slots with places left"})
    resident_id = ma.fields.Integer(metadata={"description": "accounts: slots this family member may book"})


class SlotCancelIn(Strict):
    reason = ma.fields.String(**_note)


# --- appointments ---------------------------------------------------------------------


class AppointmentIn(Strict):
    slot_id = ma.fields.Integer(required=True)
    resident_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "required for staff; accounts default to their own archive"},
    )
    service = ma.fields.String(load_default=None, allow_none=True, **_service)
    note = ma.fields.String(**_note)


class RescheduleIn(Strict):
    slot_id = ma.fields.Integer(required=True)
    note = ma.fields.String(**_note)


class CancelIn(Strict):
    note = ma.fields.String(**_note)


class AppointmentOut(Out):
    id = ma.fields.Integer()
    slot_id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    resident_name = ma.fields.String()
    service = ma.fields.String()
    service_name = ma.fields.String()
    team_id = ma.fields.Integer()
    team_name = ma.fields.String()
    institution_name = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    date = ma.fields.Date()
    status = ma.fields.String(metadata={"description": " | ".join(APPOINTMENT_STATUSES)})
    note = ma.fields.String(allow_none=True)
    booked_by_kind = ma.fields.String()
    booked_at = ma.fields.DateTime()
    cancelled_at = ma.fields.DateTime(allow_none=True)
    cancel_reason = ma.fields.String(
        allow_none=True, metadata={"description": "resident | staff | slot_cancelled | rescheduled"}
    )
    checked_in_at = ma.fields.DateTime(allow_none=True)
    no_show_at = ma.fields.DateTime(allow_none=True)
    completed_at = ma.fields.DateTime(allow_none=True)
    rescheduled_from_id = ma.fields.Integer(allow_none=True)
    rescheduled_to_id = ma.fields.Integer(allow_none=True)
    can_cancel = ma.fields.Boolean(metadata={"description": "the caller may cancel it now"})
    no_show_flag = ma.fields.Boolean(
        metadata={"description": "the last three concluded appointments were all no-shows"}
    )


AppointmentPage = page_schema(AppointmentOut, "AppointmentPage")


class AppointmentListArgs(PageArgs):
    when = ma.fields.String(
        load_default="all",
        validate=ma.validate.OneOf(("upcoming", "past", "all")),
        metadata={
            "description": "upcoming: booked or checked in and not over (soonest "
            "first); past: everything else (newest first)"
        },
    )
    resident_id = ma.fields.Integer()
    team_id = ma.fields.Integer()
    service = ma.fields.String(**_service)
    status = ma.fields.String(validate=ma.validate.OneOf(APPOINTMENT_STATUSES))
    from_ = ma.fields.Date(data_key="from")
    to = ma.fields.Date()


# --- the team's day ----------------------------------------------------------------------


class DayArgs(Strict):
    date = ma.fields.Date(load_default=None, metadata={"description": "local date, default today"})


class DayEntryOut(Out):
    id = ma.fields.Integer()
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    sex = ma.fields.String()
    age = ma.fields.Integer()
    status = ma.fields.String()
    note = ma.fields.String(allow_none=True)
    booked_by_kind = ma.fields.String()
    checked_in_at = ma.fields.DateTime(allow_none=True)
    no_show_flag = ma.fields.Boolean()


class DaySlotOut(Out):
    id = ma.fields.Integer()
    service = ma.fields.String()
    service_name = ma.fields.String()
    starts_at = ma.fields.DateTime()
    ends_at = ma.fields.DateTime()
    status = ma.fields.String()
    capacity = ma.fields.Integer()
    booked = ma.fields.Integer(metadata={"description": "places held (waiting + checked in + no-show)"})
    available = ma.fields.Integer()
    waiting = ma.fields.Integer(metadata={"description": "booked, not yet checked in"})
    checked_in = ma.fields.Integer(metadata={"description": "checked in or completed"})
    no_show = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    appointments = ma.fields.List(ma.fields.Nested(DayEntryOut))


class DayTotalsOut(Out):
    capacity = ma.fields.Integer()
    booked = ma.fields.Integer()
    waiting = ma.fields.Integer()
    checked_in = ma.fields.Integer()
    no_show = ma.fields.Integer()
    cancelled = ma.fields.Integer()


class DayOut(Out):
    team_id = ma.fields.Integer()
    team_name = ma.fields.String()
    date = ma.fields.Date()
    slots = ma.fields.List(ma.fields.Nested(DaySlotOut))
    totals = ma.fields.Nested(DayTotalsOut)


class FlaggedOut(Out):
    resident_id = ma.fields.Integer()
    name = ma.fields.String()
    sex = ma.fields.String()
    age = ma.fields.Integer()
    last_no_show_at = ma.fields.DateTime()


class SlotCreateBody(SlotIn):
    """One slot, or a JSON list of them (published together, all or nothing)."""

    def load(self, data, *, many=None, partial=None, unknown=None):
        if isinstance(data, list):
            if not data:
                raise ma.ValidationError({"slots": ["give at least one slot"]})
            try:
                return {"items": SlotIn(many=True).load(data), "many": True}
            except ma.ValidationError as err:
                raise ma.ValidationError(_flatten_indexed(err.messages)) from None
        return {"items": [SlotIn().load(data, partial=partial)], "many": False}


def _flatten_indexed(messages) -> dict:
    """{0: {"starts_at": [...]}} → {"0.starts_at": [...]} so each error names its field."""
    flat = {}
    for index, fields in (messages or {}).items():
        if isinstance(fields, dict):
            for name, reasons in fields.items():
                flat[f"{index}.{name}"] = reasons
        else:
            flat[str(index)] = fields
    return flat
