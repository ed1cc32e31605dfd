"""One definition per indicator: the features' indicator endpoints (contracts, follow-ups, archive) are
views of this feature's definitions — on the same population they hand back its numbers and targets for
their own scopes (institution subtrees, teams, days) and row shapes; the surveys feature has no indicator
of its own (this feature reads its respondent rule)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.common.time import frozen
from app.extensions import db
from app.indicators.catalogue import select_definitions
from app.indicators.clauses import KEY_POPULATIONS, population
from app.indicators.engine import evaluation
from app.indicators.rows import institution_rows, team_rows
from app.orgs.models import Institution, Team
from app.residents.models import Resident
from app.residents.populations import POPULATIONS, population_clause
from tests.indicators import helpers as h
from tests.indicators.helpers import NOON_D, TARGETS_CSV, D, Y


@pytest.fixture
def pop(app, world):
    with app.app_context():
        population_ = h.build(world)
    with frozen(NOON_D), app.app_context():
        yield population_


def _mine(root_id: int, keys=None, team_id=None) -> dict:
    ctx = evaluation(Y, D)
    definitions = select_definitions(keys)
    if team_id is not None:
        team = db.session.get(Team, team_id)
        rows = team_rows(team.institution, [team], ctx, definitions)
    else:
        rows = [
            r for r in institution_rows(db.session.get(Institution, root_id), ctx, definitions) if r["scope"] == "total"
        ]
    return {r["indicator"]: r for r in rows}


def _pick(rows, *fields):
    return {r["indicator"]: tuple(r[f] for f in fields) for r in rows}


def test_signing_equals_contracts_indicator_rows(pop, world):
    from app.indicators.views import signing_indicator_rows as indicator_rows

    keys = ["signing_rate", *(f"signing_rate_{p}" for p in KEY_POPULATIONS), "family_signing_rate", "renewal_rate"]
    for path, team_id, root in (
        (None, None, world.district),
        ("a", None, world.a),
        ("b", None, world.b),
        (None, world.team_a, None),
        (None, world.team_b, None),
    ):
        institution_path = db.session.get(Institution, root).path if path else None
        theirs = _pick(
            indicator_rows(on=D, institution_path=institution_path, team_id=team_id), "numerator", "denominator", "rate"
        )
        mine = _pick(_mine(root, keys, team_id).values(), "numerator", "denominator", "rate")
        assert mine == {k: theirs[k] for k in keys}, (path, team_id)
    # the targets too: the overall signing target is last year's rate — the indicator on D − 1 year, its own
    # archives then ('gone', who moved away in August, was open a year ago: 2 of 13) — + 3 pp
    theirs = _pick(indicator_rows(on=D), "target")
    assert _pick(_mine(world.district, keys).values(), "target") == {k: theirs[k] for k in keys}
    assert theirs["signing_rate"] == (round(2 / 13 + 0.03, 4),)
    assert {k: theirs[k] for k in ("signing_rate_elderly", "family_signing_rate", "renewal_rate")} == {
        "signing_rate_elderly": (0.88,),
        "family_signing_rate": (0.2,),
        "renewal_rate": (0.8,),
    }


def test_chronic_equals_followups_indicator_rows(pop, world, app):
    from app.indicators.targets import import_csv
    from app.indicators.views import chronic_rows as indicator_rows

    import_csv(TARGETS_CSV, Y)
    db.session.commit()
    keys = [
        "hypertension_managed",
        "hypertension_standardised_management",
        "hypertension_bp_control",
        "t2dm_managed",
        "t2dm_standardised_management",
        "t2dm_glucose_control",
    ]
    # the managed rows' denominators are the imported task counts (the district's: its centres' sum)
    targets = {
        world.district: {"hypertension": 9, "t2dm": 3},
        world.a: {"hypertension": 5, "t2dm": 2},
        world.b: {"hypertension": 4, "t2dm": 1},
    }
    theirs = indicator_rows(Y, institution_ids=[world.district, world.a, world.b], on=D)
    for root in (world.district, world.a, world.b):
        expected = _pick(
            [r for r in theirs if r["institution_id"] == root], "numerator", "denominator", "rate", "target", "met"
        )
        assert _pick(_mine(root, keys).values(), "numerator", "denominator", "rate", "target", "met") == expected
        assert (expected["hypertension_managed"][1], expected["t2dm_managed"][1]) == (
            targets[root]["hypertension"],
            targets[root]["t2dm"],
        ), root
    for team_id in (world.team_a, world.team_a2, world.team_b):
        expected = _pick(indicator_rows(Y, team_ids=[team_id], on=D), "numerator", "denominator", "rate")
        mine = _pick(_mine(None, keys, team_id).values(), "numerator", "denominator", "rate")
        # a team has no target count: both leave the managed rows' denominators empty
        assert mine == expected, team_id
    # as of the end of June (h3 not diagnosed yet) and for a past year
    for year, on in ((Y, D.replace(month=6, day=30)), (Y - 1, None)):
        ctx = evaluation(year, on)
        theirs = _pick(indicator_rows(year, institution_ids=[world.district], on=on), "numerator")
        mine = institution_rows(db.session.get(Institution, world.district), ctx, select_definitions(keys))
        assert {r["indicator"]: (r["numerator"],) for r in mine if r["scope"] == "total"} == theirs, (year, on)


def test_archive_equals_archive_metrics(pop, world):
    from app.indicators.views import archive_rows as indicator_rows

    theirs = indicator_rows([world.district, world.a, world.a1, world.b], D)
    for root in (world.district, world.a, world.a1, world.b):
        expected = _pick([r for r in theirs if r["institution_id"] == root], "numerator", "denominator", "rate")
        mine = _pick(
            _mine(root, ["ehr", "std_ehr_coverage", "ehr_dynamic_use"]).values(), "numerator", "denominator", "rate"
        )
        assert mine == expected, root


def test_surveys_each_resident_once_by_the_latest_response(pop, world):
    """Each resident once, the latest response by the end of D decides (bob: satisfied in April, not in
    June; alice's awareness answer after D, last year's survey and a draft do not count)."""
    keys = ["satisfaction", "awareness"]
    for root, numbers in (
        (world.district, {"satisfaction": (1, 3), "awareness": (2, 2)}),
        (world.a, {"satisfaction": (1, 2), "awareness": (2, 2)}),
        (world.b, {"satisfaction": (0, 1), "awareness": (0, 0)}),
    ):
        assert _pick(_mine(root, keys).values(), "numerator", "denominator") == numbers, root
    for team_id, numbers in (
        (world.team_a, {"satisfaction": (1, 2), "awareness": (1, 1)}),
        (world.team_b, {"satisfaction": (0, 1), "awareness": (0, 0)}),
    ):
        assert _pick(_mine(None, keys, team_id).values(), "numerator", "denominator") == numbers, team_id
    assert _pick(_mine(world.district, keys).values(), "target", "met") == {
        "satisfaction": (0.9, False),
        "awareness": (0.9, True),
    }


def test_populations_are_the_residents_feature_populations(pop, world):
    for name in POPULATIONS:
        for day in (D, D.replace(month=1, day=31)):
            theirs = set(db.session.scalars(select(Resident.id).where(population_clause(name, day))))
            mine = set(db.session.scalars(select(Resident.id).where(population(name, evaluation(Y, day)))))
            assert mine == theirs, (name, day)
    assert db.session.scalar(select(func.count()).where(population("hypertension", evaluation(Y, D)))) == 6
