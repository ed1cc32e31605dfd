from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_resident
from app.common.idempotency import idempotent
from app.common.pagination import PageArgs
from app.common.responses import json_response
from app.followups import contact_schemas, contacts, history, schemas, visits, worklist

blp = Blueprint(
    "followups",
    __name__,
    url_prefix="/api/v1",
    description="Chronic-disease follow-up and the plan engine of every service line: visits, plans, the worklists",
)

CLINICAL = ("doctor", "team_leader")


@blp.route("/followups", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.FollowupCreateIn)
@blp.response(201, schemas.FollowupCreatedOut)
def create_followup(body):
    """Record a follow-up visit (随访服务记录表, hypertension / T2DM / both).

    The classification is computed from the measurements unless given (a different one needs
    `classification_reason`); the answer carries the next due date and whether referral is
    suggested (`urgent_referral` for emergency values). Face-to-face visits close the patient's
    plan and open the next, and count as a contract delivery."""
    actor = current_actor()
    resident = get_resident(actor, body.pop("resident_id"))
    result = visits.record_visit(actor, resident, body)
    return result


@blp.route("/followups/worklist", methods=["GET"])
@staff_required()
@blp.arguments(schemas.WorklistArgs, location="query")
@blp.response(200, schemas.WorklistPage)
def get_worklist(args):
    """The doctor's worklist: open plans of a team (default: the caller's teams), due / overdue / all,
    urgent referrals and pending referrals first, then the most overdue. A team the caller does not
    run (runners: its members, institution admins of the subtree, the district admin) → 404."""
    return json_response(worklist.worklist(current_actor(), args))


@blp.route("/worklist", methods=["GET"])
@staff_required()
@blp.arguments(schemas.ProgrammeWorklistArgs, location="query")
@blp.response(200, schemas.ProgrammeWorklistPage)
def get_programme_worklist(args):
    """One worklist for every service line: the open plans of a team's residents — chronic follow-ups
    (hypertension, t2dm) and the yearly checks (elderly_check, elderly_tcm, disabled_check) — in the
    same urgency order as `/followups/worklist` (urgent and pending referrals, then the earliest due).
    A team the caller does not run → 404. Each resident listed is written to their access log."""
    return json_response(worklist.programme_worklist(current_actor(), args))


@blp.route("/followups/<int:visit_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.FollowupVisitOut)
def get_followup(visit_id):
    """One follow-up visit (the resident, a granted family member, or staff in scope)."""
    actor = current_actor()
    visit = visits.get_visit(actor, visit_id)
    history.record_read(actor, visit.resident_id)
    return visits.present_visit(visit, *visits.visit_names(visit))


@blp.route("/residents/<int:rid>/followups", methods=["GET"])
@login_required
@blp.arguments(schemas.ResidentFollowupsArgs, location="query")
@blp.response(200, schemas.ResidentFollowupsOut)
def get_resident_followups(args, rid):
    """A resident's follow-ups: visits (newest first, paginated), the open plan and the BP / glucose
    trend over the last visits. For the resident, a granted family member or staff in scope; logged."""
    actor = current_actor()
    body = history.read_resident_followups(actor, get_resident(actor, rid), args)
    return body


# --- contact attempts on worklist entries, and the review of what they report ---------------------


@blp.route("/worklist/<int:plan_id>/contacts", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(contact_schemas.ContactIn)
@blp.response(201, contact_schemas.ContactOut)
def create_contact(body, plan_id):
    """Record a call, message or home visit about a worklist entry (an open plan of a team the caller
    runs; otherwise 404). `call_later` takes the entry off the worklists until `call_back_on`;
    `moved_away` / `died` put the resident on the institution admins' review list (the archive is not
    changed until an admin confirms); `refused` keeps the entry, with the reason in `note`."""
    return contacts.record_contact(current_actor(), plan_id, body)


@blp.route("/residents/<int:rid>/contacts", methods=["GET"])
@staff_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, contact_schemas.ContactsPage)
def get_resident_contacts(args, rid):
    """A resident's contact attempts, newest first (staff in scope); written to the access log."""
    return contacts.resident_contacts(current_actor(), rid, args)


@blp.route("/contact-reviews", methods=["GET"])
@staff_required("institution_admin")
@blp.arguments(contact_schemas.ContactReviewArgs, location="query")
@blp.response(200, contact_schemas.ContactReviewPage)
def get_contact_reviews(args):
    """The review list: residents reported moved away or dead by a contact, in the caller's subtree
    (`status=pending` by default)."""
    return contacts.review_list(current_actor(), args)


@blp.route("/contact-reviews/<int:contact_id>/confirm", methods=["POST"])
@staff_required("institution_admin")
@blp.arguments(contact_schemas.ContactConfirmIn)
@blp.response(200, contact_schemas.ContactOut)
def confirm_contact_review(body, contact_id):
    """Confirm a report: the archive closes (`moved` / `deceased` on `effective_on`, default the
    contact's day) and so does every open plan. A report already reviewed → 409."""
    return contacts.confirm(current_actor(), contact_id, body)


@blp.route("/contact-reviews/<int:contact_id>/dismiss", methods=["POST"])
@staff_required("institution_admin")
@blp.arguments(contact_schemas.ContactDismissIn)
@blp.response(200, contact_schemas.ContactOut)
def dismiss_contact_review(body, contact_id):
    """Dismiss a wrong report (the reason in `note`); the archive is not changed."""
    return contacts.dismiss(current_actor(), contact_id, body)
