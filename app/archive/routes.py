from flask import Response, json
from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_resident
from app.archive import child_checks, child_schemas, fhir, schemas, services, view
from app.common.idempotency import idempotent
from app.common.responses import json_response
from app.extensions import db
from app.orgs.models import Institution
from app.residents import services as residents

blp = Blueprint(
    "archive",
    __name__,
    url_prefix="/api/v1",
    description="The health archive: health checks, child health checks, service records, diagnoses, access log, FHIR",
)

CLINICAL = ("doctor", "team_leader")


@blp.route("/residents/<int:rid>/archive", methods=["GET"])
@login_required
@blp.arguments(schemas.ArchiveArgs, location="query")
@blp.response(200, schemas.ArchiveOut)
def get_archive(args, rid):
    """The archive screen in one call (the resident, a granted family member, or staff in scope).

    Lists are paginated (`health_checks_page`, `service_records_page`, `per_page`); each read is
    written to the access log with its purpose."""
    return json_response(view.archive_view(current_actor(), rid, args))


@blp.route("/residents/<int:rid>/archive/access-log", methods=["GET"])
@login_required
@blp.arguments(schemas.AccessLogArgs, location="query")
@blp.response(200, schemas.AccessLogPage)
def get_access_log(args, rid):
    """Who read or changed this archive, when and why (newest first). Reading it is not logged."""
    resident = get_resident(current_actor(), rid)
    return services.access_log_page(resident.id, args["page"], args["per_page"])


@blp.route("/residents/<int:rid>/archive/fhir", methods=["GET"])
@login_required
@blp.arguments(schemas.FhirArgs, location="query")
@blp.response(200, content_type="application/fhir+json")
def get_archive_fhir(args, rid):
    """The archive as a FHIR R4 Bundle (Patient, Condition, Observation, Encounter, EpisodeOfCare).

    The ID number is masked unless the caller is the resident. Logged as an export."""
    actor = current_actor()
    bundle = fhir.export_bundle(actor, get_resident(actor, rid), args.get("purpose"))
    return Response(json.dumps(bundle, ensure_ascii=False), mimetype="application/fhir+json")


@blp.route("/residents/<int:rid>/health-checks", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.HealthCheckIn)
@blp.response(201, schemas.HealthCheckOut)
def create_health_check(body, rid):
    """Record a health check (健康体检表). BMI is computed; the 65+ items only for the elderly."""
    actor = current_actor()
    check = services.create_health_check(actor, get_resident(actor, rid), body)
    return services.present_health_check(check, actor_institution_name(actor), actor.display)


@blp.route("/residents/<int:rid>/child-checks", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(child_schemas.ChildCheckIn)
@blp.response(201, child_schemas.ChildCheckOut)
def create_child_check(body, rid):
    """Record a child health check (0–6 years: the newborn home visit, the full-month check, the checks
    at 3 … 36 months and at 4, 5, 6 years). `kind` is derived from the child's age on `checked_on`
    when left out; a check outside every window, or a `kind` whose window does not hold that age, is a
    422 saying which windows are near; a second check of the same kind is a 409. It fulfils the
    child's plan and counts as a delivery of the contract's child health check item. `growth` judges
    weight, length/height and head circumference against the WHO Child Growth Standards (z-scores;
    low / normal / high at ±2 SD)."""
    actor = current_actor()
    child = get_resident(actor, rid)
    check = child_checks.create_child_check(actor, child, body)
    return child_checks.present_child_check(check, actor_institution_name(actor), actor.display, child=child)


@blp.route("/residents/<int:rid>/child-checks", methods=["GET"])
@login_required
@blp.response(200, child_schemas.ChildChecksOut)
def get_child_checks(rid):
    """A child's checks (newest first) and the whole 0–6 schedule with each window and the day it was
    done. For the child's guardian (family grant), staff in scope; logged in the access log."""
    actor = current_actor()
    return child_checks.child_checks(actor, get_resident(actor, rid))


@blp.route("/residents/<int:rid>/service-records", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.ServiceRecordIn)
@blp.response(201, schemas.ServiceRecordOut)
def create_service_record(body, rid):
    """Record a consultation, referral, home visit or TCM service."""
    actor = current_actor()
    record = services.create_service_record(actor, get_resident(actor, rid), body)
    return services.present_service_record(record, actor_institution_name(actor), actor.display)


@blp.route("/residents/<int:rid>/conditions", methods=["POST"])
@staff_required(*CLINICAL)
@idempotent
@blp.arguments(schemas.ConditionCreateIn)
@blp.response(201, schemas.ConditionRecordOut)
def create_condition(body, rid):
    """Register a chronic condition (慢病登记). An active registration of the same disease → 409."""
    actor = current_actor()
    condition = residents.register_condition(actor, get_resident(actor, rid), body["disease"], body["diagnosed_on"])
    return services.present_condition(condition)


def actor_institution_name(actor):
    return db.session.scalar(db.select(Institution.name).where(Institution.id == actor.institution_id))
