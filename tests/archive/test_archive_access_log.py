"""The access log as the resident reads it: who looked or changed what, when and why."""

from datetime import date

from app.common.time import at_local, freeze
from tests.archive.helpers import (
    check,
    fresh_id_sequence,  # noqa: F401  (autouse)
    grant,
    log_rows,
)


def log(api, who, rid, **params):
    return api.get(who, f"/api/v1/residents/{rid}/archive/access-log", query_string=params)


def shape(items):
    return [
        (i["actor_kind"], i["actor_display"], i["institution"], i["action"], i["section"], i["purpose"]) for i in items
    ]


def test_each_read_appears_with_actor_and_purpose_and_the_resident_reads_the_log(api, world, app):
    freeze(at_local(date(2025, 6, 1), 9))
    check(api, "a-doc", world.grandpa, "2025-05-30", sbp=150, dbp=92)
    freeze(at_local(date(2025, 6, 1), 10))
    api.get("grandpa", f"/api/v1/residents/{world.grandpa}/archive")
    freeze(at_local(date(2025, 6, 1), 11))
    api.get("a-doc2", f"/api/v1/residents/{world.grandpa}/archive", query_string={"purpose": "contract_review"})
    freeze(at_local(date(2025, 6, 1), 12))
    api.get("admin", f"/api/v1/residents/{world.grandpa}/archive", query_string={"purpose": "statistics"})
    freeze(at_local(date(2025, 6, 1), 13))
    request = grant(api, "alice", "grandpa", "parent", world).json["grant_id"]
    api.post("grandpa", f"/api/v1/me/family/requests/{request}/accept")
    freeze(at_local(date(2025, 6, 1), 14))
    api.get("alice", f"/api/v1/residents/{world.grandpa}/archive")
    freeze(at_local(date(2025, 6, 1), 15))
    api.get("a-doc", f"/api/v1/residents/{world.grandpa}/archive/fhir")

    r = log(api, "grandpa", world.grandpa)
    assert r.status_code == 200
    assert r.json["total"] == 8 and (r.json["page"], r.json["per_page"]) == (1, 20)
    assert shape(r.json["items"]) == [
        ("staff", "王医生", "鲸园社区卫生服务中心", "export", "fhir", "care"),
        ("family", "张丽", None, "read", "archive", "family_access"),
        ("resident", "本人", None, "update", "family_grant", "family_access"),
        ("family", "张丽", None, "create", "family_grant", "family_access"),
        ("staff", "区管理员", "环翠区卫生健康局", "read", "archive", "statistics"),
        ("staff", "赵医生", "鲸园社区卫生服务中心", "read", "archive", "contract_review"),
        ("resident", "本人", None, "read", "archive", "self_access"),
        ("staff", "王医生", "鲸园社区卫生服务中心", "create", "health_check", "care"),
    ]
    assert r.json["items"][0]["at"].startswith("2025-06-01T07:00")  # 15:00 Shanghai
    assert r.json["items"][-1]["at"].startswith("2025-06-01T01:00")  # 09:00 Shanghai


def test_reading_the_log_is_not_logged_and_pages(api, world, app):
    for _ in range(3):
        api.get("alice", f"/api/v1/residents/{world.alice}/archive")
    before = len(log_rows(app, world.alice))
    first = log(api, "alice", world.alice, per_page=2)
    second = log(api, "alice", world.alice, per_page=2, page=2)
    assert len(log_rows(app, world.alice)) == before == 3
    assert (first.json["total"], len(first.json["items"]), len(second.json["items"])) == (3, 2, 1)
    assert log(api, "alice", world.alice, per_page=500).status_code == 422


def test_family_member_reads_the_log_of_the_archive_they_hold_a_grant_for(api, world, app):
    grant_id = grant(api, "alice", "child", "child", world).json["grant_id"]
    api.get("a-nurse", f"/api/v1/residents/{world.child}/archive")
    r = log(api, "alice", world.child)
    assert r.status_code == 200
    assert shape(r.json["items"]) == [
        ("staff", "李护士", "鲸园社区卫生服务中心", "read", "archive", "care"),
        ("family", "张丽", None, "create", "family_grant", "family_access"),
    ]
    api.delete("alice", f"/api/v1/me/family/{grant_id}")
    gone = log(api, "alice", world.child)
    assert gone.status_code == 404 and "李护士" not in gone.get_data(as_text=True)
    # and never anyone else's
    assert log(api, "bob", world.alice).status_code == 404
    assert log(api, "b-doc", world.alice).status_code == 404
