"""The follow-up jobs on a demo district on PostgreSQL: seconds per run, and the ratio to a bare
SQL statement doing the same insert in the same database.

    python bench/followup_jobs.py [--scale 1] [--runs 3] [--keep]
    python bench/followup_jobs.py --database URL   # again on a district kept with --keep

Builds a scratch database (``bench/_common.scratch_database``), seeds it with
``seed-demo --scale N`` including the "followups" step, then measures:

- the worklist query (one statement) for the largest team and for all teams of its centre;

- the plan job (``app.followups.plans_job:ensure_plans``): steady state (every patient has a plan:
  nothing to do), and cold (all open plans deleted first: it opens one per managed patient and
  disease) against the same INSERT … SELECT written by hand;
- the reminder job (``app.followups.reminders_job:send_reminders``) on the seed day: first run (enqueues the
  windows opening and closing), reruns (nothing: deduplicated), against hand-written
  INSERT INTO outbox … SELECT … ON CONFLICT DO NOTHING statements making the same rows (checked
  equal each run: recipient, kind, dedup key, payload, not_before).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import scratch_database  # noqa: E402

BARE_PLANS = """
INSERT INTO followup_plans (resident_id, disease, opens_on, due_on, status, reason, priority, last_visit_id,
                            created_at, updated_at)
SELECT m.resident_id, m.disease,
       CASE WHEN v.id IS NULL THEN CAST(:today AS date)
            WHEN v.cls <> 'controlled' OR v.referral_suggested OR v.urgent_referral THEN v.visit_on + 1
            ELSE v.visit_on + :open_days END,
       CASE WHEN v.id IS NULL THEN CAST(:today AS date) + :first_due_days
            WHEN v.cls <> 'controlled' OR v.referral_suggested OR v.urgent_referral THEN v.visit_on + :recheck_days
            ELSE v.visit_on + :due_days END,
       'open',
       CASE WHEN v.id IS NULL THEN 'first' WHEN v.urgent_referral THEN 'urgent'
            WHEN v.referral_suggested THEN 'referral' WHEN v.cls <> 'controlled' THEN 'recheck' ELSE 'routine' END,
       CASE WHEN v.urgent_referral THEN 2 WHEN v.referral_suggested THEN 1 ELSE 0 END,
       v.id, now(), now()
FROM (SELECT c.resident_id, c.disease,
             (SELECT v.id FROM followup_visits v
               WHERE v.resident_id = c.resident_id
                 AND CASE WHEN c.disease = 'hypertension' THEN v.hypertension ELSE v.t2dm END
                 AND v.method IN ('clinic', 'home')
               ORDER BY v.visit_on DESC, v.id DESC LIMIT 1) AS last_visit_id
        FROM conditions c JOIN residents r ON r.id = c.resident_id
       WHERE c.active AND c.disease IN ('hypertension', 't2dm') AND r.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM followup_plans p WHERE p.resident_id = c.resident_id
                           AND p.disease = c.disease AND p.status = 'open')) m
LEFT JOIN LATERAL (SELECT v.*, CASE WHEN m.disease = 'hypertension' THEN v.hypertension_classification
                                    ELSE v.t2dm_classification END AS cls
                     FROM followup_visits v WHERE v.id = m.last_visit_id) v ON true
ON CONFLICT (resident_id, disease) WHERE status = 'open' DO NOTHING
"""

BARE_REMINDERS = """
INSERT INTO outbox (dedup_key, kind, recipient_kind, recipient_id, payload, status, not_before, next_attempt_at,
                    attempts, created_at)
SELECT 'followup:' || g.resident_id || ':{kind}:' || g.anchor, '{template}', 'resident', g.resident_id,
       jsonb_build_object('title', '{title}', 'body', {body}, 'item', g.item,
                          'team', coalesce(g.team, '家庭医生团队'), 'opens_on', g.opens_on, 'due_on', g.due_on,
                          'diseases', g.diseases),
       'pending', :at, :at, 0, now()
FROM (SELECT p.resident_id, p.{anchor} AS anchor, min(p.opens_on) AS opens_on, min(p.due_on) AS due_on,
             min(t.name) AS team, jsonb_agg(p.disease ORDER BY p.disease) AS diseases,
             string_agg(CASE p.disease WHEN 'hypertension' THEN '高血压' ELSE '糖尿病' END, '、'
                        ORDER BY p.disease) || '随访' AS item
        FROM followup_plans p JOIN residents r ON r.id = p.resident_id
        LEFT JOIN teams t ON t.id = r.team_id
       WHERE p.status = 'open' AND r.status = 'active'
         AND EXISTS (SELECT 1 FROM conditions c WHERE c.resident_id = r.id AND c.disease = p.disease AND c.active)
         AND p.opens_on <= :today AND p.due_on >= :today {extra}
       GROUP BY p.resident_id, p.{anchor}) g
ON CONFLICT (dedup_key) DO NOTHING
"""
# The message text of app.followups.notifications' two kinds, as the job writes it.
BARE_BODIES = {
    "open": "'您的' || g.item || '时间到了：请于 ' || g.due_on || ' 前到' || coalesce(g.team, '家庭医生团队') "
    "|| '面对面随访（门诊或预约上门）。'",
    "closing": "'您的' || g.item || '将于 ' || g.due_on || ' 到期，请尽快联系' || coalesce(g.team, '家庭医生团队') "
    "|| '完成随访。'",
}


def timed(fn, *args):  # noqa: D103
    started = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", help="measure an already seeded database (kept with --keep)")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.database:
        os.environ["DATABASE_URL"] = args.database
        report = run(args.scale, args.runs, seed=False)
    else:
        with scratch_database(keep=args.keep) as url:
            os.environ["DATABASE_URL"] = url
            report = run(args.scale, args.runs)
            if args.keep:
                report["database"] = url
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))


def run(scale: float, runs: int, seed: bool = True) -> dict:
    from sqlalchemy import delete, func, select, text

    from app import create_app
    from app.common.time import at_local, today
    from app.demo import seed as seed_module
    from app.extensions import db
    from app.followups import plans_job, reminders_job, rules
    from app.followups.demo import seed_followups
    from app.followups.models import FollowupPlan, FollowupVisit
    from app.followups.notifications import WINDOW_CLOSING, WINDOW_OPEN
    from app.notify.models import Outbox

    app = create_app("development")
    report: dict = {"scale": scale if seed else None, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with app.app_context():
        if seed:
            db.create_all()
            seed_module.register_step("followups", seed_followups, after="conditions")
            steps: dict = {}

            def echo(line: str) -> None:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "s":
                    steps[parts[0]] = float(parts[1])

            seconds, ctx = timed(lambda: seed_module.run_seed(scale, 2024, echo=echo))
            report["seed_seconds"] = round(seconds, 1)
            report["seed_step_seconds"] = steps
            report["seed_followups_step_note"] = ctx.notes[-1] if ctx.notes else None
        else:
            for table in ("followup_plans", "followup_visits", "outbox"):
                db.session.execute(text(f"ANALYZE {table}"))
            db.session.commit()
        day = today()
        cfg = rules.window_config()

        def scalar(sql: str):
            return db.session.execute(text(sql)).scalar()

        report["data"] = {
            "residents": scalar("select count(*) from residents"),
            "managed_patients": scalar(
                "select count(distinct resident_id) from conditions "
                "where active and disease in ('hypertension', 't2dm')"
            ),
            "patient_diseases": scalar(
                "select count(*) from conditions where active and disease in ('hypertension', 't2dm')"
            ),
            "visits": scalar("select count(*) from followup_visits"),
            "open_plans": scalar("select count(*) from followup_plans where status = 'open'"),
            "followup_visits_size": scalar("select pg_size_pretty(pg_total_relation_size('followup_visits'))"),
            "followup_plans_size": scalar("select pg_size_pretty(pg_total_relation_size('followup_plans'))"),
            "database_size": scalar("select pg_size_pretty(pg_database_size(current_database()))"),
        }
        db.session.commit()

        # --- worklist (statistics as the seed left them: freshly analysed) ------------------------
        report["worklist"] = worklist_timings(db, runs)

        # --- plan job ---------------------------------------------------------------------------
        steady = []
        for _ in range(runs):
            seconds, counts = timed(plans_job.ensure_plans, day)
            assert counts["opened"] == 0, counts
            steady.append(seconds)
        cold, bare = [], []
        for _ in range(runs):
            db.session.execute(delete(FollowupPlan))
            db.session.commit()
            seconds, counts = timed(plans_job.ensure_plans, day)
            cold.append(seconds)
            opened = counts["opened"]
            job_rows = db.session.execute(
                select(func.count(), func.sum(FollowupPlan.resident_id), func.max(FollowupPlan.due_on))
            ).one()
            db.session.execute(delete(FollowupPlan))
            db.session.commit()
            started = time.perf_counter()
            result = db.session.execute(
                text(BARE_PLANS),
                {
                    "today": day,
                    "open_days": cfg["open_days"],
                    "due_days": cfg["due_days"],
                    "recheck_days": cfg["recheck_days"],
                    "first_due_days": cfg["first_due_days"],
                },
            )
            db.session.commit()
            bare.append(time.perf_counter() - started)
            bare_rows = db.session.execute(
                select(func.count(), func.sum(FollowupPlan.resident_id), func.max(FollowupPlan.due_on))
            ).one()
            assert tuple(job_rows) == tuple(bare_rows), (job_rows, bare_rows)
            assert result.rowcount == opened
        db.session.execute(text("ANALYZE followup_plans"))  # the cycles above rewrote the table
        db.session.commit()
        report["plan_job"] = {
            "steady_state_seconds": [round(s, 3) for s in steady],
            "cold_opened_rows": opened,
            "cold_seconds": [round(s, 3) for s in cold],
            "bare_sql_seconds": [round(s, 3) for s in bare],
            "ratio_cold_to_bare": round(min(cold) / min(bare), 2),
        }

        # --- reminder job -----------------------------------------------------------------------
        def clear_reminders():
            db.session.execute(delete(Outbox).where(Outbox.kind.in_((WINDOW_OPEN.kind, WINDOW_CLOSING.kind))))
            db.session.commit()

        def reminder_rows():
            """What a user gets: recipient, key, payload, delivery time (ids and created_at aside)."""
            rows = db.session.execute(
                select(
                    Outbox.recipient_kind,
                    Outbox.recipient_id,
                    Outbox.kind,
                    Outbox.dedup_key,
                    Outbox.payload,
                    Outbox.not_before,
                )
                .where(Outbox.kind.in_((WINDOW_OPEN.kind, WINDOW_CLOSING.kind)))
                .order_by(Outbox.dedup_key)
            ).all()
            db.session.commit()
            return [tuple(r) for r in rows]

        first, rerun, bare = [], [], []
        at = at_local(day, cfg["reminder_hour"])
        for _ in range(runs):
            clear_reminders()
            seconds, counts = timed(reminders_job.send_reminders, day)
            first.append(seconds)
            enqueued = counts
            job_rows = reminder_rows()
            seconds, again = timed(reminders_job.send_reminders, day)
            assert again == {"window_open": 0, "window_closing": 0}, again
            rerun.append(seconds)
            clear_reminders()
            started = time.perf_counter()
            made = 0
            for kind, template, anchor, extra in (
                ("open", WINDOW_OPEN, "opens_on", ""),
                (
                    "closing",
                    WINDOW_CLOSING,
                    "due_on",
                    f"AND p.due_on <= CAST(:today AS date) + {cfg['closing_days']} AND p.opens_on < :today",
                ),
            ):
                sql = BARE_REMINDERS.format(
                    kind=kind,
                    template=template.kind,
                    title=template.title,
                    body=BARE_BODIES[kind],
                    anchor=anchor,
                    extra=extra,
                )
                made += db.session.execute(text(sql), {"today": day, "at": at}).rowcount
            db.session.commit()
            bare.append(time.perf_counter() - started)
            assert made == enqueued["window_open"] + enqueued["window_closing"], (made, enqueued)
            assert reminder_rows() == job_rows, "the job's rows differ from the hand-written statement's"
        clear_reminders()
        report["reminder_job"] = {
            "enqueued": enqueued,
            "rows_equal_to_bare_sql": True,
            "first_run_seconds": [round(s, 3) for s in first],
            "rerun_seconds": [round(s, 3) for s in rerun],
            "bare_sql_seconds": [round(s, 3) for s in bare],
            "ratio_first_run_to_bare": round(min(first) / min(bare), 2),
        }

        report["load_average_at_end"] = os.getloadavg()
        report["visits_per_patient"] = round(report["data"]["visits"] / max(1, report["data"]["managed_patients"]), 1)
        report["plan_rows_checked_against_visits"] = db.session.scalar(
            select(func.count())
            .select_from(FollowupPlan)
            .join(FollowupVisit, FollowupVisit.id == FollowupPlan.last_visit_id)
        )
        db.session.remove()
        db.engine.dispose()
    return report


def worklist_timings(db, runs: int) -> dict:
    from flask import current_app
    from sqlalchemy import func, select

    from app.access.actors import Actor
    from app.followups import worklist
    from app.followups.models import FollowupPlan
    from app.orgs.models import Team
    from app.residents.models import Resident

    by_team = db.session.execute(
        select(Resident.team_id, func.count())
        .select_from(FollowupPlan)
        .join(Resident, Resident.id == FollowupPlan.resident_id)
        .where(FollowupPlan.status == "open")
        .group_by(Resident.team_id)
        .order_by(func.count().desc())
    ).all()
    biggest_team, team_plans = by_team[0]
    institution = db.session.scalar(select(Team.institution_id).where(Team.id == biggest_team))
    centre_teams = list(db.session.scalars(select(Team.id).where(Team.institution_id == institution)))
    centre_plans = sum(n for team, n in by_team if team in centre_teams)
    out = {}
    for label, team_ids, plans in (
        ("largest_team", [biggest_team], team_plans),
        ("all_teams_of_its_centre", centre_teams, centre_plans),
    ):
        actor = Actor("staff", 0, "bench", roles=frozenset({"district_admin"}), team_ids=team_ids)
        timings = []
        with current_app.test_request_context():
            for _ in range(runs):
                started = time.perf_counter()
                body = worklist.worklist(actor, {"status": "all", "page": 1, "per_page": 50})
                timings.append(time.perf_counter() - started)
                db.session.rollback()
        out[label] = {"open_plans": plans, "total": body["total"], "seconds": [round(s, 3) for s in timings]}
    return out


if __name__ == "__main__":
    main()
