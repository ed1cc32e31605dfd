"""The access-control matrix (issue 10): every endpoint that takes an object id × every kind of caller.

Each cell is the status the caller must get (DESIGN.md §3, API.md and the features' issues):
2xx allowed; 404 outside the caller's scope (house rule: never 403 with data); 403 where the caller
is in scope — or not yet looked up — but their role may not do this (role decorators: staff only,
resident accounts only, institution admin …; the team's own acts: sign, reject, deliveries,
renewal by staff); 401 without a valid token. Actors are described in
``tests/access/matrix_helpers.py``; the object is always the subject 张建国's (or his team's).

For every denial the body must be the JSON error shape and carry none of the object's marker
values, and the database must be exactly as before (a fingerprint of every table). Denials run
first, allowed actors last (a one-shot act gets a fresh object per allowed actor).

A new route with a path parameter fails ``test_every_object_endpoint_is_in_the_matrix`` until it
gets a row here (or a reasoned entry in ``EXCLUDED``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.access import matrix_helpers as mx
from tests.access.matrix_helpers import ACTORS, TODAY, Endpoint

# Columns (tests/access/matrix_helpers.py): the resident themself, another resident of the same team, a
# resident of the sibling centre, a family member with a grant, one without (request pending) | doctor of
# the subject's team, of another team of the same centre, of the sibling centre; the centre's admin (the
# subject's clinic lies under it), the sibling centre's admin, the district admin | no token, an expired
# token, a revoked (logged-out) token.
MATRIX = """
method path under /api/v1                       self peer  far  fam  kin  doc doc2  sib iadm oadm dadm anon  exp  rev
GET    /residents/<int:rid>                      200  404  404  200  404  200  200  404  200  404  200  401  401  401
PATCH  /residents/<int:rid>                      403  403  403  403  403  200  200  404  200  404  200  401  401  401
GET    /residents/<int:rid>/archive              200  404  404  200  404  200  200  404  200  404  200  401  401  401
GET    /residents/<int:rid>/archive/access-log   200  404  404  200  404  200  200  404  200  404  200  401  401  401
GET    /residents/<int:rid>/archive/fhir         200  404  404  200  404  200  200  404  200  404  200  401  401  401
POST   /residents/<int:rid>/health-checks        403  403  403  403  403  201  201  404  403  403  201  401  401  401
POST   /residents/<int:rid>/service-records      403  403  403  403  403  201  201  404  403  403  201  401  401  401
POST   /residents/<int:rid>/conditions           403  403  403  403  403  201  201  404  403  403  201  401  401  401
POST   /residents/<int:rid>/child-checks         403  403  403  403  403  201  201  404  403  403  201  401  401  401
GET    /residents/<int:rid>/child-checks         200  404  404  200  404  200  200  404  200  404  200  401  401  401
POST   /residents/<int:rid>/pregnancies          403  403  403  403  403  201  201  404  403  403  201  401  401  401
GET    /residents/<int:rid>/pregnancies          200  404  404  200  404  200  200  404  200  404  200  401  401  401
POST   /pregnancies/<int:pid>/antenatal-visits   403  403  403  403  403  201  201  404  403  403  201  401  401  401
POST   /pregnancies/<int:pid>/delivery           403  403  403  403  403  200  200  404  403  403  200  401  401  401
POST   /pregnancies/<int:pid>/postpartum-visits  403  403  403  403  403  201  201  404  403  403  201  401  401  401
POST   /residents/<int:rid>/reminders            403  403  403  403  403  201  201  404  201  404  201  401  401  401
GET    /residents/<int:rid>/followups            200  404  404  200  404  200  200  404  200  404  200  401  401  401
POST   /worklist/<int:plan_id>/contacts          403  403  403  403  403  201  404  404  201  404  201  401  401  401
GET    /residents/<int:rid>/contacts             403  403  403  403  403  200  200  404  200  404  200  401  401  401
POST   /contact-reviews/<int:contact_id>/confirm 403  403  403  403  403  403  403  403  200  404  200  401  401  401
POST   /contact-reviews/<int:contact_id>/dismiss 403  403  403  403  403  403  403  403  200  404  200  401  401  401
POST   /referrals/<int:referral_id>/receive      403  403  403  403  403  200  404  404  200  404  200  401  401  401
POST   /referrals/<int:referral_id>/return       403  403  403  403  403  200  404  404  200  404  200  401  401  401
POST   /referrals/<int:referral_id>/cancel       403  403  403  403  403  200  404  404  200  404  200  401  401  401
GET    /residents/<int:rid>/referrals            200  404  404  200  404  200  200  404  200  404  200  401  401  401
GET    /followups/<int:visit_id>                 200  404  404  200  404  200  200  404  200  404  200  401  401  401
GET    /contracts/<int:contract_id>              200  404  404  200  404  200  404  404  200  404  200  401  401  401
GET    /contracts/<int:contract_id>/deliveries   200  404  404  200  404  200  404  404  200  404  200  401  401  401
POST   /contracts/<int:contract_id>/deliveries   403  403  403  403  403  201  404  404  403  404  403  401  401  401
POST   /contracts/<int:contract_id>/sign         403  403  403  403  403  200  404  404  403  404  403  401  401  401
POST   /contracts/<int:contract_id>/reject       403  403  403  403  403  200  404  404  403  404  403  401  401  401
POST   /contracts/<int:contract_id>/terminate    200  404  404  200  404  200  404  404  200  404  200  401  401  401
POST   /contracts/<int:contract_id>/renew        201  404  404  201  404  201  404  404  403  404  403  401  401  401
GET    /appointments/<int:appointment_id>        200  404  404  200  404  200  404  404  200  404  200  401  401  401
POST   /appointments/<int:appointment_id>/cancel
                                                 200  404  404  200  404  200  404  404  200  404  200  401  401  401
POST   /appointments/<int:appointment_id>/reschedule
                                                 201  404  404  201  404  201  404  404  201  404  201  401  401  401
POST   /appointments/<int:appointment_id>/check-in
                                                 403  403  403  403  403  200  404  404  200  404  200  401  401  401
POST   /appointments/<int:appointment_id>/no-show
                                                 403  403  403  403  403  200  404  404  200  404  200  401  401  401
GET    /slots/<int:slot_id>                      200  200  404  200  200  200  200  404  200  404  200  401  401  401
DELETE /slots/<int:slot_id>                      403  403  403  403  403  204  404  404  204  404  204  401  401  401
POST   /slots/<int:slot_id>/cancel               403  403  403  403  403  200  404  404  200  404  200  401  401  401
GET    /teams/<int:team_id>                      403  403  403  403  403  200  200  404  200  404  200  401  401  401
GET    /teams/<int:team_id>/day                  403  403  403  403  403  200  404  404  200  404  200  401  401  401
GET    /teams/<int:team_id>/no-shows             403  403  403  403  403  200  404  404  200  404  200  401  401  401
PATCH  /staff/<int:staff_id>                     403  403  403  403  403  403  403  403  200  404  200  401  401  401
GET    /packages/<int:package_id>                200  200  200  200  200  200  200  200  200  200  200  401  401  401
PUT    /packages/<int:package_id>                403  403  403  403  403  403  403  403  200  404  200  401  401  401
DELETE /me/family/<int:grant_id>                 204  404  404  204  404  403  403  403  403  403  403  401  401  401
POST   /me/family/requests/<int:grant_id>/accept
                                                 200  404  404  404  404  403  403  403  403  403  403  401  401  401
POST   /family-grants/<int:grant_id>/confirm     403  403  403  403  403  200  200  404  200  404  200  401  401  401
POST   /me/messages/<int:message_id>/read        200  404  404  404  404  404  404  404  404  404  404  401  401  401
GET    /surveys/<int:survey_id>                  200  404  404  200  404  200  200  404  200  404  200  401  401  401
PUT    /surveys/<int:survey_id>                  403  403  403  403  403  403  403  403  200  404  200  401  401  401
DELETE /surveys/<int:survey_id>                  403  403  403  403  403  403  403  403  204  404  204  401  401  401
POST   /surveys/<int:survey_id>/publish          403  403  403  403  403  403  403  403  200  404  200  401  401  401
POST   /surveys/<int:survey_id>/responses        201  404  404  201  404  403  403  403  403  403  403  401  401  401
GET    /surveys/<int:survey_id>/results          403  403  403  403  403  403  403  403  200  404  200  401  401  401
GET    /surveys/<int:survey_id>/results.xlsx     403  403  403  403  403  403  403  403  200  404  200  401  401  401
GET    /surveys/<int:survey_id>/questions/<int:question_id>/answers
                                                 403  403  403  403  403  403  403  403  200  404  200  401  401  401
GET    /indicators/<key>/residents               403  403  403  403  403  200  200  404  200  404  200  401  401  401
GET    /imports/<int:import_id>                  403  403  403  403  403  403  403  403  200  404  200  401  401  401
GET    /imports/<int:import_id>/report.xlsx      403  403  403  403  403  403  403  403  200  404  200  401  401  401
"""

# Routes with a path parameter that are deliberately not in the matrix.
EXCLUDED = {
    ("GET", "/static/<path:filename>"): "Flask's static folder: files of the app, no object and no personal data",
    ("GET", "/api/docs/assets/<path:filename>"): "Swagger UI's bundled assets (public, offline copy), no object",
}


def _parse(table: str) -> dict:
    """{(method, full path): {actor: status}}; a path too long for its column has its cells on the next line."""
    header, *lines = table.strip("\n").splitlines()
    assert header.split()[4:] == list(ACTORS), "the columns must be the actors, in order"
    rows, pending = {}, None
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            pending = tuple(parts)
            continue
        (method, path), cells = (pending, parts) if pending else ((parts[0], parts[1]), parts[2:])
        pending = None
        key = (method, "/api/v1" + path)
        assert len(cells) == len(ACTORS), f"{key}: {len(cells)} cells for {len(ACTORS)} actors"
        assert key not in rows, f"{key} twice"
        rows[key] = dict(zip(ACTORS, map(int, cells)))
    return rows


EXPECTED = _parse(MATRIX)


# --- what each endpoint takes and what each actor sends ---------------------------------------------


def _const(body):
    return lambda scene, obj, actor: body


def _disease(scene, obj, actor):
    # an active registration of the same disease is a 409: each allowed actor registers another
    return {"disease": {"doc": "coronary", "doc2": "stroke"}.get(actor, "copd"), "diagnosed_on": "2025-06-01"}


def _answers(scene, obj, actor):
    # every account but the subject's tries it for him (the proxy path); the subject answers for himself
    body = {"answers": obj["answers"]}
    return body if actor == "self" else {**body, "on_behalf_of": scene.ids["subject"]}


YESTERDAY = (TODAY - timedelta(days=1)).isoformat()

SPECS = {
    ("GET", "/api/v1/residents/<int:rid>"): Endpoint(mx.subject),
    ("PATCH", "/api/v1/residents/<int:rid>"): Endpoint(mx.subject, _const({"occupation": "退休工人"})),
    ("GET", "/api/v1/residents/<int:rid>/archive"): Endpoint(mx.subject),
    ("GET", "/api/v1/residents/<int:rid>/archive/access-log"): Endpoint(mx.subject),
    ("GET", "/api/v1/residents/<int:rid>/archive/fhir"): Endpoint(mx.subject),
    ("POST", "/api/v1/residents/<int:rid>/health-checks"): Endpoint(
        mx.subject, _const({"checked_on": YESTERDAY, "sbp": 138, "dbp": 86})
    ),
    ("POST", "/api/v1/residents/<int:rid>/service-records"): Endpoint(
        mx.subject, _const({"kind": "consultation", "served_on": YESTERDAY, "summary": "血压咨询"})
    ),
    ("POST", "/api/v1/residents/<int:rid>/conditions"): Endpoint(mx.subject, _disease),
    # a child of the subject's household and team (the subject is 75): the check is one-shot per kind
    ("POST", "/api/v1/residents/<int:rid>/child-checks"): Endpoint(
        mx.young_child, _const({"checked_on": YESTERDAY, "weight_kg": 6.1}), fresh=True
    ),
    ("GET", "/api/v1/residents/<int:rid>/child-checks"): Endpoint(mx.subject),
    # a woman of the subject's household and team: a second ongoing pregnancy is a 409, a delivery and
    # each postpartum visit one-shot
    ("POST", "/api/v1/residents/<int:rid>/pregnancies"): Endpoint(
        mx.young_woman,
        _const({"registered_on": YESTERDAY, "last_menstrual_on": (TODAY - timedelta(weeks=9)).isoformat()}),
        fresh=True,
    ),
    ("GET", "/api/v1/residents/<int:rid>/pregnancies"): Endpoint(mx.subject),
    ("POST", "/api/v1/pregnancies/<int:pid>/antenatal-visits"): Endpoint(
        mx.ongoing_pregnancy, _const({"visit_on": YESTERDAY, "sbp": 112, "dbp": 72})
    ),
    ("POST", "/api/v1/pregnancies/<int:pid>/delivery"): Endpoint(
        mx.ongoing_pregnancy,
        _const({"delivered_on": YESTERDAY, "outcome": "live_birth", "babies": [{"sex": "female"}]}),
        fresh=True,
    ),
    ("POST", "/api/v1/pregnancies/<int:pid>/postpartum-visits"): Endpoint(
        mx.delivered_pregnancy, _const({"visit_on": YESTERDAY, "kind": "home_visit"}), fresh=True
    ),
    ("POST", "/api/v1/residents/<int:rid>/reminders"): Endpoint(
        mx.subject, _const({"title": "复查提醒", "body": "请按时复查血压"})
    ),
    ("GET", "/api/v1/residents/<int:rid>/followups"): Endpoint(mx.subject),
    ("POST", "/api/v1/worklist/<int:plan_id>/contacts"): Endpoint(
        mx.subject_plan, _const({"method": "phone", "outcome": "agreed"})
    ),
    ("GET", "/api/v1/residents/<int:rid>/contacts"): Endpoint(mx.subject),
    ("POST", "/api/v1/contact-reviews/<int:contact_id>/confirm"): Endpoint(mx.pending_review, _const({}), fresh=True),
    ("POST", "/api/v1/contact-reviews/<int:contact_id>/dismiss"): Endpoint(
        mx.pending_review, _const({"note": "本人仍在辖区"}), fresh=True
    ),
    ("POST", "/api/v1/referrals/<int:referral_id>/receive"): Endpoint(mx.issued_referral, _const({}), fresh=True),
    ("POST", "/api/v1/referrals/<int:referral_id>/return"): Endpoint(
        mx.issued_referral, _const({"returned_on": TODAY.isoformat(), "summary": "已诊治"}), fresh=True
    ),
    ("POST", "/api/v1/referrals/<int:referral_id>/cancel"): Endpoint(
        mx.issued_referral, _const({"reason": "患者拒绝"}), fresh=True
    ),
    ("GET", "/api/v1/residents/<int:rid>/referrals"): Endpoint(mx.subject),
    ("GET", "/api/v1/followups/<int:visit_id>"): Endpoint(mx.followup_visit),
    ("GET", "/api/v1/contracts/<int:contract_id>"): Endpoint(mx.active_contract),
    ("GET", "/api/v1/contracts/<int:contract_id>/deliveries"): Endpoint(mx.active_contract),
    ("POST", "/api/v1/contracts/<int:contract_id>/deliveries"): Endpoint(
        mx.active_contract,
        lambda scene, obj, actor: {"package_item_id": obj["package_item_id"], "delivered_on": TODAY.isoformat()},
    ),
    ("POST", "/api/v1/contracts/<int:contract_id>/sign"): Endpoint(mx.pending_contract, _const({}), fresh=True),
    ("POST", "/api/v1/contracts/<int:contract_id>/reject"): Endpoint(
        mx.pending_contract, _const({"reason": "不在服务范围"}), fresh=True
    ),
    ("POST", "/api/v1/contracts/<int:contract_id>/terminate"): Endpoint(
        mx.active_contract, _const({"reason": "voluntary"}), fresh=True
    ),
    ("POST", "/api/v1/contracts/<int:contract_id>/renew"): Endpoint(
        mx.renewable_contract, _const({"consent": True}), fresh=True
    ),
    ("GET", "/api/v1/appointments/<int:appointment_id>"): Endpoint(mx.future_appointment),
    ("POST", "/api/v1/appointments/<int:appointment_id>/cancel"): Endpoint(
        mx.future_appointment, _const({}), fresh=True
    ),
    ("POST", "/api/v1/appointments/<int:appointment_id>/reschedule"): Endpoint(
        mx.future_appointment, lambda scene, obj, actor: {"slot_id": obj["target_slot_id"]}, fresh=True
    ),
    ("POST", "/api/v1/appointments/<int:appointment_id>/check-in"): Endpoint(mx.started_appointment, fresh=True),
    ("POST", "/api/v1/appointments/<int:appointment_id>/no-show"): Endpoint(mx.started_appointment, fresh=True),
    ("GET", "/api/v1/slots/<int:slot_id>"): Endpoint(mx.slot),
    ("DELETE", "/api/v1/slots/<int:slot_id>"): Endpoint(mx.slot, fresh=True),
    ("POST", "/api/v1/slots/<int:slot_id>/cancel"): Endpoint(mx.slot, _const({"reason": "医生外出"}), fresh=True),
    ("GET", "/api/v1/teams/<int:team_id>"): Endpoint(mx.team),
    ("GET", "/api/v1/teams/<int:team_id>/day"): Endpoint(mx.team),
    ("GET", "/api/v1/teams/<int:team_id>/no-shows"): Endpoint(mx.team),
    ("PATCH", "/api/v1/staff/<int:staff_id>"): Endpoint(mx.staff_member, _const({"name": "孙药师"})),
    ("GET", "/api/v1/packages/<int:package_id>"): Endpoint(mx.package),
    ("PUT", "/api/v1/packages/<int:package_id>"): Endpoint(
        mx.package, lambda scene, obj, actor: mx.package_body(scene)
    ),
    ("DELETE", "/api/v1/me/family/<int:grant_id>"): Endpoint(mx.active_grant, fresh=True),
    ("POST", "/api/v1/me/family/requests/<int:grant_id>/accept"): Endpoint(mx.pending_grant, fresh=True),
    ("POST", "/api/v1/family-grants/<int:grant_id>/confirm"): Endpoint(
        mx.pending_grant, _const({"note": "查验户口簿"}), fresh=True
    ),
    ("POST", "/api/v1/me/messages/<int:message_id>/read"): Endpoint(mx.inbox_message),
    ("GET", "/api/v1/surveys/<int:survey_id>"): Endpoint(mx.published_survey),
    ("PUT", "/api/v1/surveys/<int:survey_id>"): Endpoint(
        mx.draft_survey, lambda scene, obj, actor: mx.survey_body(scene)
    ),
    ("DELETE", "/api/v1/surveys/<int:survey_id>"): Endpoint(mx.draft_survey, fresh=True),
    ("POST", "/api/v1/surveys/<int:survey_id>/publish"): Endpoint(mx.draft_survey, fresh=True),
    ("POST", "/api/v1/surveys/<int:survey_id>/responses"): Endpoint(mx.published_survey, _answers, fresh=True),
    ("GET", "/api/v1/surveys/<int:survey_id>/results"): Endpoint(mx.published_survey),
    ("GET", "/api/v1/surveys/<int:survey_id>/results.xlsx"): Endpoint(mx.published_survey),
    ("GET", "/api/v1/surveys/<int:survey_id>/questions/<int:question_id>/answers"): Endpoint(mx.published_survey),
    ("GET", "/api/v1/indicators/<key>/residents"): Endpoint(mx.indicator),
    ("GET", "/api/v1/imports/<int:import_id>"): Endpoint(mx.centre_import),
    ("GET", "/api/v1/imports/<int:import_id>/report.xlsx"): Endpoint(mx.centre_import),
}


def _object_routes(app) -> set:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.arguments
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    }


# --- the tests ---------------------------------------------------------------------------------------


def test_every_object_endpoint_is_in_the_matrix(app):
    routes = _object_routes(app)
    missing = sorted(routes - set(EXPECTED) - set(EXCLUDED))
    assert not missing, f"endpoints with an object id but no row in the access matrix: {missing}"
    stale = sorted((set(EXPECTED) | set(EXCLUDED)) - routes)
    assert not stale, f"matrix rows for routes that no longer exist: {stale}"
    assert set(SPECS) == set(EXPECTED), sorted(set(SPECS) ^ set(EXPECTED))


def test_the_table_is_complete_and_plausible():
    """Every cell is a status the house rules allow; every route lets somebody in and keeps tokens out."""
    for key, row in EXPECTED.items():
        assert set(row.values()) <= {200, 201, 204, 401, 403, 404}, key
        assert [row[a] for a in mx.TOKEN_STATES] == [401, 401, 401], key
        assert any(mx.is_allowed(s) for s in row.values()), key


@pytest.mark.parametrize("key", sorted(EXPECTED), ids=lambda key: f"{key[0]} {key[1]}")
def test_access_matrix(app, client, wechat_sandbox, key):
    method, rule = key
    scene = mx.build_scene(app, client)
    problems = mx.run_endpoint(scene, method, rule, SPECS[key], EXPECTED[key])
    assert not problems, f"{method} {rule}:\n  " + "\n  ".join(problems)
