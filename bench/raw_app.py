"""Hand-written raw-SQL baseline for two endpoints of the family-doctor API, same data, same checks.

    gunicorn --workers 2 --bind 127.0.0.1:PORT raw_app:app          (cwd bench; DATABASE_URL set)

``bench/http_api.py`` serves it next to the API, checks its answers equal the API's (``raw_equality.py``)
and reports each hot read as a ratio to it. It started as the reference baseline kept beside the
project (2026-12-01) and follows the product since: the ID mask is the product's (the area code
only, ``app.common.ids.mask_id_number``) and the client address is the socket peer, as the product
logs it without a trusted proxy.

Endpoints (JSON identical to the product's, see equality.py):

    GET /raw/pg/residents/<rid>/archive    the archive; the whole body built by PostgreSQL json functions
    GET /raw/py/residents/<rid>/archive    the archive; plain rows, the body built by Python dicts + json
    GET /raw/pg/followups/worklist         the worklist; body built by PostgreSQL
    GET /raw/py/followups/worklist         the worklist; body built by Python
    GET /raw/ping                           the framework + the JWT check, no database (diagnostics)

Per request, like the product: verify the bearer JWT (PyJWT, HS256, the product's JWT_SECRET_KEY, exp/nbf/iat,
``type == "access"``), check in SQL that the token's session (``sid``) exists and is not revoked and that the staff
member (``sub`` = ``staff:<id>``) exists and is active, check the resident is in the caller's institution subtree
(district admins: all), decrypt and mask the ID number (Fernet, the product's ID_NUMBER_KEY derivation), and write
the access-log row(s) (archive: one row; worklist: one per resident on the page) and commit.

Database work: one psycopg 3 connection per worker (autocommit, prepared statements from the first execution).
- archive, pg: ONE statement (auth + scope + access-log INSERT in a data-modifying CTE + the JSON), 1 round trip.
- archive, py: 2 round trips: auth + scope + the resident row; then one pipeline of 10 statements (11 with the
  elderly's three-year comparison: conditions, the health-check, service-record and child-check pages, open plans,
  visits page with its window counts, contract summary, the latest contact attempts, the referrals, access-log
  INSERT).
- worklist, pg / py: 2 round trips: auth (staff, institution path, team ids); then ONE statement (the product's
  page query — snoozed plans hidden until their day — + access-log INSERT in a CTE + JSON (pg) or rows (py)).
Only the staff path is implemented (a WeChat/resident token answers 403); query arguments: the pages, per_page and
purpose (archive), page and per_page (worklist); anything else is refused with 400 rather than ignored.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import jwt
import psycopg
import raw_maternal  # beside this file: gunicorn runs the baseline from bench/
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, Response, request

JWT_SECRET = os.environ.get("JWT_SECRET_KEY") or "dev-only-jwt-secret-change-me-0123456789"
ID_KEY = os.environ.get("ID_NUMBER_KEY") or "dev-only-id-number-key-change-me"
ID_OLD_KEYS = [k for k in (os.environ.get("ID_NUMBER_OLD_KEYS") or "").split(",") if k]
TZ = ZoneInfo(os.environ.get("TZ_NAME") or "Asia/Shanghai")
DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/perf_s1").replace(
    "postgresql+psycopg://", "postgresql://"
)
UTC = UTC


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"family-doctor/id-number", info=purpose).derive(
        secret.encode()
    )


_FERNET = MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(k, b"encrypt"))) for k in [ID_KEY, *ID_OLD_KEYS]])


def masked_id_number(token: str | None) -> str | None:
    if token is None:  # a newborn's archive before the household registration gave the number
        return None
    try:
        value = _FERNET.decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("cannot decrypt: ID_NUMBER_KEY does not match the data") from None
    if not value:
        return value
    keep = 6 if len(value) >= 15 else 0  # the product's rule: the area code, nothing else
    return value[:keep] + "*" * (len(value) - keep)


def mask_phone(value):
    if not value or len(value) < 7:
        return value
    return value[:3] + "****" + value[-4:]


def age_on(birth_on: date, day: date) -> int:
    return day.year - birth_on.year - ((day.month, day.day) < (birth_on.month, birth_on.day))


def today() -> date:
    return datetime.now(UTC).astimezone(TZ).date()


# --- the connection ---------------------------------------------------------------------------------------------

_conn: psycopg.Connection | None = None


def _connect() -> psycopg.Connection:
    # Generic plans for the prepared statements: PostgreSQL's "auto" choice kept re-planning the archive statement
    # (custom plans, ~2 ms of planning each); the worklist page query goes unprepared with its values inlined
    # (worklist_cursor) and so is planned for its actual values every time, as the product's is.
    options = "-c TimeZone=UTC -c plan_cache_mode=" + (os.environ.get("RAW_PLAN_CACHE_MODE") or "force_generic_plan")
    conn = psycopg.connect(DSN, autocommit=True, options=options)
    conn.prepare_threshold = 0  # prepare every statement on its first execution
    return conn


def conn() -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed or _conn.broken:
        _conn = _connect()
    return _conn


def worklist_cursor() -> psycopg.ClientCursor:
    """Client-side (literal, properly quoted) parameters, unprepared: the page query is planned for this team."""
    return psycopg.ClientCursor(conn())


# --- answers ----------------------------------------------------------------------------------------------------

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def ok(text: str) -> Response:
    response = Response(text, mimetype="application/json")
    response.headers.update(_HEADERS)
    return response


def error(status: int, code: str, message: str) -> Response:
    response = Response(
        json.dumps({"code": status, "error": code, "message": message}) + "\n",
        status=status,
        mimetype="application/json",
    )
    response.headers.update(_HEADERS)
    return response


class Refused(Exception):
    def __init__(self, response: Response):
        self.response = response


def bearer() -> tuple[int, str]:
    """(staff id, session id) from a valid access token, else Refused(401/403)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Refused(error(401, "unauthorized", "missing access token"))
    try:
        claims = jwt.decode(header[7:], JWT_SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Refused(error(401, "token_expired", "the token has expired, refresh it")) from None
    except jwt.PyJWTError:
        raise Refused(error(401, "token_invalid", "the token is invalid")) from None
    if claims.get("type") != "access" or not claims.get("sid"):
        raise Refused(error(401, "token_invalid", "the token is invalid"))
    kind, _, raw_id = str(claims["sub"]).partition(":")
    if kind != "staff" or not raw_id.isdigit():
        raise Refused(error(403, "forbidden", "this baseline serves staff tokens only"))
    return int(raw_id), claims["sid"]


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Refused(error(422, "validation_error", f"{name}: not a valid integer")) from None
    if not lo <= value <= hi:
        raise Refused(error(422, "validation_error", f"{name}: out of range"))
    return value


def only_args(*allowed: str) -> None:
    extra = set(request.args) - set(allowed)
    if extra:
        raise Refused(error(400, "bad_request", "not supported by this baseline: " + ", ".join(sorted(extra))))


STAFF_PURPOSES = ("care", "follow_up", "contract_review", "statistics", "export", "registration", "administration")

app = Flask(__name__)


@app.errorhandler(Refused)
def _refused(err: Refused):
    return err.response


@app.get("/raw/ping")
def ping():
    bearer()
    return ok('{"ok":true}\n')


# =================================================================================================================
# The archive, built by PostgreSQL: one statement
# =================================================================================================================

_SCOPE = (
    "(a.admin OR EXISTS (SELECT 1 FROM institutions ri WHERE ri.id = r.institution_id AND ri.path LIKE a.path || '%%'))"
)
_AGE = "(%(y)s - extract(year FROM {b})::int - ((%(m)s, %(d)s) < (extract(month FROM {b})::int, extract(day FROM {b})::int))::int)"
_PHONE = "CASE WHEN {p} IS NULL OR length({p}) < 7 THEN {p} ELSE left({p}, 3) || '****' || right({p}, 4) END"
_WINDOW = (
    "CASE WHEN {t}.due_on < %(today)s THEN 'overdue' WHEN {t}.opens_on <= %(today)s THEN 'due' ELSE 'upcoming' END"
)
# the child checks' names (the product's app/archive/child_schedule.py), by kind
_CHILD_LABELS = {
    "newborn_visit": "新生儿家庭访视",
    "month_1": "满月健康检查",
    "month_3": "3月龄健康检查",
    "month_6": "6月龄健康检查",
    "month_8": "8月龄健康检查",
    "month_12": "12月龄健康检查",
    "month_18": "18月龄健康检查",
    "month_24": "24月龄健康检查",
    "month_30": "30月龄健康检查",
    "month_36": "36月龄健康检查",
    "year_4": "4岁健康检查",
    "year_5": "5岁健康检查",
    "year_6": "6岁健康检查",
}
_CHILD_LABEL_SQL = "CASE x.kind " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _CHILD_LABELS.items()) + " END"
_NAMED = """LEFT JOIN institutions i ON i.id = {t}.institution_id LEFT JOIN staff s ON s.id = {t}.recorded_by_id"""
_F2F = (
    "{t}.method IN ('clinic', 'home') AND {t}.visit_on >= %(year_start)s AND {t}.visit_on <= %(year_end)s "
    "AND {t}.{d} IS TRUE"
)

# The contact attempts about the resident's worklist entries and the resident's referrals (the product's
# app/followups/contacts.py contacts_of and app/referrals/reads.py referrals_of): the latest per_page, newest
# first (by id; ix_contact_attempts_resident / ix_referrals_resident find the resident's rows). The pg statement
# wraps them in its LATERALs (rid = r.id), the py variant runs them as they are (rid = a parameter).
# The page is cut first, then only its rows are joined to the names (by primary key).
CONTACTS = """SELECT x.id, x.contacted_on, x.method, x.outcome, x.call_back_on, x.note, x.plan_id, x.resident_id,
       x.programme, x.due_on, s.name AS contacted_by, x.review_status, x.review_note, x.effective_on
FROM (SELECT * FROM contact_attempts WHERE resident_id = {rid} ORDER BY id DESC LIMIT %(per_page)s) x
JOIN staff s ON s.id = x.contacted_by_id ORDER BY x.id DESC"""
# destination: the named outside hospital, else the institution of the tree (Python's ``or``: '' falls through)
REFERRALS = """SELECT x.id, x.resident_id, x.team_id, x.direction, x.to_institution_id, x.to_hospital_name,
       coalesce(nullif(x.to_hospital_name, ''), i.name) AS destination, x.reason, x.urgency, x.source_visit_id,
       x.status, x.issued_on, x.received_on, x.returned_on, x.summary, x.advice, x.cancelled_on, x.cancel_reason,
       x.back_on, x.followed_up_on
FROM (SELECT * FROM referrals WHERE resident_id = {rid} ORDER BY id DESC LIMIT %(per_page)s) x
LEFT JOIN institutions i ON i.id = x.to_institution_id ORDER BY x.id DESC"""
RETURN_FOLLOWUP_DAYS = 14  # a return's follow-up is owed within two weeks (app.referrals.models)

ARCHIVE_PG = f"""
WITH actor AS (
  SELECT s.id, s.name, s.institution_id, i.path, (s.roles ? 'district_admin') AS admin
  FROM auth_sessions se JOIN staff s ON s.id = %(staff)s JOIN institutions i ON i.id = s.institution_id
  WHERE se.id = %(sid)s AND se.revoked_at IS NULL AND s.active
), res AS (
  SELECT r.* FROM residents r, actor a WHERE r.id = %(rid)s AND {_SCOPE}
), logged AS (
  INSERT INTO access_log (at, actor_kind, actor_id, actor_display, institution_id, subject_resident_id, action,
                          section, purpose, client_ip)
  SELECT now(), 'staff', a.id, a.name, a.institution_id, r.id, 'read', 'archive', %(purpose)s, %(ip)s
  FROM actor a, res r
  RETURNING id
)
SELECT a.id, r.id_number_enc,
  CASE WHEN r.id IS NOT NULL THEN json_build_object(
    'basic_info', json_build_object(
      'id', r.id, 'archive_no', r.archive_no, 'name', r.name, 'id_number', NULL, 'sex', r.sex, 'birth_on', r.birth_on,
      'age', ag.age, 'phone', {_PHONE.format(p="r.phone")}, 'address', r.address, 'household_id', r.household_id,
      'relation_to_head', r.relation_to_head, 'residency_type', r.residency_type, 'institution_id', r.institution_id,
      'team_id', r.team_id, 'status', r.status, 'ethnicity', r.ethnicity, 'marital_status', r.marital_status,
      'education', r.education, 'occupation', r.occupation, 'blood_type', r.blood_type,
      'payment_methods', r.payment_methods, 'allergies', r.allergies, 'exposures', r.exposures,
      'past_history', r.past_history, 'family_history', r.family_history, 'disabilities', r.disabilities,
      'living_environment', r.living_environment, 'disabled_certified', r.disabled_certified,
      'poverty_alleviated', r.poverty_alleviated, 'special_family', r.special_family,
      'pregnancy_due_on', r.pregnancy_due_on, 'populations', pop.populations, 'conditions', cd.active_json),
    'populations', pop.populations,
    'conditions', cd.all_json,
    'health_checks', json_build_object('items', hc.items, 'page', %(hc_page)s, 'per_page', %(per_page)s,
                                       'total', hc.total, 'comparison', cmp.rows),
    'pregnancies', CASE WHEN r.sex = 'female' AND ag.age >= 10 AND ag.age < 60 THEN '[]'::json END,
    'child_checks', CASE WHEN ag.age <= 6 OR cc.total > 0 THEN
      json_build_object('items', cc.items, 'page', 1, 'per_page', %(per_page)s, 'total', cc.total) END,
    'followups', json_build_object(
      'resident_id', r.id, 'managed_diseases', pop.managed, 'open_plan', pl.first_json, 'open_plans', pl.all_json,
      'visits', json_build_object('items', vp.items, 'page', 1, 'per_page', %(per_page)s, 'total', vp.total),
      'trend', tr.points,
      'face_to_face_this_year', json_build_object('hypertension', vp.n_hypertension, 't2dm', vp.n_t2dm)),
    'contacts', ca.items,
    'referrals', rf.items,
    'service_records', json_build_object('items', sr.items, 'page', %(sr_page)s, 'per_page', %(per_page)s,
                                         'total', sr.total),
    'contract', ct.summary
  )::text END AS body,
  CASE WHEN r.sex = 'female' AND ag.age >= 10 AND ag.age < 60
       THEN EXISTS (SELECT 1 FROM pregnancies p WHERE p.resident_id = r.id) END AS has_pregnancies,
  cc.total AS child_checks, r.sex, r.birth_on
FROM actor a
LEFT JOIN res r ON true
LEFT JOIN LATERAL (SELECT {_AGE.format(b="r.birth_on")} AS age) ag ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object('id', c.id, 'disease', c.disease, 'diagnosed_on', c.diagnosed_on,
                                             'active', c.active) ORDER BY c.id), '[]') AS all_json,
         coalesce(json_agg(json_build_object('disease', c.disease, 'diagnosed_on', c.diagnosed_on) ORDER BY c.id)
                  FILTER (WHERE c.active), '[]') AS active_json,
         coalesce(bool_or(c.active AND c.disease = 'hypertension'), false) AS htn,
         coalesce(bool_or(c.active AND c.disease = 't2dm'), false) AS t2dm
  FROM conditions c WHERE c.resident_id = r.id
) cd ON true
LEFT JOIN LATERAL (
  SELECT to_json(array_remove(ARRAY[
           CASE WHEN ag.age >= 65 THEN 'elderly' END, CASE WHEN ag.age <= 6 THEN 'children_0_6' END,
           CASE WHEN cd.htn THEN 'hypertension' END, CASE WHEN cd.t2dm THEN 't2dm' END,
           CASE WHEN r.pregnancy_due_on >= %(today)s - 14 THEN 'pregnant' END,
           CASE WHEN r.disabled_certified THEN 'disabled' END,
           CASE WHEN r.poverty_alleviated THEN 'poverty_alleviated' END,
           CASE WHEN r.special_family THEN 'special_family' END]::text[], NULL)) AS populations,
         to_json(array_remove(ARRAY[CASE WHEN r.status = 'active' AND cd.htn THEN 'hypertension' END,
                                    CASE WHEN r.status = 'active' AND cd.t2dm THEN 't2dm' END]::text[], NULL))
           AS managed
) pop ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'sbp', h.sbp, 'dbp', h.dbp, 'heart_rate', h.heart_rate, 'weight_kg', h.weight_kg,
           'fasting_glucose', h.fasting_glucose, 'id', h.id, 'checked_on', h.checked_on,
           'institution', json_build_object('id', h.institution_id, 'name', h.institution_name), 'doctor', h.doctor,
           'temperature', h.temperature, 'respiration', h.respiration, 'height_cm', h.height_cm,
           'waist_cm', h.waist_cm, 'bmi', h.bmi, 'symptoms', h.symptoms, 'lifestyle', h.lifestyle,
           'elderly', h.elderly, 'organ_function', h.organ_function, 'physical_exam', h.physical_exam,
           'labs', h.labs, 'main_findings', h.main_findings, 'medications', h.medications,
           'assessment', h.assessment, 'abnormalities', h.abnormalities, 'guidance', h.guidance,
           'risk_factor_guidance', h.risk_factor_guidance, 'note', h.note)
           ORDER BY h.checked_on DESC, h.id DESC), '[]') AS items,
         coalesce(max(h.total), 0) AS total
  FROM (SELECT x.*, i.name AS institution_name, s.name AS doctor, count(*) OVER () AS total
        FROM health_checks x {_NAMED.format(t="x")}
        WHERE x.resident_id = r.id ORDER BY x.checked_on DESC, x.id DESC
        LIMIT %(per_page)s OFFSET %(hc_offset)s) h
) hc ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', x.id, 'resident_id', x.resident_id, 'kind', x.kind, 'label', {_CHILD_LABEL_SQL},
           'checked_on', x.checked_on, 'age_days', x.age_days, 'weight_kg', x.weight_kg, 'height_cm', x.height_cm,
           'head_circumference_cm', x.head_circumference_cm, 'hemoglobin', x.hemoglobin,
           'development', x.development, 'eye_checked', x.eye_checked, 'eye_check', x.eye,
           'tcm_guidance', x.tcm_guidance, 'guidance', x.guidance, 'note', x.note,
           'institution', json_build_object('id', x.institution_id, 'name', x.institution_name), 'doctor', x.doctor)
           ORDER BY x.checked_on DESC, x.id DESC), '[]') AS items,
         coalesce(max(x.total), 0) AS total
  FROM (SELECT x.*, i.name AS institution_name, s.name AS doctor, count(*) OVER () AS total
        FROM child_checks x {_NAMED.format(t="x")}
        WHERE x.resident_id = r.id ORDER BY x.checked_on DESC, x.id DESC LIMIT %(per_page)s) x
) cc ON true
LEFT JOIN LATERAL (
  SELECT json_agg(json_build_object('year', y, 'checked_on', l.checked_on, 'sbp', l.sbp, 'dbp', l.dbp,
                                    'weight_kg', l.weight_kg, 'bmi', l.bmi, 'fasting_glucose', l.fasting_glucose)
                  ORDER BY y DESC) AS rows
  FROM generate_series(%(y)s, %(y)s - 2, -1) y
  LEFT JOIN LATERAL (SELECT x.checked_on, x.sbp, x.dbp, x.weight_kg, x.bmi, x.fasting_glucose
                     FROM health_checks x
                     WHERE x.resident_id = r.id AND x.checked_on >= make_date(y, 1, 1)
                       AND x.checked_on <= least(make_date(y, 12, 31), %(today)s)
                     ORDER BY x.checked_on DESC, x.id DESC LIMIT 1) l ON true
  WHERE ag.age >= 65 OR r.disabled_certified
) cmp ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'sbp', x.sbp, 'dbp', x.dbp, 'heart_rate', x.heart_rate, 'weight_kg', x.weight_kg,
           'fasting_glucose', x.fasting_glucose, 'id', x.id, 'kind', x.kind, 'served_on', x.served_on,
           'institution', json_build_object('id', x.institution_id, 'name', x.institution_name), 'doctor', x.doctor,
           'summary', x.summary, 'referral', x.details -> 'referral', 'tcm', x.details -> 'tcm')
           ORDER BY x.served_on DESC, x.id DESC), '[]') AS items,
         coalesce(max(x.total), 0) AS total
  FROM (SELECT x.*, i.name AS institution_name, s.name AS doctor, count(*) OVER () AS total
        FROM service_records x {_NAMED.format(t="x")}
        WHERE x.resident_id = r.id ORDER BY x.served_on DESC, x.id DESC
        LIMIT %(per_page)s OFFSET %(sr_offset)s) x
) sr ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', x.id, 'contacted_on', x.contacted_on, 'method', x.method, 'outcome', x.outcome,
           'call_back_on', x.call_back_on, 'note', x.note, 'plan_id', x.plan_id, 'resident_id', x.resident_id,
           'programme', x.programme, 'due_on', x.due_on, 'overdue', x.due_on < x.contacted_on,
           'contacted_by', x.contacted_by, 'review_status', x.review_status, 'review_note', x.review_note,
           'effective_on', x.effective_on)
           ORDER BY x.id DESC), '[]') AS items
  FROM ({CONTACTS.format(rid="r.id")}) x
) ca ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', x.id, 'resident_id', x.resident_id, 'team_id', x.team_id, 'direction', x.direction,
           'to_institution_id', x.to_institution_id, 'to_hospital_name', x.to_hospital_name,
           'destination', x.destination, 'reason', x.reason, 'urgency', x.urgency,
           'source_visit_id', x.source_visit_id, 'status', x.status, 'issued_on', x.issued_on,
           'received_on', x.received_on, 'returned_on', x.returned_on, 'summary', x.summary, 'advice', x.advice,
           'cancelled_on', x.cancelled_on, 'cancel_reason', x.cancel_reason,
           'waiting_days', CASE WHEN x.status = 'issued' OR (x.status = 'received' AND x.direction = 'up')
                           THEN %(today)s - x.issued_on END,
           'return_followup_due_on', x.back_on + {RETURN_FOLLOWUP_DAYS}, 'followed_up_on', x.followed_up_on)
           ORDER BY x.id DESC), '[]') AS items
  FROM ({REFERRALS.format(rid="r.id")}) x
) rf ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(j.p ORDER BY p.due_on, p.id), '[]') AS all_json,
         (array_agg(j.p ORDER BY p.due_on, p.id))[1] AS first_json
  FROM followup_plans p
  CROSS JOIN LATERAL (SELECT json_build_object(
           'id', p.id, 'disease', p.disease, 'opens_on', p.opens_on, 'due_on', p.due_on, 'status', p.status,
           'window', {_WINDOW.format(t="p")}, 'overdue_days', greatest(0, %(today)s - p.due_on),
           'reason', p.reason, 'priority', p.priority, 'closed_on', p.closed_on,
           'close_reason', p.close_reason) AS p) j
  WHERE p.resident_id = r.id AND p.status = 'open' AND r.status = 'active'
    AND ((p.disease = 'hypertension' AND cd.htn) OR (p.disease = 't2dm' AND cd.t2dm))
) pl ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object(
           'id', v.id, 'resident_id', v.resident_id, 'visit_on', v.visit_on, 'method', v.method,
           'face_to_face', v.method IN ('clinic', 'home'),
           'diseases', to_json(array_remove(ARRAY[CASE WHEN v.hypertension THEN 'hypertension' END,
                                                  CASE WHEN v.t2dm THEN 't2dm' END]::text[], NULL)),
           'classification', v.classification, 'hypertension_classification', v.hypertension_classification,
           't2dm_classification', v.t2dm_classification, 'computed_classification', v.computed_classification,
           'classification_source', v.classification_source, 'classification_reason', v.classification_reason,
           'symptoms', v.symptoms, 'symptoms_other', v.symptoms_other, 'sbp', v.sbp, 'dbp', v.dbp,
           'heart_rate', v.heart_rate, 'weight_kg', v.weight_kg, 'target_weight_kg', v.target_weight_kg,
           'height_cm', v.height_cm, 'bmi', v.bmi, 'target_bmi', v.target_bmi, 'dorsalis_pedis', v.dorsalis_pedis,
           'lifestyle', v.lifestyle, 'psychological_adjustment', v.psychological_adjustment,
           'compliance', v.compliance, 'fasting_glucose', v.fasting_glucose, 'hba1c', v.hba1c,
           'hba1c_on', v.hba1c_on, 'adherence', v.adherence, 'adverse_reaction', v.adverse_reaction,
           'adverse_reaction_text', v.adverse_reaction_text, 'hypoglycaemia', v.hypoglycaemia,
           'complications', v.complications, 'medications', v.medications, 'insulin', v.insulin,
           'referral', v.referral, 'next_visit_on', v.next_visit_on, 'note', v.note, 'alerts', v.alerts,
           'referral_suggested', v.referral_suggested, 'urgent_referral', v.urgent_referral,
           'next_due_on', v.next_due_on,
           'institution', CASE WHEN v.institution_id IS NOT NULL
                               THEN json_build_object('id', v.institution_id, 'name', v.institution_name) END,
           'doctor', v.doctor, 'created_at', v.created_at)
           ORDER BY v.visit_on DESC, v.id DESC), '[]') AS items,
         coalesce(max(v.n_total), 0) AS total, coalesce(max(v.n_hypertension), 0) AS n_hypertension,
         coalesce(max(v.n_t2dm), 0) AS n_t2dm
  FROM (SELECT x.*, i.name AS institution_name, s.name AS doctor, count(*) OVER () AS n_total,
               count(*) FILTER (WHERE {_F2F.format(t="x", d="hypertension")}) OVER () AS n_hypertension,
               count(*) FILTER (WHERE {_F2F.format(t="x", d="t2dm")}) OVER () AS n_t2dm
        FROM followup_visits x {_NAMED.format(t="x")}
        WHERE x.resident_id = r.id ORDER BY x.visit_on DESC, x.id DESC LIMIT %(per_page)s) v
) vp ON true
LEFT JOIN LATERAL (
  SELECT coalesce(json_agg(json_build_object('visit_on', t.visit_on, 'method', t.method, 'sbp', t.sbp,
                                             'dbp', t.dbp, 'fasting_glucose', t.fasting_glucose, 'hba1c', t.hba1c,
                                             'weight_kg', t.weight_kg, 'classification', t.classification)
                           ORDER BY t.visit_on, t.id), '[]') AS points
  FROM (SELECT x.id, x.visit_on, x.method, x.sbp, x.dbp, x.fasting_glucose, x.hba1c, x.weight_kg, x.classification
        FROM followup_visits x WHERE x.resident_id = r.id ORDER BY x.visit_on DESC, x.id DESC LIMIT 8) t
) tr ON true
LEFT JOIN LATERAL (
  SELECT json_build_object(
           'id', c.id, 'status', c.status, 'team', json_build_object('id', t.id, 'name', t.name),
           'doctor', CASE WHEN d.id IS NOT NULL THEN json_build_object('id', d.id, 'name', d.name) END,
           'starts_on', c.starts_on, 'ends_on', c.ends_on,
           'packages', coalesce((SELECT json_agg(sp.name ORDER BY cp.id) FROM contract_packages cp
                                 JOIN service_packages sp ON sp.id = cp.package_id WHERE cp.contract_id = c.id), '[]'),
           'items_total', (SELECT coalesce(sum(ci.total), 0) FROM contract_items ci WHERE ci.contract_id = c.id),
           'items_delivered', (SELECT coalesce(sum(ci.delivered), 0) FROM contract_items ci
                               WHERE ci.contract_id = c.id),
           'family_group_id', c.family_group_id,
           'renewal', (SELECT json_build_object('id', n.id, 'status', n.status) FROM contracts n
                       WHERE n.previous_contract_id = c.id AND n.status <> 'rejected' LIMIT 1)) AS summary
  FROM contracts c JOIN teams t ON t.id = c.team_id LEFT JOIN staff d ON d.id = c.doctor_id
  WHERE c.resident_id = r.id AND c.status IN ('active', 'pending', 'scheduled', 'renewal_pending')
  ORDER BY (c.status <> 'active'), c.id DESC LIMIT 1
) ct ON true
"""
_ID_SLOT = '"id_number" : null'


def _archive_args() -> dict:
    only_args("health_checks_page", "service_records_page", "per_page", "purpose")
    per_page = int_arg("per_page", 10, 1, 100)
    hc_page = int_arg("health_checks_page", 1, 1, 100000)
    sr_page = int_arg("service_records_page", 1, 1, 100000)
    purpose = request.args.get("purpose") or "care"
    if purpose not in STAFF_PURPOSES:
        raise Refused(error(422, "validation_error", "purpose: must be one of " + ", ".join(STAFF_PURPOSES)))
    return {"per_page": per_page, "hc_page": hc_page, "sr_page": sr_page, "purpose": purpose}


def _client_ip():
    return request.remote_addr


@app.get("/raw/pg/residents/<int:rid>/archive")
def archive_pg(rid: int):
    staff_id, sid = bearer()
    args = _archive_args()
    day = today()
    if args["hc_page"] > 1 or args["sr_page"] > 1:
        # a page past the end of a list needs a counting query (the product does the same); not the path measured
        raise Refused(error(400, "bad_request", "list pages past the first are not implemented in this baseline"))
    params = {
        "staff": staff_id,
        "sid": sid,
        "rid": rid,
        "purpose": args["purpose"],
        "ip": _client_ip(),
        "today": day,
        "y": day.year,
        "m": day.month,
        "d": day.day,
        "year_start": date(day.year, 1, 1),
        "year_end": date(day.year, 12, 31),
        "per_page": args["per_page"],
        "hc_page": 1,
        "sr_page": 1,
        "hc_offset": 0,
        "sr_offset": 0,
    }
    row = conn().execute(ARCHIVE_PG, params).fetchone()
    if row is None:
        return error(401, "unauthorized", "this account no longer exists, is disabled, or the token was revoked")
    if row[2] is None:
        return error(404, "not_found", "resident not found")
    body = row[2].replace(_ID_SLOT, '"id_number" : ' + json.dumps(masked_id_number(row[1]), ensure_ascii=False), 1)
    if row[3] or row[4]:  # what SQL does not judge: a woman's pregnancies, a child's growth (never the bench subject)
        data = json.loads(body)
        if row[3]:
            data["pregnancies"] = raw_maternal.pregnancies(conn(), rid, day)
        for item in (data["child_checks"] or {}).get("items", []):
            item["growth"] = raw_maternal.growth(
                row[5], row[6], date.fromisoformat(item["checked_on"]), item["weight_kg"], item["height_cm"],
                item["head_circumference_cm"],
            )  # fmt: skip
        body = json.dumps(data, ensure_ascii=False)
    return ok(body + "\n")


# =================================================================================================================
# The archive, built by Python: auth + resident, then one pipeline
# =================================================================================================================

_RES_COLS = (
    "id",
    "archive_no",
    "name",
    "id_number_enc",
    "sex",
    "birth_on",
    "phone",
    "address",
    "household_id",
    "relation_to_head",
    "residency_type",
    "institution_id",
    "team_id",
    "status",
    "ethnicity",
    "marital_status",
    "education",
    "occupation",
    "blood_type",
    "payment_methods",
    "allergies",
    "exposures",
    "past_history",
    "family_history",
    "disabilities",
    "living_environment",
    "disabled_certified",
    "poverty_alleviated",
    "special_family",
    "pregnancy_due_on",
)
AUTH_RESIDENT = f"""
SELECT a.id, a.name, a.institution_id, {", ".join("r." + c for c in _RES_COLS)}
FROM (SELECT s.id, s.name, s.institution_id, i.path, (s.roles ? 'district_admin') AS admin
      FROM auth_sessions se JOIN staff s ON s.id = %(staff)s JOIN institutions i ON i.id = s.institution_id
      WHERE se.id = %(sid)s AND se.revoked_at IS NULL AND s.active) a
LEFT JOIN residents r ON r.id = %(rid)s AND {_SCOPE}
"""
CONDITIONS = "SELECT id, disease, diagnosed_on, active FROM conditions WHERE resident_id = %s ORDER BY id"
_HC_COLS = (
    "sbp",
    "dbp",
    "heart_rate",
    "weight_kg",
    "fasting_glucose",
    "id",
    "checked_on",
    "institution_id",
    "doctor",
    "temperature",
    "respiration",
    "height_cm",
    "waist_cm",
    "bmi",
    "symptoms",
    "lifestyle",
    "elderly",
    "organ_function",
    "physical_exam",
    "labs",
    "main_findings",
    "medications",
    "assessment",
    "abnormalities",
    "guidance",
    "risk_factor_guidance",
    "note",
    "institution_name",
    "total",
)
HEALTH_CHECKS = f"""
SELECT {", ".join("x." + c if c not in ("doctor", "institution_name", "total") else c for c in _HC_COLS)}
FROM (SELECT h.*, i.name AS institution_name, s.name AS doctor, count(*) OVER () AS total
      FROM health_checks h {_NAMED.format(t="h")} WHERE h.resident_id = %(rid)s
      ORDER BY h.checked_on DESC, h.id DESC LIMIT %(per_page)s OFFSET %(offset)s) x
ORDER BY x.checked_on DESC, x.id DESC
"""
COMPARISON = """
SELECT y, l.checked_on, l.sbp, l.dbp, l.weight_kg, l.bmi, l.fasting_glucose
FROM generate_series(%(y)s, %(y)s - 2, -1) y
LEFT JOIN LATERAL (SELECT x.checked_on, x.sbp, x.dbp, x.weight_kg, x.bmi, x.fasting_glucose FROM health_checks x
                   WHERE x.resident_id = %(rid)s AND x.checked_on >= make_date(y, 1, 1)
                     AND x.checked_on <= least(make_date(y, 12, 31), %(today)s)
                   ORDER BY x.checked_on DESC, x.id DESC LIMIT 1) l ON true
ORDER BY y DESC
"""
CHILD_CHECKS = f"""
SELECT x.id, x.resident_id, x.kind, x.checked_on, x.age_days, x.weight_kg, x.height_cm, x.head_circumference_cm,
       x.hemoglobin, x.development, x.eye_checked, x.eye, x.tcm_guidance, x.guidance, x.note, x.institution_id,
       i.name, s.name, count(*) OVER ()
FROM child_checks x {_NAMED.format(t="x")} WHERE x.resident_id = %(rid)s
ORDER BY x.checked_on DESC, x.id DESC LIMIT %(per_page)s
"""
SERVICE_RECORDS = f"""
SELECT x.sbp, x.dbp, x.heart_rate, x.weight_kg, x.fasting_glucose, x.id, x.kind, x.served_on, x.institution_id,
       s.name, x.summary, x.details -> 'referral', x.details -> 'tcm', i.name, count(*) OVER ()
FROM service_records x {_NAMED.format(t="x")} WHERE x.resident_id = %(rid)s
ORDER BY x.served_on DESC, x.id DESC LIMIT %(per_page)s OFFSET %(offset)s
"""
OPEN_PLANS = """
SELECT id, disease, opens_on, due_on, status, reason, priority, closed_on, close_reason FROM followup_plans
WHERE resident_id = %s AND status = 'open' AND disease IN ('hypertension', 't2dm') ORDER BY due_on, id
"""
_V_COLS = (
    "id",
    "resident_id",
    "visit_on",
    "method",
    "hypertension",
    "t2dm",
    "classification",
    "hypertension_classification",
    "t2dm_classification",
    "computed_classification",
    "classification_source",
    "classification_reason",
    "symptoms",
    "symptoms_other",
    "sbp",
    "dbp",
    "heart_rate",
    "weight_kg",
    "target_weight_kg",
    "height_cm",
    "bmi",
    "target_bmi",
    "dorsalis_pedis",
    "lifestyle",
    "psychological_adjustment",
    "compliance",
    "fasting_glucose",
    "hba1c",
    "hba1c_on",
    "adherence",
    "adverse_reaction",
    "adverse_reaction_text",
    "hypoglycaemia",
    "complications",
    "medications",
    "insulin",
    "referral",
    "next_visit_on",
    "note",
    "alerts",
    "referral_suggested",
    "urgent_referral",
    "next_due_on",
    "institution_id",
    "created_at",
)
VISITS = f"""
SELECT {", ".join("x." + c for c in _V_COLS)}, i.name, s.name, count(*) OVER (),
       count(*) FILTER (WHERE {_F2F.format(t="x", d="hypertension")}) OVER (),
       count(*) FILTER (WHERE {_F2F.format(t="x", d="t2dm")}) OVER ()
FROM followup_visits x {_NAMED.format(t="x")} WHERE x.resident_id = %(rid)s
ORDER BY x.visit_on DESC, x.id DESC LIMIT %(per_page)s
"""
TREND = """
SELECT visit_on, method, sbp, dbp, fasting_glucose, hba1c, weight_kg, classification FROM followup_visits
WHERE resident_id = %s ORDER BY visit_on DESC, id DESC LIMIT 8
"""
CONTRACT = """
SELECT c.id, c.status, t.id, t.name, d.id, d.name, c.starts_on, c.ends_on,
       ARRAY(SELECT sp.name FROM contract_packages cp JOIN service_packages sp ON sp.id = cp.package_id
             WHERE cp.contract_id = c.id ORDER BY cp.id),
       (SELECT coalesce(sum(ci.total), 0) FROM contract_items ci WHERE ci.contract_id = c.id),
       (SELECT coalesce(sum(ci.delivered), 0) FROM contract_items ci WHERE ci.contract_id = c.id),
       c.family_group_id, n.id, n.status
FROM contracts c JOIN teams t ON t.id = c.team_id LEFT JOIN staff d ON d.id = c.doctor_id
LEFT JOIN LATERAL (SELECT n.id, n.status FROM contracts n WHERE n.previous_contract_id = c.id
                   AND n.status <> 'rejected' LIMIT 1) n ON true
WHERE c.resident_id = %s AND c.status IN ('active', 'pending', 'scheduled', 'renewal_pending')
ORDER BY (c.status <> 'active'), c.id DESC LIMIT 1
"""
CONTACTS_PY = CONTACTS.format(rid="%(rid)s")
REFERRALS_PY = REFERRALS.format(rid="%(rid)s")
LOG_ONE = """
INSERT INTO access_log (at, actor_kind, actor_id, actor_display, institution_id, subject_resident_id, action, section,
                        purpose, client_ip)
VALUES (now(), 'staff', %s, %s, %s, %s, 'read', 'archive', %s, %s)
"""


def _iso(value):
    return value.isoformat() if value is not None else None


def _window(opens_on: date, due_on: date, day: date) -> str:
    if due_on < day:
        return "overdue"
    return "due" if opens_on <= day else "upcoming"


def _float(value):
    return None if value is None else float(value)


@app.get("/raw/py/residents/<int:rid>/archive")
def archive_py(rid: int):
    staff_id, sid = bearer()
    args = _archive_args()
    if args["hc_page"] > 1 or args["sr_page"] > 1:
        raise Refused(error(400, "bad_request", "list pages past the first are not implemented in this baseline"))
    day = today()
    per_page = args["per_page"]
    c = conn()
    head = c.execute(AUTH_RESIDENT, {"staff": staff_id, "sid": sid, "rid": rid}).fetchone()
    if head is None:
        return error(401, "unauthorized", "this account no longer exists, is disabled, or the token was revoked")
    actor_id, actor_name, actor_institution = head[:3]
    r = dict(zip(_RES_COLS, head[3:], strict=False))
    if r["id"] is None:
        return error(404, "not_found", "resident not found")
    age = age_on(r["birth_on"], day)
    compared = age >= 65 or r["disabled_certified"]  # the yearly check's programmes
    with c.pipeline():
        q_cond = c.execute(CONDITIONS, (rid,))
        q_hc = c.execute(HEALTH_CHECKS, {"rid": rid, "per_page": per_page, "offset": 0})
        q_cmp = c.execute(COMPARISON, {"rid": rid, "y": day.year, "today": day}) if compared else None
        q_sr = c.execute(SERVICE_RECORDS, {"rid": rid, "per_page": per_page, "offset": 0})
        q_cc = c.execute(CHILD_CHECKS, {"rid": rid, "per_page": per_page})
        q_plans = c.execute(OPEN_PLANS, (rid,))
        q_visits = c.execute(
            VISITS,
            {"rid": rid, "per_page": per_page, "year_start": date(day.year, 1, 1), "year_end": date(day.year, 12, 31)},
        )
        q_contract = c.execute(CONTRACT, (rid,))
        q_contacts = c.execute(CONTACTS_PY, {"rid": rid, "per_page": per_page})
        q_referrals = c.execute(REFERRALS_PY, {"rid": rid, "per_page": per_page})
        c.execute(LOG_ONE, (actor_id, actor_name, actor_institution, rid, args["purpose"], _client_ip()))
        conditions, hcs, srs, ccs = q_cond.fetchall(), q_hc.fetchall(), q_sr.fetchall(), q_cc.fetchall()
        comparison = q_cmp.fetchall() if compared else None
        plans, visits, contract = q_plans.fetchall(), q_visits.fetchall(), q_contract.fetchone()
        contacts, referrals = q_contacts.fetchall(), q_referrals.fetchall()

    active = {d for _, d, _, a in conditions if a}
    populations = []
    if age >= 65:
        populations.append("elderly")
    if age <= 6:
        populations.append("children_0_6")
    populations.extend(d for d in ("hypertension", "t2dm") if d in active)
    if r["pregnancy_due_on"] and r["pregnancy_due_on"] >= day - timedelta(days=14):  # until 42 weeks
        populations.append("pregnant")
    if r["disabled_certified"]:
        populations.append("disabled")
    if r["poverty_alleviated"]:
        populations.append("poverty_alleviated")
    if r["special_family"]:
        populations.append("special_family")
    managed = [d for d in ("hypertension", "t2dm") if d in active] if r["status"] == "active" else []

    basic = {
        "id": r["id"],
        "archive_no": r["archive_no"],
        "name": r["name"],
        "id_number": masked_id_number(r["id_number_enc"]),
        "sex": r["sex"],
        "birth_on": r["birth_on"].isoformat(),
        "age": age,
        "phone": mask_phone(r["phone"]),
    }
    for key in (
        "address",
        "household_id",
        "relation_to_head",
        "residency_type",
        "institution_id",
        "team_id",
        "status",
        "ethnicity",
        "marital_status",
        "education",
        "occupation",
        "blood_type",
        "payment_methods",
        "allergies",
        "exposures",
        "past_history",
        "family_history",
        "disabilities",
        "living_environment",
        "disabled_certified",
        "poverty_alleviated",
        "special_family",
    ):
        basic[key] = r[key]
    basic["pregnancy_due_on"] = _iso(r["pregnancy_due_on"])
    basic["populations"] = populations
    basic["conditions"] = [{"disease": d, "diagnosed_on": on.isoformat()} for _, d, on, a in conditions if a]

    hc_items = []
    for h in hcs:
        item = dict(zip(_HC_COLS, h, strict=False))
        item.pop("total")
        name = item.pop("institution_name")
        for k in ("weight_kg", "fasting_glucose", "temperature", "height_cm", "waist_cm", "bmi"):
            item[k] = _float(item[k])
        item["checked_on"] = item["checked_on"].isoformat()
        inst = item.pop("institution_id")
        out = {k: item[k] for k in ("sbp", "dbp", "heart_rate", "weight_kg", "fasting_glucose", "id", "checked_on")}
        out["institution"] = {"id": inst, "name": name}
        out.update((k, item[k]) for k in _HC_COLS[8:27])
        hc_items.append(out)
    sr_items = [
        {
            "sbp": s[0],
            "dbp": s[1],
            "heart_rate": s[2],
            "weight_kg": _float(s[3]),
            "fasting_glucose": _float(s[4]),
            "id": s[5],
            "kind": s[6],
            "served_on": s[7].isoformat(),
            "institution": {"id": s[8], "name": s[13]},
            "doctor": s[9],
            "summary": s[10],
            "referral": s[11],
            "tcm": s[12],
        }
        for s in srs
    ]

    open_plans = [
        {
            "id": p[0],
            "disease": p[1],
            "opens_on": p[2].isoformat(),
            "due_on": p[3].isoformat(),
            "status": p[4],
            "window": _window(p[2], p[3], day),
            "overdue_days": max(0, (day - p[3]).days),
            "reason": p[5],
            "priority": p[6],
            "closed_on": _iso(p[7]),
            "close_reason": p[8],
        }
        for p in plans
        if p[1] in managed
    ]
    n = len(_V_COLS)
    v_items = []
    for v in visits:
        x = dict(zip(_V_COLS, v[:n], strict=False))
        v_items.append(
            {
                "id": x["id"],
                "resident_id": x["resident_id"],
                "visit_on": x["visit_on"].isoformat(),
                "method": x["method"],
                "face_to_face": x["method"] in ("clinic", "home"),
                "diseases": [d for d in ("hypertension", "t2dm") if x[d]],
                "classification": x["classification"],
                "hypertension_classification": x["hypertension_classification"],
                "t2dm_classification": x["t2dm_classification"],
                "computed_classification": x["computed_classification"],
                "classification_source": x["classification_source"],
                "classification_reason": x["classification_reason"],
                "symptoms": x["symptoms"],
                "symptoms_other": x["symptoms_other"],
                "sbp": x["sbp"],
                "dbp": x["dbp"],
                "heart_rate": x["heart_rate"],
                "weight_kg": x["weight_kg"],
                "target_weight_kg": x["target_weight_kg"],
                "height_cm": x["height_cm"],
                "bmi": x["bmi"],
                "target_bmi": x["target_bmi"],
                "dorsalis_pedis": x["dorsalis_pedis"],
                "lifestyle": x["lifestyle"],
                "psychological_adjustment": x["psychological_adjustment"],
                "compliance": x["compliance"],
                "fasting_glucose": x["fasting_glucose"],
                "hba1c": x["hba1c"],
                "hba1c_on": _iso(x["hba1c_on"]),
                "adherence": x["adherence"],
                "adverse_reaction": x["adverse_reaction"],
                "adverse_reaction_text": x["adverse_reaction_text"],
                "hypoglycaemia": x["hypoglycaemia"],
                "complications": x["complications"],
                "medications": x["medications"],
                "insulin": x["insulin"],
                "referral": x["referral"],
                "next_visit_on": _iso(x["next_visit_on"]),
                "note": x["note"],
                "alerts": x["alerts"],
                "referral_suggested": x["referral_suggested"],
                "urgent_referral": x["urgent_referral"],
                "next_due_on": _iso(x["next_due_on"]),
                "institution": {"id": x["institution_id"], "name": v[n]} if x["institution_id"] else None,
                "doctor": v[n + 1],
                "created_at": x["created_at"].isoformat(),
            }
        )
    if visits:
        total_v, n_htn, n_t2dm = visits[0][n + 2], visits[0][n + 3], visits[0][n + 4]
    else:
        total_v, n_htn, n_t2dm = 0, 0, 0
    if len(visits) >= 8 or len(visits) == total_v:  # the trend is the page's first 8 visits, oldest first
        trend = [
            {
                "visit_on": t["visit_on"],
                "method": t["method"],
                "sbp": t["sbp"],
                "dbp": t["dbp"],
                "fasting_glucose": t["fasting_glucose"],
                "hba1c": t["hba1c"],
                "weight_kg": t["weight_kg"],
                "classification": t["classification"],
            }
            for t in reversed(v_items[:8])
        ]
    else:
        trend = [
            {
                "visit_on": t[0].isoformat(),
                "method": t[1],
                "sbp": t[2],
                "dbp": t[3],
                "fasting_glucose": t[4],
                "hba1c": t[5],
                "weight_kg": t[6],
                "classification": t[7],
            }
            for t in reversed(c.execute(TREND, (rid,)).fetchall())
        ]

    summary = None
    if contract is not None:
        k = contract
        summary = {
            "id": k[0],
            "status": k[1],
            "team": {"id": k[2], "name": k[3]},
            "doctor": {"id": k[4], "name": k[5]} if k[4] is not None else None,
            "starts_on": _iso(k[6]),
            "ends_on": _iso(k[7]),
            "packages": k[8],
            "items_total": k[9],
            "items_delivered": k[10],
            "family_group_id": k[11],
            "renewal": {"id": k[12], "status": k[13]} if k[12] is not None else None,
        }

    cc_items = [
        {
            "id": k[0],
            "resident_id": k[1],
            "kind": k[2],
            "label": _CHILD_LABELS[k[2]],
            "checked_on": k[3].isoformat(),
            "age_days": k[4],
            "weight_kg": _float(k[5]),
            "height_cm": _float(k[6]),
            "head_circumference_cm": _float(k[7]),
            "growth": raw_maternal.growth(r["sex"], r["birth_on"], k[3], k[5], k[6], k[7]),
            "hemoglobin": _float(k[8]),
            "development": k[9],
            "eye_checked": bool(k[10]),
            "eye_check": k[11],
            "tcm_guidance": k[12] or [],
            "guidance": k[13] or [],
            "note": k[14],
            "institution": {"id": k[15], "name": k[16]},
            "doctor": k[17],
        }
        for k in ccs
    ]
    child_total = ccs[0][-1] if ccs else 0
    body = {
        "basic_info": basic,
        "populations": populations,
        "conditions": [
            {"id": i, "disease": d, "diagnosed_on": on.isoformat(), "active": a} for i, d, on, a in conditions
        ],
        "health_checks": {
            "items": hc_items,
            "page": 1,
            "per_page": per_page,
            "total": hcs[0][-1] if hcs else 0,
            "comparison": None
            if comparison is None
            else [
                {
                    "year": y,
                    "checked_on": _iso(on),
                    "sbp": sbp,
                    "dbp": dbp,
                    "weight_kg": _float(w),
                    "bmi": _float(b),
                    "fasting_glucose": _float(g),
                }
                for y, on, sbp, dbp, w, b, g in comparison
            ],
        },
        "pregnancies": raw_maternal.pregnancies(c, rid, day) if r["sex"] == "female" and 10 <= age < 60 else None,
        "child_checks": {"items": cc_items, "page": 1, "per_page": per_page, "total": child_total}
        if age <= 6 or child_total
        else None,
        "followups": {
            "resident_id": rid,
            "managed_diseases": managed,
            "open_plan": open_plans[0] if open_plans else None,
            "open_plans": open_plans,
            "visits": {"items": v_items, "page": 1, "per_page": per_page, "total": total_v},
            "trend": trend,
            "face_to_face_this_year": {"hypertension": n_htn, "t2dm": n_t2dm},
        },
        "contacts": [
            {
                "id": k[0],
                "contacted_on": k[1].isoformat(),
                "method": k[2],
                "outcome": k[3],
                "call_back_on": _iso(k[4]),
                "note": k[5],
                "plan_id": k[6],
                "resident_id": k[7],
                "programme": k[8],
                "due_on": k[9].isoformat(),
                "overdue": k[9] < k[1],
                "contacted_by": k[10],
                "review_status": k[11],
                "review_note": k[12],
                "effective_on": _iso(k[13]),
            }
            for k in contacts
        ],
        "referrals": [
            {
                "id": k[0],
                "resident_id": k[1],
                "team_id": k[2],
                "direction": k[3],
                "to_institution_id": k[4],
                "to_hospital_name": k[5],
                "destination": k[6],
                "reason": k[7],
                "urgency": k[8],
                "source_visit_id": k[9],
                "status": k[10],
                "issued_on": k[11].isoformat(),
                "received_on": _iso(k[12]),
                "returned_on": _iso(k[13]),
                "summary": k[14],
                "advice": k[15],
                "cancelled_on": _iso(k[16]),
                "cancel_reason": k[17],
                "waiting_days": (
                    (day - k[11]).days if k[10] == "issued" or (k[10] == "received" and k[3] == "up") else None
                ),
                "return_followup_due_on": _iso(k[18] + timedelta(days=RETURN_FOLLOWUP_DAYS)) if k[18] else None,
                "followed_up_on": _iso(k[19]),
            }
            for k in referrals
        ],
        "service_records": {"items": sr_items, "page": 1, "per_page": per_page, "total": srs[0][-1] if srs else 0},
        "contract": summary,
    }
    return ok(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")


# =================================================================================================================
# The worklist
# =================================================================================================================

AUTH_TEAMS = """
SELECT s.id, s.name, s.institution_id, i.path, (s.roles ? 'district_admin') AS admin,
       ARRAY(SELECT m.team_id FROM team_members m JOIN teams t ON t.id = m.team_id
             WHERE m.staff_id = s.id AND t.active ORDER BY m.team_id) AS team_ids
FROM auth_sessions se JOIN staff s ON s.id = %(staff)s JOIN institutions i ON i.id = s.institution_id
WHERE se.id = %(sid)s AND se.revoked_at IS NULL AND s.active
"""


def _page_cte(admin: bool) -> str:
    scope = "" if admin else "AND r.institution_id IN (SELECT id FROM institutions WHERE path LIKE %(path)s || '%%')"
    return f"""
WITH page AS (
  SELECT p.id, p.disease, p.opens_on, p.due_on, p.reason, p.priority, p.last_visit_id, r.id AS resident_id, r.name,
         r.archive_no, r.sex, r.birth_on, r.phone, r.team_id, count(*) OVER () AS total,
         row_number() OVER (ORDER BY p.priority DESC, p.due_on, p.id) AS position
  FROM followup_plans p JOIN residents r ON r.id = p.resident_id
  WHERE p.status = 'open' AND r.team_id = ANY(%(teams)s::int[]) AND r.status = 'active'
    AND EXISTS (SELECT 1 FROM conditions c WHERE c.resident_id = r.id AND c.disease = p.disease AND c.active)
    AND (p.snoozed_until IS NULL OR p.snoozed_until <= %(today)s)  -- "call later": off the list until that day
    {scope}
  ORDER BY p.priority DESC, p.due_on, p.id LIMIT %(limit)s OFFSET %(offset)s
), logged AS (
  INSERT INTO access_log (at, actor_kind, actor_id, actor_display, institution_id, subject_resident_id, action,
                          section, purpose, client_ip)
  SELECT now(), 'staff', %(staff)s, %(display)s, %(institution)s, resident_id, 'read', 'followup_worklist',
         'follow_up', %(ip)s
  FROM page GROUP BY resident_id ORDER BY min(position)
  RETURNING id
)"""


def _worklist_pg(admin: bool) -> str:
    return (
        _page_cte(admin)
        + f"""
SELECT count(pg.id), json_build_object(
  'items', coalesce(json_agg(json_build_object(
     'plan_id', pg.id,
     'resident', json_build_object('id', pg.resident_id, 'name', pg.name, 'archive_no', pg.archive_no, 'sex', pg.sex,
                                   'age', {_AGE.format(b="pg.birth_on")}, 'phone', {_PHONE.format(p="pg.phone")},
                                   'team_id', pg.team_id),
     'disease', pg.disease, 'opens_on', pg.opens_on, 'due_on', pg.due_on,
     'overdue_days', greatest(0, %(today)s - pg.due_on), 'window', {_WINDOW.format(t="pg")},
     'reason', pg.reason, 'priority', pg.priority,
     'last_visit', CASE WHEN v.id IS NOT NULL THEN json_build_object(
        'id', v.id, 'visit_on', v.visit_on, 'method', v.method, 'sbp', v.sbp, 'dbp', v.dbp,
        'fasting_glucose', v.fasting_glucose,
        'classification', CASE WHEN pg.disease = 'hypertension' THEN v.hypertension_classification
                               ELSE v.t2dm_classification END,
        'referral_suggested', coalesce(v.referral_suggested, false),
        'urgent_referral', coalesce(v.urgent_referral, false)) END)
     ORDER BY pg.position), '[]'),
  'page', %(page)s, 'per_page', %(limit)s, 'total', coalesce(max(pg.total), 0), 'today', %(today)s,
  'team_ids', to_json(%(teams)s::int[]))::text
FROM page pg LEFT JOIN followup_visits v ON v.id = pg.last_visit_id
"""
    )


def _worklist_py(admin: bool) -> str:
    return (
        _page_cte(admin)
        + """
SELECT pg.id, pg.disease, pg.opens_on, pg.due_on, pg.reason, pg.priority, pg.resident_id, pg.name, pg.archive_no,
       pg.sex, pg.birth_on, pg.phone, pg.team_id, pg.total, v.id, v.visit_on, v.method, v.sbp, v.dbp,
       v.fasting_glucose,
       CASE WHEN pg.disease = 'hypertension' THEN v.hypertension_classification ELSE v.t2dm_classification END,
       v.referral_suggested, v.urgent_referral
FROM page pg LEFT JOIN followup_visits v ON v.id = pg.last_visit_id ORDER BY pg.position
"""
    )


WORKLIST_PG = {admin: _worklist_pg(admin) for admin in (False, True)}
WORKLIST_PY = {admin: _worklist_py(admin) for admin in (False, True)}
COUNT_PAGE = {
    admin: _page_cte(admin)
    .split(", logged AS")[0]
    .replace("ORDER BY p.priority DESC, p.due_on, p.id LIMIT %(limit)s OFFSET %(offset)s", "")
    + " SELECT count(*) FROM page"
    for admin in (False, True)
}


def _worklist_head():
    staff_id, sid = bearer()
    only_args("page", "per_page")
    page = int_arg("page", 1, 1, 100000)
    per_page = int_arg("per_page", 20, 1, 100)
    head = conn().execute(AUTH_TEAMS, {"staff": staff_id, "sid": sid}).fetchone()
    if head is None:
        raise Refused(
            error(401, "unauthorized", "this account no longer exists, is disabled, or the token was revoked")
        )
    actor_id, name, institution_id, path, admin, team_ids = head
    if not team_ids:
        raise Refused(error(422, "validation_error", "team_id: required: you are not a member of any team"))
    day = today()
    params = {
        "teams": team_ids,
        "path": path,
        "limit": per_page,
        "offset": (page - 1) * per_page,
        "staff": actor_id,
        "display": name,
        "institution": institution_id,
        "ip": _client_ip(),
        "today": day,
        "y": day.year,
        "m": day.month,
        "d": day.day,
        "page": page,
    }
    return admin, params, day


def _past_the_end(admin, params, day):
    total = worklist_cursor().execute(COUNT_PAGE[admin], params).fetchone()[0]
    return ok(
        json.dumps(
            {
                "items": [],
                "page": params["page"],
                "per_page": params["limit"],
                "total": total,
                "today": day.isoformat(),
                "team_ids": params["teams"],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
    )


@app.get("/raw/pg/followups/worklist")
def worklist_pg():
    admin, params, day = _worklist_head()
    n, body = worklist_cursor().execute(WORKLIST_PG[admin], params).fetchone()
    if n == 0 and params["page"] > 1:
        return _past_the_end(admin, params, day)
    return ok(body + "\n")


@app.get("/raw/py/followups/worklist")
def worklist_py():
    admin, params, day = _worklist_head()
    rows = worklist_cursor().execute(WORKLIST_PY[admin], params).fetchall()
    if not rows and params["page"] > 1:
        return _past_the_end(admin, params, day)
    items = []
    for (
        plan_id,
        disease,
        opens_on,
        due_on,
        reason,
        priority,
        resident_id,
        name,
        archive_no,
        sex,
        birth_on,
        phone,
        team_id,
        _total,
        visit_id,
        visit_on,
        method,
        sbp,
        dbp,
        glucose,
        classification,
        referral,
        urgent,
    ) in rows:
        items.append(
            {
                "plan_id": plan_id,
                "resident": {
                    "id": resident_id,
                    "name": name,
                    "archive_no": archive_no,
                    "sex": sex,
                    "age": age_on(birth_on, day),
                    "phone": mask_phone(phone),
                    "team_id": team_id,
                },
                "disease": disease,
                "opens_on": opens_on.isoformat(),
                "due_on": due_on.isoformat(),
                "overdue_days": max(0, (day - due_on).days),
                "window": _window(opens_on, due_on, day),
                "reason": reason,
                "priority": priority,
                "last_visit": None
                if visit_id is None
                else {
                    "id": visit_id,
                    "visit_on": visit_on.isoformat(),
                    "method": method,
                    "sbp": sbp,
                    "dbp": dbp,
                    "fasting_glucose": glucose,
                    "classification": classification,
                    "referral_suggested": bool(referral),
                    "urgent_referral": bool(urgent),
                },
            }
        )
    body = {
        "items": items,
        "page": params["page"],
        "per_page": params["limit"],
        "total": rows[0][13] if rows else 0,
        "today": day.isoformat(),
        "team_ids": params["teams"],
    }
    return ok(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
