from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_team
from app.common.idempotency import idempotent
from app.orgs import schemas, services

blp = Blueprint("orgs", __name__, url_prefix="/api/v1", description="Institutions, teams and staff")


@blp.route("/institutions", methods=["GET"])
@login_required
@blp.response(200, schemas.InstitutionOut(many=True))
def list_institutions():
    """The institution tree: staff see their subtree, residents the public directory."""
    return services.as_tree(services.visible_institutions(current_actor()))


@blp.route("/institutions", methods=["POST"])
@staff_required("district_admin")
@idempotent
@blp.arguments(schemas.InstitutionIn)
@blp.response(201, schemas.InstitutionOut)
def create_institution(body):
    institution = services.create_institution(body)
    return services.as_tree([institution])[0]


@blp.route("/teams", methods=["GET"])
@login_required
@blp.arguments(schemas.TeamListArgs, location="query")
@blp.response(200, schemas.TeamOut(many=True))
def list_teams(args):
    return [services.team_payload(t) for t in services.list_teams(current_actor(), args.get("institution_id"))]


@blp.route("/teams/<int:team_id>", methods=["GET"])
@staff_required()
@blp.response(200, schemas.TeamOut)
def get_team_view(team_id):
    return services.team_payload(get_team(current_actor(), team_id))


@blp.route("/teams", methods=["POST"])
@staff_required("institution_admin")
@idempotent
@blp.arguments(schemas.TeamIn)
@blp.response(201, schemas.TeamOut)
def create_team(body):
    team = services.create_team(current_actor(), body)
    return services.team_payload(team)


@blp.route("/staff", methods=["POST"])
@staff_required("institution_admin")
@idempotent
@blp.arguments(schemas.StaffIn)
@blp.response(201, schemas.StaffOut)
def create_staff(body):
    staff = services.create_staff(current_actor(), body)
    return staff


@blp.route("/staff", methods=["GET"])
@staff_required("institution_admin", "team_leader")
@blp.arguments(schemas.StaffListArgs, location="query")
@blp.response(200, schemas.StaffOut(many=True))
def list_staff(args):
    return services.list_staff(current_actor(), args.get("institution_id"))


@blp.route("/staff/<int:staff_id>", methods=["PATCH"])
@staff_required("institution_admin")
@blp.arguments(schemas.StaffPatchIn)
@blp.response(200, schemas.StaffOut)
def patch_staff(body, staff_id):
    actor = current_actor()
    staff = services.update_staff(actor, services.get_staff(actor, staff_id), body)
    return staff
