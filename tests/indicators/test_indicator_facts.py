"""Today's indicators from the maintained facts (app/indicators/facts.py) are exactly the full
evaluation's: after a build, and after every kind of write the indicators read — made after the
build and noted by the database's triggers — the counts from the facts equal a full count, for the
district's institutions, for teams and for (institution, team) pairs; GET /indicators answers the
same before and after a build; a change that may move anyone, another day or too many changes are
counted in full; the scheduler's job rebuilds only when it must."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.sql.util import find_tables

from app.common.time import frozen
from app.extensions import db
from app.indicators import changes, engine, facts
from app.indicators.catalogue import BY_KEY, DEFINITIONS
from app.indicators.drilldown import drilldown_statement
from app.indicators.models import FactBuild, IndicatorChange
from app.indicators.scope import bucket_mapping, load_subtree
from app.orgs.models import Institution
from app.residents.models import Condition, Resident
from tests.factories import resident
from tests.indicators import helpers as h
from tests.indicators.helpers import NOON_D, D


def _nonzero(found: dict) -> dict:
    """Counts without the (0, 0) entries a full count also lists for buckets with residents."""
    return {
        bucket: {i: v for i, v in values.items() if v != (0, 0)}
        for bucket, values in found.items()
        if any(v != (0, 0) for v in values.values())
    }


def _groupings(world):
    district = load_subtree(db.session.get(Institution, world.district))
    a = load_subtree(db.session.get(Institution, world.a))
    return {
        "district": engine.Grouping(mapping=bucket_mapping(district), everyone=True),
        "centre a": engine.Grouping(mapping=bucket_mapping(a)),
        "teams": engine.Grouping(mapping=bucket_mapping(a), team_ids=[world.team_a, world.team_a2]),
        "pairs": engine.Grouping(pairs=True),
    }


def _assert_agree(world):
    """Every grouping: served by the facts, and equal to the full count."""
    specs = facts.build_specs(D)
    for name, grouping in _groupings(world).items():
        served = facts.count_from_facts(grouping, specs)
        assert served is not None, name
        assert _nonzero(served) == _nonzero(engine.count(grouping, specs)), name


def _assert_lists_agree():
    """Every indicator's drill-down lists (numerator, missing): served by the facts, each resident
    once, and the residents the full clause lists."""
    ctx = engine.Context(D.year, D)
    listed = 0
    for definition in DEFINITIONS:
        for part in ("numerator", "missing") if definition.lists_missing else ("numerator",):
            served = facts.members(definition, ctx, part)
            assert served is not None, definition.key
            ids = db.session.scalars(served[0]).all()
            full = db.session.scalars(select(Resident.id).where(drilldown_statement(definition, ctx, part))).all()
            assert sorted(ids) == sorted(full), (definition.key, part)
            listed += len(ids)
    assert listed, "no indicator lists anyone: the test does not test"


@pytest.fixture
def built(app, world):
    with app.app_context():
        h.build(world)
        db.session.commit()
    with frozen(NOON_D), app.app_context():
        assert facts.refresh()["built"] is True
        yield


def test_every_table_a_count_reads_is_tracked_by_a_trigger(app, world):
    with app.app_context():
        statement = engine.resident_bits_statement(facts.build_specs(D))
        read = {
            t.name for t in find_tables(statement, check_columns=True) if getattr(t, "name", None) in db.metadata.tables
        }
        assert read - set(changes.TRACKED) == set()
        if db.engine.dialect.name == "postgresql":
            sql = "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE 'indicator_changes_%'"
        else:
            sql = (
                "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'indicator_changes_%'"
            )
        assert {row[0] for row in db.session.execute(text(sql))} == set(changes.TRACKED)


def test_the_facts_equal_the_full_count_after_each_kind_of_write(built, world):
    _assert_agree(world)
    assert db.session.scalar(select(IndicatorChange.id).limit(1)) is None  # the build absorbed the seeding
    e3 = db.session.scalar(select(Resident.id).where(Resident.name == "赵国强"))
    h3 = db.session.scalar(select(Resident.id).where(Resident.name == "郑丽"))
    writes = [
        lambda: h.health_check(world.alice, world.a, D),  # a check today: standardised, dynamic use
        lambda: h.visit(world.grandpa, D, htn=True, sbp=128, dbp=78),  # a face-to-face visit
        lambda: h.contract(world.bob, world.team_b, D, D + timedelta(days=364)),  # a new contract in force
        lambda: db.session.execute(
            update(Resident).where(Resident.id == e3).values(team_id=world.team_a)
        ),  # moves team
        lambda: db.session.execute(delete(Condition).where(Condition.resident_id == h3)),  # diagnosis removed
        lambda: db.session.execute(  # archive closed (moved away) before D
            update(Resident)
            .where(Resident.id == world.child)
            .values(status="moved", status_changed_on=D - timedelta(days=1))
        ),
        lambda: resident("新生儿", db.session.get(Institution, world.a), D),  # a newborn registered
    ]
    _assert_lists_agree()
    for write in writes:
        write()
        db.session.commit()
        _assert_agree(world)
    _assert_lists_agree()
    noted = set(db.session.scalars(select(IndicatorChange.resident_id)))
    assert {world.alice, world.grandpa, world.bob, e3, h3, world.child} <= noted


def test_indicators_endpoint_answers_the_same_from_the_facts(app, world, client, api):
    with app.app_context():
        h.build(world)
        db.session.commit()
    with frozen(NOON_D):
        headers = {"Authorization": f"Bearer {api.staff_token('admin')}"}
        full = client.get("/api/v1/indicators", headers=headers).json  # no build yet: counted in full
        with app.app_context():
            facts.build()
            h.visit(world.grandpa, D, htn=True, sbp=128, dbp=78)
            db.session.commit()
            assert facts.count_from_facts(_groupings(world)["district"], facts.build_specs(D)) is not None
        served = client.get("/api/v1/indicators", headers=headers).json
        with app.app_context():
            db.session.execute(delete(FactBuild))
            db.session.commit()
        again = client.get("/api/v1/indicators", headers=headers).json
    assert served == again
    changed = {r["indicator"] for r in served["rows"] if r["scope"] == "total"} - {
        a["indicator"] for a, b in zip(full["rows"], served["rows"], strict=True) if a == b and a["scope"] == "total"
    }
    assert changed, "the visit of grandpa moved no count: the test does not test"


def test_the_drilldown_lists_the_same_from_the_facts(app, world, client, api):
    with app.app_context():
        h.build(world)
        db.session.commit()
    url = "/api/v1/indicators/hypertension_standardised_management/residents?part=missing&per_page=100"
    with frozen(NOON_D):
        headers = {"Authorization": f"Bearer {api.staff_token('admin')}"}
        before = client.get(url, headers=headers).json  # no build yet: the full clause
        with app.app_context():
            facts.build()
            for day in (D - timedelta(days=90), D - timedelta(days=60), D - timedelta(days=30), D):
                h.visit(world.grandpa, day, htn=True, sbp=128, dbp=78)  # four visits: standardised now
            db.session.commit()
        served = client.get(url, headers=headers).json
        with app.app_context():
            assert facts.members(BY_KEY["hypertension_standardised_management"], engine.Context(D.year, D), "missing")
            db.session.execute(delete(FactBuild))
            db.session.commit()
        again = client.get(url, headers=headers).json
    assert served == again
    assert world.grandpa in {i["id"] for i in before["items"]} - {i["id"] for i in served["items"]}


def test_a_change_that_may_move_anyone_counts_in_full_until_the_next_build(built, world, app):
    from app.surveys.models import Survey

    specs = facts.build_specs(D)
    district = _groupings(world)["district"]
    db.session.execute(update(Survey).values(positive_threshold_permille=500))
    db.session.commit()
    assert facts.count_from_facts(district, specs) is None
    result = facts.refresh()
    assert (result["built"], result["reason"]) == (True, "a change may move anyone")
    _assert_agree(world)


def test_another_day_or_too_many_changes_count_in_full(built, world, app):
    district = _groupings(world)["district"]
    assert facts.count_from_facts(district, facts.build_specs(D - timedelta(days=1))) is None
    h.health_check(world.alice, world.a, D)
    h.health_check(world.grandpa, world.a, D)
    db.session.commit()
    app.config["INDICATOR_FACTS_MAX_CHANGED"] = 1
    try:
        assert facts.count_from_facts(district, facts.build_specs(D)) is None
    finally:
        app.config["INDICATOR_FACTS_MAX_CHANGED"] = 20000


def test_the_job_rebuilds_only_when_it_must(built, world, app):
    assert facts.refresh() == {"built": False, "changed": 0}
    h.health_check(world.alice, world.a, D)
    db.session.commit()
    assert facts.refresh() == {"built": False, "changed": 1}
    app.config["INDICATOR_FACTS_REBUILD_AFTER"] = 0
    try:
        assert facts.refresh()["reason"] == "1 residents changed"
    finally:
        app.config["INDICATOR_FACTS_REBUILD_AFTER"] = 2000
    assert db.session.scalar(select(IndicatorChange.id).limit(1)) is None
    with frozen(NOON_D + timedelta(days=1)):
        result = facts.refresh()
        assert (result["reason"], result["as_of"]) == ("new day", (D + timedelta(days=1)).isoformat())
    assert db.session.scalar(select(FactBuild.id).where(FactBuild.as_of == D)) is None  # only the latest is kept
