"""Archive indicators: filing, standardised coverage, dynamic use — per institution subtree."""

from datetime import date

import pytest
from sqlalchemy import select

from app.archive import metrics
from app.common.time import at_local, freeze
from app.indicators.views import archive_rows
from app.residents.models import Resident
from tests.archive.helpers import (
    check,
    fresh_id_sequence,  # noqa: F401  (autouse)
    record,
)

COMPLETE = {
    "phone": "13900001111",
    "ethnicity": "汉族",
    "marital_status": "married",
    "education": "college",
    "occupation": "teacher",
    "blood_type": "A",
    "payment_methods": ["urban_employee_insurance"],
}


@pytest.fixture
def activity(api, world):
    """Evaluated on 2025-06-15: the 12-month window opens on 2024-06-15."""
    freeze(at_local(date(2025, 6, 15), 10))
    assert api.patch("a-doc", f"/api/v1/residents/{world.alice}", json=COMPLETE).status_code == 200
    check(api, "a-doc", world.alice, "2024-06-15", sbp=120, dbp=80)  # first day of the window: counts
    record(api, "a-doc", world.grandpa, "consultation", "2024-06-14")  # a day too old
    record(api, "a-doc", world.child, "home_visit", "2025-06-01")
    check(api, "b-doc", world.bob, "2025-01-01")
    # grandpa's sheet is complete but he has no health check on file: not standardised
    assert api.patch("a-doc", f"/api/v1/residents/{world.grandpa}", json=COMPLETE).status_code == 200


def rows_by(body):
    return {(r["institution_id"], r["indicator"]): (r["numerator"], r["denominator"], r["rate"]) for r in body}


def test_district_admin_sees_the_district_and_each_centre(api, world, activity):
    r = api.get("admin", "/api/v1/archive/metrics")
    assert r.status_code == 200
    got = rows_by(r.json)
    # populations: the district declares none, so its centres' (10000 each) add up; a1 is inside a
    assert got == {
        (world.district, "ehr"): (4, 20000, 0.0002),
        (world.district, "std_ehr_coverage"): (1, 20000, 0.0001),
        (world.district, "ehr_dynamic_use"): (3, 4, 0.75),
        (world.a, "ehr"): (3, 10000, 0.0003),
        (world.a, "std_ehr_coverage"): (1, 10000, 0.0001),
        (world.a, "ehr_dynamic_use"): (2, 3, 0.6667),
        (world.b, "ehr"): (1, 10000, 0.0001),
        (world.b, "std_ehr_coverage"): (0, 10000, 0.0),
        (world.b, "ehr_dynamic_use"): (1, 1, 1.0),
    }
    assert [row["institution_id"] for row in r.json][:3] == [world.district] * 3


def test_scope_and_roles(api, world, activity):
    own = api.get("a-admin", "/api/v1/archive/metrics")
    assert {row["institution_id"] for row in own.json} == {world.a, world.a1}
    assert rows_by(own.json)[(world.a1, "ehr_dynamic_use")] == (0, 1, 0.0)
    assert api.get("a-doc", "/api/v1/archive/metrics", query_string={"institution_id": world.b}).status_code == 404
    assert api.get("a-nurse", "/api/v1/archive/metrics").status_code == 403
    assert api.get("alice", "/api/v1/archive/metrics").status_code == 403


def test_closed_archives_leave_the_denominator(api, world, activity):
    assert api.patch("b-doc", f"/api/v1/residents/{world.bob}", json={"status": "moved"}).status_code == 200
    got = rows_by(api.get("b-admin", "/api/v1/archive/metrics").json)
    assert got[(world.b, "ehr_dynamic_use")] == (0, 0, None)
    assert got[(world.b, "ehr")] == (0, 10000, 0.0)


def test_service_function_and_activity_hook(api, world, app, activity):
    with app.app_context():
        rows = archive_rows([world.a], date(2025, 6, 15))
        assert [(r["indicator"], r["numerator"], r["denominator"]) for r in rows] == [
            ("ehr", 3, 10000),
            ("std_ehr_coverage", 1, 10000),
            ("ehr_dynamic_use", 2, 3),
        ]
        # a feature (e.g. follow-ups) registers its own services as archive activity
        source = lambda since, until: select(Resident.id.label("resident_id")).where(  # noqa: E731
            Resident.id == world.grandpa
        )
        metrics.ACTIVITY_SOURCES.append(source)
        try:
            rows = archive_rows([world.a], date(2025, 6, 15))
        finally:
            metrics.ACTIVITY_SOURCES.remove(source)
        assert rows[2]["numerator"] == 3 and rows[2]["rate"] == 1.0
        # a year later nothing is recent any more
        later = archive_rows([world.district], date(2026, 6, 15))
        assert later[2]["numerator"] == 0
