"""seed-demo with the "contracts" step: a consistent, realistic signing picture a little below target."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from app.common.time import age_on, today
from app.contracts.jobs import run_daily
from app.contracts.models import Contract, ContractDelivery, ContractItem, FamilyGroup
from app.extensions import db
from app.indicators.views import signing_indicator_rows as indicator_rows
from app.residents.models import Resident
from tests.factories import keep_demo_steps


def seed(app, monkeypatch):
    keep_demo_steps(monkeypatch, "contracts")
    result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "5"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_seeded_contracts_are_consistent_and_close_to_target(app, monkeypatch, client):
    output = seed(app, monkeypatch)
    assert "Contracts:" in output
    day = today()
    with app.app_context():
        # every item's counter equals its delivery rows, never above the total
        counted = (
            select(ContractDelivery.contract_item_id, func.count().label("n"))
            .group_by(ContractDelivery.contract_item_id)
            .subquery()
        )
        mismatched = db.session.scalar(
            select(func.count())
            .select_from(ContractItem)
            .outerjoin(counted, counted.c.contract_item_id == ContractItem.id)
            .where(ContractItem.delivered != func.coalesce(counted.c.n, 0))
        )
        assert mismatched == 0
        assert db.session.scalar(select(func.count()).select_from(ContractDelivery)) > 1000
        # every delivery lies inside its contract's period and not in the future
        outside = db.session.scalar(
            select(func.count())
            .select_from(ContractDelivery)
            .join(Contract, Contract.id == ContractDelivery.contract_id)
            .where(
                (ContractDelivery.delivered_on < Contract.starts_on)
                | (ContractDelivery.delivered_on > Contract.ends_on)
                | (ContractDelivery.delivered_on > day)
            )
        )
        assert outside == 0
        # renewals continue the day after the previous period
        prev = db.session.execute(
            select(Contract.starts_on, Contract.previous_contract_id).where(
                Contract.previous_contract_id.is_not(None), Contract.starts_on.is_not(None)
            )
        ).all()
        ends = dict(
            db.session.execute(
                select(Contract.id, Contract.ends_on).where(Contract.id.in_([p.previous_contract_id for p in prev]))
            ).all()
        )
        assert prev and all(p.starts_on == ends[p.previous_contract_id] + timedelta(days=1) for p in prev)
        # children under 14 were signed by an adult of their household
        kids = db.session.execute(
            select(Resident.birth_on, Resident.household_id, Contract.guardian_resident_id)
            .join(Contract, Contract.resident_id == Resident.id)
            .where(Resident.birth_on > day.replace(year=day.year - 14))
        ).all()
        guardians = {
            r.id: r
            for r in db.session.scalars(select(Resident).where(Resident.id.in_([k.guardian_resident_id for k in kids])))
        }
        assert kids and all(
            age_on(k.birth_on, day) >= 14
            or (
                guardians[k.guardian_resident_id].household_id == k.household_id
                and age_on(guardians[k.guardian_resident_id].birth_on, day) >= 18
            )
            for k in kids
        )
        by_status = dict(db.session.execute(select(Contract.status, func.count()).group_by(Contract.status)).all())
        assert {"active", "expired", "scheduled", "renewal_pending", "pending", "terminated"} <= set(by_status)
        assert db.session.scalar(select(func.count()).select_from(FamilyGroup)) > 50
        ending = db.session.scalar(
            select(func.count())
            .select_from(Contract)
            .where(Contract.status == "active", Contract.ends_on <= day + timedelta(days=30))
        )
        assert ending > 50
        if db.engine.dialect.name == "postgresql":  # the foreign keys dropped for the load are back
            fks = db.session.scalar(
                text(
                    "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN "
                    "('contracts', 'contract_packages', 'contract_items', 'contract_deliveries')"
                )
            )
            assert fks == 9 + 2 + 3 + 3

        rows = {r["indicator"]: r for r in indicator_rows(on=day)}
        # below the 2024 targets, but close: overall within 3 pp of last year + 3 pp, populations within 12 pp
        assert rows["signing_rate"]["met"] is False
        assert rows["signing_rate"]["target"] - 0.03 <= rows["signing_rate"]["rate"] < rows["signing_rate"]["target"]
        close = [r for r in rows.values() if r["denominator"] >= 50]
        assert len(close) >= 8
        assert all(r["target"] - 0.12 <= r["rate"] <= r["target"] + 0.05 for r in close), close
        assert sum(1 for r in close if not r["met"]) >= len(close) - 2

        # the daily job reminds exactly the running contracts ending within 30 days not yet renewed
        renewed = select(Contract.previous_contract_id).where(
            Contract.previous_contract_id.is_not(None), Contract.status != "rejected"
        )
        due = db.session.scalar(
            select(func.count())
            .select_from(Contract)
            .where(
                Contract.status == "active",
                Contract.ends_on >= day,
                Contract.ends_on <= day + timedelta(days=30),
                Contract.id.not_in(renewed),
            )
        )
        assert due > 0
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": due}
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": 0}

    # a seeded doctor sees the team's contracts and worklist through the API
    login = client.post(
        "/api/v1/auth/staff/login", json={"username": "hc01-doc01", "password": app.config["DEMO_PASSWORD"]}
    )
    assert login.status_code == 200, login.json
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    listed = client.get("/api/v1/contracts?status=active", headers=headers)
    assert listed.status_code == 200 and listed.json["total"] > 20
    assert {c["team_id"] for c in listed.json["items"]} == set(login.json["staff"]["team_ids"])
    work = client.get("/api/v1/contracts/undelivered", headers=headers)
    assert work.status_code == 200 and work.json["total"] > 0
