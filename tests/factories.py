"""A small district built directly through the services, and an HTTP helper.

Setup goes through the same service functions the API uses; the behaviour under
test always goes through HTTP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from app.accounts.models import Staff
from app.accounts.services import hash_password
from app.common.ids import make_id_number, vault
from app.common.time import today, years_before
from app.extensions import db
from app.orgs.models import INSTITUTION_KINDS, Institution, Team, TeamMember
from app.residents.models import Condition, Household, Resident

PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = None


def _hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def institution(code, name, kind, parent=None, population=10000) -> Institution:
    inst = Institution(
        code=code,
        name=name,
        kind=kind,
        level=INSTITUTION_KINDS[kind],
        parent_id=parent.id if parent else None,
        path="",
        service_population=population,
    )
    db.session.add(inst)
    db.session.flush()
    inst.path = f"{parent.path if parent else '/'}{inst.id}/"
    return inst


def staff(username, inst, roles, name=None) -> Staff:
    person = Staff(username=username, name=name or username, roles=roles, institution_id=inst.id, password_hash=_hash())
    db.session.add(person)
    db.session.flush()
    return person


def team(name, inst, members) -> Team:
    t = Team(name=name, institution_id=inst.id, members=[TeamMember(staff_id=s.id, role=role) for s, role in members])
    db.session.add(t)
    db.session.flush()
    return t


_SEQ = [100]


def resident(
    name, inst, birth_on: date, *, sex="male", household=None, team_=None, phone="13812345678", diseases=(), **extra
) -> Resident:
    _SEQ[0] += 2
    number = make_id_number("371002", birth_on, _SEQ[0] + (1 if sex == "male" else 0))
    person = Resident(
        archive_no=f"T{_SEQ[0]:08d}",
        name=name,
        id_number_enc=vault().encrypt(number),
        id_number_hash=vault().lookup_hash(number),
        sex=sex,
        birth_on=birth_on,
        phone=phone,
        institution_id=inst.id,
        household_id=household.id if household else None,
        team_id=team_.id if team_ else None,
        address="环翠区测试路1号",
        **extra,
    )
    db.session.add(person)
    db.session.flush()
    for disease in diseases:
        db.session.add(Condition(resident_id=person.id, disease=disease, diagnosed_on=date(2020, 1, 1)))
    person.id_number = number  # plain number kept on the object for tests only
    return person


@dataclass
class World:
    ids: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def build_world() -> World:
    """District → centre A (with clinic A1) and centre B; a team in each; a few residents."""
    w = World()
    _SEQ[0] = 100  # the database is wiped between tests, so numbers can start over
    district = institution("HC00", "环翠区卫生健康局", "district_bureau", population=0)
    a = institution("HC01", "鲸园社区卫生服务中心", "community_health_center", district)
    a1 = institution("HC01-01", "鲸园第一社区卫生服务站", "community_health_station", a)
    b = institution("HC02", "竹岛社区卫生服务中心", "community_health_center", district)
    admin = staff("admin", district, ["district_admin"], "区管理员")
    a_admin = staff("a-admin", a, ["institution_admin"], "鲸园管理员")
    a_doc = staff("a-doc", a, ["doctor", "team_leader"], "王医生")
    a_nurse = staff("a-nurse", a, ["doctor"], "李护士")
    a_doc2 = staff("a-doc2", a, ["doctor", "team_leader"], "赵医生")
    b_doc = staff("b-doc", b, ["doctor", "team_leader"], "陈医生")
    b_admin = staff("b-admin", b, ["institution_admin"], "竹岛管理员")
    team_a = team("鲸园一队", a, [(a_doc, "leader_gp"), (a_nurse, "nurse")])
    team_a2 = team("鲸园二队", a, [(a_doc2, "leader_gp")])
    team_b = team("竹岛一队", b, [(b_doc, "leader_gp")])
    home = Household(code="H-A-1", address="环翠区鲸园路8号", institution_id=a.id)
    db.session.add(home)
    db.session.flush()
    alice = resident("张丽", a, date(1980, 5, 17), sex="female", household=home, team_=team_a, relation_to_head="户主")
    child = resident("张小明", a, years_before(today(), 5), household=home, team_=team_a, relation_to_head="子")
    grandpa = resident(
        "张建国",
        a1,
        date(1950, 8, 1),
        household=home,
        team_=team_a,
        diseases=("hypertension",),
        relation_to_head="父亲",
    )
    bob = resident("刘强", b, date(1975, 1, 9), team_=team_b, diseases=("t2dm",))
    db.session.commit()
    for name, obj in dict(
        district=district,
        a=a,
        a1=a1,
        b=b,
        admin=admin,
        a_admin=a_admin,
        a_doc=a_doc,
        a_nurse=a_nurse,
        a_doc2=a_doc2,
        b_doc=b_doc,
        b_admin=b_admin,
        team_a=team_a,
        team_a2=team_a2,
        team_b=team_b,
        home=home,
        alice=alice,
        child=child,
        grandpa=grandpa,
        bob=bob,
    ).items():
        w.ids[name] = obj.id
    for name, obj in dict(alice=alice, child=child, grandpa=grandpa, bob=bob).items():
        w.numbers[name] = obj.id_number
    w.ids["names"] = {"alice": alice.name, "child": child.name, "grandpa": grandpa.name, "bob": bob.name}
    return w


class ApiClient:
    """Thin HTTP helper: logs people in and remembers their tokens."""

    def __init__(self, client, world: World):
        self.client = client
        self.world = world
        self._tokens: dict = {}

    def staff_token(self, username: str) -> str:
        if username not in self._tokens:
            r = self.client.post("/api/v1/auth/staff/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.json
            self._tokens[username] = r.json["access_token"]
        return self._tokens[username]

    def resident_token(self, who: str) -> str:
        """Log in through the WeChat sandbox as openid ``who`` and bind to that resident."""
        if who not in self._tokens:
            for _ in range(3):
                r = self.client.post("/api/v1/auth/wechat/login", json={"code": f"{who}:{uuid.uuid4().hex}"})
                # A fixture, not the login under test (tests/accounts): the sandbox answering later than
                # the tests' 2 s client timeout on a loaded machine (a 503) is tried again with a new code.
                if r.status_code != 503:
                    break
            assert r.status_code == 200, r.json
            token = r.json["access_token"]
            r = self.client.post(
                "/api/v1/auth/wechat/bind",
                headers={"Authorization": f"Bearer {token}"},
                json={"name": self.world.names[who], "id_number": self.world.numbers[who]},
            )
            assert r.status_code == 200, r.json
            self._tokens[who] = token
        return self._tokens[who]

    def as_(self, who: str) -> dict:
        token = self.resident_token(who) if who in self.world.numbers else self.staff_token(who)
        return {"Authorization": f"Bearer {token}"}

    def get(self, who, path, **kw):
        return self.client.get(path, headers={**self.as_(who), **kw.pop("headers", {})}, **kw)

    def post(self, who, path, **kw):
        return self.client.post(path, headers={**self.as_(who), **kw.pop("headers", {})}, **kw)

    def patch(self, who, path, **kw):
        return self.client.patch(path, headers={**self.as_(who), **kw.pop("headers", {})}, **kw)

    def put(self, who, path, **kw):
        return self.client.put(path, headers={**self.as_(who), **kw.pop("headers", {})}, **kw)

    def delete(self, who, path, **kw):
        return self.client.delete(path, headers={**self.as_(who), **kw.pop("headers", {})}, **kw)


# The demo's population steps; a feature's seed test runs these plus its own step only.
BASE_DEMO_STEPS = ("organisation", "accounts", "teams", "residents", "conditions", "pregnancies")


def keep_demo_steps(monkeypatch, *feature_steps: str) -> None:
    """Trim the demo seed to the base population and the named feature steps (in the seed's order)."""
    from app.demo import seed

    wanted = BASE_DEMO_STEPS + feature_steps
    monkeypatch.setattr(seed, "STEPS", [step for step in seed.STEPS if step[0] in wanted])
