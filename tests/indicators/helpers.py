"""A hand-built population for the indicator tests, written row by row so every number is known.

The evaluation day is ``D`` = 30 September of last year (``Y``), the clock frozen at noon that day;
``world`` (tests/factories.py) is extended with the residents below. Each comment says which
numerators and denominators the row is meant to move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from app.common.time import at_local, today
from app.extensions import db

Y = today().year - 1
D = date(Y, 9, 30)
NOON_D = at_local(D, 12)


def day(month: int, dom: int, year: int | None = None) -> date:
    return date(Y if year is None else year, month, dom)


@dataclass
class Population:
    ids: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def born(age_in_y: int, month: int, dom: int) -> date:
    """A birth date ``age_in_y`` years before the given day of Y (so the age on that day of Y)."""
    return date(Y - age_in_y, month, dom)


def _complete_sheet() -> dict:
    return dict(
        ethnicity="汉族",
        marital_status="已婚",
        education="初中",
        occupation="无职业",
        blood_type="A",
        payment_methods=["城乡居民基本医疗保险"],
    )


def health_check(resident_id: int, institution_id: int, on: date):
    from app.archive.models import HealthCheck

    db.session.add(HealthCheck(resident_id=resident_id, institution_id=institution_id, checked_on=on))


def service_record(resident_id: int, institution_id: int, on: date, kind: str = "tcm"):
    from app.archive.models import ServiceRecord

    db.session.add(ServiceRecord(resident_id=resident_id, institution_id=institution_id, served_on=on, kind=kind))


def visit(
    resident_id: int,
    on: date,
    method: str = "clinic",
    *,
    htn: bool = False,
    t2dm: bool = False,
    sbp: int | None = None,
    dbp: int | None = None,
    glucose: float | None = None,
):
    from app.followups.models import FollowupVisit

    db.session.add(
        FollowupVisit(
            resident_id=resident_id,
            visit_on=on,
            method=method,
            hypertension=htn,
            t2dm=t2dm,
            sbp=sbp,
            dbp=dbp,
            fasting_glucose=glucose,
            classification="controlled",
        )
    )
    db.session.flush()


def contract(
    resident_id: int,
    team_id: int,
    starts: date | None,
    ends: date | None,
    *,
    signed_at=None,
    terminated: date | None = None,
    family_group_id: int | None = None,
    status: str = "active",
):
    """A contract row; signed at 09:00 on its first day unless ``signed_at`` (pending: never signed)."""
    from app.contracts.models import Contract

    if status == "pending":
        signed_at = None
    elif signed_at is None:
        signed_at = at_local(starts, 9)
    c = Contract(
        resident_id=resident_id,
        team_id=team_id,
        status=status,
        channel="clinic",
        applicant_kind="staff",
        applicant_id=1,
        consent_at=signed_at or at_local(D, 9),
        consent_channel="clinic",
        signed_at=signed_at,
        starts_on=starts,
        ends_on=ends,
        terminated_on=terminated,
        family_group_id=family_group_id,
    )
    db.session.add(c)
    db.session.flush()
    return c


def family_group(team_id: int, household_id: int | None = None) -> int:
    from app.contracts.models import FamilyGroup

    group = FamilyGroup(team_id=team_id, household_id=household_id)
    db.session.add(group)
    db.session.flush()
    return group.id


def survey(
    kind: str, institution_id: int, opens: date, closes: date, *, status: str = "published", permille: int = 800
) -> int:
    from app.surveys.models import Survey

    s = Survey(
        kind=kind,
        title=f"{kind} {opens}",
        institution_id=institution_id,
        opens_on=opens,
        closes_on=closes,
        status=status,
        positive_threshold_permille=permille,
        populations=[],
    )
    db.session.add(s)
    db.session.flush()
    return s.id


def response(survey_id: int, resident_id: int, at, scored: int, positive: int):
    from app.surveys.models import SurveyResponse

    db.session.add(
        SurveyResponse(
            survey_id=survey_id, resident_id=resident_id, submitted_at=at, scored_count=scored, positive_count=positive
        )
    )
    db.session.flush()


def build(world) -> Population:
    """The population of the indicator tests (see the expected numbers in tests/indicators/test_indicators.py)."""
    from app.orgs.models import Institution, Team
    from app.residents.models import Condition, Resident
    from tests.factories import resident

    a, a1, b = (db.session.get(Institution, i) for i in (world.a, world.a1, world.b))
    team_a, team_a2, team_b = (db.session.get(Team, i) for i in (world.team_a, world.team_a2, world.team_b))
    p = Population()

    # --- elderly and the archive ------------------------------------------------------------
    # e1 (A, team_a): complete sheet + check this year + TCM this year → standardised, elderly ✓✓, dynamic ✓
    e1 = resident("王秀英", a, born(85, 3, 3), sex="female", team_=team_a, **_complete_sheet())
    health_check(e1.id, a.id, day(3, 1))
    service_record(e1.id, a.id, day(3, 1), "tcm")
    # e2 (A1, team_a2): check last December only → not this year's, but dynamic use ✓ (within a year of D)
    e2 = resident("李桂兰", a1, born(80, 5, 5), sex="female", team_=team_a2)
    health_check(e2.id, a1.id, day(12, 1, Y - 1))
    # e3 (B, team_b): hypertension, 4 face-to-face visits, latest controlled; TCM last year only
    e3 = resident("赵国强", b, born(75, 2, 2), team_=team_b, diseases=("hypertension",))
    service_record(e3.id, b.id, day(11, 1, Y - 1), "tcm")
    for m in (1, 3, 5, 7):
        visit(e3.id, day(m, 10), htn=True, sbp=150 if m < 7 else 132, dbp=88)
    # gone (A, team_a): 65+, moved away on 15 August → open at the end of July, closed on D
    gone = resident(
        "钱玉珍", a, born(81, 4, 4), sex="female", team_=team_a, status="moved", status_changed_on=day(8, 15)
    )
    health_check(gone.id, a.id, day(6, 1))
    # dead (B): 65+, deceased long ago (no change date) → never open
    dead = resident("孙德福", b, born(95, 1, 1), team_=team_b, status="deceased")

    # --- chronic patients ---------------------------------------------------------------------
    # h1 (A, team_a): HTN; 3 clinic + 1 home (4 face to face) + a later phone call; latest F2F 130/80 ✓
    h1 = resident("周建华", a, born(59, 6, 6), team_=team_a, diseases=("hypertension",))
    for on, method in ((day(1, 5), "clinic"), (day(3, 5), "clinic"), (day(5, 5), "home"), (day(8, 5), "clinic")):
        visit(h1.id, on, method, htn=True, sbp=130 if on.month == 8 else 145, dbp=80)
    visit(h1.id, day(9, 20), "phone", htn=True, sbp=160, dbp=100)
    # h2 (A1, team_a): HTN, turns 65 on 7 July; 3 face to face + 2 phone; latest F2F 150/95 → neither
    h2 = resident("吴志强", a1, born(65, 7, 7), team_=team_a, diseases=("hypertension",))
    for on in (day(2, 1), day(4, 1), day(6, 1)):
        visit(h2.id, on, "clinic", htn=True, sbp=150, dbp=95)
    for on in (day(7, 1), day(8, 1)):
        visit(h2.id, on, "phone", htn=True, sbp=120, dbp=70)
    # h3 (A, team_a2): HTN diagnosed 1 July → managed on D, not at the end of June; no visits
    h3 = resident("郑丽", a, born(55, 8, 8), sex="female", team_=team_a2)
    db.session.add(Condition(resident_id=h3.id, disease="hypertension", diagnosed_on=day(7, 1)))
    # h4 (B, team_b): 67; a dropped (inactive) hypertension diagnosis → not managed, not in the population
    h4 = resident("冯刚", b, born(67, 9, 9), team_=team_b)
    db.session.add(Condition(resident_id=h4.id, disease="hypertension", diagnosed_on=day(1, 1, 2015), active=False))
    # d1 (A, team_a): HTN and T2DM; 4 visits covering both; latest glucose 6.5 ✓, BP 145/85 ✗
    d1 = resident("陈红", a, born(63, 10, 10), sex="female", team_=team_a, diseases=("hypertension", "t2dm"))
    for m in (2, 4, 6, 8):
        visit(d1.id, day(m, 12), "clinic", htn=True, t2dm=True, sbp=145, dbp=85, glucose=8.0 if m < 8 else 6.5)
    # bob (world, B, T2DM since 2020): 2 F2F visits, latest glucose 7.0 (not < 7.0)
    for m in (3, 6):
        visit(world.bob, day(m, 3), "home", t2dm=True, glucose=7.0)

    # --- contracts ------------------------------------------------------------------------------
    group = family_group(team_a.id, world.home)
    # alice + child: a family contract in force on D
    contract(world.alice, team_a.id, day(3, 1), day(2, 28, Y + 1), family_group_id=group)
    contract(world.child, team_a.id, day(3, 1), day(2, 28, Y + 1), family_group_id=group)
    # grandpa: last period ended 31 Dec of Y-1 (in the window), renewed from 1 January → signed, renewed
    contract(world.grandpa, team_a.id, day(1, 1, Y - 1), day(12, 31, Y - 1), status="expired")
    contract(world.grandpa, team_a.id, day(1, 1), day(12, 31))
    # e1: a period 1 June Y-1 … 31 May Y, not renewed → renewal base only; signed a year before D
    contract(e1.id, team_a.id, day(6, 1, Y - 1), day(5, 31), status="expired")
    # bob: terminated on 1 August → not signed on D (was on D − 1 year? no: started this February)
    contract(world.bob, team_b.id, day(2, 1), day(1, 31, Y + 1), terminated=day(8, 1), status="terminated")
    # h1: only applied (pending) → not signed
    contract(h1.id, team_a.id, None, None, status="pending")
    # e3: signed on D at 23:00 local (still "by the end of D"), period from D
    contract(e3.id, team_b.id, D, day(9, 29, Y + 1), signed_at=at_local(D, 23))
    # h2: signed the day after D → not yet
    contract(h2.id, team_a.id, D + timedelta(days=1), day(9, 30, Y + 1), signed_at=at_local(D + timedelta(days=1), 10))
    # gone: was signed (in force on D) but the archive closed in August → not in any denominator on D
    contract(gone.id, team_a.id, day(1, 1), day(12, 31))

    # --- surveys -------------------------------------------------------------------------------
    s1 = survey("satisfaction", world.district, day(4, 1), day(10, 31))
    s2 = survey("satisfaction", world.district, day(6, 1), day(10, 31))
    old = survey("satisfaction", world.district, day(11, 1, Y - 1), day(12, 31, Y - 1))
    draft = survey("satisfaction", world.district, day(4, 1), day(10, 31), status="draft")
    aware = survey("awareness", world.a, day(5, 1), day(10, 31))
    response(s1, world.alice, at_local(day(4, 2), 10), 4, 4)  # satisfied
    response(s1, world.grandpa, at_local(day(4, 3), 10), 4, 2)  # not satisfied
    response(s1, world.bob, at_local(day(4, 10), 10), 4, 4)  # satisfied, then …
    response(s2, world.bob, at_local(day(6, 10), 10), 5, 3)  # … not (3/5 < 80 %): the latest decides
    response(old, e1.id, at_local(day(11, 2, Y - 1), 10), 4, 4)  # last year's survey: not counted
    response(draft, e2.id, at_local(day(4, 5), 10), 4, 4)  # draft survey: not counted
    response(aware, e1.id, at_local(day(5, 2), 10), 5, 4)  # aware (4/5 = 80 %)
    response(aware, h3.id, at_local(day(5, 3), 10), 5, 5)  # aware
    response(aware, world.alice, at_local(D + timedelta(days=1), 9), 5, 0)  # after D: not counted
    db.session.commit()
    for name, obj in dict(e1=e1, e2=e2, e3=e3, gone=gone, dead=dead, h1=h1, h2=h2, h3=h3, h4=h4, d1=d1).items():
        p.ids[name] = obj.id
    p.ids["surveys"] = dict(s1=s1, s2=s2, aware=aware)
    _ = Resident  # imported for readers: every row above is a Resident or hangs off one
    return p


TARGETS_CSV = (
    "institution,kind,service_population,ehr_target_90pct,std_ehr_coverage_target_64pct,"
    "ehr_dynamic_use_target_60pct,elderly_65_plus,elderly_std_mgmt_target_64pct,elderly_tcm_target_74pct,"
    "htn_target_count,htn_std_mgmt_target_64pct,t2dm_target_count,t2dm_std_mgmt_target_64pct,"
    "live_births_2023,maternal_sys_mgmt_target_90pct\n"
    "鲸园社区卫生服务中心,community_health_center,10000,9000,6400,5400,100,64,74,5,3,2,1,10,9\n"
    "竹岛社区卫生服务中心,community_health_center,10000,9000,6400,5400,100,64,74,4,3,1,1,10,9\n"
)
