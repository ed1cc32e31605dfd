"""The access-control matrix's machinery: the actors, the scene they act in, the objects they
reach for, and the loop that tries every actor on one endpoint.

The scene is one small district (``tests.factories.build_world``) seen from one resident, the
*subject* 张建国 (grandpa: clinic A1 under centre A, team A, hypertension). Every actor is
defined by how they stand to him:

    self   the subject's own WeChat account
    peer   周芳: another resident of the same centre and the same team, another household
    far    刘强 (bob): a resident of the sibling centre B
    fam    张丽 (alice): same household, holding an accepted family grant on the subject
    kin    张伟: same household, whose request to view the subject is still pending (no grant)
    doc    王医生 (a-doc): doctor and leader of the subject's team
    doc2   赵医生 (a-doc2): doctor of another team of the same centre A
    sib    陈医生 (b-doc): doctor of the sibling centre B
    iadm   centre A's institution admin (the subject's clinic A1 lies under A)
    oadm   centre B's institution admin
    dadm   the district admin
    anon   no token at all
    exp    an expired access token of the endpoint's first allowed actor
    rev    a token of the endpoint's first allowed actor whose session was logged out

Tokens are minted with the same service the login routes call (``issue_tokens``): a staff login
checks a scrypt hash (about 0.1–0.3 s each), which would dominate the suite's run time. The
revoked token goes through ``POST /auth/logout``.

Objects carry *markers*: distinctive values (the subject's name, ID number and its fragments,
phone, address; an appointment's note, a survey's title …). A denial's body must contain none.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from app.common.time import at_local, freeze, frozen, now
from app.extensions import db

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CST)  # a Tuesday morning (no holiday near)
TODAY = NOW.date()

ACTORS = ("self", "peer", "far", "fam", "kin", "doc", "doc2", "sib", "iadm", "oadm", "dadm", "anon", "exp", "rev")
TOKEN_STATES = ("anon", "exp", "rev")
RESIDENT_ACTORS = ("self", "peer", "far", "fam", "kin")
STAFF_ACTORS = {"doc": "a-doc", "doc2": "a-doc2", "sib": "b-doc", "iadm": "a-admin", "oadm": "b-admin", "dadm": "admin"}

SUBJECT_PHONE = "13957312468"
SUBJECT_ADDRESS = "环翠区锦华路99号隐私楼"
DENIAL_ERRORS = {401: {"anon": "unauthorized", "exp": "token_expired", "rev": "token_revoked"}}


# --- the scene ------------------------------------------------------------------------------------


@dataclass
class Scene:
    app: object
    client: object
    ids: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    markers: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def request(self, who: str | None, method: str, path: str, *, json_body=None, query=None, token=None):
        """``who``'s request (an actor key; ``anon`` or None: no token), or with an explicit ``token``."""
        token = token or (self.tokens.get(who) if who else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(path, method=method, json=json_body, query_string=query, headers=headers)

    def ok(self, who: str, method: str, path: str, json_body=None, query=None):
        """A setup call that must succeed; returns the JSON body."""
        r = self.request(who, method, path, json_body=json_body, query=query)
        assert r.status_code in (200, 201, 204), (who, method, path, r.status_code, r.get_json(silent=True))
        return r.get_json(silent=True)


def _account(resident_id: int, key: str) -> int:
    from app.accounts.models import WechatAccount

    account = WechatAccount(openid=f"matrix-{key}", resident_id=resident_id, bound_at=now(), last_login_at=now())
    db.session.add(account)
    db.session.flush()
    return account.id


def mint(kind: str, subject_id: int, *, expired: bool = False) -> str:
    """An access token as the login routes issue it (inside an app context; the caller commits)."""
    from flask_jwt_extended import create_access_token

    from app.accounts.models import Staff
    from app.accounts.services import _open_session, issue_tokens, staff_claims

    claims = staff_claims(db.session.get(Staff, subject_id)) if kind == "staff" else {"kind": "resident"}
    if not expired:
        return issue_tokens(kind, subject_id, claims)["access_token"]
    session = _open_session(kind, subject_id)
    return create_access_token(
        f"{kind}:{subject_id}", additional_claims={**claims, "sid": session.id}, expires_delta=timedelta(minutes=-5)
    )


def build_scene(app, client) -> Scene:
    """The district, the subject's household and neighbours, their accounts, tokens and grants."""
    from app.accounts.models import Staff
    from app.orgs.models import Institution, Team
    from app.residents.models import Household, Resident
    from tests.factories import build_world, resident, staff

    freeze(NOW)
    scene = Scene(app, client)
    with app.app_context():
        w = build_world()
        a, a1 = db.session.get(Institution, w.a), db.session.get(Institution, w.a1)
        home, team_a = db.session.get(Household, w.home), db.session.get(Team, w.team_a)
        husband = resident("张伟", a, date(1978, 4, 2), household=home, team_=team_a, relation_to_head="配偶")
        neighbour = resident("周芳", a, date(1985, 6, 3), sex="female", team_=team_a)
        subject = db.session.get(Resident, w.grandpa)
        subject.phone, subject.address = SUBJECT_PHONE, SUBJECT_ADDRESS
        pharmacist = staff("a1-pharm", a1, ["doctor"], "孙药师")
        scene.ids.update(w.ids)
        scene.ids.update(subject=w.grandpa, husband=husband.id, neighbour=neighbour.id, pharmacist=pharmacist.id)
        accounts = {"self": w.grandpa, "fam": w.alice, "kin": husband.id, "peer": neighbour.id, "far": w.bob}
        scene.ids["accounts"] = {key: _account(rid, key) for key, rid in accounts.items()}
        for key, account_id in scene.ids["accounts"].items():
            scene.tokens[key] = mint("wechat", account_id)
        for key, username in STAFF_ACTORS.items():
            person = db.session.scalar(select(Staff).where(Staff.username == username))
            scene.ids[f"staff:{key}"] = person.id
            scene.tokens[key] = mint("staff", person.id)
        number = w.numbers["grandpa"]
        scene.ids["subject_number"] = number
        scene.markers += [
            "张建国",
            number,
            number[6:14],
            number[-6:],
            SUBJECT_PHONE,
            SUBJECT_PHONE[-4:],
            SUBJECT_ADDRESS,
            subject.archive_no,
        ]
        db.session.commit()
    # alice asks to view her father's archive and he accepts; her husband's request stays pending
    scene.ids["grant_fam"] = request_grant(scene, "fam", "parent")
    scene.ok("self", "POST", f"/api/v1/me/family/requests/{scene.ids['grant_fam']}/accept")
    scene.ids["grant_kin"] = request_grant(scene, "kin", "other")
    return scene


def request_grant(scene: Scene, who: str, relation: str) -> int:
    body = scene.ok(
        who,
        "POST",
        "/api/v1/me/family",
        {"name": "张建国", "id_number": scene.ids["subject_number"], "relation": relation},
    )
    return body["grant_id"]


def token_for(scene: Scene, actor: str, *, expired: bool = False, revoked: bool = False) -> str:
    """A token of ``actor`` (a resident or staff key) that has expired, or whose session was logged out."""
    with scene.app.app_context():
        if actor in STAFF_ACTORS:
            token = mint("staff", scene.ids[f"staff:{actor}"], expired=expired)
        else:
            token = mint("wechat", scene.ids["accounts"][actor], expired=expired)
        db.session.commit()
    if revoked:
        r = scene.request(None, "POST", "/api/v1/auth/logout", token=token)
        assert r.status_code == 204, r.get_json(silent=True)
    return token


# --- objects --------------------------------------------------------------------------------------
# Each builder returns the path arguments (and markers) of a fresh object of its kind; ``n`` numbers
# the copies one endpoint needs (a new one for every allowed actor of a one-shot act).


def subject(scene: Scene, n: int) -> dict:
    return {"rid": scene.ids["subject"]}


def young_child(scene: Scene, n: int) -> dict:
    """A child of 100 days in the subject's household and team (the child checks' subject)."""
    from app.orgs.models import Institution, Team
    from app.residents.models import Household
    from tests.factories import resident

    with scene.app.app_context():
        child = resident(
            f"张小{'一二三四五六七八九十'[n % 10]}",
            db.session.get(Institution, scene.ids["a"]),
            TODAY - timedelta(days=100),
            household=db.session.get(Household, scene.ids["home"]),
            team_=db.session.get(Team, scene.ids["team_a"]),
            relation_to_head="孙子",
        )
        db.session.commit()
        return {"rid": child.id}


def young_woman(scene: Scene, n: int) -> dict:
    """A woman of 28 in the subject's household and team (a pregnancy's subject)."""
    from app.orgs.models import Institution, Team
    from app.residents.models import Household
    from tests.factories import resident

    with scene.app.app_context():
        woman = resident(
            f"王{'一二三四五六七八九十'[n % 10]}妹",
            db.session.get(Institution, scene.ids["a"]),
            TODAY.replace(year=TODAY.year - 28),
            sex="female",
            household=db.session.get(Household, scene.ids["home"]),
            team_=db.session.get(Team, scene.ids["team_a"]),
            relation_to_head="儿媳",
        )
        db.session.commit()
        return {"rid": woman.id}


def ongoing_pregnancy(scene: Scene, n: int) -> dict:
    """A pregnancy of 20 weeks, registered at 10 by the subject's doctor."""
    rid = young_woman(scene, n)["rid"]
    body = {
        "registered_on": (TODAY - timedelta(weeks=10)).isoformat(),
        "last_menstrual_on": (TODAY - timedelta(weeks=20)).isoformat(),
    }
    return {"pid": scene.ok("doc", "POST", f"/api/v1/residents/{rid}/pregnancies", body)["id"]}


def delivered_pregnancy(scene: Scene, n: int) -> dict:
    """A pregnancy delivered (a live birth) two days ago."""
    pid = ongoing_pregnancy(scene, n)["pid"]
    born = (TODAY - timedelta(days=2)).isoformat()
    body = {"delivered_on": born, "outcome": "live_birth", "babies": [{"sex": "male"}]}
    scene.ok("doc", "POST", f"/api/v1/pregnancies/{pid}/delivery", body)
    return {"pid": pid}


def followup_visit(scene: Scene, n: int) -> dict:
    medicine = "隐私标记缓释片"
    body = scene.ok(
        "doc",
        "POST",
        "/api/v1/followups",
        {
            "resident_id": scene.ids["subject"],
            "disease": "hypertension",
            "visit_on": TODAY.isoformat(),
            "method": "clinic",
            "sbp": 152,
            "dbp": 96,
            "medications": [{"name": medicine, "frequency": "每日1次", "dose": "5mg"}],
        },
    )
    return {"visit_id": body["visit"]["id"], "markers": [medicine]}


def basic_package(scene: Scene) -> dict:
    if "basic" not in scene.cache:
        scene.cache["basic"] = scene.ok(
            "dadm",
            "POST",
            "/api/v1/packages",
            {
                "code": "BASIC",
                "name": "基础服务包",
                "kind": "basic",
                "price": 0,
                "valid_from": "2020-01-01",
                "institution_ids": [scene.ids["district"]],
                "items": [{"name": "健康咨询", "service_type": "consultation", "times_per_year": 4}],
            },
        )
    return scene.cache["basic"]


def end_open_contracts(scene: Scene) -> None:
    """The team rejects or terminates whatever the subject has open, so that a new one can start."""
    while True:
        listed = scene.ok(
            "dadm", "GET", "/api/v1/contracts", query={"resident_id": scene.ids["subject"], "per_page": 100}
        )["items"]
        open_ = [c for c in listed if c["status"] in ("pending", "renewal_pending", "scheduled", "active")]
        if not open_:
            return
        c = open_[0]
        if c["status"] in ("pending", "renewal_pending"):
            scene.ok("doc", "POST", f"/api/v1/contracts/{c['id']}/reject", {"reason": "矩阵测试换新"})
        else:
            scene.ok("doc", "POST", f"/api/v1/contracts/{c['id']}/terminate", {"reason": "voluntary"})


def _contract(scene: Scene, *, sign: bool) -> dict:
    package = basic_package(scene)
    contract = scene.ok(
        "doc",
        "POST",
        "/api/v1/contracts",
        {
            "resident_ids": [scene.ids["subject"]],
            "team_id": scene.ids["team_a"],
            "package_ids": [package["id"]],
            "consent": True,
            "channel": "clinic",
        },
    )
    if sign:
        contract = scene.ok("doc", "POST", f"/api/v1/contracts/{contract['id']}/sign", {})
    return {"contract_id": contract["id"], "package_item_id": package["items"][0]["id"]}


def pending_contract(scene: Scene, n: int) -> dict:
    end_open_contracts(scene)
    return _contract(scene, sign=False)


def active_contract(scene: Scene, n: int) -> dict:
    end_open_contracts(scene)
    return _contract(scene, sign=True)


def renewable_contract(scene: Scene, n: int) -> dict:
    """Signed 300 days ago: its period ends in 65 days, inside the 90-day renewal window."""
    end_open_contracts(scene)
    with frozen(NOW - timedelta(days=300)):
        return _contract(scene, sign=True)


def _slot(scene: Scene, starts_at: datetime, note: str | None = None) -> int:
    body = {
        "team_id": scene.ids["team_a"],
        "service": "consultation",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=1)).isoformat(),
        "capacity": 5,
    }
    if note:
        body["note"] = note
    return scene.ok("doc", "POST", "/api/v1/slots", body)["id"]


APPOINTMENT_NOTE = "隐私标记预约备注"


def _booking(scene: Scene, slot_id: int) -> int:
    return scene.ok(
        "doc",
        "POST",
        "/api/v1/appointments",
        {"slot_id": slot_id, "resident_id": scene.ids["subject"], "note": APPOINTMENT_NOTE},
    )["id"]


def future_appointment(scene: Scene, n: int) -> dict:
    """A booking two days ahead (every cutoff far away), and another slot to move it to."""
    day = TODAY + timedelta(days=2 + 2 * n)
    booked = _booking(scene, _slot(scene, at_local(day, 9)))
    target = _slot(scene, at_local(day + timedelta(days=1), 9))
    return {"appointment_id": booked, "target_slot_id": target, "markers": [APPOINTMENT_NOTE]}


def started_appointment(scene: Scene, n: int) -> dict:
    """A booking made days ago for a slot that has started (today's, or ``n`` days back)."""
    day = TODAY - timedelta(days=n)
    with frozen(at_local(day - timedelta(days=3), 10)):
        booked = _booking(scene, _slot(scene, at_local(day, 8)))
    return {"appointment_id": booked, "markers": [APPOINTMENT_NOTE]}


SLOT_NOTE = "隐私标记门诊时段"


def slot(scene: Scene, n: int) -> dict:
    return {"slot_id": _slot(scene, at_local(TODAY + timedelta(days=2 + n), 14), SLOT_NOTE), "markers": [SLOT_NOTE]}


def team(scene: Scene, n: int) -> dict:
    return {"team_id": scene.ids["team_a"], "markers": ["鲸园一队"]}


def staff_member(scene: Scene, n: int) -> dict:
    return {"staff_id": scene.ids["pharmacist"], "markers": ["孙药师", "a1-pharm"]}


PACKAGE_NAME = "隐私标记鲸园套餐"


def package_body(scene: Scene) -> dict:
    return {
        "name": PACKAGE_NAME,
        "kind": "personalized",
        "populations": ["elderly"],
        "price": 50,
        "valid_from": "2020-01-01",
        "institution_ids": [scene.ids["a"]],
        "items": [{"name": "上门随访", "service_type": "home_visit", "times_per_year": 2}],
    }


def package(scene: Scene, n: int) -> dict:
    body = scene.ok("iadm", "POST", "/api/v1/packages", {**package_body(scene), "code": f"MX{n}"})
    return {"package_id": body["id"], "markers": [PACKAGE_NAME]}


def active_grant(scene: Scene, n: int) -> dict:
    """alice's accepted grant on the subject (asked afresh after a revocation)."""
    if n:
        scene.ids["grant_fam"] = request_grant(scene, "fam", "parent")
        scene.ok("self", "POST", f"/api/v1/me/family/requests/{scene.ids['grant_fam']}/accept")
    return {"grant_id": scene.ids["grant_fam"], "markers": ["张丽"]}


def pending_grant(scene: Scene, n: int) -> dict:
    """The husband's pending request (made afresh once staff confirmed the last one)."""
    if n:
        scene.ok("kin", "DELETE", f"/api/v1/me/family/{scene.ids['grant_kin']}")
        scene.ids["grant_kin"] = request_grant(scene, "kin", "other")
    return {"grant_id": scene.ids["grant_kin"], "markers": ["张伟"]}


REMINDER = ("隐私标记复诊提醒", "请于下周二上午来鲸园中心复查血压（隐私标记）")


def inbox_message(scene: Scene, n: int) -> dict:
    """A health reminder from the team, dispatched into the subject's in-app inbox."""
    from app.notify.dispatcher import drain

    scene.ok(
        "doc",
        "POST",
        f"/api/v1/residents/{scene.ids['subject']}/reminders",
        {"title": REMINDER[0], "body": REMINDER[1]},
    )
    with scene.app.app_context():
        drain()
    items = scene.ok("self", "GET", "/api/v1/me/messages")["items"]
    return {"message_id": next(m["id"] for m in items if m["title"] == REMINDER[0]), "markers": list(REMINDER)}


SURVEY_TITLE = "隐私标记高血压患者满意度"


def survey_body(scene: Scene) -> dict:
    from tests.surveys.helpers import QUESTIONS

    return {
        "title": SURVEY_TITLE,
        "kind": "satisfaction",
        "institution_id": scene.ids["a"],
        "populations": ["hypertension"],
        "opens_on": (TODAY - timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + timedelta(days=10)).isoformat(),
        "questions": QUESTIONS,
    }


def draft_survey(scene: Scene, n: int) -> dict:
    body = scene.ok("iadm", "POST", "/api/v1/surveys", survey_body(scene))
    return {"survey_id": body["id"], "markers": [SURVEY_TITLE]}


def published_survey(scene: Scene, n: int) -> dict:
    """Centre A's survey of its hypertension patients: of the residents, only the subject is invited."""
    from tests.surveys.helpers import sheet

    survey = scene.ok("iadm", "POST", f"/api/v1/surveys/{draft_survey(scene, n)['survey_id']}/publish")
    text_question = next(q["id"] for q in survey["questions"] if q["type"] == "text")
    return {
        "survey_id": survey["id"],
        "question_id": text_question,
        "answers": sheet(survey, q1=1, q2=[1], q3=5),
        "markers": [SURVEY_TITLE],
    }


def indicator(scene: Scene, n: int) -> dict:
    """The hypertension patients counted for clinic A1 (the subject among them)."""
    return {
        "key": "hypertension_managed",
        "query": {"institution_id": scene.ids["a1"]},
        "ghost": {"query": {"institution_id": GHOST_ID}},
    }


# --- one endpoint, every actor --------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """How to reach one route: which object it takes, and what each actor sends."""

    make: Callable[[Scene, int], dict]
    body: Callable[[Scene, dict, str], dict | None] | None = None
    fresh: bool = False  # a one-shot act: each allowed actor gets a new object

    def path(self, rule: str, obj: dict) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(obj[m.group(1)]), rule)


GHOST_ID = 987654321  # no row anywhere has this id


def ghost(rule: str, obj: dict) -> dict:
    """The same request for an object that does not exist (every id in the path, or the scoping query)."""
    if "ghost" in obj:
        return {**obj, **obj["ghost"]}
    return {**obj, **{name: GHOST_ID for name in re.findall(r"<int:(\w+)>", rule)}}


def fingerprint(app) -> dict:
    """Every table's rows, hashed: a denied request must leave all of them as they were.

    Except the rate-limit counters: counting a denied attempt against the caller's own
    budget is what they are for."""
    found = {}
    with app.app_context(), db.engine.connect() as connection:
        names = [table.name for table in db.metadata.sorted_tables if table.name != "rate_limit_counters"]
        cursor = connection.connection.cursor()  # plain DB-API: ~50 small tables, read after every denial
        if connection.dialect.name == "postgresql":  # one round trip: each table's rows as text, hashed
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT '{name}', count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                    f'FROM "{name}" r'
                    for name in names
                )
            )
            found = {name: (count, digest) for name, count, digest in cursor.fetchall()}
        else:
            for name in names:
                cursor.execute(f'SELECT * FROM "{name}"')
                rows = sorted(repr(tuple(row)) for row in cursor.fetchall())
                found[name] = (len(rows), hashlib.sha1("\n".join(rows).encode()).hexdigest())
        cursor.close()
        connection.rollback()
    return found


def leaked(body: str, markers) -> list[str]:
    """Markers found in a response body, raw or as JSON escapes."""
    found = []
    for marker in markers:
        escaped = json.dumps(marker)[1:-1]
        if marker in body or escaped in body:
            found.append(marker)
    return found


def is_allowed(status: int) -> bool:
    return 200 <= status < 300


def run_endpoint(scene: Scene, method: str, rule: str, spec: Endpoint, expected: dict) -> list[str]:
    """Try every actor on one endpoint; return the mismatches (denials first, allowed actors last)."""
    obj = spec.make(scene, 0)
    allowed = [a for a in ACTORS if is_allowed(expected[a])]
    basis = allowed[0] if allowed else "self"  # whose expired / revoked token is tried
    scene.tokens["exp"] = token_for(scene, basis, expired=True)
    scene.tokens["rev"] = token_for(scene, basis, revoked=True)
    markers = scene.markers + obj.get("markers", [])
    problems: list[str] = []
    before = fingerprint(scene.app)
    copies = 0
    for actor in [a for a in ACTORS if a not in allowed] + allowed:
        if is_allowed(expected[actor]) and spec.fresh and actor != allowed[0]:
            copies += 1
            obj = spec.make(scene, copies)
        body = spec.body(scene, obj, actor) if spec.body else None
        r = scene.request(actor, method, spec.path(rule, obj), json_body=body, query=obj.get("query"))
        text = r.get_data(as_text=True) if not r.mimetype.startswith(("image/", "application/vnd")) else ""
        want = expected[actor]
        if r.status_code != want:
            problems.append(f"{actor}: expected {want}, got {r.status_code} {text[:160]}")
        if is_allowed(want):
            continue
        if is_allowed(r.status_code):  # already reported; the object may have changed: look afresh
            before = fingerprint(scene.app)
            continue
        error = r.get_json(silent=True)
        if not isinstance(error, dict) or error.get("code") != r.status_code or "error" not in error:
            problems.append(f"{actor}: the denial is not the JSON error shape: {text[:160]}")
        elif (code := DENIAL_ERRORS.get(r.status_code, {}).get(actor)) and error["error"] != code:
            problems.append(f"{actor}: expected error {code!r}, got {error['error']!r}")
        if found := leaked(text, markers):
            problems.append(f"{actor}: the {r.status_code} body leaks {found}: {text[:160]}")
        if r.status_code == 404:  # out of scope must read exactly like "no such object"
            missing = scene.request(
                actor, method, spec.path(rule, ghost(rule, obj)), json_body=body, query=ghost(rule, obj).get("query")
            )
            if (missing.status_code, missing.get_json(silent=True)) != (404, error):
                problems.append(
                    f"{actor}: out of scope differs from a missing object: {text[:120]} vs "
                    f"{missing.status_code} {missing.get_data(as_text=True)[:120]}"
                )
        after = fingerprint(scene.app)
        if after != before:
            changed = sorted(t for t in after if after[t] != before[t])
            problems.append(f"{actor}: the denied request changed {changed}")
            before = after
    return problems


def subject_plan(scene: Scene, n: int) -> dict:
    """The subject's open hypertension plan (a worklist entry of his team), made by a visit."""
    from sqlalchemy import select

    from app.followups.models import FollowupPlan

    if "plan" not in scene.cache:
        followup_visit(scene, n)
        with scene.app.app_context():
            scene.cache["plan"] = db.session.scalar(
                select(FollowupPlan.id).where(
                    FollowupPlan.resident_id == scene.ids["subject"], FollowupPlan.status == "open"
                )
            )
    return {"plan_id": scene.cache["plan"]}


def pending_review(scene: Scene, n: int) -> dict:
    """A report "died" about a new elderly resident of the subject's household and team, waiting for review."""
    from app.followups.models import FollowupPlan
    from app.orgs.models import Institution, Team
    from app.residents.models import Household
    from tests.factories import resident

    note = "隐私标记家属告知去世"
    with scene.app.app_context():
        elder = resident(
            f"张老{'一二三四五六七八九十'[n % 10]}",
            db.session.get(Institution, scene.ids["a"]),
            TODAY.replace(year=TODAY.year - 80),
            household=db.session.get(Household, scene.ids["home"]),
            team_=db.session.get(Team, scene.ids["team_a"]),
            relation_to_head="父亲",
        )
        plan = FollowupPlan(
            resident_id=elder.id,
            disease="elderly_check",
            opens_on=TODAY - timedelta(days=60),
            due_on=TODAY - timedelta(days=5),
            status="open",
        )
        db.session.add(plan)
        db.session.commit()
        plan_id = plan.id
    body = {"method": "phone", "outcome": "died", "note": note}
    return {
        "contact_id": scene.ok("doc", "POST", f"/api/v1/worklist/{plan_id}/contacts", body)["id"],
        "markers": [note],
    }


def centre_import(scene: Scene, n: int) -> dict:
    """A finished import into the subject's centre, with a rejected row in its report."""
    from app.exchange.models import Import, ImportRejection

    marker = "隐私标记导入文件"
    with scene.app.app_context():
        job = Import(
            institution_id=scene.ids["a"],
            file_name=f"{marker}.xlsx",
            stored_path="/nowhere.xlsx",
            size=1,
            status="done",
        )
        db.session.add(job)
        db.session.flush()
        db.session.add(ImportRejection(import_id=job.id, sheet="居民基本信息", row=2, field="姓名", reason="required"))
        db.session.commit()
        return {"import_id": job.id, "markers": [marker]}


def issued_referral(scene: Scene, n: int) -> dict:
    """An up referral of the subject, issued today by his doctor."""
    reason = "隐私标记转诊原因"
    body = {
        "resident_id": scene.ids["subject"],
        "direction": "up",
        "to_hospital_name": "威海市立医院",
        "reason": reason,
    }
    return {"referral_id": scene.ok("doc", "POST", "/api/v1/referrals", body)["id"], "markers": [reason]}
