"""The indicators of the whole demo district on PostgreSQL: seconds for every indicator of the district
and its 10 centres, against a bare ``SELECT count(*) FROM residents`` in the same database and run.

    python bench/indicators.py [--scale 1] [--runs 3] [--keep] [--reuse DATABASE_URL]

Builds a scratch database (``bench/_common.scratch_database``) and seeds it with ``seed-demo --scale N``
plus the feature steps that exist in the tree (follow-ups, contracts, surveys, and this feature's
targets), or reuses an already seeded database (``--reuse``). Then measures, each ``--runs`` times
(the best and the median are reported):

- ``bare_count``: ``SELECT count(*) FROM residents``;
- ``district``: every indicator (the definitions of ``app.indicators``) for the district total and each
  of the 10 centres — what ``GET /api/v1/indicators`` computes — and the same through the HTTP API as
  the district admin (``api_district``);
- ``centre_by_team``: the largest centre, total and per team;
- ``drilldown``: one page of "hypertension patients with < 4 face-to-face visits" for the district;
- all of the above twice: counted in full (no facts build), then from a facts build
  (``app.indicators.facts``; the build timed) — the district's totals and the drill-down page must be
  equal — and the district again with 200 and 2,000 residents written since the build;
- once: the month-by-month trend of every indicator, live (no snapshots), the nightly snapshot job,
  and the trend again reading the snapshots.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import scratch_database  # noqa: E402


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def summary(seconds: list[float]) -> dict:
    return {
        "best": round(min(seconds), 3),
        "median": round(statistics.median(seconds), 3),
        "runs": [round(s, 3) for s in seconds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", help="an already seeded database URL (no scratch database, no seed)")
    parser.add_argument("--skip-trend", action="store_true", help="leave out the (slow) live trend")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.reuse:
        os.environ["DATABASE_URL"] = args.reuse
        report = run(args.scale, args.runs, seed=False, trend=not args.skip_trend)
    else:
        with scratch_database(keep=args.keep) as url:
            os.environ["DATABASE_URL"] = url
            report = run(args.scale, args.runs, seed=True, trend=not args.skip_trend)
            if args.keep:
                report["database"] = url
    print(json.dumps(report, ensure_ascii=False, indent=2, default=str))


def _steps(seed_module) -> list[str]:
    """Register the feature demo steps present in the tree (as the tests do); returns their names."""
    import importlib

    wanted = [
        ("followups", "app.followups.demo", "seed_followups", "conditions"),
        ("contracts", "app.contracts.demo", "seed_contracts", None),
        ("surveys", "app.surveys.demo", "seed_surveys", None),
        ("targets", "app.indicators.demo", "seed_targets", None),
    ]
    names = [name for name, _ in seed_module.STEPS]
    for name, module, function, after in wanted:
        try:
            step = getattr(importlib.import_module(module), function)
        except (ModuleNotFoundError, AttributeError):
            continue
        seed_module.register_step(name, step, after=after if after in names else None)
    return [name for name, _ in seed_module.STEPS]


def run(scale: float, runs: int, *, seed: bool, trend: bool) -> dict:
    from sqlalchemy import delete, func, select, text

    from app import create_app
    from app.demo import seed as seed_module
    from app.extensions import db
    from app.indicators import drilldown
    from app.indicators import facts as indicator_facts
    from app.indicators import report as indicator_report
    from app.indicators import rows as indicator_rows
    from app.indicators.catalogue import DEFINITIONS
    from app.indicators.engine import evaluation
    from app.indicators.models import FactBuild
    from app.orgs.models import Institution

    app = create_app("development")
    report: dict = {"scale": scale, "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    with app.app_context():
        db.create_all()
        if seed:
            report["seed_steps"] = _steps(seed_module)
            steps: dict = {}

            def echo(line: str) -> None:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "s":
                    steps[parts[0]] = float(parts[1])

            seconds, _ = timed(seed_module.run_seed, scale, 2024, echo=echo)
            report["seed_seconds"] = round(seconds, 1)
            report["seed_step_seconds"] = steps
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()

        def scalar(sql: str):
            try:
                return db.session.execute(text(sql)).scalar()
            except Exception:  # a table of a feature not in this build
                db.session.rollback()
                return None

        report["data"] = {
            table: scalar(f"select count(*) from {table}")
            for table in (
                "residents",
                "conditions",
                "followup_visits",
                "contracts",
                "contract_deliveries",
                "health_checks",
                "service_records",
                "survey_responses",
                "indicator_targets",
            )
        }
        report["data"]["database_size"] = scalar("select pg_size_pretty(pg_database_size(current_database()))")
        db.session.commit()

        root = db.session.scalar(select(Institution).where(Institution.parent_id.is_(None)))
        centres = db.session.scalars(select(Institution).where(Institution.parent_id == root.id)).all()
        report["institutions"] = {"district": root.name, "children": len(centres)}
        definitions = list(DEFINITIONS)

        def bare():
            value = db.session.execute(text("SELECT count(*) FROM residents")).scalar()
            db.session.rollback()
            return value

        def district():
            rows = indicator_rows.institution_rows(root, evaluation(), definitions)
            db.session.rollback()
            return rows

        from app.residents.models import Resident

        largest = max(
            centres,
            key=lambda c: db.session.scalar(
                select(func.count(Resident.id)).where(
                    Resident.institution_id.in_(select(Institution.id).where(Institution.path.startswith(c.path)))
                )
            ),
        )
        client = app.test_client()
        login = client.post(
            "/api/v1/auth/staff/login", json={"username": "admin", "password": app.config["DEMO_PASSWORD"]}
        )
        headers = {"Authorization": f"Bearer {login.json['access_token']}"} if login.status_code == 200 else None

        def measure() -> dict:
            """Every figure of today's indicators, as they are served right now."""
            out: dict = {}
            bare_runs, district_runs = [], []
            for _ in range(runs):  # interleaved: both see the same machine
                seconds, _ = timed(bare)
                bare_runs.append(seconds)
                seconds, rows = timed(district)
                district_runs.append(seconds)
            out["bare_count"] = summary(bare_runs)
            out["district"] = {**summary(district_runs), "rows": len(rows), "indicators": len(definitions)}
            out["ratio_district_to_bare_count"] = round(min(district_runs) / min(bare_runs), 1)
            out["district_total"] = {
                r["indicator"]: [r["numerator"], r["denominator"], r["rate"], r["target"]]
                for r in rows
                if r["scope"] == "total"
            }
            if headers:  # through the API, as the district admin
                api_runs = []
                for _ in range(runs):
                    seconds, response = timed(client.get, "/api/v1/indicators", headers=headers)
                    assert response.status_code == 200, response.json
                    api_runs.append(seconds)
                out["api_district"] = summary(api_runs)
            team_runs = []
            for _ in range(runs):
                seconds, body = timed(indicator_report.report, _admin(root), institution_id=largest.id, by="team")
                db.session.rollback()
                team_runs.append(seconds)
            out["centre_by_team"] = {**summary(team_runs), "centre": largest.name, "rows": len(body["rows"])}
            drill_runs = []
            for _ in range(runs):
                seconds, page = timed(
                    drilldown.residents_page,
                    _admin(root),
                    "hypertension_standardised_management",
                    part="missing",
                    per_page=20,
                )
                db.session.rollback()
                drill_runs.append(seconds)
            out["drilldown"] = {**summary(drill_runs), "total": page["total"]}
            out["drilldown_page"] = [item["id"] for item in page["items"]]
            return out

        # Today's figures counted in full (no facts build), then from a build and the changes since
        # (app/indicators/facts.py): the same numbers, the same drill-down page.
        db.session.execute(delete(FactBuild))
        db.session.commit()
        report["full"] = measure()
        seconds, built = timed(indicator_facts.build)
        report["facts_build"] = {"seconds": round(seconds, 1), **built}
        report["facts"] = measure()
        report["facts_equal_full"] = all(
            report["facts"][key] == report["full"][key] for key in ("district_total", "drilldown_page")
        ) and (report["facts"]["drilldown"]["total"] == report["full"]["drilldown"]["total"])
        changed_runs = {}
        for changed in (200, 2000):  # residents written since the build: counted live on top of it
            db.session.execute(
                text(
                    "UPDATE residents SET phone = phone WHERE id IN "
                    "(SELECT id FROM residents ORDER BY id % 997, id LIMIT :n)"
                ),
                {"n": changed},
            )
            db.session.commit()
            seconds, rows = timed(district)
            noted = db.session.scalar(text("SELECT count(DISTINCT resident_id) FROM indicator_changes"))
            db.session.rollback()
            changed_runs[changed] = {"seconds": round(seconds, 3), "noted": noted}
        report["facts_with_changes"] = changed_runs
        db.session.execute(delete(FactBuild))
        db.session.commit()
        seconds, full_rows = timed(district)
        report["facts_with_changes"]["full_count_seconds"] = round(seconds, 3)
        report["facts_with_changes"]["equal_to_full"] = rows == full_rows

        if trend:
            from app.indicators.jobs import snapshot_month_ends
            from app.indicators.models import IndicatorSnapshot

            db.session.query(IndicatorSnapshot).delete()
            db.session.commit()
            ctx = evaluation()
            seconds, series = timed(indicator_report.monthly_series, root, None, ctx, definitions)
            db.session.rollback()
            report["trend_live"] = {"seconds": round(seconds, 2), "months": len(series[0]["points"])}
            seconds, counts = timed(snapshot_month_ends)
            report["snapshot_job"] = {"seconds": round(seconds, 1), **counts}
            seconds, again = timed(indicator_report.monthly_series, root, None, evaluation(), definitions)
            db.session.rollback()
            report["trend_from_snapshots"] = {"seconds": round(seconds, 2), "same_as_live": again == series}
    report["load_average_at_end"] = os.getloadavg()
    return report


def _admin(root):
    from app.access.actors import Actor

    return Actor("staff", 0, "bench", frozenset({"district_admin"}), root.id, root.path, [])


if __name__ == "__main__":
    main()
