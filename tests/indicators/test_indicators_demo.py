"""The demo step ``targets``: seed 002's 2024 table becomes the demo centres' targets."""

from __future__ import annotations

from sqlalchemy import func, select

from app.common.time import today
from app.extensions import db
from app.indicators.models import IndicatorTarget
from app.orgs.models import Institution
from tests.factories import keep_demo_steps


def test_seed_demo_loads_the_2024_table(app, client, monkeypatch):
    keep_demo_steps(monkeypatch, "targets")
    result = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.01", "--seed", "3"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Indicator targets: seed 002's 2024 table loaded" in result.output
    years = sorted({2024, today().year})
    with app.app_context():
        per_year = dict(
            db.session.execute(select(IndicatorTarget.year, func.count()).group_by(IndicatorTarget.year)).all()
        )
        assert per_year == {year: 160 for year in years}  # 10 centres × 16 targets
        jingyuan = db.session.scalar(select(Institution).where(Institution.name == "鲸园社区卫生服务中心"))
        lanka = db.session.scalar(select(Institution).where(Institution.name == "蓝卡"))
        assert (jingyuan.code, lanka.code) == ("HC01", "HC10")
    # the targets appear on the rows: the district admin's 2024 report
    login = client.post("/api/v1/auth/staff/login", json={"username": "admin", "password": app.config["DEMO_PASSWORD"]})
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    r = client.get(
        "/api/v1/indicators?year=2024&indicator=hypertension_managed,ehr,t2dm_standardised_management", headers=headers
    )
    assert r.status_code == 200, r.json
    rows = {(row["institution_id"], row["indicator"]): row for row in r.json["rows"]}
    district = r.json["institution_id"]
    assert rows[(jingyuan.id, "hypertension_managed")]["target_count"] == 4966
    assert rows[(jingyuan.id, "hypertension_managed")]["denominator"] == 4966
    assert rows[(lanka.id, "ehr")]["target_count"] == 40320 and rows[(lanka.id, "ehr")]["target"] == 0.9
    assert rows[(jingyuan.id, "t2dm_standardised_management")]["target_count"] == 1265
    # the district: the sum of the table (42,200 hypertension patients to manage)
    assert rows[(district, "hypertension_managed")]["target_count"] == 42200
    assert rows[(district, "ehr")]["target_count"] == sum(
        (50400, 33750, 57150, 31950, 25200, 90000, 27720, 54900, 19350, 40320)
    )
    # this year (loaded too): at scale 0.01 the demo manages 1 % of the task count
    r = client.get("/api/v1/indicators?indicator=hypertension_managed", headers=headers)
    total = r.json["rows"][0]
    assert (r.json["year"], total["scope"]) == (today().year, "total")
    assert (total["numerator"], total["denominator"], total["rate"]) == (421, 42200, 0.01)  # Σ round(1 % of each)
