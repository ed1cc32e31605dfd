"""Growth: do the dispatcher's claim and the archive's access-log page stay flat as history grows?

    python bench/growth.py --database-url postgresql+psycopg://…/seeded_db \\
        [--access-log-millions 5] [--outbox-millions 2] [--retention] [--cleanup]

On an already seeded PostgreSQL database (``flask seed-demo``), times the two hot queries,
then adds history set-based (``INSERT … SELECT generate_series``, one million rows per
statement): access-log rows spread over the last four years across every resident, and
finished (sent) outbox rows with one delivery attempt each, spread over the last year; the
two measured residents keep exactly their own rows (100 and 5,000), so a page's cost is
compared for the same rows while the table grows around them.
After ``VACUUM ANALYZE`` it times the same queries again and prints data sizes, the load
average and the after/before ratios. Generated rows are marked (``actor_display`` /
``dedup_key`` prefix ``growth:``) so ``--cleanup`` can remove them again.

- claim: ``app.notify.dispatcher.claim`` itself (the UPDATE … SKIP LOCKED … RETURNING) over
  200 due rows added for the bench, median of 30 rounds; the claimed rows are put back
  after each round.
- access-log page: ``app.archive.services.access_log_page`` (count + first page of 20)
  for a typical resident and for the resident with the most rows, median of 30.
- the build time of an ``(at, id)`` index on the grown ``access_log`` (what migration 0004
  makes writers wait on an existing table).
- ``--retention`` also runs both retention jobs and times them: the generated access-log
  rows span four years (a quarter is past the default three years), the outbox rows one
  year (three quarters are past the default 90 days).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MARK = "growth:"
CHUNK = 1_000_000
ROUNDS = 30


def median_ms(fn, rounds: int = ROUNDS) -> tuple[float, float]:
    """(median, fastest) of ``rounds`` timed calls, in ms; the fastest is the least disturbed
    by other work on a shared machine."""
    fn()  # warm the cache and the plan
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times)


def sizes(db, text) -> dict:
    out = {}
    for table in ("access_log", "outbox", "delivery_attempts"):
        rows = db.session.scalar(text(f"SELECT count(*) FROM {table}"))
        total = db.session.scalar(text(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))"))
        out[table] = f"{rows:,} rows, {total}"
    for index in ("ix_outbox_due", "ix_access_log_subject_at", "ix_access_log_at_id"):
        out[index] = db.session.scalar(text(f"SELECT pg_size_pretty(pg_relation_size('{index}'))"))
    return out


def add_due_rows(db, text) -> None:
    """200 pending reminders due now: what the claim has to find among the history."""
    db.session.execute(
        text(
            "INSERT INTO outbox (dedup_key, kind, recipient_kind, recipient_id, payload, status, not_before,"
            " next_attempt_at, lease_token, attempts, created_at)"
            " SELECT :mark || 'due:' || g, 'health_reminder', 'resident', (SELECT min(id) FROM residents),"
            " '{}'::jsonb, 'pending', now() - interval '1 minute', now() - interval '1 minute', '', 0, now()"
            " FROM generate_series(1, 200) g ON CONFLICT (dedup_key) DO NOTHING"
        ),
        {"mark": MARK},
    )
    db.session.commit()


CLAIM_SQL = (
    "SELECT id FROM outbox WHERE status IN ('pending', 'sending')"
    " AND ((status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND lease_until < now()))"
    " ORDER BY next_attempt_at, id LIMIT 100 FOR UPDATE SKIP LOCKED"
)
PAGE_SQL = "SELECT * FROM access_log WHERE subject_resident_id = :rid ORDER BY at DESC, id DESC LIMIT 20"


def explain_ms(db, text, sql: str, params: dict | None = None) -> tuple[float, float, str]:
    """Server-side execution time (median and fastest of ROUNDS) and the indexes the plan uses."""
    times, indexes = [], set()
    for _ in range(ROUNDS + 1):
        plan = db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql), params or {}).scalar()[0]
        db.session.rollback()  # FOR UPDATE locks rows even under EXPLAIN ANALYZE
        times.append(plan["Execution Time"])
        stack = [plan["Plan"]]
        while stack:
            node = stack.pop()
            if "Index Name" in node:
                indexes.add(node["Index Name"])
            stack.extend(node.get("Plans", []))
    return statistics.median(times[1:]), min(times[1:]), ",".join(sorted(indexes)) or "seq scan"


def api_reads(app, db, text):
    """The archive read (which writes its access-log row into the growing table) and the worklist,
    in process through the test client, as the leader GP of the team with the most open plans."""
    team = db.session.execute(
        text(
            "SELECT r.team_id FROM followup_plans p JOIN residents r ON r.id = p.resident_id"
            " WHERE p.status = 'open' GROUP BY r.team_id ORDER BY count(*) DESC, r.team_id LIMIT 1"
        )
    ).scalar()
    doctor = db.session.execute(
        text(
            "SELECT s.username FROM team_members m JOIN staff s ON s.id = m.staff_id"
            " WHERE m.team_id = :t AND m.role = 'leader_gp'"
        ),
        {"t": team},
    ).scalar()
    rid = db.session.execute(
        text(
            "SELECT min(p.resident_id) FROM followup_plans p JOIN residents r ON r.id = p.resident_id WHERE r.team_id = :t"
        ),
        {"t": team},
    ).scalar()
    db.session.rollback()
    client = app.test_client()
    login = client.post("/api/v1/auth/staff/login", json={"username": doctor, "password": app.config["DEMO_PASSWORD"]})
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}

    def read(path):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.data[:200]

    return {
        "GET /residents/{rid}/archive (writes its access-log row)": lambda: read(f"/api/v1/residents/{rid}/archive"),
        "GET /followups/worklist (one access-log row per patient)": lambda: read("/api/v1/followups/worklist"),
    }


def measure(db, text, residents: dict, reads: dict) -> dict:
    """Each figure in ms: the API reads, the claim round and the access-log page, end to end and server-side."""
    from app.archive.services import access_log_page
    from app.notify.dispatcher import claim

    result = {name: (*median_ms(fn), "") for name, fn in reads.items()}

    def one_claim():
        ids = claim(100, 120)
        assert len(ids) == 100, len(ids)
        db.session.execute(
            text("UPDATE outbox SET status = 'pending', lease_until = NULL, lease_token = '' WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
        db.session.commit()

    result["claim(): a dispatcher's claim of 100, with commit"] = (*median_ms(one_claim), "")
    result["claim query, server-side (EXPLAIN ANALYZE)"] = explain_ms(db, text, CLAIM_SQL)
    for label, rid in residents.items():
        total = access_log_page(rid, 1, 20)["total"]
        ms = median_ms(lambda rid=rid: (access_log_page(rid, 1, 20), db.session.rollback()))
        print(f"  the {label} resident ({rid}) has {total:,} access-log rows")
        result[f"access_log_page(): {label} resident, count + 20"] = (*ms, "")
        result[f"access-log page query, {label}, server-side"] = explain_ms(db, text, PAGE_SQL, {"rid": rid})
    return result


def old_claim_index(db, text) -> tuple[float, str, str]:
    """The claim under the index this schema had before (status, next_attempt_at), for comparison."""
    db.session.execute(text("DROP INDEX ix_outbox_due"))
    db.session.execute(text("CREATE INDEX ix_outbox_due_full ON outbox (status, next_attempt_at)"))
    db.session.execute(text("ANALYZE outbox"))
    size = db.session.scalar(text("SELECT pg_size_pretty(pg_relation_size('ix_outbox_due_full'))"))
    times, indexes = [], set()
    for _ in range(ROUNDS + 1):
        db.session.execute(text("SAVEPOINT s"))
        plan = db.session.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + CLAIM_SQL)).scalar()[0]
        db.session.execute(text("ROLLBACK TO SAVEPOINT s"))
        times.append(plan["Execution Time"])
        stack = [plan["Plan"]]
        while stack:
            node = stack.pop()
            indexes.update([node["Index Name"]] if "Index Name" in node else [])
            stack.extend(node.get("Plans", []))
    db.session.rollback()  # the DDL was in this transaction: the partial index is back
    return statistics.median(times[1:]), ",".join(sorted(indexes)), size


def own_history(db, text, residents: dict) -> None:
    """The measured residents' own logs, fixed before the table grows: 100 rows and 5,000 rows
    (a patient under close care for years). The page cost follows the resident's own rows
    (it counts them for the total); what growth must not change is the cost for the same rows."""
    for rid, rows in ((residents["typical"], 100), (residents["busiest"], 5000)):
        db.session.execute(
            text(
                "INSERT INTO access_log (at, actor_kind, actor_display, subject_resident_id, action, section, purpose)"
                " SELECT now() - g * interval '5 hours', 'staff', :mark || 'staff', :rid, 'read', 'archive', 'care'"
                " FROM generate_series(1, :rows) g"
            ),
            {"mark": MARK, "rid": rid, "rows": rows},
        )
    db.session.commit()


def grow(db, text, access_log_rows: int, outbox_rows: int, measured: list[int]) -> float:
    started = time.monotonic()
    # Every other resident, so the measured ones keep exactly their own history.
    residents = (
        "(SELECT array_agg(id ORDER BY id) AS a, count(*) AS n FROM residents"
        f" WHERE id NOT IN ({', '.join(str(int(i)) for i in measured)})) r"
    )
    for start in range(0, access_log_rows, CHUNK):
        stop = min(start + CHUNK, access_log_rows)
        db.session.execute(
            text(
                "INSERT INTO access_log (at, actor_kind, actor_id, actor_display, institution_id,"
                " subject_resident_id, action, section, purpose, client_ip)"
                " SELECT now() - (g::bigint * 4 * 365 * 86400 / :total) * interval '1 second' - interval '1 hour',"
                " 'staff', NULL, :mark || 'staff', NULL, r.a[1 + (g::bigint * 7919) % r.n], 'read', 'archive', 'care', NULL"
                f" FROM generate_series(:start, :stop - 1) g, {residents}"
            ),
            {"mark": MARK, "start": start, "stop": stop, "total": access_log_rows},
        )
        db.session.commit()
        print(f"  access_log +{stop:,}", flush=True)
    for start in range(0, outbox_rows, CHUNK):
        stop = min(start + CHUNK, outbox_rows)
        db.session.execute(
            text(
                "WITH o AS (INSERT INTO outbox (dedup_key, kind, recipient_kind, recipient_id, payload, status,"
                " not_before, next_attempt_at, lease_token, attempts, wechat_status, created_at, sent_at)"
                " SELECT :mark || g, 'health_reminder', 'resident', r.a[1 + (g::bigint * 7919) % r.n], '{}'::jsonb, 'sent',"
                " t, t, '', 1, 'sent', t, t"
                " FROM (SELECT g, now() - (g::bigint * 365 * 86400 / :total) * interval '1 second' - interval '1 hour' AS t"
                "       FROM generate_series(:start, :stop - 1) g) s, " + residents + " RETURNING id, sent_at)"
                " INSERT INTO delivery_attempts (outbox_id, channel, result, at) SELECT id, 'inbox', 'sent', sent_at FROM o"
            ),
            {"mark": MARK, "start": start, "stop": stop, "total": outbox_rows},
        )
        db.session.commit()
        print(f"  outbox +{stop:,}", flush=True)
    return time.monotonic() - started


def vacuum(db, text) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("access_log", "outbox", "delivery_attempts"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def cleanup(db, text) -> None:
    db.session.execute(
        text("DELETE FROM delivery_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE dedup_key LIKE :p)"),
        {"p": MARK + "%"},
    )
    db.session.execute(text("DELETE FROM outbox WHERE dedup_key LIKE :p"), {"p": MARK + "%"})
    db.session.execute(text("DELETE FROM access_log WHERE actor_display LIKE :p"), {"p": MARK + "%"})
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="an already seeded PostgreSQL database")
    parser.add_argument("--access-log-millions", type=float, default=5)
    parser.add_argument("--outbox-millions", type=float, default=2)
    parser.add_argument("--retention", action="store_true", help="also time the access-log retention job")
    parser.add_argument("--cleanup", action="store_true", help="remove the generated rows at the end")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db

    app = create_app("development")
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            raise SystemExit("growth.py needs PostgreSQL")
        add_due_rows(db, text)
        vacuum(db, text)
        ids = db.session.scalars(text("SELECT id FROM residents ORDER BY id")).all()
        residents = {"typical": ids[len(ids) // 2], "busiest": ids[0]}
        print(f"{len(ids):,} residents; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        own_history(db, text, residents)
        vacuum(db, text)
        print("before:", sizes(db, text), flush=True)
        reads = api_reads(app, db, text)
        before = measure(db, text, residents, reads)
        rows_log, rows_outbox = int(args.access_log_millions * 1e6), int(args.outbox_millions * 1e6)
        print(f"adding {rows_log:,} access-log rows and {rows_outbox:,} finished outbox rows", flush=True)
        seconds = grow(db, text, rows_log, rows_outbox, list(residents.values()))
        vacuum(db, text)
        print(f"generated in {seconds:.0f} s (with VACUUM ANALYZE)")
        print("after:", sizes(db, text), flush=True)
        after = measure(db, text, residents, reads)
        print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'figure (ms, median / fastest of 30)':<52} {'before':>13} {'after':>13} {'ratio':>11}  plan after")
        for name, (b_med, b_min, _plan) in before.items():
            a_med, a_min, plan = after[name]
            print(
                f"{name:<52} {b_med:6.2f}/{b_min:6.2f} {a_med:6.2f}/{a_min:6.2f}"
                f" {a_med / b_med:5.2f}/{a_min / b_min:5.2f}  {plan}"
            )
        old_ms, old_plan, old_size = old_claim_index(db, text)
        print(
            f"claim query under the former full (status, next_attempt_at) index ({old_size}): {old_ms:.2f} ms, {old_plan}"
        )
        # What migration 0004 costs on a table this size: writes to it wait this long.
        started = time.monotonic()
        db.session.execute(text("CREATE INDEX ix_growth_probe ON access_log (at, id)"))
        db.session.rollback()
        print(f"building an (at, id) index on access_log as migration 0004 does: {time.monotonic() - started:.1f} s")
        if args.retention:
            from app.audit.retention import expire_access_log
            from app.notify.retention import expire_outbox

            for name, job in (("access-log", expire_access_log), ("outbox", expire_outbox)):
                started = time.monotonic()
                result = job()
                took = time.monotonic() - started
                rate = result["deleted"] / took if took else 0
                print(
                    f"{name} retention: {result['deleted']:,} rows in {result['batches']} batches,"
                    f" {took:.1f} s ({rate:,.0f} rows/s)"
                )
            vacuum(db, text)
            print("after retention:", sizes(db, text), flush=True)
        db.session.execute(text("DELETE FROM outbox WHERE dedup_key LIKE :p"), {"p": MARK + "due:%"})
        db.session.commit()
        if args.cleanup:
            cleanup(db, text)
            vacuum(db, text)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
