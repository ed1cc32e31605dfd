"""HTTP throughput and latency of the archive and the follow-up worklist under gunicorn (2 workers),
against a bare Flask JSON endpoint served the same way in the same run.

    python bench/http_api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_http
                         [--seconds 10] [--warmup 2] [--clients 1,8,32] [--workers 2]
                         [--baseline-tree DIR]

The database must already hold the demo district (``flask --app wsgi db upgrade`` then
``flask --app wsgi seed-demo --scale 1``); it is reused, not rebuilt (each archive read adds one
access-log row, as in production). The run starts a WeChat sandbox, gunicorn serving ``wsgi:app``
and gunicorn serving ``bench/bare_app.py`` (same worker count, worker class and flags, loopback,
no access log), then logs in as real demo users through the API:

- the team leader GP (``hcNN-docNN``, ``DEMO_PASSWORD``) of the team with the most open follow-up
  plans — the longest worklist of the district;
- a resident of that team (the managed patient with a contract in force and the most follow-up
  visits) through the WeChat sandbox login and archive binding, name and ID number as a user would
  type them.

and measures, at each client count, for the same number of seconds each (interleaved, so every
ratio compares figures taken moments apart): the bare endpoint, ``GET /healthz`` of the real app
(the framework without the database), ``GET /api/v1/residents/{rid}/archive`` as the doctor and as
the resident, and ``GET /api/v1/followups/worklist`` as the doctor. Clients are threads, each with
its own ``requests.Session``; the load generator shares the machine's cores with the servers and
PostgreSQL, as does the bare endpoint's, which is why the ratio is the figure to compare.

Also printed: the data size; the in-process cost of one request (Flask test client in this process,
after the servers stopped: SQL statements issued, mean wall, app CPU and PostgreSQL backend CPU
milliseconds — steadier than the HTTP figures when other work shares the machine); and the resident
set size of every gunicorn worker after boot and after the run (``/proc``). Access tokens are made
to last two hours (``JWT_ACCESS_MINUTES``) so that a long run does not outlive them.

``--baseline-tree DIR`` serves a second copy of the code (say, an export of the previous commit) from
DIR on the same database and measures each API row against it right after ours ("[baseline]" rows):
run one after the other, before / after comparisons drown in the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sqlalchemy import text  # noqa: E402

from bench import raw_equality  # noqa: E402
from bench._common import ROOT, flask_cmd, free_port, start, wait_http  # noqa: E402

DATA_TABLES = (
    "institutions",
    "teams",
    "staff",
    "households",
    "residents",
    "conditions",
    "followup_plans",
    "followup_visits",
    "contracts",
    "contract_items",
    "health_checks",
    "service_records",
    "access_log",
    "outbox",
)


# --- the subjects ------------------------------------------------------------------------------


def prepare(app) -> dict:
    """Data sizes, and the team, doctor and resident to measure with (read in this process)."""
    from sqlalchemy import text

    from app.common.ids import vault
    from app.extensions import db

    def scalar(sql: str, **params):
        return db.session.execute(text(sql), params).scalar()

    with app.app_context():
        data = {}
        for table in DATA_TABLES:
            try:
                data[table] = scalar(f'SELECT count(*) FROM "{table}"')
            except Exception:  # a table of a feature not in this build
                db.session.rollback()
        data["open_plans"] = scalar("SELECT count(*) FROM followup_plans WHERE status = 'open'")
        data["database_size"] = scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
        team_id, team_plans = db.session.execute(
            text(
                "SELECT r.team_id, count(*) FROM followup_plans p JOIN residents r ON r.id = p.resident_id "
                "WHERE p.status = 'open' AND p.disease IN ('hypertension', 't2dm') "
                "GROUP BY r.team_id ORDER BY count(*) DESC, r.team_id LIMIT 1"
            )
        ).one()
        doctor = db.session.execute(
            text(
                "SELECT s.username FROM team_members m JOIN staff s ON s.id = m.staff_id "
                "WHERE m.team_id = :team AND m.role = 'leader_gp'"
            ),
            {"team": team_id},
        ).scalar_one()
        # A contract in force, as for about half the district: its summary is part of the archive; and
        # health checks (an elderly patient: the three-year comparison too) where the district has them.
        resident = db.session.execute(
            text(
                "SELECT r.id, r.name, r.id_number_enc, count(v.id) AS visits FROM residents r "
                "JOIN followup_visits v ON v.resident_id = r.id WHERE r.team_id = :team AND r.status = 'active' "
                "AND EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id AND c.status = 'active') "
                # with health checks where the district has them: the archive with every section present
                "GROUP BY r.id ORDER BY EXISTS (SELECT 1 FROM health_checks h WHERE h.resident_id = r.id) DESC, "
                "count(v.id) DESC, r.id LIMIT 1"
            ),
            {"team": team_id},
        ).one()
        subject = {
            "team_id": team_id,
            "team_open_plans": team_plans,
            "doctor": doctor,
            "resident_id": resident.id,
            "resident_name": resident.name,
            "resident_id_number": vault().decrypt(resident.id_number_enc),
            "resident_visits": resident.visits,
            "resident_health_checks": _maybe(
                db, scalar, "SELECT count(*) FROM health_checks WHERE resident_id = :rid", rid=resident.id
            ),
            "resident_service_records": _maybe(
                db, scalar, "SELECT count(*) FROM service_records WHERE resident_id = :rid", rid=resident.id
            ),
        }
        db.session.rollback()
    return {"data": data, "subject": subject}


def _maybe(db, scalar, sql, **params):
    try:
        return scalar(sql, **params)
    except Exception:
        db.session.rollback()
        return None


def log_in(api: str, subject: dict, password: str) -> dict:
    """Bearer headers for the doctor (password) and the resident (WeChat sandbox login + binding)."""
    response = requests.post(
        f"{api}/auth/staff/login", json={"username": subject["doctor"], "password": password}, timeout=30
    )
    response.raise_for_status()
    doctor = {"Authorization": f"Bearer {response.json()['access_token']}"}
    # One WeChat account per archive across runs: binding again is a no-op for the same account.
    code = f"bench-resident-{subject['resident_id']}:{uuid.uuid4().hex}"
    response = requests.post(f"{api}/auth/wechat/login", json={"code": code}, timeout=30)
    response.raise_for_status()
    resident = {"Authorization": f"Bearer {response.json()['access_token']}"}
    response = requests.post(
        f"{api}/auth/wechat/bind",
        headers=resident,
        timeout=30,
        json={"name": subject["resident_name"], "id_number": subject["resident_id_number"]},
    )
    if response.status_code != 200:
        raise RuntimeError(f"binding the bench resident failed: {response.status_code} {response.text}")
    return {"doctor": doctor, "resident": resident}


# --- load --------------------------------------------------------------------------------------


def load(url: str, headers: dict, clients: int, seconds: float, warmup: float) -> dict:
    """``clients`` threads request ``url`` back to back; latencies of the measured window only."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    phase = {"measure_from": None, "stop_at": None}
    ready = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        session = requests.Session()
        session.headers.update(headers)
        ready.wait()
        while True:
            started = time.perf_counter()
            if started >= phase["stop_at"]:
                break
            try:
                response = session.get(url, timeout=60)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            ended = time.perf_counter()
            if started >= phase["measure_from"]:
                if ok:
                    latencies[i].append(ended - started)
                else:
                    errors[i] += 1
        session.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    now = time.perf_counter()
    phase["measure_from"], phase["stop_at"] = now + warmup, now + warmup + seconds
    ready.wait()
    for t in threads:
        t.join()
    # Throughput over the window: requests started in it (the last ones may end slightly after).
    done = sorted(x for per_client in latencies for x in per_client)
    return {
        "requests": len(done),
        "errors": sum(errors),
        "per_second": len(done) / seconds,
        "p50": _pct(done, 50),
        "p95": _pct(done, 95),
        "p99": _pct(done, 99),
    }


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1] * 1000


# --- what one request costs in SQL ---------------------------------------------------------------


def in_process_cost(app, paths: dict[str, tuple[str, dict]], repeat: int) -> dict[str, dict]:
    """Per request, through the Flask test client in this process (no HTTP, no other load from this
    run): SQL statements issued, and the mean wall, app CPU and PostgreSQL CPU milliseconds over
    ``repeat`` requests. Steadier than the HTTP figures on a shared machine: app + database CPU is
    what bounds the throughput when both share the cores."""
    from sqlalchemy import event, text

    from app.extensions import db

    with app.app_context():
        db.engine.dispose()  # one connection from here on (sequential requests reuse it)
        engine = db.engine
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        db.session.rollback()
    client = app.test_client()
    out = {}
    for label, (path, headers) in paths.items():
        seen = []

        def count(*_args, **_kwargs):
            seen.append(1)

        client.get(path, headers=headers)  # warm: the statement cache, lazy imports
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(path, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, (label, response.status_code, response.get_data(as_text=True)[:300])
        wall, cpu, pg = time.perf_counter(), time.process_time(), _process_cpu(backend)
        for _ in range(repeat):
            client.get(path, headers=headers)
        pg_after = _process_cpu(backend)
        out[label] = {
            "statements": len(seen),
            "wall_ms": (time.perf_counter() - wall) * 1000 / repeat,
            "cpu_ms": (time.process_time() - cpu) * 1000 / repeat,
            "pg_cpu_ms": None if pg is None or pg_after is None else (pg_after - pg) * 1000 / repeat,
        }
    with app.app_context():
        db.engine.dispose()
    return out


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a local process (the PostgreSQL backend), None if not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- processes -----------------------------------------------------------------------------------


def gunicorn(target: str, port: int, workers: int, env: dict, cwd: Path | None = None):
    import subprocess

    args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}", target]
    if cwd is None:
        return start(args, env)
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident set size of each worker (the master's children), from /proc."""
    sizes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != master_pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return sorted(sizes)


def stop(process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except Exception:
        process.kill()
        process.wait()


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database seeded with seed-demo")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per endpoint and client count")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each measurement")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="another copy of the code (e.g. the previous commit): served side by side on the same "
        "database, its rows measured right after ours (before / after on a shared machine)",
    )
    parser.add_argument(
        "--in-process",
        type=int,
        default=100,
        metavar="N",
        help="requests per endpoint for the in-process cost (statements, wall and CPU ms)",
    )
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("JWT_ACCESS_MINUTES", "120")
    from app import create_app

    app = create_app("development")
    load_at_start = os.getloadavg()
    info = prepare(app)
    data, subject = info["data"], info["subject"]

    with app.app_context():
        from app.extensions import db

        path = db.session.execute(
            text("SELECT i.path FROM staff s JOIN institutions i ON i.id = s.institution_id WHERE s.username = :u"),
            {"u": subject["doctor"]},
        ).scalar()
        cases, outside = raw_equality.sample(db.session.connection(), path)
        db.session.rollback()

    sandbox_port, app_port, bare_port, raw_port = free_port(), free_port(), free_port(), free_port()
    env = {**os.environ, "WECHAT_API_BASE": f"http://127.0.0.1:{sandbox_port}"}
    processes = []
    try:
        processes.append(start(flask_cmd("wechat-sandbox", "--port", str(sandbox_port)), env))
        real = gunicorn("wsgi:app", app_port, args.workers, env)
        bare = gunicorn("bench.bare_app:app", bare_port, args.workers, env)
        raw = gunicorn("raw_app:app", raw_port, args.workers, env, cwd=ROOT / "bench")
        processes += [real, bare, raw]
        waits = [(sandbox_port, "/sandbox/state"), (app_port, "/healthz"), (bare_port, "/bare")]
        waits.append((raw_port, "/raw/ping"))
        if args.baseline_tree:
            baseline_port = free_port()
            processes.append(gunicorn("wsgi:app", baseline_port, args.workers, env, cwd=args.baseline_tree))
            waits.append((baseline_port, "/healthz"))
        for port, path in waits:
            wait_http(f"http://127.0.0.1:{port}{path}", 60)
        base, api = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{app_port}/api/v1"
        headers = log_in(api, subject, app.config["DEMO_PASSWORD"])
        rid = subject["resident_id"]
        raw_base = f"http://127.0.0.1:{raw_port}/raw"
        equality = raw_equality.check(api, raw_base, headers["doctor"], rid, cases, outside)
        targets = [
            ("bare", f"http://127.0.0.1:{bare_port}/bare", {}),
            ("healthz (app, no db)", f"{base}/healthz", {}),
            ("archive as doctor", f"{api}/residents/{rid}/archive", headers["doctor"]),
            ("raw archive [pg json]", f"{raw_base}/pg/residents/{rid}/archive", headers["doctor"]),
            ("archive as resident", f"{api}/residents/{rid}/archive", headers["resident"]),
            ("worklist as doctor", f"{api}/followups/worklist", headers["doctor"]),
            ("raw worklist [pg json]", f"{raw_base}/pg/followups/worklist", headers["doctor"]),
        ]
        if args.baseline_tree:  # each API row followed by the same request to the baseline's server
            other = f"http://127.0.0.1:{baseline_port}"
            targets = [
                row
                for label, url, h in targets
                for row in (
                    [(label, url, h)]
                    + ([(f"{label} [baseline]", url.replace(base, other), h)] if url.startswith(api) else [])
                )
            ]
        for _, url, h in targets:  # every target answers 200 before anything is timed
            response = requests.get(url, headers=h, timeout=60)
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
        worklist_total = requests.get(f"{api}/followups/worklist", headers=headers["doctor"], timeout=60).json()[
            "total"
        ]
        rss_boot = {"app": worker_rss_mb(real.pid), "bare": worker_rss_mb(bare.pid)}
        results = {}
        for clients in levels:
            for label, url, h in targets:
                results[(clients, label)] = load(url, h, clients, args.seconds, args.warmup)
        rss_end = {"app": worker_rss_mb(real.pid), "bare": worker_rss_mb(bare.pid)}
    finally:
        for process in reversed(processes):
            stop(process)

    cost = in_process_cost(
        app,
        {
            "archive as doctor": (f"/api/v1/residents/{rid}/archive", headers["doctor"]),
            "archive as resident": (f"/api/v1/residents/{rid}/archive", headers["resident"]),
            "worklist as doctor": ("/api/v1/followups/worklist", headers["doctor"]),
        },
        args.in_process,
    )

    print(
        f"machine: {os.cpu_count()} CPUs, load average at start {load_at_start[0]:.2f}, "
        f"at end {os.getloadavg()[0]:.2f}; gunicorn {args.workers} sync workers each for the app and the bare "
        f"endpoint; {args.seconds:g} s measured after {args.warmup:g} s warm-up per row"
    )
    print("data: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in data.items()))
    print(
        f"subjects: team {subject['team_id']} ({subject['team_open_plans']:,} open plans, worklist total "
        f"{worklist_total:,}), doctor {subject['doctor']}; resident {rid} ({subject['resident_visits']} follow-up "
        f"visits, {subject['resident_health_checks']} health checks, {subject['resident_service_records']} "
        f"service records)"
    )
    print(f"raw baseline (bench/raw_app.py) equal to the API before timing: {len(equality)} comparisons")
    for line in equality:
        print("  " + line)
    print(f"in process (test client, mean of {args.in_process} requests):")
    for k, v in cost.items():
        pg = "n/a (server not local)" if v["pg_cpu_ms"] is None else f"{v['pg_cpu_ms']:.1f} ms"
        print(
            f"  {k:<20} {v['statements']:>3} SQL statements, {v['wall_ms']:6.1f} ms wall, "
            f"{v['cpu_ms']:6.1f} ms app CPU, PostgreSQL backend CPU {pg}"
        )
    print()
    print(
        f"{'clients':>7}  {'endpoint':<33} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"
        f"  {'req/s ÷ bare':>12} {'p50 × bare':>10} {'p99 × bare':>10}"
    )
    for clients in levels:
        floor = results[(clients, "bare")]
        for label, _, _ in targets:
            r = results[(clients, label)]
            print(
                f"{clients:>7}  {label:<33} {r['per_second']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                f"{r['p99']:>8.1f} {r['errors']:>6}  {r['per_second'] / floor['per_second']:>12.3f} "
                f"{r['p50'] / floor['p50']:>10.1f} {r['p99'] / floor['p99']:>10.1f}"
            )
    print()
    print("the API ÷ its raw-SQL baseline (bench/raw_app.py), same client count, measured back to back:")
    for clients in levels:
        for ours, theirs in (
            ("archive as doctor", "raw archive [pg json]"),
            ("worklist as doctor", "raw worklist [pg json]"),
        ):
            a, b = results[(clients, ours)], results[(clients, theirs)]
            print(
                f"{clients:>7}  {ours:<22} req/s {a['per_second'] / b['per_second']:.2f}x "
                f"({a['per_second']:.1f} / {b['per_second']:.1f}), p99 {a['p99']:.1f} ms (raw {b['p99']:.1f} ms)"
            )
    if args.baseline_tree:
        print()
        print(f"this tree ÷ baseline ({args.baseline_tree}), same client count, measured back to back:")
        for clients in levels:
            for label, _, _ in targets:
                if label.endswith(" [baseline]"):
                    ours, theirs = results[(clients, label[: -len(" [baseline]")])], results[(clients, label)]
                    print(
                        f"{clients:>7}  {label[: -len(' [baseline]')]:<22} req/s "
                        f"{ours['per_second'] / theirs['per_second']:.2f}x, p50 {ours['p50'] / theirs['p50']:.2f}x, "
                        f"p99 {ours['p99'] / theirs['p99']:.2f}x"
                    )
    print()
    for kind in ("app", "bare"):
        print(
            f"RSS per worker, {kind}: after boot "
            + ", ".join(f"{mb:.0f} MB" for mb in rss_boot[kind])
            + "; after the run "
            + ", ".join(f"{mb:.0f} MB" for mb in rss_end[kind])
        )
    print(f"ratio app / bare worker RSS after the run: {sum(rss_end['app']) / sum(rss_end['bare']):.1f}x")


if __name__ == "__main__":
    main()
