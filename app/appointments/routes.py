from flask import jsonify
from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_managed_team
from app.appointments import booking, no_shows, schemas, scope, slots, views
from app.common.idempotency import idempotent
from app.common.pagination import page_body, paginate
from app.common.time import today

blp = Blueprint(
    "appointments",
    __name__,
    url_prefix="/api/v1",
    description="Appointments: slots with capacity, booking, reminders, check-in, the team's day",
)


# --- slots ---------------------------------------------------------------------------


@blp.route("/slots", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.SlotCreateBody)
@blp.response(201, schemas.SlotOut)
def create_slots(body):
    """Publish a slot for a team and service (start, end, capacity) — or send a JSON list of
    slots to publish them together (all or nothing; the answer is then a list).
    Errors in a list name the item: ``0.starts_at``."""
    published = slots.create_slots(current_actor(), body["items"], many=body["many"])
    presented = views.present_slots(published)
    if body["many"]:
        response = jsonify(schemas.SlotOut(many=True).dump(presented))
        response.status_code = 201
        return response
    return presented[0]


@blp.route("/slots/pattern", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.SlotPatternIn)
@blp.response(201, schemas.SlotPatternOut)
def create_pattern(body):
    """Publish a weekly pattern over a date range (e.g. elderly checks Tuesday and Thursday
    08:00–11:30, 40 people, for 8 weeks). Public holidays are skipped unless
    ``skip_holidays`` is false; already existing slots and past starts are skipped too."""
    result = slots.create_pattern(current_actor(), body)
    return {"created": views.present_slots(result["created"]), "skipped": result["skipped"]}


@blp.route("/slots", methods=["GET"])
@login_required
@blp.arguments(schemas.SlotListArgs, location="query")
@blp.response(200, schemas.SlotPage)
def list_slots(args):
    """Slots from ``from`` (default today) to ``to``. Residents see the open, future slots of
    the teams of their centre (or, with ``resident_id``, a family member's); staff those of
    their institution's subtree."""
    rows, total = paginate(views.search_slots(current_actor(), args), args["page"], args["per_page"])
    return page_body(views.present_slots(rows), args["page"], args["per_page"], total)


@blp.route("/slots/<int:slot_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.SlotOut)
def get_slot(slot_id):
    """One slot with its places left."""
    return views.present_slots([scope.get_slot(current_actor(), slot_id)])[0]


@blp.route("/slots/<int:slot_id>/cancel", methods=["POST"])
@staff_required()
@blp.arguments(schemas.SlotCancelIn)
@blp.response(200, schemas.SlotOut)
def cancel_slot(body, slot_id):
    """Cancel a slot (the team's): its booked appointments are cancelled, their reminders
    withdrawn, and each resident is told."""
    actor = current_actor()
    slot = slots.cancel_slot(actor, scope.get_managed_slot(actor, slot_id), body.get("reason"))
    return views.present_slots([slot])[0]


@blp.route("/slots/<int:slot_id>", methods=["DELETE"])
@staff_required()
@blp.response(204)
def delete_slot(slot_id):
    """Delete a slot nobody has booked; a slot with bookings → 409 ``slot_has_bookings`` (cancel it)."""
    actor = current_actor()
    slots.delete_slot(actor, scope.get_managed_slot(actor, slot_id))


# --- appointments ---------------------------------------------------------------------


@blp.route("/appointments", methods=["POST"])
@login_required
@idempotent
@blp.arguments(schemas.AppointmentIn)
@blp.response(201, schemas.AppointmentOut)
def book(body):
    """Book a place: a resident for self (default) or a family member they act for; staff for
    a resident in scope. Full → 409 ``slot_full``; the person already booked for this service
    that day → 409 ``double_booking``; the service does not fit the person → 422
    ``not_eligible``; online booking closed → 409 ``booking_closed``."""
    actor = current_actor()
    appointment = booking.book(actor, body)
    return views.present_one(actor, appointment)


@blp.route("/appointments", methods=["GET"])
@login_required
@blp.arguments(schemas.AppointmentListArgs, location="query")
@blp.response(200, schemas.AppointmentPage)
def list_appointments(args):
    """Appointments in scope: an account's own and its family's (``when=upcoming`` soonest
    first, ``past`` newest first); staff: those of the teams they run."""
    actor = current_actor()
    rows, total = paginate(views.search(actor, args), args["page"], args["per_page"], scalars=False)
    views.log_reads(actor, [row.Appointment.resident_id for row in rows])
    return page_body(views.present_rows(actor, rows), args["page"], args["per_page"], total)


@blp.route("/appointments/<int:appointment_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.AppointmentOut)
def get_appointment(appointment_id):
    """One appointment."""
    actor = current_actor()
    appointment = scope.get_appointment(actor, appointment_id)
    views.log_reads(actor, [appointment.resident_id])
    return views.present_one(actor, appointment)


@blp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@login_required
@blp.arguments(schemas.CancelIn)
@blp.response(200, schemas.AppointmentOut)
def cancel(body, appointment_id):
    """Cancel: the resident (or family) until the cutoff before the start (409
    ``cancel_cutoff_passed`` after), the team always (the resident is told)."""
    actor = current_actor()
    appointment = booking.cancel(actor, scope.get_appointment(actor, appointment_id), body.get("note"))
    return views.present_one(actor, appointment)


@blp.route("/appointments/<int:appointment_id>/reschedule", methods=["POST"])
@login_required
@idempotent
@blp.arguments(schemas.RescheduleIn)
@blp.response(201, schemas.AppointmentOut)
def reschedule(body, appointment_id):
    """Move to another slot of the same service: cancel and book in one transaction (if the
    new booking fails, the old one stands). The answer is the new appointment."""
    actor = current_actor()
    appointment = booking.reschedule(
        actor, scope.get_appointment(actor, appointment_id), body["slot_id"], body.get("note")
    )
    return views.present_one(actor, appointment)


@blp.route("/appointments/<int:appointment_id>/check-in", methods=["POST"])
@staff_required()
@blp.response(200, schemas.AppointmentOut)
def check_in(appointment_id):
    """The resident came (on the day; also corrects a no-show). The doctor can now record the
    visit against this appointment."""
    actor = current_actor()
    appointment = booking.check_in(actor, scope.get_appointment(actor, appointment_id))
    return views.present_one(actor, appointment)


@blp.route("/appointments/<int:appointment_id>/no-show", methods=["POST"])
@staff_required()
@blp.response(200, schemas.AppointmentOut)
def no_show(appointment_id):
    """The resident did not come (once the slot has started)."""
    actor = current_actor()
    appointment = booking.mark_no_show(actor, scope.get_appointment(actor, appointment_id))
    return views.present_one(actor, appointment)


# --- the team ------------------------------------------------------------------------


@blp.route("/teams/<int:team_id>/day", methods=["GET"])
@staff_required()
@blp.arguments(schemas.DayArgs, location="query")
@blp.response(200, schemas.DayOut)
def team_day(args, team_id):
    """The team's day (default today): per slot the places held, waiting, checked in,
    no-shows and who; residents with three no-shows in a row are flagged."""
    actor = current_actor()
    body = views.day_view(actor, get_managed_team(actor, team_id), args["date"] or today())
    return body


@blp.route("/teams/<int:team_id>/no-shows", methods=["GET"])
@staff_required()
@blp.response(200, schemas.FlaggedOut(many=True))
def team_no_shows(team_id):
    """Residents who booked with this team and missed their last three appointments."""
    actor = current_actor()
    rows = no_shows.flagged_for_team(get_managed_team(actor, team_id))
    views.log_reads(actor, [row["resident_id"] for row in rows])
    return rows
