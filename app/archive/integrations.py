"""Where the archive meets the family-doctor contract (``app.contracts``), through its services only.

Registered into the archive's hook lists at import (``app.archive.routes`` imports this module):

- ``contract_section`` → ARCHIVE_SECTIONS: the archive's "contract" is ``contract_summary`` of the
  resident's current contract (running, else the open application), or null.
- ``contract_fhir`` → FHIR_SECTIONS: the contract as EpisodeOfCare with its CareTeam.
- ``count_delivery`` → AFTER_SERVICE: a health check or service record counts as a delivery (履约)
  against the contract in force that day (``record_delivery`` is silent when nothing is due).
- ``contract_deliveries_activity`` → metrics.ACTIVITY_SOURCES: a delivery recorded on a contract is
  archive activity for the dynamic-use rate.

Each looks the contracts services up when called, so the archive still works (contract null, no
EpisodeOfCare, nothing counted) in a build without the contracts feature.
"""
from __future__ import annotations

import importlib

from sqlalchemy import select

from app.archive import fhir, metrics, services
from app.extensions import db

# service record kind / "health_check" → the contract item service_type it delivers
DELIVERY_TYPES = {"health_check": "health_check", "consultation": "consultation", "home_visit": "home_visit",
                  "tcm": "tcm_guidance", "referral": "referral"}


def contracts_services():
    """``app.contracts.services`` when that feature is installed, else None."""
    try:
        return importlib.import_module("app.contracts.services")
    except ModuleNotFoundError as err:
        if err.name not in ("app.contracts", "app.contracts.services"):
            raise
        return None


def contract_section(resident, args):
    contracts = contracts_services()
    if contracts is None or not hasattr(contracts, "current_contract"):
        return None
    return "contract", contracts.contract_summary(contracts.current_contract(resident.id))


def contract_fhir(resident, ctx) -> list[dict]:
    contracts = contracts_services()
    if contracts is None or not hasattr(contracts, "current_contract"):
        return []
    contract = contracts.current_contract(resident.id)
    if contract is None:
        return []
    from app.accounts.models import Staff
    from app.orgs.models import TeamMember

    members = db.session.execute(
        select(Staff.name, TeamMember.role).join(Staff, Staff.id == TeamMember.staff_id)
        .where(TeamMember.team_id == contract.team_id).order_by(TeamMember.id)).all()
    team = contract.team
    return fhir.contract_episode_resources({
        "id": contract.id, "status": contract.status, "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "team": {"id": team.id, "name": team.name, "members": [{"name": n, "role": r} for n, r in members]},
        "institution": team.institution.name if team.institution else None,
        "doctor": contract.doctor.name if contract.doctor else None,
        "packages": [row.package.name for row in contract.packages],
    }, ctx)


def count_delivery(actor, resident, service_type, served_on, source) -> None:
    contracts = contracts_services()
    if contracts is None or not hasattr(contracts, "record_delivery"):
        return
    origin = "health_check" if service_type == "health_check" else "service_record"
    delivered = DELIVERY_TYPES.get(service_type)
    if delivered:
        contracts.record_delivery(actor, resident.id, delivered, served_on, source=origin, source_id=source.id)
    # an elderly check with the cognitive screen done also delivers a "cognitive_screening" item
    if service_type == "health_check" and (getattr(source, "elderly", None) or {}).get("cognitive_screen"):
        contracts.record_delivery(actor, resident.id, "cognitive_screening", served_on, source=origin,
                                  source_id=source.id)


def contract_deliveries_activity(since, until):
    """ACTIVITY_SOURCES: deliveries recorded on contracts (e.g. by hand in the doctor app) are services too."""
    from app.contracts.models import Contract, ContractDelivery

    return (select(Contract.resident_id.label("resident_id"))
            .join(ContractDelivery, ContractDelivery.contract_id == Contract.id)
            .where(ContractDelivery.delivered_on >= since, ContractDelivery.delivered_on <= until))


def _register(hooks: list, fn) -> None:
    if fn not in hooks:
        hooks.append(fn)


_register(services.ARCHIVE_SECTIONS, contract_section)
_register(fhir.FHIR_SECTIONS, contract_fhir)
_register(services.AFTER_SERVICE, count_delivery)
if contracts_services() is not None:
    _register(metrics.ACTIVITY_SOURCES, contract_deliveries_activity)
