"""The raw baseline answers what the API answers: parsed JSON compared, before anything is timed.

``check()`` fetches, as the bench's doctor, the archive of the bench's resident and of one resident
of every shape the archive has (elderly with the three-year comparison, a child, a pregnancy, a
high-risk mother after her delivery, a baby of one, flags, no contract, each open contract state, a
renewal, no doctor, a family group, a patient without visits, one with few, both diseases, contact
attempts — a review pending, a call back later, more than a page —, referrals — waiting, returned
with the follow-up due, to an institution of the tree) from the API and from ``raw_app`` (both
variants), the worklist
pages 1 and 2, a short page and a page past the end, and the refusals (out of scope → 404 on both).
Numbers compare by value (24 == 24.0). Any difference stops the bench.
"""

from __future__ import annotations

import requests
from sqlalchemy import text

KINDS = {
    "elderly (comparison)": "r.birth_on <= (current_date - interval '66 years')",
    "child 0-6": "r.birth_on > (current_date - interval '6 years')",
    "pregnant": "r.pregnancy_due_on >= current_date",
    "delivered, postpartum visited": "EXISTS (SELECT 1 FROM pregnancies p JOIN postpartum_visits v ON "
    "v.pregnancy_id = p.id WHERE p.resident_id = r.id AND p.high_risk)",
    "baby of a delivery": "EXISTS (SELECT 1 FROM births b WHERE b.resident_id = r.id)",
    "flags": "(r.disabled_certified OR r.poverty_alleviated OR r.special_family)",
    "no contract": "NOT EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id)",
    "pending contract": "EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'pending')",
    "scheduled contract": "EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'scheduled')",
    "renewal pending": "EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'renewal_pending')",
    "contract without doctor": "EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.doctor_id IS NULL "
    "AND c.status IN ('active','pending','scheduled','renewal_pending'))",
    "family group": "EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id "
    "AND c.family_group_id IS NOT NULL AND c.status = 'active')",
    "renewal of a running contract": "EXISTS (SELECT 1 FROM contracts c JOIN contracts n ON n.previous_contract_id = "
    "c.id AND n.status <> 'rejected' WHERE c.resident_id = r.id AND c.status = 'active')",
    "managed, no visits": "EXISTS (SELECT 1 FROM conditions c WHERE c.resident_id = r.id AND c.active) "
    "AND NOT EXISTS (SELECT 1 FROM followup_visits v WHERE v.resident_id = r.id)",
    "managed, few visits (<8)": "(SELECT count(*) FROM followup_visits v WHERE v.resident_id = r.id) BETWEEN 1 AND 7",
    "both diseases": "(SELECT count(*) FROM conditions c WHERE c.resident_id = r.id AND c.active) = 2",
    "contact attempts, a review pending": "EXISTS (SELECT 1 FROM contact_attempts a WHERE a.resident_id = r.id "
    "AND a.review_status = 'pending')",
    "contact attempts, a call back later": "EXISTS (SELECT 1 FROM contact_attempts a WHERE a.resident_id = r.id "
    "AND a.outcome = 'call_later')",
    "more contact attempts than a page": "(SELECT count(*) FROM contact_attempts a WHERE a.resident_id = r.id) > 10",
    "referral waiting": "EXISTS (SELECT 1 FROM referrals f WHERE f.resident_id = r.id "
    "AND f.status IN ('issued', 'received'))",
    "referral returned, follow-up due": "EXISTS (SELECT 1 FROM referrals f WHERE f.resident_id = r.id "
    "AND f.back_on IS NOT NULL AND f.followed_up_on IS NULL)",
    "referral to an institution of the tree": "EXISTS (SELECT 1 FROM referrals f WHERE f.resident_id = r.id "
    "AND f.to_institution_id IS NOT NULL)",
}


def sample(connection, path: str) -> tuple[list[tuple[str, int]], int | None]:
    """One resident per kind inside the institution subtree ``path``, and one outside it."""
    out = []
    for label, condition in KINDS.items():
        rid = connection.execute(
            text(
                "SELECT r.id FROM residents r JOIN institutions i ON i.id = r.institution_id "
                f"WHERE i.path LIKE :prefix AND {condition} ORDER BY r.id LIMIT 1"
            ),
            {"prefix": path + "%"},
        ).scalar()
        if rid is not None:
            out.append((label, rid))
    outside = connection.execute(
        text(
            "SELECT r.id FROM residents r JOIN institutions i ON i.id = r.institution_id "
            "WHERE i.path NOT LIKE :prefix ORDER BY r.id LIMIT 1"
        ),
        {"prefix": path + "%"},
    ).scalar()
    return out, outside


def differences(a, b, path="$", out=None, limit=20) -> list[str]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'the API' if k in a else 'raw'}")
            else:
                differences(a[k], b[k], f"{path}.{k}", out, limit)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            differences(x, y, f"{path}[{i}]", out, limit)
    elif isinstance(a, bool) or isinstance(b, bool):
        if a is not b:
            out.append(f"{path}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{path}: {a!r} != {b!r}")
    return out


def check(api: str, raw: str, headers: dict, resident_id: int, cases, outside) -> list[str]:
    """Every comparison's outcome line; raises AssertionError naming the differences if any."""
    session = requests.Session()
    session.headers.update(headers)
    lines, failed = [], []

    def compare(label, ours, theirs):
        found = differences(ours.json(), theirs.json()) if ours.status_code == theirs.status_code else []
        equal = ours.status_code == theirs.status_code and not found
        lines.append(f"{'equal' if equal else 'DIFFERENT'}  {label} ({ours.status_code}/{theirs.status_code})")
        if not equal:
            failed.append((label, (ours.status_code, theirs.status_code), found[:10]))

    for label, rid in [("bench subject", resident_id), *cases]:
        ours = session.get(f"{api}/residents/{rid}/archive", timeout=60)
        for variant in ("pg", "py"):
            compare(f"archive, {label} [{variant}]", ours, session.get(f"{raw}/{variant}/residents/{rid}/archive"))
    for query in ("", "?page=2", "?per_page=5&page=3", "?page=500"):
        ours = session.get(f"{api}/followups/worklist{query}", timeout=60)
        for variant in ("pg", "py"):
            compare(
                f"worklist {query or '(page 1)'} [{variant}]",
                ours,
                session.get(f"{raw}/{variant}/followups/worklist{query}"),
            )
    if outside is not None:
        for variant in ("pg", "py"):
            ours = session.get(f"{api}/residents/{outside}/archive")
            theirs = session.get(f"{raw}/{variant}/residents/{outside}/archive")
            equal = ours.status_code == theirs.status_code == 404
            lines.append(f"{'equal' if equal else 'DIFFERENT'}  out of scope → 404 [{variant}]")
            if not equal:
                failed.append(("out of scope", (ours.status_code, theirs.status_code), []))
    assert not failed, f"the raw baseline does not answer what the API answers: {failed}"
    return lines
