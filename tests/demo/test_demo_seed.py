"""``flask seed-demo``: the demo district follows seed 002's table at scale, keeps ID
numbers encrypted, is reproducible, and its accounts can log in."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from app.accounts.models import Staff
from app.common import time as clock
from app.common.ids import parse_id_number, vault
from app.demo import seed as seed_module
from app.demo.seed import load_targets
from app.extensions import db
from app.maternal.models import Birth, Pregnancy
from app.orgs.models import INSTITUTION_KINDS, Institution, Team, TeamMember
from app.residents.models import Condition, Household, Resident

SCALE = 0.01
SEED = 7
ID_PATTERN = re.compile(r"\d{17}[\dXx]")


def _invoke(app, *args):
    return app.test_cli_runner().invoke(args=["seed-demo", *args])


def _seed(app, seed=SEED, scale=SCALE):
    result = _invoke(app, "--scale", str(scale), "--seed", str(seed))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _wipe(app):
    """What the autouse fixture does between tests, for a second run inside one test."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))


def _near(actual: int, expected: int) -> bool:
    """Within 1 % of the target (±1 for tiny numbers)."""
    return abs(actual - expected) <= max(1, 0.01 * expected)


def _centres():
    return db.session.scalars(select(Institution).where(Institution.level == 3).order_by(Institution.code)).all()


def test_org_tree_follows_the_csv(app):
    _seed(app)
    targets = load_targets()
    with app.app_context():
        bureau = db.session.scalar(select(Institution).where(Institution.code == "HC00"))
        assert bureau.name == "威海市环翠区卫生健康局" and bureau.kind == "district_bureau"
        assert bureau.level == 1 and bureau.parent_id is None and bureau.path == f"/{bureau.id}/"
        centres = _centres()
        assert [c.code for c in centres] == [f"HC{i:02d}" for i in range(1, 11)]
        for centre, target in zip(centres, targets):
            assert centre.name == target["institution"] and centre.kind == target["kind"]
            assert centre.service_population == target["service_population"]  # not scaled
            assert centre.parent_id == bureau.id and centre.path == f"{bureau.path}{centre.id}/"
            units = db.session.scalars(select(Institution).where(Institution.parent_id == centre.id)).all()
            assert 2 <= len(units) <= 4
            expected_kind = "village_clinic" if centre.kind == "township_health_center" else "community_health_station"
            for unit in units:
                assert unit.kind == expected_kind and unit.level == INSTITUTION_KINDS[expected_kind] == 4
                assert unit.path == f"{centre.path}{unit.id}/" and unit.code.startswith(centre.code + "-")


def test_population_counts_match_targets_per_institution(app):
    _seed(app)
    today = clock.today()
    elderly_limit = clock.years_before(today, 65)
    child_limit = clock.years_before(today, 7)
    under3_limit = clock.years_before(today, 3)  # 0–36 months: before the 3rd birthday
    adult35_limit = clock.years_before(today, 35)
    with app.app_context():
        total = 0
        for centre, target in zip(_centres(), load_targets()):
            in_centre = Resident.institution_id.in_(
                select(Institution.id).where(Institution.path.startswith(centre.path))
            )

            def count(*where):
                return db.session.scalar(select(func.count()).select_from(Resident).where(in_centre, *where))

            def patients(disease, *where):
                return db.session.scalar(
                    select(func.count())
                    .select_from(Condition)
                    .join(Resident)
                    .where(in_centre, Condition.disease == disease, Condition.active, *where)
                )

            residents = count()
            total += residents
            assert _near(residents, round(target["service_population"] * SCALE)), centre.name
            assert _near(count(Resident.birth_on <= elderly_limit), round(target["elderly_65_plus"] * SCALE))
            assert _near(count(Resident.birth_on > child_limit), round(target["children_0_6"] * SCALE))
            assert _near(count(Resident.birth_on > under3_limit), round(target["children_0_36m"] * SCALE))
            newborns = count(Resident.birth_on > clock.years_before(today, 1))
            assert _near(newborns, round(target["newborns_2023"] * SCALE))
            assert _near(patients("hypertension"), round(target["htn_target_count"] * SCALE))
            assert _near(patients("t2dm"), round(target["t2dm_target_count"] * SCALE))
            # Chronic patients are all 35+.
            assert patients("hypertension", Resident.birth_on > adult35_limit) == 0
            assert patients("t2dm", Resident.birth_on > adult35_limit) == 0
            # the live births of the last twelve months, each a baby of the centre born then
            births = db.session.scalar(
                select(func.count())
                .select_from(Birth)
                .join(Pregnancy, Pregnancy.id == Birth.pregnancy_id)
                .join(Resident, Resident.id == Pregnancy.resident_id)
                .where(in_centre, Birth.live, Pregnancy.delivered_on > today - clock.timedelta(days=365))
            )
            assert _near(births, round(target["live_births_2023"] * SCALE)), centre.name
            ongoing = count(Resident.id.in_(select(Pregnancy.resident_id).where(Pregnancy.status == "ongoing")))
            assert ongoing == count(Resident.pregnancy_due_on.is_not(None))
            # Teams sized to the scaled population, each with its GP leader.
            teams = db.session.scalars(select(Team).where(Team.institution_id == centre.id)).all()
            assert len(teams) == max(1, round(round(target["service_population"] * SCALE) / 2000))
            for team in teams:
                roles = {m.role for m in team.members}
                assert {"leader_gp", "nurse", "public_health"} <= roles
                assert ("village_doctor" in roles) == (centre.kind == "township_health_center")
                assert re.fullmatch(re.escape(centre.name) + r"第\d+团队", team.name)
        assert _near(total, round(478_600 * SCALE))
        # Some residents have both diseases; a few flags are set, in plausible proportions.
        both = db.session.scalar(
            select(func.count()).select_from(
                select(Condition.resident_id).group_by(Condition.resident_id).having(func.count() == 2).subquery()
            )
        )
        assert both > 0
        for flag, low, high in (
            (Resident.disabled_certified, 0.005, 0.03),
            (Resident.poverty_alleviated, 0.003, 0.025),
            (Resident.special_family, 0.0, 0.01),
        ):
            share = db.session.scalar(select(func.count()).where(flag.is_(True))) / total
            assert low <= share <= high, (flag, share)
        registered = db.session.scalar(select(func.count()).where(Resident.residency_type == "registered")) / total
        assert 0.85 <= registered <= 0.95
        pregnant_rows = db.session.execute(
            select(Resident.sex, Resident.birth_on, Resident.pregnancy_due_on).where(
                Resident.pregnancy_due_on.is_not(None)
            )
        ).all()
        assert pregnant_rows
        for sex, birth_on, due in pregnant_rows:
            assert sex == "female" and 20 <= clock.age_on(birth_on, today) <= 45
            assert today < due <= today + clock.timedelta(days=280)
        # each baby of a delivery lives in its mother's household and was born on the delivery day
        pairs = db.session.execute(
            select(Pregnancy.delivered_on, Resident.birth_on, Resident.household_id, Pregnancy.resident_id)
            .join(Birth, Birth.pregnancy_id == Pregnancy.id)
            .join(Resident, Resident.id == Birth.resident_id)
        ).all()
        households = dict(db.session.execute(select(Resident.id, Resident.household_id)).all())
        assert pairs and all(d == b and h == households[m] for d, b, h, m in pairs)


def test_id_numbers_are_valid_encrypted_and_match_the_row(app):
    _seed(app)
    with app.app_context():
        keys = vault()
        rows = db.session.execute(
            select(Resident.id_number_enc, Resident.id_number_hash, Resident.birth_on, Resident.sex)
        ).all()
        assert rows
        numbers = set()
        for enc, digest, birth_on, sex in rows:
            parsed = parse_id_number(keys.decrypt(enc))  # raises when the check character is wrong
            assert parsed.value.startswith("371002")
            assert parsed.birth_on == birth_on and parsed.sex == sex
            assert digest == keys.lookup_hash(parsed.value)
            numbers.add(parsed.value)
        assert len(numbers) == len(rows)
        # No plain ID number anywhere in the residents (or households) table.
        for table in ("residents", "households"):
            for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    for found in ID_PATTERN.findall(str(value)):
                        assert found.upper() not in numbers, (table, value)


def test_households_are_coherent(app):
    _seed(app)
    with app.app_context():
        centres = {c.id: c for c in _centres()}
        institutions = {i.id: i for i in db.session.scalars(select(Institution))}
        teams = {t.id: t for t in db.session.scalars(select(Team))}
        households = {h.id: h for h in db.session.scalars(select(Household))}
        members: dict[int, list] = {}
        for person in db.session.scalars(select(Resident)):
            members.setdefault(person.household_id, []).append(person)
            centre = next(c for c in centres.values() if institutions[person.institution_id].path.startswith(c.path))
            assert re.fullmatch(re.escape(centre.code) + r"\d{8}", person.archive_no)
            assert teams[person.team_id].institution_id == centre.id
            assert person.phone is None or re.fullmatch(r"1[3-9]\d{9}", person.phone)
            assert person.name and 2 <= len(person.name) <= 3
            assert person.residency_type in ("registered", "non_registered")
        assert set(members) == set(households)
        for household_id, people in members.items():
            household = households[household_id]
            assert 1 <= len(people) <= 5
            assert sum(p.relation_to_head == "户主" for p in people) == 1
            assert {p.address for p in people} == {household.address}
            assert {p.institution_id for p in people} == {household.institution_id}
            assert household.address.startswith("环翠区")
        # Residents are spread over the centres and their clinics / stations.
        used = {h.institution_id for h in households.values()}
        assert any(institutions[i].level == 4 for i in used) and any(institutions[i].level == 3 for i in used)
        han = db.session.scalar(select(func.count()).where(Resident.ethnicity == "汉族"))
        assert han / sum(len(p) for p in members.values()) > 0.95


def _digest(app) -> str:
    with app.app_context():
        h = hashlib.sha256()
        for row in db.session.execute(
            select(
                Resident.archive_no,
                Resident.name,
                Resident.sex,
                Resident.birth_on,
                Resident.phone,
                Resident.address,
                Resident.id_number_hash,
                Resident.relation_to_head,
                Resident.team_id,
                Resident.institution_id,
                Resident.pregnancy_due_on,
            ).order_by(Resident.archive_no)
        ):
            h.update(repr(tuple(row)).encode())
        for row in db.session.execute(
            select(Resident.archive_no, Condition.disease, Condition.diagnosed_on)
            .join(Condition.resident)
            .order_by(Resident.archive_no, Condition.disease)
        ):
            h.update(repr(tuple(row)).encode())
        for row in db.session.execute(select(Staff.username, Staff.name).order_by(Staff.username)):
            h.update(repr(tuple(row)).encode())
        return h.hexdigest()


def test_same_seed_same_district(app):
    clock.freeze(datetime(2024, 6, 15, 2, 0, tzinfo=UTC))  # immune to midnight
    _seed(app)
    first = _digest(app)
    _wipe(app)
    _seed(app)
    assert _digest(app) == first
    _wipe(app)
    _seed(app, seed=SEED + 1)
    assert _digest(app) != first


def test_if_empty_skips_and_a_populated_database_is_refused(app):
    _seed(app)
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Resident))
    skipped = _invoke(app, "--scale", str(SCALE), "--if-empty")
    assert skipped.exit_code == 0 and "nothing to do" in skipped.output
    refused = _invoke(app, "--scale", str(SCALE))
    assert refused.exit_code != 0 and "already holds data" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) == before


def test_if_empty_seeds_an_empty_database(app):
    result = _invoke(app, "--scale", "0.002", "--seed", "3", "--if-empty")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) > 0


def test_demo_staff_log_in_over_http(app, client):
    result = _seed(app)
    password = app.config["DEMO_PASSWORD"]
    # The closing message tells people how to log in.
    assert password in result.output and "hc01-doc01" in result.output and "/api/v1" in result.output
    for username in ("admin", "hc01-admin", "hc01-doc01"):
        r = client.post("/api/v1/auth/staff/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.json
        assert r.json["access_token"]
    r = client.post("/api/v1/auth/staff/login", json={"username": "hc01-doc01", "password": password + "x"})
    assert r.status_code == 401
    with app.app_context():
        staff = {s.username: s for s in db.session.scalars(select(Staff))}
        assert staff["admin"].roles == ["district_admin"]
        assert staff["hc01-admin"].roles == ["institution_admin"]
        assert staff["hc01-doc01"].roles == ["doctor", "team_leader"]
        assert "hc06-vd01" in staff and "hc01-vd01" not in staff  # village doctors in township centres
        # One scrypt hash shared by all demo accounts.
        assert len({s.password_hash for s in staff.values()}) == 1
        leader = db.session.scalar(select(TeamMember).where(TeamMember.staff_id == staff["hc01-doc01"].id))
        assert leader.role == "leader_gp"


def test_closing_message_shows_residents_to_bind(app):
    result = _seed(app)
    lines = [line for line in result.output.splitlines() if re.search(r"\b371002\d{11}[\dX]\b", line)]
    assert 3 <= len(lines) <= 5
    with app.app_context():
        for line in lines:
            name, number = line.split()[:2]
            person = db.session.scalar(select(Resident).where(Resident.id_number_hash == vault().lookup_hash(number)))
            assert person is not None and person.name == name


def test_ids_continue_after_the_seed(app):
    """Primary keys were chosen by the seed; the sequences must have been moved past them."""
    _seed(app)
    with app.app_context():
        bureau = db.session.scalar(select(Institution).where(Institution.code == "HC00"))
        extra = Institution(
            code="HC99", name="新机构", kind="community_health_center", level=3, parent_id=bureau.id, path=""
        )
        db.session.add(extra)
        db.session.flush()
        assert extra.id > db.session.scalar(select(func.max(Institution.id)).where(Institution.code != "HC99"))
        db.session.rollback()


def test_later_features_append_steps(app, monkeypatch):
    monkeypatch.setattr(seed_module, "STEPS", list(seed_module.STEPS))
    seen = {}

    def extra_step(ctx):
        seen["residents"] = sum(len(refs) for refs in ctx.residents.values())
        seen["teams"] = sum(len(c.team_ids) for c in ctx.centres)
        ctx.notes.append("extra step ran")

    seed_module.register_step("extra", extra_step)
    assert [name for name, _ in seed_module.STEPS][-1] == "extra"
    assert [name for name, _ in seed_module.STEPS][:4] == ["organisation", "accounts", "teams", "residents"]
    result = _seed(app)
    assert seen["residents"] == round(478_600 * SCALE) or _near(seen["residents"], round(478_600 * SCALE))
    assert seen["teams"] >= 10
    assert "extra step ran" in result.output


def test_targets_file_ships_with_the_package():
    targets = load_targets()
    assert len(targets) == 10
    assert sum(t["service_population"] for t in targets) == 478_600
    assert sum(t["elderly_65_plus"] for t in targets) == 67_669
    assert "shared" not in str(seed_module.TARGETS_FILE)
