from flask_smorest import Blueprint

from app.access.actors import current_actor, resident_required, staff_required
from app.common.idempotency import idempotent
from app.family import reads, schemas, services

blp = Blueprint(
    "family",
    __name__,
    url_prefix="/api/v1",
    description="Family access (proxy): viewing a relative's archive with consent",
)


@blp.route("/me/family", methods=["GET"])
@resident_required
@blp.response(200, schemas.GrantOut(many=True))
def my_family():
    """People this account may view (active) or has asked to view (pending)."""
    return reads.my_family(current_actor())


@blp.route("/me/family", methods=["POST"])
@resident_required
@idempotent
@blp.arguments(schemas.GrantRequestIn)
@blp.response(201, schemas.GrantOut)
def request_family_access(body):
    """Ask to view a relative's archive by name and ID number.

    A child under 14 of the same household (relation child/grandchild/ward, asked by an adult) →
    `active` at once; anyone else → `pending` until that person accepts on their own phone or
    staff confirm in person. No archive with that name and number → 404 `archive_not_found`."""
    grant, subject = services.request_access(current_actor(), **body)
    return reads.present_grant(grant, subject)


@blp.route("/me/family/<int:grant_id>", methods=["DELETE"])
@resident_required
@blp.response(204)
def revoke_family_grant(grant_id):
    """End a grant or a request — either side may (the person viewed, or the viewer)."""
    services.revoke(current_actor(), grant_id)


@blp.route("/me/family/requests", methods=["GET"])
@resident_required
@blp.response(200, schemas.RequestOut(many=True))
def family_requests():
    """Pending requests to view my archive."""
    return reads.requests_for_me(current_actor())


@blp.route("/me/family/viewers", methods=["GET"])
@resident_required
@blp.response(200, schemas.RequestOut(many=True))
def family_viewers():
    """Everyone who may view my archive (active) or has asked to (pending): revoke with DELETE."""
    return reads.viewers_of_me(current_actor())


@blp.route("/me/family/requests/<int:grant_id>/accept", methods=["POST"])
@resident_required
@blp.response(200, schemas.RequestOut)
def accept_family_request(grant_id):
    """Accept a request to view my archive (only the person themself, 14 or older)."""
    grant, subject = services.accept(current_actor(), grant_id)
    return reads.present_for_subject(grant, subject)


@blp.route("/family-grants", methods=["GET"])
@staff_required()
@blp.arguments(schemas.StaffGrantListArgs, location="query")
@blp.response(200, schemas.StaffGrantOut(many=True))
def list_family_grants(args):
    """Staff: the grants opening one archive in your scope (e.g. to confirm a request in person)."""
    items = reads.grants_of_resident(current_actor(), args["resident_id"], args.get("status"))
    return items


@blp.route("/family-grants/<int:grant_id>/confirm", methods=["POST"])
@staff_required()
@blp.arguments(schemas.ConfirmIn)
@blp.response(200, schemas.StaffGrantOut)
def confirm_family_grant(body, grant_id):
    """Staff in scope of the archive confirm a pending request in person (records who and when)."""
    actor = current_actor()
    grant, subject = services.confirm_in_person(actor, grant_id, body.get("note"))
    return reads.present_for_staff(grant, subject_birth_on=subject.birth_on)
