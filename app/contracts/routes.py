from flask_smorest import Blueprint

from app.access.actors import current_actor, login_required, staff_required
from app.access.scope import get_resident, get_team
from app.audit import services as audit
from app.common.idempotency import idempotent
from app.common.pagination import page_body, paginate
from app.contracts import deliveries, lifecycle, schemas, scope, views
from app.contracts import packages as catalogue

blp = Blueprint(
    "contracts",
    __name__,
    url_prefix="/api/v1",
    description="Family-doctor signing: service packages, contracts, deliveries (履约)",
)


# --- packages ---------------------------------------------------------------------


@blp.route("/packages", methods=["GET"])
@login_required
@blp.arguments(schemas.PackageListArgs, location="query")
@blp.response(200, schemas.PackagePage)
def list_packages(args):
    """Service packages: what a resident may choose, or the catalogue.

    Residents see the packages they may choose (themselves, or ``resident_id`` of a family
    member), derived from their populations and institution; staff see the catalogue of their
    institutions, or with ``resident_id`` what that resident may choose."""
    actor = current_actor()
    resident_id = args.get("resident_id")
    if not actor.is_staff and resident_id is None:
        if actor.resident_id is None:
            return page_body([], args["page"], args["per_page"], 0)
        resident_id = actor.resident_id
    if resident_id is not None:
        resident = get_resident(actor, resident_id)
        found = [
            p
            for p in catalogue.eligible_for(resident, population=args.get("population"))
            if not args.get("kind") or p.kind == args["kind"]
        ]
    else:
        found = catalogue.catalogue(
            actor,
            institution_id=args.get("institution_id"),
            population=args.get("population"),
            kind=args.get("kind"),
            status=args.get("status", "active"),
        )
    start = (args["page"] - 1) * args["per_page"]
    page = found[start : start + args["per_page"]]
    return page_body([catalogue.present_package(p) for p in page], args["page"], args["per_page"], len(found))


@blp.route("/packages/<int:package_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.PackageOut)
def get_package(package_id):
    """One package version (the catalogue is public to signed-in users)."""
    return catalogue.present_package(catalogue.get_package(package_id))


@blp.route("/packages", methods=["POST"])
@staff_required("institution_admin")
@idempotent
@blp.arguments(schemas.PackageCreateIn)
@blp.response(201, schemas.PackageOut)
def create_package(body):
    """Create a package (institution admin), offered by institutions of the admin's subtree."""
    package = catalogue.create_package(current_actor(), body)
    return catalogue.present_package(package)


@blp.route("/packages/<int:package_id>", methods=["PUT"])
@staff_required("institution_admin")
@blp.arguments(schemas.PackageUpdateIn)
@blp.response(200, schemas.PackageOut)
def update_package(body, package_id):
    """Replace a package (a signed one gets a new version).

    Once any contract carries it, a package is never changed in place: the answer is a new
    version (new ``id``, ``version`` + 1, ``previous_version_id``); contracts keep theirs."""
    actor = current_actor()
    package = catalogue.update_package(actor, catalogue.get_owned_package(actor, package_id), body)
    return catalogue.present_package(package)


# --- contracts --------------------------------------------------------------------


@blp.route("/contracts", methods=["POST"])
@login_required
@idempotent
@blp.arguments(schemas.ContractCreateIn)
@blp.response(201, schemas.ContractOut)
def apply(body):
    """Apply for a contract (phone or clinic); 409 if one is current.

    From the phone: self, or family members the account may act for (a child under 14 only
    through its guardian, an adult of the same household). In clinic: a doctor of the team,
    naming ``guardian_resident_id`` for a child. Several ``resident_ids`` of one household make
    a family contract; the answer is the first member's contract (``family_members`` lists all)."""
    contracts = lifecycle.apply(current_actor(), body)
    return views.present(contracts[0])


@blp.route("/contracts", methods=["GET"])
@login_required
@blp.arguments(schemas.ContractListArgs, location="query")
@blp.response(200, schemas.ContractPage)
def list_contracts(args):
    """Contracts in the caller's scope (own and family; the team's; the subtree's for admins)."""
    actor = current_actor()
    rows, total = paginate(views.search(actor, args), args["page"], args["per_page"])
    if actor.is_staff:
        audit.record_many(
            actor,
            sorted({c.resident_id for c in rows}),
            action="read",
            section="contract_list",
            purpose="contract_review",
        )
    return page_body([views.present(c, detail=False) for c in rows], args["page"], args["per_page"], total)


@blp.route("/contracts/<int:contract_id>", methods=["GET"])
@login_required
@blp.response(200, schemas.ContractOut)
def get_contract(contract_id):
    """One contract with its entitlements: what the packages include and what has been used."""
    actor = current_actor()
    contract = scope.get_contract(actor, contract_id)
    audit.record(
        actor,
        contract.resident_id,
        action="read",
        section="contract",
        purpose="contract_review" if actor.is_staff else None,
    )
    return views.present(contract)


@blp.route("/contracts/<int:contract_id>/sign", methods=["POST"])
@staff_required()
@blp.arguments(schemas.SignIn)
@blp.response(200, schemas.ContractOut)
def sign(body, contract_id):
    """The team signs: active for one year (a family's members together).

    A renewal signed while the last period runs is ``scheduled`` from the day after it."""
    actor = current_actor()
    contract = lifecycle.sign(actor, scope.get_contract(actor, contract_id), body)
    return views.present(contract)


@blp.route("/contracts/<int:contract_id>/reject", methods=["POST"])
@staff_required()
@blp.arguments(schemas.RejectIn)
@blp.response(200, schemas.ContractOut)
def reject(body, contract_id):
    """The team declines an application, with a reason the resident sees."""
    actor = current_actor()
    contract = lifecycle.reject(actor, scope.get_contract(actor, contract_id), body)
    return views.present(contract)


@blp.route("/contracts/<int:contract_id>/terminate", methods=["POST"])
@login_required
@blp.arguments(schemas.TerminateIn)
@blp.response(200, schemas.ContractOut)
def terminate(body, contract_id):
    """End a contract early: moved_away, unreachable, refused_service (team) or voluntary."""
    actor = current_actor()
    contract = lifecycle.terminate(actor, scope.get_contract(actor, contract_id), body)
    return views.present(contract)


@blp.route("/contracts/<int:contract_id>/renew", methods=["POST"])
@login_required
@idempotent
@blp.arguments(schemas.RenewIn)
@blp.response(201, schemas.ContractOut)
def renew(body, contract_id):
    """Renew: the next period's contract, linked to this one.

    Opens 90 days before the end. The team renews and signs at once (``scheduled`` after the
    running period, or ``active`` from today once it has ended); a resident's renewal waits for
    the team's signature. A family renews together."""
    actor = current_actor()
    contract = lifecycle.renew(actor, scope.get_contract(actor, contract_id), body)
    return views.present(contract)


@blp.route("/contracts/<int:contract_id>/deliveries", methods=["POST"])
@staff_required()
@idempotent
@blp.arguments(schemas.DeliveryIn)
@blp.response(201, schemas.DeliveryOut)
def add_delivery(body, contract_id):
    """Record a delivered service (履约); refused beyond the item's total or outside the period."""
    actor = current_actor()
    delivery, item = deliveries.add_delivery(actor, scope.get_contract(actor, contract_id), body)
    return _delivery_body(delivery, item)


@blp.route("/contracts/<int:contract_id>/deliveries", methods=["GET"])
@login_required
@blp.arguments(schemas.PageArgs, location="query")
@blp.response(200, schemas.DeliveryPage)
def list_deliveries(args, contract_id):
    """What has been delivered under a contract, newest first."""
    actor = current_actor()
    contract = scope.get_contract(actor, contract_id)
    rows, total = paginate(deliveries.deliveries_of(contract), args["page"], args["per_page"])
    items = {i.id: i for i in contract.items}
    return page_body(
        [_delivery_body(d, items[d.contract_item_id]) for d in rows], args["page"], args["per_page"], total
    )


def _delivery_body(delivery, item) -> dict:
    return {
        "id": delivery.id,
        "contract_id": delivery.contract_id,
        "contract_item_id": delivery.contract_item_id,
        "package_item_id": item.package_item_id,
        "service_type": delivery.service_type,
        "delivered_on": delivery.delivered_on,
        "delivered_by_id": delivery.delivered_by_id,
        "note": delivery.note,
        "source": delivery.source,
        "source_id": delivery.source_id,
        "recorded_at": delivery.recorded_at,
        "item": {
            "id": item.id,
            "package_item_id": item.package_item_id,
            "package_id": item.package_id,
            "name": item.name,
            "service_type": item.service_type,
            "total": item.total,
            "delivered": item.delivered,
            "remaining": item.remaining,
        },
    }


@blp.route("/contracts/undelivered", methods=["GET"])
@staff_required()
@blp.arguments(schemas.UndeliveredArgs, location="query")
@blp.response(200, schemas.UndeliveredPage)
def undelivered(args):
    """The team's worklist of undelivered entitlements.

    Items of running contracts not yet fully delivered, the periods ending soonest first."""
    actor = current_actor()
    if args.get("team_id") is not None:
        get_team(actor, args["team_id"])
    rows, total = paginate(deliveries.undelivered(actor, args), args["page"], args["per_page"], scalars=False)
    items = [
        {
            "contract_id": c.id,
            "contract_item_id": i.id,
            "package_item_id": i.package_item_id,
            "resident": {"id": r.id, "name": r.name},
            "team_id": c.team_id,
            "name": i.name,
            "service_type": i.service_type,
            "total": i.total,
            "delivered": i.delivered,
            "remaining": i.remaining,
            "ends_on": c.ends_on,
        }
        for i, c, r in rows
    ]
    audit.record_many(
        actor, sorted({r.id for _, _, r in rows}), action="read", section="contract_list", purpose="contract_review"
    )
    return page_body(items, args["page"], args["per_page"], total)
