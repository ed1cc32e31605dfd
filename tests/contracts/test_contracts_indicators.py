"""The daily job (expiry, renewal reminders) and the signing indicators on a hand-built population."""

from datetime import date, timedelta

from sqlalchemy import func, select

from app.common.time import frozen, today
from app.contracts.jobs import run_daily
from app.contracts.models import Contract
from app.extensions import db
from app.notify.models import Outbox
from tests import factories
from tests.contracts.helpers import grant, noon, one_year_after, signed


def state(app):
    with app.app_context():
        contracts = [(c.id, c.status, c.updated_at) for c in db.session.scalars(select(Contract).order_by(Contract.id))]
        outbox = db.session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.kind == "contract_renewal_due")
        )
        return contracts, outbox


# --- the daily job -------------------------------------------------------------------------


def test_daily_job_expires_reminds_and_is_idempotent(api, world, pk, app):
    start = today()
    soon = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    with frozen(noon(start + timedelta(days=20))):
        later = signed(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"]])
    ends_soon = one_year_after(start)
    # 25 days before alice's end: her reminder only (grandpa's ends 20 days later)
    day = ends_soon - timedelta(days=25)
    with frozen(noon(day)), app.app_context():
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": 1}
        rows = db.session.scalars(select(Outbox).where(Outbox.kind == "contract_renewal_due")).all()
        assert [(o.recipient_id, o.payload["ends_on"]) for o in rows] == [(world.alice, ends_soon.isoformat())]
        assert rows[0].dedup_key == f"contract-renewal-due:{soon['id']}"
    before = state(app)
    with frozen(noon(day)), app.app_context():
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": 0}
    assert state(app) == before
    # the day after alice's end: expired; grandpa reminded; twice changes nothing more
    day = ends_soon + timedelta(days=1)
    with frozen(noon(day)), app.app_context():
        assert run_daily(day) == {"expired": 1, "activated": 0, "reminded": 1}
    once = state(app)
    with frozen(noon(day)), app.app_context():
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": 0}
    assert state(app) == once
    assert [s for _, s, _ in once[0]] == ["expired", "active"] and once[1] == 2
    assert api.get("alice", f"/api/v1/contracts/{soon['id']}").json["status"] == "expired"
    assert later["status"] == "active"


def test_renewed_contracts_get_no_reminder(api, world, pk, app):
    contract = signed(api, "alice", [world.alice], world.team_a, [pk["basic"]])
    ends = one_year_after(today())
    day = ends - timedelta(days=40)
    with frozen(noon(day)):
        assert api.post("a-doc", f"/api/v1/contracts/{contract['id']}/renew", json={"consent": True}).status_code == 201
    day = ends - timedelta(days=10)
    with frozen(noon(day)), app.app_context():
        assert run_daily(day) == {"expired": 0, "activated": 0, "reminded": 0}


# --- indicators ------------------------------------------------------------------------------


def _extra_residents(app, world):
    from app.orgs.models import Institution, Team
    from app.residents.models import Household

    with app.app_context():
        a = db.session.get(Institution, world.a)
        team_a, team_a2 = db.session.get(Team, world.team_a), db.session.get(Team, world.team_a2)
        h2 = Household(code="H-A-2", address="环翠区鲸园路10号", institution_id=a.id)
        db.session.add(h2)
        db.session.flush()
        people = {
            "eld2": factories.resident("孙桂兰", a, date(1940, 3, 3), sex="female", household=h2, team_=team_a),
            "preg": factories.resident(
                "于婷", a, date(1995, 6, 1), sex="female", team_=team_a, pregnancy_due_on=today() + timedelta(days=60)
            ),
            "dis": factories.resident("曲强", a, date(1985, 2, 2), team_=team_a2, disabled_certified=True),
            "poor": factories.resident("丛军", a, date(1990, 2, 2), team_=team_a, poverty_alleviated=True),
            "moved": factories.resident("毕华", a, date(1960, 2, 2), team_=team_a, status="moved"),
        }
        db.session.commit()
        return {k: v.id for k, v in people.items()}


def _rows(response):
    assert response.status_code == 200, response.json
    return {
        r["indicator"]: (r["numerator"], r["denominator"], r["rate"], r["target"], r["met"])
        for r in response.json["rows"]
    }


def test_signing_indicators_on_a_hand_built_population(api, world, pk, app, monkeypatch):
    people = _extra_residents(app, world)
    grant(monkeypatch, {world.alice: [world.child, world.grandpa]})
    t = today()
    t0 = t - timedelta(days=400)
    # a year ago and more: alice + grandpa as a family, and eld2 alone
    with frozen(noon(t0)):
        first = signed(api, "alice", [world.alice, world.grandpa], world.team_a, [pk["basic"], pk["htn"]])
        signed(api, "a-doc", [people["eld2"]], world.team_a, [pk["basic"]])
    ended = one_year_after(t0)  # t - 36
    # the family renews before the end (team, in clinic); eld2 does not
    with frozen(noon(ended - timedelta(days=14))):
        r = api.post("a-doc", f"/api/v1/contracts/{first['id']}/renew", json={"consent": True})
        assert r.status_code == 201 and r.json["status"] == "scheduled"
    with app.app_context():
        assert run_daily(ended + timedelta(days=1)) == {"expired": 3, "activated": 2, "reminded": 0}
    # today: the child (guardian alice) and the pregnant woman (in clinic) sign; an applicant is only pending
    signed(api, "alice", [world.child], world.team_a, [pk["basic"], pk["child"]])
    signed(api, "a-doc", [people["preg"]], world.team_a, [pk["basic"]])
    assert (
        api.post(
            "a-doc",
            "/api/v1/contracts",
            json={
                "resident_ids": [people["poor"]],
                "team_id": world.team_a,
                "package_ids": [pk["basic"]],
                "consent": True,
            },
        ).status_code
        == 201
    )

    rows = _rows(api.get("a-admin", f"/api/v1/contracts/indicators?institution_id={world.a}"))
    # centre A (with clinic A1): alice, child, grandpa, eld2, preg, dis, poor — "moved" does not count
    last_year = round(3 / 7, 4)
    assert rows["signing_rate"] == (4, 7, round(4 / 7, 4), round(last_year + 0.03, 4), True)
    assert rows["signing_rate_elderly"] == (1, 2, 0.5, 0.88, False)
    assert rows["signing_rate_hypertension"] == (1, 1, 1.0, 0.78, True)
    assert rows["signing_rate_t2dm"] == (0, 0, None, 0.78, None)
    assert rows["signing_rate_children_0_6"] == (1, 1, 1.0, 0.78, True)
    assert rows["signing_rate_pregnant"] == (1, 1, 1.0, 0.78, True)
    assert rows["signing_rate_disabled"] == (0, 1, 0.0, 0.7, False)
    assert rows["signing_rate_poverty_alleviated"] == (0, 1, 0.0, 1.0, False)
    assert rows["signing_rate_special_family"] == (0, 0, None, 1.0, None)
    # key populations: grandpa, eld2, child, preg, dis, poor; under a family contract: grandpa
    assert rows["family_signing_rate"] == (1, 6, round(1 / 6, 4), 0.2, False)
    # periods ended in the last year: alice, grandpa, eld2; signed again: alice, grandpa
    assert rows["renewal_rate"] == (2, 3, round(2 / 3, 4), 0.8, False)

    team = _rows(api.get("a-admin", f"/api/v1/contracts/indicators?team_id={world.team_a}"))
    assert team["signing_rate"][:2] == (4, 6) and team["signing_rate_disabled"][:2] == (0, 0)
    district = _rows(api.get("admin", "/api/v1/contracts/indicators"))
    assert district["signing_rate"][:2] == (4, 8) and district["signing_rate_t2dm"][:2] == (0, 1)
    # as of a year and a day ago: alice, grandpa, eld2 signed; nothing had ended yet
    past = _rows(api.get("admin", f"/api/v1/contracts/indicators?on={(t - timedelta(days=366)).isoformat()}"))
    assert past["signing_rate"][:2] == (3, 8) and past["renewal_rate"][:2] == (0, 0)
    # centre B alone
    b = _rows(api.get("b-admin", "/api/v1/contracts/indicators"))
    assert b["signing_rate"][:2] == (0, 1)


def test_indicator_access(api, world, pk):
    assert api.get("a-doc", "/api/v1/contracts/indicators").status_code == 403
    assert api.get("a-doc", f"/api/v1/contracts/indicators?team_id={world.team_a}").status_code == 200
    assert api.get("a-doc", f"/api/v1/contracts/indicators?team_id={world.team_b}").status_code == 403
    assert api.get("a-nurse", f"/api/v1/contracts/indicators?team_id={world.team_a}").status_code == 403
    assert api.get("a-admin", f"/api/v1/contracts/indicators?institution_id={world.b}").status_code == 404
    assert api.get("alice", "/api/v1/contracts/indicators").status_code == 403


def test_indicator_service_for_the_indicators_feature(api, world, pk, app):
    from app.indicators.views import signing_indicator_rows as indicator_rows

    signed(api, "a-doc", [world.grandpa], world.team_a, [pk["basic"]])
    with app.app_context():
        rows = {r["indicator"]: r for r in indicator_rows()}
    assert set(rows["signing_rate"]) >= {"indicator", "numerator", "denominator", "rate", "target", "met"}
    assert (rows["signing_rate"]["numerator"], rows["signing_rate"]["denominator"]) == (1, 4)
    assert (rows["signing_rate_elderly"]["numerator"], rows["signing_rate_elderly"]["denominator"]) == (1, 1)
