"""Targets: the seed's CSV in (flask targets import), edited by the district admin, shown on the rows."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.indicators.models import IndicatorTarget
from tests.indicators.helpers import TARGETS_CSV

YEAR = 2024


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(IndicatorTarget))


def _targets(app, institution_id, year=YEAR) -> dict:
    with app.app_context():
        return {
            t.indicator: (t.target_rate, t.target_count)
            for t in db.session.scalars(
                select(IndicatorTarget).where(
                    IndicatorTarget.institution_id == institution_id, IndicatorTarget.year == year
                )
            )
        }


def test_import_cli_maps_the_columns(app, world, tmp_path):
    path = tmp_path / "targets_2024.csv"
    path.write_text(TARGETS_CSV, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["targets", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "targets 2024: 2 institutions, 20 targets (20 new, 0 replaced)" in result.output
    assert _targets(app, world.a) == {
        "ehr": (0.9, 9000),
        "std_ehr_coverage": (0.64, 6400),
        "ehr_dynamic_use": (0.6, 5400),
        "elderly_health_management": (0.64, 64),
        "elderly_tcm": (0.74, 74),
        "hypertension_managed": (None, 5),
        "hypertension_standardised_management": (0.64, 3),
        "t2dm_managed": (None, 2),
        "t2dm_standardised_management": (0.64, 1),
        "maternal_systematic_management": (0.9, 9),
    }
    assert _targets(app, world.b)["hypertension_managed"] == (None, 4)
    # again, with an explicit year and a changed number: replaced, not duplicated
    path.write_text(TARGETS_CSV.replace(",5,3,2,1,10,9", ",6,3,2,1,10,9"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["targets", "import", str(path), "--year", "2024"])
    assert "(0 new, 20 replaced)" in result.output, result.output
    assert _count(app) == 20 and _targets(app, world.a)["hypertension_managed"] == (None, 6)


def test_the_seed_table_names_unknown_institutions_and_writes_nothing(app, world):
    from app.demo.seed import TARGETS_FILE

    result = app.test_cli_runner().invoke(args=["targets", "import", str(TARGETS_FILE)])
    assert result.exit_code != 0
    # the test district only has 鲸园 and 竹岛 of the table's ten centres
    assert "unknown institutions (matched by exact name): 环翠楼社区卫生服务中心, 嵩山社区卫生服务中心" in result.output
    assert "鲸园社区卫生服务中心" not in result.output.split("unknown institutions")[1]
    assert _count(app) == 0


def test_bad_files(app, world, tmp_path):
    cases = {
        "no_year.csv": (TARGETS_CSV, "give --year"),
        "t_2024.csv": (
            TARGETS_CSV.replace(
                "鲸园社区卫生服务中心,community_health_center,10000,9000",
                "鲸园社区卫生服务中心,community_health_center,10000,9k",
            ),
            "line 2 (鲸园社区卫生服务中心), column ehr_target_90pct: '9k' is not a whole number",
        ),
        "u_2024.csv": (TARGETS_CSV.replace("institution,", "name,"), "the first column must be 'institution'"),
        "v_2024.csv": (TARGETS_CSV + TARGETS_CSV.splitlines()[1] + "\n", "institutions listed twice: 鲸园"),
        "w_2024.csv": ("institution,kind\n鲸园社区卫生服务中心,x\n", "no target column"),
        "x_2024.csv": ("", "the file is empty"),
        "y_2024.csv": (TARGETS_CSV.replace(",10,9\n", ",10\n", 1), "line 2: 14 values for 15 columns"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = app.test_cli_runner().invoke(args=["targets", "import", str(path)])
        assert result.exit_code != 0 and message in result.output, (name, result.output)
    assert _count(app) == 0
    # ambiguous name: two institutions carry it
    with app.app_context():
        from app.orgs.models import Institution
        from tests.factories import institution

        district = db.session.get(Institution, world.district)
        institution("HC09", "竹岛社区卫生服务中心", "community_health_center", district)
        db.session.commit()
    path = tmp_path / "z_2024.csv"
    path.write_text(TARGETS_CSV, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["targets", "import", str(path)])
    assert "several institutions carry the name: 竹岛社区卫生服务中心" in result.output
    assert _count(app) == 0


def test_district_admin_edits_targets(api, world, app):
    body = {
        "institution_id": world.a,
        "year": YEAR,
        "indicator": "hypertension_standardised_management",
        "target_rate": 0.7,
        "target_count": 12,
    }
    r = api.put("admin", "/api/v1/indicators/targets", json=body)
    assert r.status_code == 200, r.json
    assert {k: r.json[k] for k in ("institution_id", "year", "indicator", "target_rate", "target_count", "source")} == {
        **{k: body[k] for k in ("institution_id", "year", "indicator", "target_rate", "target_count")},
        "source": "api",
    }
    assert r.json["label"] == "高血压患者基层规范管理服务率"
    # replace: a field left out is cleared
    r = api.put("admin", "/api/v1/indicators/targets", json={**body, "target_count": None, "target_rate": 0.66})
    assert (r.json["target_rate"], r.json["target_count"]) == (0.66, None) and _count(app) == 1
    # the row shows it
    rows = api.get("a-admin", f"/api/v1/indicators?year={YEAR}&indicator=hypertension_standardised_management").json
    assert rows["rows"][0]["target"] == 0.66
    # a signing target replaces last year's + 3 pp
    api.put(
        "admin",
        "/api/v1/indicators/targets",
        json={"institution_id": world.a, "year": YEAR, "indicator": "signing_rate", "target_rate": 0.5},
    )
    r = api.get("a-admin", f"/api/v1/indicators?year={YEAR}&indicator=signing_rate&by=team")
    assert {row["target"] for row in r.json["rows"]} == {0.5}
    # targets of indicators without data yet are accepted
    r = api.put(
        "admin",
        "/api/v1/indicators/targets",
        json={"institution_id": world.b, "year": YEAR, "indicator": "newborn_visit", "target_count": 100},
    )
    assert r.status_code == 200 and r.json["label"] == "新生儿访视率"
    # listing: in scope only
    r = api.get("a-admin", f"/api/v1/indicators/targets?year={YEAR}")
    assert [(t["institution_id"], t["indicator"]) for t in r.json] == [
        (world.a, "hypertension_standardised_management"),
        (world.a, "signing_rate"),
    ]
    assert len(api.get("admin", f"/api/v1/indicators/targets?year={YEAR}").json) == 3
    assert api.get("a-admin", f"/api/v1/indicators/targets?institution_id={world.b}").status_code == 404


def test_target_edits_are_validated_and_for_the_district_admin_only(api, world, app):
    good = {"institution_id": world.a, "year": YEAR, "indicator": "ehr", "target_rate": 0.9}
    assert api.put("a-admin", "/api/v1/indicators/targets", json=good).status_code == 403
    assert api.put("a-doc", "/api/v1/indicators/targets", json=good).status_code == 403
    for change, field in (
        ({"indicator": "nope"}, "indicator"),
        ({"target_rate": 1.5}, "target_rate"),
        ({"target_rate": None}, "target_rate"),
        ({"year": 1999}, "year"),
        ({"target_count": -1}, "target_count"),
        ({"extra": 1}, "extra"),
        ({"indicator": "hypertension_managed", "target_rate": 1.0}, "target_count"),
    ):
        r = api.put("admin", "/api/v1/indicators/targets", json={**good, **change})
        assert r.status_code == 422 and field in r.json["errors"], (change, r.json)
    assert api.put("admin", "/api/v1/indicators/targets", json={**good, "institution_id": 999999}).status_code == 404
    assert _count(app) == 0
