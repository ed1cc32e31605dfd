"""Message kinds the contracts feature sends (registered at app start by routes.py), and the
helpers that send the lifecycle's messages to the resident and to the team."""

from __future__ import annotations

from sqlalchemy import select

from app.common.time import today
from app.contracts.models import Contract
from app.extensions import db
from app.notify import services as notify
from app.notify.templates import register
from app.orgs.models import Team, TeamMember

register(
    "contract_signed",
    title="签约成功通知",
    page="pages/contract/detail",
    fields={"thing1": "team", "date2": "starts_on", "date3": "ends_on"},
)
register(
    "contract_rejected",
    title="签约审核结果",
    page="pages/contract/detail",
    fields={"thing1": "team", "thing2": "reason"},
)
register(
    "contract_renewal_due",
    title="签约到期续约提醒",
    page="pages/contract/renew",
    fields={"thing1": "team", "date2": "ends_on", "thing3": "title"},
)
register(
    "contract_applied",
    title="新的签约申请",
    page="pages/doctor/contracts",
    fields={"thing1": "team", "date2": "applied_on"},
    audience="staff",
)


def _recipient_of(contract: Contract):
    """A child's messages go to the guardian who signed for them."""
    return notify.resident(contract.guardian_resident_id or contract.resident_id)


def tell_resident(contract: Contract, kind: str, dedup_key: str, payload: dict) -> None:
    notify.enqueue(_recipient_of(contract), kind, dedup_key, payload)


def tell_team(team: Team, contract: Contract, count: int) -> None:
    leader = db.session.scalar(
        select(TeamMember.staff_id).where(TeamMember.team_id == team.id, TeamMember.role == "leader_gp").limit(1)
    )
    if leader is None:
        return
    body = (
        f"{count} 位居民申请签约{team.name}，请及时审核。" if count > 1 else f"有居民申请签约{team.name}，请及时审核。"
    )
    notify.enqueue(
        notify.staff(leader),
        "contract_applied",
        f"contract-applied:{contract.id}",
        {
            "title": "新的签约申请",
            "body": body,
            "team": team.name,
            "contract_id": contract.id,
            "applied_on": today().isoformat(),
        },
    )
