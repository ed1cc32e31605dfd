from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.common.idempotency import idempotent
from app.common.pagination import PageArgs
from app.referrals import reads, schemas, services

blp = Blueprint(
    "referrals",
    __name__,
    url_prefix="/api/v1",
    description="Two-way referral (双向转诊): issued → received → returned, or cancelled",
)


@blp.route("/referrals", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.ReferralCreateIn)
@blp.response(201, schemas.ReferralOut)
def create_referral(body):
    """Issue a referral of a resident of a team the caller runs (else 404). An up referral waits
    `REFERRAL_FEEDBACK_DAYS` (default 7) for the hospital's answer, then appears on the worklist as
    programme `referral`; an urgent one puts the team leader's inbox on notice. A follow-up visit whose
    rules suggest referral answers with `referral_offer`: this body, pre-filled."""
    return reads.present(services.issue(current_actor(), body))


@blp.route("/referrals/<int:referral_id>/receive", methods=["POST"])
@staff_required()
@blp.arguments(schemas.ReferralReceiveIn)
@blp.response(200, schemas.ReferralOut)
def receive_referral(body, referral_id):
    """The destination has the patient. For a down referral the patient is back with the team: a
    follow-up due within 2 weeks opens (programme `referral_return`). Not issued → 409."""
    return reads.present(services.receive(current_actor(), referral_id, body))


@blp.route("/referrals/<int:referral_id>/return", methods=["POST"])
@staff_required()
@blp.arguments(schemas.ReferralReturnIn)
@blp.response(200, schemas.ReferralOut)
def return_referral(body, referral_id):
    """The hospital's feedback (回转): the patient's follow-up within 2 weeks opens (programme
    `referral_return`, a reminder to the resident) and the chase entry closes. Already returned or
    cancelled → 409."""
    return reads.present(services.return_(current_actor(), referral_id, body))


@blp.route("/referrals/<int:referral_id>/cancel", methods=["POST"])
@staff_required()
@blp.arguments(schemas.ReferralCancelIn)
@blp.response(200, schemas.ReferralOut)
def cancel_referral(body, referral_id):
    """Withdraw a referral not yet returned. Already returned or cancelled → 409."""
    return reads.present(services.cancel(current_actor(), referral_id, body))


@blp.route("/referrals", methods=["GET"])
@staff_required()
@blp.arguments(schemas.ReferralListArgs, location="query")
@blp.response(200, schemas.ReferralPage)
def list_referrals(args):
    """A team's referrals, newest first (`status` to filter). A team the caller does not run → 404."""
    return reads.team_referrals(current_actor(), args)


@blp.route("/residents/<int:rid>/referrals", methods=["GET"])
@login_required
@blp.arguments(PageArgs, location="query")
@blp.response(200, schemas.ReferralPage)
def get_resident_referrals(args, rid):
    """A resident's referrals, newest first: the resident, a granted family member or staff in scope;
    written to the access log."""
    return reads.resident_referrals(current_actor(), rid, args)
