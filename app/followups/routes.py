from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_institution, get_resident, get_team
from app.common.idempotency import idempotent
from app.common.time import today
from app.errors import Invalid
from app.extensions import db
from app.followups import indicators, notifications  # noqa: F401  (registers the message kinds)
from app.followups import schemas, services

blp = Blueprint("followups", __name__, url_prefix="/api/v1",
                description="Chronic-disease follow-up: visits, plans, the doctor's worklist, indicators")

CLINICAL = ("doctor", "team_leader")


def _register_hooks() -> None:
    """The archive's "followups" section and activity source (when the archive feature is built in)."""
    try:
        from app.archive import metrics as archive_metrics
        from app.archive import services as archive_services
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("app.archive"):
            raise
        return
    if services.archive_section not in archive_services.ARCHIVE_SECTIONS:
        archive_services.ARCHIVE_SECTIONS.append(services.archive_section)
    if services.activity_source not in archive_metrics.ACTIVITY_SOURCES:
        archive_metrics.ACTIVITY_SOURCES.append(services.activity_source)


_register_hooks()


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
    result = services.record_visit(actor, resident, body)
    return result


@blp.route("/followups/worklist", methods=["GET"])
@staff_required()
@blp.arguments(schemas.WorklistArgs, location="query")
@blp.response(200, schemas.WorklistPage)
def get_worklist(args):
    """The doctor's worklist: open plans of a team (default: the caller's teams), due / overdue / all,
    urgent referrals and pending referrals first, then the most overdue. A team the caller does not
    run (runners: its members, institution admins of the subtree, the district admin) → 404."""
    body = services.worklist(current_actor(), args)
    db.session.commit()
    return body


@blp.route("/followups/indicators", methods=["GET"])
@staff_required("institution_admin", "team_leader")
@blp.arguments(schemas.FollowupIndicatorArgs, location="query")
@blp.response(200, schemas.FollowupIndicatorOut(many=True))
def get_indicators(args):
    """Management, standardised-management and control rates for a year, for an institution's subtree
    (default: the caller's institution) or a team. The indicators feature's definitions and targets
    (GET /indicators/definitions): the managed counts are measured against the targets table's task
    counts (应管人数), which teams do not have."""
    actor = current_actor()
    year = args.get("year") or today().year
    if args.get("team_id") is not None:
        if args.get("institution_id") is not None:
            raise Invalid("team_id", "give institution_id or team_id, not both")
        return indicators.indicator_rows(year, team_ids=[get_team(actor, args["team_id"]).id])
    institution = get_institution(actor, args.get("institution_id") or actor.institution_id)
    return indicators.indicator_rows(year, institution_ids=[institution.id])


@blp.route("/followups/<int:visit_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.FollowupVisitOut)
def get_followup(visit_id):
    """One follow-up visit (the resident, a granted family member, or staff in scope)."""
    actor = current_actor()
    visit = services.get_visit(actor, visit_id)
    services.record_read(actor, visit.resident_id)
    db.session.commit()
    return services.present_visit(visit, *services.visit_names(visit))


@blp.route("/residents/<int:rid>/followups", methods=["GET"])
@login_required
@blp.arguments(schemas.ResidentFollowupsArgs, location="query")
@blp.response(200, schemas.ResidentFollowupsOut)
def get_resident_followups(args, rid):
    """A resident's follow-ups: visits (newest first, paginated), the open plan and the BP / glucose
    trend over the last visits. For the resident, a granted family member or staff in scope; logged."""
    actor = current_actor()
    body = services.read_resident_followups(actor, get_resident(actor, rid), args)
    db.session.commit()
    return body

