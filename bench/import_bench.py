"""The importer on PostgreSQL: ``flask import`` of a workbook of N residents with their conditions,
timed as a subprocess (wall clock), then the same file again (all unchanged), against a
hand-written set-based load of the same rows in the same run.

    python bench/import_bench.py [--residents 100000] [--keep] [--profile OUT.prof]

Two scratch databases (``bench/_common.scratch_database``), each ``flask db upgrade`` and
``seed-demo --scale 0.001`` (the organisation: 39 institutions, 10 teams, the service packages, and
481 demo residents of area 371002). The workbook (openpyxl write-only; dates as date cells, as the
export writes them) holds on 居民基本信息 N residents: GB 11643 numbers of area 371082 (so never a demo
resident's), sex and birth date as the number says (ages 0–90), a name, an 11-digit mobile, an
address, 管理机构编码 one of the seeded centres and clinics (RESIDENT_LEVELS) in turn; on 慢病登记
hypertension for 20 % of them and T2DM for 8 % (6 % both), all aged 35 or more, 确诊日期 in the last
ten years.

The baseline, in the second database: the same file read by calamine (as the importer reads it), each ID number
hashed and encrypted by the product's vault, then COPY into staging tables and one INSERT … SELECT
each into residents (archive numbers as the importer makes them), conditions, imports,
import_records and access_log. Before any ratio is printed the importer's and the baseline's
residents and conditions are compared (a digest of every column but the timestamps and the
ciphertext); a difference stops the run. The plan job (which the importer runs at its end) is timed
on the baseline database afterwards, outside the baseline's figure.

``--profile OUT.prof`` runs the first import under cProfile (its seconds are then not the figure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import ROOT, flask_cmd, scratch_database  # noqa: E402

AREA = "371082"  # 荣成市; every demo resident is 371002 (app/demo/context.py AREA_CODE)
AGES = 90 * 365  # birth dates spread over the last 90 years
BASIC_HEADERS = ["姓名", "身份证号", "性别", "出生日期", "本人电话", "现住址", "管理机构编码"]
CONDITION_HEADERS = ["身份证号", "姓名", "疾病", "确诊日期"]
DISEASES = {"高血压": "hypertension", "2型糖尿病": "t2dm"}
HYPERTENSION, DIABETES, BOTH = 0.20, 0.08, 0.06  # shares of all residents
LIMIT_SECONDS = 60
SUMMARY = re.compile(r"^(\S+): rows (\d+), created (\d+), updated (\d+), unchanged (\d+), rejected (\d+)", re.M)

STAGING = """
CREATE TEMP TABLE st_residents (n int, name text, hash text, enc text, sex text, birth_on date, phone text,
                                address text, code text) ON COMMIT DROP;
CREATE TEMP TABLE st_conditions (n int, hash text, disease text, diagnosed_on date) ON COMMIT DROP;
"""
BARE_RESIDENTS = """
INSERT INTO residents (id, archive_no, name, id_number_enc, id_number_hash, sex, birth_on, phone, address,
                       residency_type, institution_id, status, payment_methods, allergies, exposures,
                       past_history, family_history, disabilities, living_environment, disabled_certified,
                       poverty_alleviated, special_family, created_at, updated_at)
SELECT %(base)s + s.n, i.code || lpad((%(base)s + s.n)::text, 8, '0'), s.name, s.enc, s.hash, s.sex, s.birth_on,
       s.phone, s.address, 'registered', i.id, 'active', '[]', '[]', '[]', '[]', '[]', '[]', '{}',
       false, false, false, now(), now()
FROM st_residents s JOIN institutions i ON i.code = s.code ORDER BY s.n
"""
BARE_CONDITIONS = """
INSERT INTO conditions (resident_id, disease, diagnosed_on, active, created_at)
SELECT r.id, s.disease, s.diagnosed_on, true, now()
FROM st_conditions s JOIN residents r ON r.id_number_hash = s.hash ORDER BY s.n
"""
BARE_IMPORT = """
INSERT INTO imports (institution_id, file_name, stored_path, size, dry_run, status, rows, created, updated,
                     unchanged, rejected, total_rows, progress, cursor, sheets, attempts, created_at,
                     started_at, finished_at)
SELECT id, 'bench.xlsx', 'bench.xlsx', 0, false, 'done', %(rows)s, %(rows)s, 0, 0, 0, %(rows)s, 1, '{}', '{}',
       1, now(), now(), now()
FROM institutions WHERE parent_id IS NULL RETURNING id
"""
BARE_MARKS = (
    """
INSERT INTO import_records (import_id, kind, record_id, action)
SELECT %(job)s, 'residents', r.id, 'created' FROM residents r WHERE r.id > %(base)s
UNION ALL
SELECT %(job)s, 'conditions', c.id, 'created' FROM conditions c WHERE c.resident_id > %(base)s""",
    """
INSERT INTO access_log (at, actor_kind, actor_display, subject_resident_id, action, section, purpose)
SELECT now(), 'system', 'system', r.id, 'create', 'import:' || %(job)s, 'registration'
FROM (SELECT id FROM residents WHERE id > %(base)s
      UNION ALL SELECT DISTINCT resident_id FROM conditions WHERE resident_id > %(base)s) r""",
    "SELECT setval('residents_id_seq', (SELECT max(id) FROM residents))",
)
# Every column but the ones that differ by nature (timestamps, Fernet's random IV), per archive.
DIGEST_RESIDENTS = """
SELECT count(*), md5(string_agg((to_jsonb(r) - 'created_at' - 'updated_at' - 'id_number_enc')::text, E'\\n'
                                ORDER BY r.id))
FROM residents r WHERE r.id > %(base)s
"""
DIGEST_CONDITIONS = """
SELECT count(*), md5(string_agg(concat_ws('|', r.id_number_hash, c.resident_id, c.disease, c.diagnosed_on, c.active,
                                          c.recorded_by_id), E'\\n' ORDER BY r.id_number_hash, c.disease))
FROM conditions c JOIN residents r ON r.id = c.resident_id WHERE r.id > %(base)s
"""


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def run_flask(env: dict, *args: str, profile: str | None = None) -> tuple[float, float, str]:
    """A flask command as a subprocess: wall seconds, its CPU seconds (user + system), its output."""
    cmd = flask_cmd(*args)
    if profile:
        cmd = [sys.executable, "-m", "cProfile", "-o", profile, *cmd[1:]]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu, done.stdout


def prepare(url: str) -> tuple[dict, int, list[str]]:
    """Migrate, seed the organisation: the environment, the demo's last resident id, the resident-level codes."""
    import psycopg

    from app.residents.services import RESIDENT_LEVELS

    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    run_flask(env, "db", "upgrade")
    run_flask(env, "seed-demo", "--scale", "0.001")
    with psycopg.connect(conninfo(url)) as conn:
        base = conn.execute("SELECT max(id) FROM residents").fetchone()[0]
        codes = [
            c
            for (c,) in conn.execute(
                "SELECT code FROM institutions WHERE level = ANY(%s) ORDER BY code", (list(RESIDENT_LEVELS),)
            )
        ]
    return env, base, codes


def years_ago(day: date, years: int) -> date:
    return date(day.year - years, day.month, min(day.day, 28))


def generate(path: Path, n: int, codes: list[str], today: date, seed: int = 2024) -> dict:
    """The workbook: N residents and their conditions, as columns first, then written in one pass."""
    from openpyxl import Workbook

    from app.common.ids import make_id_number
    from app.demo import names

    rng = random.Random(seed)
    first = today - timedelta(days=AGES)
    births = [first + timedelta(days=(i * 7919) % AGES) for i in range(n)]  # 7919 ⟂ AGES: a permutation
    # the sequence's parity is the sex; (birth date, sequence) is unique: i // AGES differs on one date
    sequences = [2 * (i // AGES) + 1 + rng.getrandbits(1) for i in range(n)]
    numbers = [make_id_number(AREA, b, s) for b, s in zip(births, sequences, strict=True)]
    sexes = ["男" if s % 2 else "女" for s in sequences]
    people = [
        names.full_name(rng, "male" if x == "男" else "female", b.year) for x, b in zip(sexes, births, strict=True)
    ]
    roads = names.roads_for("")
    adults = [i for i, b in enumerate(births) if b <= years_ago(today, 35)]
    rng.shuffle(adults)
    ht, both, dm = round(HYPERTENSION * n), round(BOTH * n), round(DIABETES * n)
    if len(adults) < ht + dm - both:
        raise SystemExit("too few residents aged 35 or more for the conditions")
    chosen = [(i, "高血压") for i in adults[:ht]] + [(i, "2型糖尿病") for i in adults[ht - both : ht - both + dm]]
    chosen.sort()
    book = Workbook(write_only=True)
    basic = book.create_sheet("居民基本信息")
    basic.append(BASIC_HEADERS)
    for i in range(n):
        address = f"荣成市{roads[i % len(roads)]}{i % 300 + 1}号{i % 6 + 1}单元"
        basic.append([people[i], numbers[i], sexes[i], births[i], names.mobile(rng), address, codes[i % len(codes)]])
    conditions = book.create_sheet("慢病登记")
    conditions.append(CONDITION_HEADERS)
    for i, disease in chosen:
        conditions.append([numbers[i], people[i], disease, today - timedelta(days=rng.randint(30, 3650))])
    book.save(path)
    return {
        "residents": n,
        "conditions": len(chosen),
        "hypertension": ht,
        "t2dm": dm,
        "residents_with_a_condition": len({i for i, _ in chosen}),
        "aged_65_plus": sum(b <= years_ago(today, 65) for b in births),
        "aged_under_7": sum(b > years_ago(today, 7) for b in births),
    }


def import_counts(url: str) -> list[dict]:
    import psycopg

    with psycopg.connect(conninfo(url)) as conn:
        rows = conn.execute(
            "SELECT id, status, rows, created, updated, unchanged, rejected, "
            "extract(epoch FROM finished_at - started_at) FROM imports ORDER BY id"
        ).fetchall()
    keys = ("id", "status", "rows", "created", "updated", "unchanged", "rejected", "own_clock_seconds")
    return [dict(zip(keys, (*r[:-1], round(float(r[-1]), 2)), strict=True)) for r in rows]


def sheets_of(output: str) -> dict:
    return {
        m[0]: dict(zip(("rows", "created", "updated", "unchanged", "rejected"), map(int, m[1:]), strict=True))
        for m in SUMMARY.findall(output)
    }


def table_counts(url: str, base: int) -> dict:
    import psycopg

    queries = {
        "residents": f"SELECT count(*) FROM residents WHERE id > {base}",
        "conditions": f"SELECT count(*) FROM conditions WHERE resident_id > {base}",
        "import_records": "SELECT count(*) FROM import_records",
        "access_log": "SELECT count(*) FROM access_log WHERE section LIKE 'import:%%'",
        "database_size": "SELECT pg_size_pretty(pg_database_size(current_database()))",
    }
    with psycopg.connect(conninfo(url)) as conn:
        found = {name: conn.execute(sql).fetchone()[0] for name, sql in queries.items()}
        plans = "SELECT disease, count(*) FROM followup_plans WHERE status = 'open' AND resident_id > %s GROUP BY 1"
        found["open_plans"] = dict(conn.execute(plans, (base,)).fetchall())
        return found


def baseline(url: str, base: int, path: Path) -> dict:
    """The same rows, hand-written and set-based: read, hash + encrypt, COPY, one INSERT … SELECT per table."""
    import psycopg
    from python_calamine import CalamineWorkbook

    from app import create_app
    from app.common.ids import vault

    os.environ["DATABASE_URL"] = url
    app = create_app()
    with app.app_context():
        box = vault()
    timings = {}
    started = time.perf_counter()
    book = CalamineWorkbook.from_path(str(path))  # the reader the importer uses
    residents = list(book.get_sheet_by_name("居民基本信息").iter_rows())[1:]
    conditions = list(book.get_sheet_by_name("慢病登记").iter_rows())[1:]
    book.close()
    timings["read"] = time.perf_counter() - started
    started = time.perf_counter()
    hashes = {r[1]: box.lookup_hash(r[1]) for r in residents}
    staged = [
        (
            n,
            name,
            hashes[number],
            box.encrypt(number),
            "male" if sex == "男" else "female",
            born if not isinstance(born, datetime) else born.date(),
            phone,
            address,
            code,
        )
        for n, (name, number, sex, born, phone, address, code) in enumerate(residents, start=1)
    ]
    staged_conditions = [
        (n, hashes[number], DISEASES[disease], on if not isinstance(on, datetime) else on.date())
        for n, (number, _, disease, on) in enumerate(conditions, 1)
    ]
    timings["hash_encrypt"] = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(conninfo(url)) as conn:  # one transaction, committed on leaving
        conn.execute(STAGING)
        with conn.cursor() as cur:
            with cur.copy("COPY st_residents FROM STDIN") as copy:
                for row in staged:
                    copy.write_row(row)
            with cur.copy("COPY st_conditions FROM STDIN") as copy:
                for row in staged_conditions:
                    copy.write_row(row)
            timings["copy"] = time.perf_counter() - started
            cur.execute(BARE_RESIDENTS, {"base": base})
            cur.execute(BARE_CONDITIONS)
            job = cur.execute(BARE_IMPORT, {"rows": len(staged) + len(staged_conditions)}).fetchone()[0]
            for sql in BARE_MARKS:
                cur.execute(sql, {"job": job, "base": base})
    timings["sql"] = time.perf_counter() - started
    timings["total"] = sum(timings[k] for k in ("read", "hash_encrypt", "sql"))
    return {k: round(v, 2) for k, v in timings.items()}


def plan_job(url: str) -> float:
    """The plan job the importer runs at its end, on the baseline's rows (in process, once)."""
    from app import create_app
    from app.followups import plans_job

    os.environ["DATABASE_URL"] = url
    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        plans_job.ensure_plans()
        return round(time.perf_counter() - started, 2)


def digests(url: str, base: int) -> tuple:
    import psycopg

    with psycopg.connect(conninfo(url)) as conn:
        return tuple(conn.execute(sql, {"base": base}).fetchone() for sql in (DIGEST_RESIDENTS, DIGEST_CONDITIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases (and print their URLs)")
    parser.add_argument("--file", help="write the workbook here (default: a temporary directory)")
    parser.add_argument("--profile", help="run the first import under cProfile, writing this file")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    tree = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    report: dict = {"tree": tree.stdout.strip(), "cpus": os.cpu_count()}
    report["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    with (
        TemporaryDirectory() as tmp,
        scratch_database(keep=args.keep) as url,
        scratch_database(keep=args.keep) as bare_url,
    ):
        path = Path(args.file or Path(tmp) / "residents.xlsx").resolve()
        say("preparing two scratch databases (db upgrade, seed-demo --scale 0.001) …")
        env, base, codes = prepare(url)
        _, bare_base, bare_codes = prepare(bare_url)
        assert (base, codes) == (bare_base, bare_codes), "the two seeds differ"
        say(f"generating {args.residents:,} residents into {path} …")
        started = time.perf_counter()
        from app.common.time import today

        data = generate(path, args.residents, codes, today())
        data["generate_seconds"] = round(time.perf_counter() - started, 2)
        data["file_mb"] = round(path.stat().st_size / 2**20, 2)
        data["institutions_used"] = len(codes)
        report["data"] = data
        report["load_average_before_import"] = [round(x, 2) for x in os.getloadavg()]

        say("flask import (first run) …")
        seconds, cpu, output = run_flask(env, "import", str(path), profile=args.profile)
        report["import"] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "sheets": sheets_of(output)}
        report["import"]["rows_per_second"] = round((data["residents"] + data["conditions"]) / seconds)
        report["import"]["residents_per_second"] = round(data["residents"] / seconds)
        report["import"]["profiled"] = bool(args.profile)
        report["load_average_after_import"] = [round(x, 2) for x in os.getloadavg()]
        say("flask import (the same file again) …")
        seconds, cpu, output = run_flask(env, "import", str(path))
        report["reimport"] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "sheets": sheets_of(output)}
        report["imports_table"] = import_counts(url)
        report["after_import"] = table_counts(url, base)

        say("baseline: read + hash/encrypt + COPY + INSERT … SELECT …")
        report["baseline"] = baseline(bare_url, bare_base, path)
        ours, theirs = digests(url, base), digests(bare_url, bare_base)
        if ours != theirs:
            raise SystemExit(f"the importer's rows differ from the baseline's: {ours} vs {theirs}")
        report["rows_equal"] = {"residents": ours[0][0], "conditions": ours[1][0]}
        report["baseline"]["plan_job_seconds_outside"] = plan_job(bare_url)
        report["after_baseline"] = table_counts(bare_url, bare_base)
        if args.keep:
            report["databases"] = [url, bare_url]
    first, again, bare = report["import"]["seconds"], report["reimport"]["seconds"], report["baseline"]
    report["ratio_import_to_baseline"] = round(first / bare["total"], 2)
    report["ratio_import_to_baseline_sql"] = round(first / bare["sql"], 2)
    report["ratio_reimport_to_baseline"] = round(again / bare["total"], 2)
    report["within_60_s"] = None if args.profile else first <= LIMIT_SECONDS
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    data = report["data"]
    summary = {
        "residents": data["residents"],
        "conditions": data["conditions"],
        "file_mb": data["file_mb"],
        "load_average_before_after": [report["load_average_before_import"][0], report["load_average_after"][0]],
        "import_seconds": first,
        "reimport_seconds": again,
        "baseline_seconds": bare["total"],
        "ratio": report["ratio_import_to_baseline"],
        f"within_{LIMIT_SECONDS}_s": report["within_60_s"],
    }
    print(json.dumps({"summary": summary, **report}, ensure_ascii=False, indent=2, default=str))


if __name__ == "__main__":
    main()
