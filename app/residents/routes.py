from flask_smorest import Blueprint

from app.access.actors import current_actor, resident_required, staff_required
from app.access.scope import get_resident
from app.audit import services as audit
from app.common.idempotency import idempotent
from app.common.pagination import page_body, paginate
from app.residents import schemas, services
from app.residents.presenters import present_resident

blp = Blueprint("residents", __name__, url_prefix="/api/v1", description="Residents' archives: the basic sheet")


@blp.route("/me", methods=["GET"])
@resident_required
@blp.response(200, schemas.MeOut)
def me():
    """The logged-in resident: account, own archive summary, family, contract."""
    body = services.me_summary(current_actor())
    return body


@blp.route("/residents", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.ResidentCreateIn)
@blp.response(201, schemas.ResidentOut)
def create_resident(body):
    """Register an archive (建档). A duplicate ID number is a 409."""
    resident = services.create_resident(current_actor(), body)
    return present_resident(resident)


@blp.route("/residents", methods=["GET"])
@staff_required()
@blp.arguments(schemas.ResidentListArgs, location="query")
@blp.response(200, schemas.ResidentPage)
def list_residents(args):
    """Residents in the caller's scope; each listed archive is logged as read."""
    actor = current_actor()
    rows, total = paginate(services.search_residents(actor, args), args["page"], args["per_page"])
    audit.record_many(actor, [r.id for r in rows], action="read", section="basic_info_list", purpose="care")
    return page_body([present_resident(r) for r in rows], args["page"], args["per_page"], total)


@blp.route("/residents/lookup", methods=["POST"])
@staff_required()
@blp.arguments(schemas.ResidentLookupIn)
@blp.response(200, schemas.ResidentOut)
@blp.alt_response(404, response="NOT_FOUND")
def lookup_resident(body):
    """Find an archive by ID number (staff, scoped like ``GET /residents/{rid}``), logged as a read.

    The number goes in the body, never in a URL (URLs are kept in access logs); out of your
    scope is the same 404 as no such number; a malformed number is a 422 naming ``id_number``.
    """
    resident = services.lookup_resident(current_actor(), body["id_number"])
    return present_resident(resident)


@blp.route("/residents/<int:rid>", methods=["GET"])
@blp.response(200, schemas.ResidentOut)
def get_resident_view(rid):
    """One archive's basic sheet (the resident, a granted relative, or staff in scope)."""
    actor = current_actor()
    resident = get_resident(actor, rid)
    audit.record(actor, resident.id, action="read", section="basic_info")
    return present_resident(resident, owner=actor.resident_id == resident.id)


@blp.route("/residents/<int:rid>", methods=["PATCH"])
@staff_required()
@blp.arguments(schemas.ResidentPatchIn)
@blp.response(200, schemas.ResidentOut)
def patch_resident(body, rid):
    """Change the basic sheet (staff in scope)."""
    actor = current_actor()
    resident = services.update_resident(actor, get_resident(actor, rid), body)
    return present_resident(resident)
