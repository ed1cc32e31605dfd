"""What the contract contributes to the resident's archive, through the archive's hook lists
(registered in ``app.wiring``):

- :func:`contract_section` → ``archive.view.ARCHIVE_SECTIONS``: the archive's "contract" is the
  summary of the resident's current contract (running, else the open application), or null.
- :func:`contract_fhir` → ``archive.fhir.FHIR_SECTIONS``: the contract as EpisodeOfCare with its CareTeam.
- :func:`contract_deliveries_activity` → ``archive.metrics.ACTIVITY_SOURCES``: a delivery recorded on a
  contract is archive activity for the dynamic-use rate.
"""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import Staff
from app.archive import fhir
from app.contracts.current import current_contract, current_summary
from app.contracts.models import Contract, ContractDelivery
from app.extensions import db
from app.orgs.models import TeamMember


def contract_section(resident, args):
    return "contract", current_summary(resident.id)


def contract_fhir(resident, ctx) -> list[dict]:
    contract = current_contract(resident.id)
    if contract is None:
        return []
    members = db.session.execute(
        select(Staff.name, TeamMember.role)
        .join(Staff, Staff.id == TeamMember.staff_id)
        .where(TeamMember.team_id == contract.team_id)
        .order_by(TeamMember.id)
    ).all()
    team = contract.team
    return fhir.contract_episode_resources(
        {
            "id": contract.id,
            "status": contract.status,
            "starts_on": contract.starts_on,
            "ends_on": contract.ends_on,
            "team": {"id": team.id, "name": team.name, "members": [{"name": n, "role": r} for n, r in members]},
            "institution": team.institution.name if team.institution else None,
            "doctor": contract.doctor.name if contract.doctor else None,
            "packages": [row.package.name for row in contract.packages],
        },
        ctx,
    )


def contract_deliveries_activity(since, until):
    """Deliveries recorded on contracts (e.g. by hand in the doctor app) are services too."""
    return (
        select(Contract.resident_id.label("resident_id"))
        .join(ContractDelivery, ContractDelivery.contract_id == Contract.id)
        .where(ContractDelivery.delivered_on >= since, ContractDelivery.delivered_on <= until)
    )
