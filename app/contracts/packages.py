"""Service packages (服务包): the catalogue, eligibility and versioned editing.

A package is offered by institutions; it reaches the residents of those institutions'
subtrees (a package offered by the district bureau reaches everyone). Eligibility is
derived, never typed: the basic package fits everyone, a personalised package fits a
resident who belongs to one of its populations (``residents.populations``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.access.scope import get_institution
from app.common.time import today
from app.contracts.models import ContractPackage, PackageInstitution, PackageItem, ServicePackage
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.orgs.models import subtree_ids
from app.residents.populations import populations_of

BASIC_SUBSIDY = Decimal("30.00")  # the district's recommended public-health share per contract


def ancestor_ids(path: str) -> list[int]:
    """ "/1/4/17/" -> [1, 4, 17]: an institution and everything above it."""
    return [int(part) for part in path.strip("/").split("/") if part]


def offered_to_clause(institution_path: str):
    """Packages offered by the institution at ``institution_path`` or any institution above it."""
    return ServicePackage.id.in_(
        select(PackageInstitution.package_id).where(
            PackageInstitution.institution_id.in_(ancestor_ids(institution_path))
        )
    )


def current_clause(on: date):
    """The live version of a package, valid on ``on``."""
    return (
        (ServicePackage.status == "active")
        & (ServicePackage.valid_from <= on)
        & or_(ServicePackage.valid_until.is_(None), ServicePackage.valid_until >= on)
    )


def fits(package: ServicePackage, populations: list[str]) -> bool:
    return package.kind == "basic" or bool(set(package.populations or []) & set(populations))


def is_current(package: ServicePackage, on: date) -> bool:
    return (
        package.status == "active"
        and package.valid_from <= on
        and (package.valid_until is None or package.valid_until >= on)
    )


def is_offered_to(package: ServicePackage, institution_path: str) -> bool:
    return bool(set(package.institution_ids) & set(ancestor_ids(institution_path)))


def eligible_for(resident, on: date | None = None, population: str | None = None) -> list[ServicePackage]:
    """Packages a resident may choose today: offered to their institution, current, fitting them."""
    on = on or today()
    mine = populations_of(resident, on)
    stmt = (
        select(ServicePackage)
        .where(current_clause(on), offered_to_clause(resident.institution.path))
        .order_by(ServicePackage.kind, ServicePackage.code)
    )
    found = [p for p in db.session.scalars(stmt) if fits(p, mine)]
    if population:
        found = [p for p in found if population in (p.populations or [])]
    return found


def catalogue(actor, *, institution_id=None, population=None, kind=None, status="active"):
    """A select of packages for the catalogue view (staff: offered in or above their subtree)."""
    stmt = select(ServicePackage)
    if status:
        stmt = stmt.where(ServicePackage.status == status)
    if kind:
        stmt = stmt.where(ServicePackage.kind == kind)
    if institution_id is not None:
        institution = get_institution(actor, institution_id)
        stmt = stmt.where(offered_to_clause(institution.path))
    elif not actor.is_district_admin:
        # What the caller's institutions can offer: packages of their own subtree and above.
        below = subtree_ids(actor.institution_path)
        stmt = stmt.where(
            or_(
                offered_to_clause(actor.institution_path),
                ServicePackage.id.in_(
                    select(PackageInstitution.package_id).where(PackageInstitution.institution_id.in_(below))
                ),
            )
        )
    stmt = stmt.order_by(ServicePackage.code, ServicePackage.version)
    packages = list(db.session.scalars(stmt))
    if population:
        packages = [p for p in packages if population in (p.populations or [])]
    return packages


def get_package(package_id: int) -> ServicePackage:
    """Packages are a public catalogue (no personal data): any signed-in user may read one."""
    package = db.session.get(ServicePackage, package_id)
    if package is None:
        raise NotFound("package not found")
    return package


def get_owned_package(actor, package_id: int) -> ServicePackage:
    """A package the actor administers (its owner institution lies in the actor's subtree)."""
    package = db.session.get(ServicePackage, package_id)
    if package is None:
        raise NotFound("package not found")
    try:
        get_institution(actor, package.owner_institution_id)
    except NotFound:
        raise NotFound("package not found") from None
    return package


def _validate(actor, data: dict) -> list[int]:
    kind = data["kind"]
    populations = data.get("populations") or []
    if kind == "basic" and populations:
        raise Invalid("populations", "the basic package is for every resident: leave populations empty")
    if kind == "personalized" and not populations:
        raise Invalid("populations", "a personalised package names at least one population")
    if data.get("valid_until") is not None and data["valid_until"] < data["valid_from"]:
        raise Invalid("valid_until", "must not be before valid_from")
    institution_ids = sorted(set(data["institution_ids"]))
    for institution_id in institution_ids:
        try:
            get_institution(actor, institution_id)
        except NotFound:
            raise Invalid("institution_ids", f"no institution {institution_id} in your scope") from None
    return institution_ids


def _fill(package: ServicePackage, data: dict, institution_ids: list[int]) -> None:
    package.name = data["name"]
    package.kind = data["kind"]
    package.populations = sorted(set(data.get("populations") or []))
    package.price = data["price"]
    subsidy = data.get("public_health_subsidy")
    package.public_health_subsidy = (
        subsidy if subsidy is not None else (BASIC_SUBSIDY if data["kind"] == "basic" else Decimal("0"))
    )
    package.valid_from = data["valid_from"]
    package.valid_until = data.get("valid_until")
    package.description = data.get("description")
    package.items = [
        PackageItem(
            position=n, name=item["name"], service_type=item["service_type"], times_per_year=item["times_per_year"]
        )
        for n, item in enumerate(data["items"])
    ]
    package.offered_by = [PackageInstitution(institution_id=i) for i in institution_ids]


def create_package(actor, data: dict) -> ServicePackage:
    institution_ids = _validate(actor, data)
    if db.session.scalar(select(ServicePackage.id).where(ServicePackage.code == data["code"]).limit(1)):
        raise Conflict("a package with this code exists; edit it instead", error="duplicate_code")
    package = ServicePackage(
        code=data["code"], version=1, status="active", owner_institution_id=actor.institution_id, created_by_id=actor.id
    )
    _fill(package, data, institution_ids)
    db.session.add(package)
    _flush_or_conflict("a package with this code exists; edit it instead", "duplicate_code")
    return package


def _flush_or_conflict(message: str, error: str) -> None:
    """The unique indexes decide races (same code created twice, one package edited twice at once)."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(message, error=error) from None


def is_in_use(package: ServicePackage) -> bool:
    return bool(db.session.scalar(select(exists().where(ContractPackage.package_id == package.id))))


def update_package(actor, package: ServicePackage, data: dict) -> ServicePackage:
    """Edit a package. Once any contract carries it, the edit becomes a new version."""
    if package.status != "active":
        raise Conflict(
            "this is not the current version of the package; edit the current one", error="package_superseded"
        )
    institution_ids = _validate(actor, data)
    if not is_in_use(package):
        _fill(package, data, institution_ids)
        db.session.flush()
        return package
    latest = db.session.scalar(select(func.max(ServicePackage.version)).where(ServicePackage.code == package.code))
    package.status = "superseded"
    db.session.flush()  # free the "one current version per code" slot first
    new = ServicePackage(
        code=package.code,
        version=latest + 1,
        status="active",
        owner_institution_id=package.owner_institution_id,
        previous_version_id=package.id,
        created_by_id=actor.id,
    )
    _fill(new, data, institution_ids)
    db.session.add(new)
    _flush_or_conflict("the package was edited at the same time; reload it and edit again", "package_superseded")
    return new


def current_version_of(code: str, on: date) -> ServicePackage | None:
    return db.session.scalar(select(ServicePackage).where(ServicePackage.code == code, current_clause(on)))


def present_package(package: ServicePackage) -> dict:
    return {
        "id": package.id,
        "code": package.code,
        "version": package.version,
        "name": package.name,
        "kind": package.kind,
        "populations": list(package.populations or []),
        "price": package.price,
        "public_health_subsidy": package.public_health_subsidy,
        "valid_from": package.valid_from,
        "valid_until": package.valid_until,
        "description": package.description,
        "status": package.status,
        "institution_ids": package.institution_ids,
        "owner_institution_id": package.owner_institution_id,
        "previous_version_id": package.previous_version_id,
        "items": [
            {"id": i.id, "name": i.name, "service_type": i.service_type, "times_per_year": i.times_per_year}
            for i in package.items
        ],
    }
