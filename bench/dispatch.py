"""Dispatch rate: reminders per second to the WeChat sandbox with one and with two
dispatcher processes on PostgreSQL, duplicates counted (must be 0).

    python bench/dispatch.py [--rows 5000] [--concurrency N]

Each run uses a fresh scratch database and a fresh sandbox process; the sandbox's
message log is the witness for duplicates. The rate is over the whole run, the
dispatchers' process start included; "window" is first to last message received.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import flask_cmd, free_port, scratch_database, start, wait_http  # noqa: E402


def populate(url: str, rows: int) -> None:
    os.environ["DATABASE_URL"] = url
    from sqlalchemy import insert

    from app import create_app
    from app.accounts.models import WechatAccount
    from app.extensions import db
    from app.notify import services as notify
    from app.notify.models import SubscriptionCredit
    from app.notify.notifications import HEALTH_REMINDER as template
    from app.orgs.models import Institution
    from app.residents.models import Resident

    app = create_app("production" if os.environ.get("APP_ENV") == "production" else "development")
    with app.app_context():
        db.create_all()
        db.session.add(Institution(id=1, code="B1", name="bench", kind="community_health_center", level=3, path="/1/"))
        db.session.flush()
        db.session.execute(
            insert(Resident),
            [
                {
                    "id": i + 1,
                    "archive_no": f"B{i}",
                    "name": "居民",
                    "id_number_enc": "x",
                    "id_number_hash": f"{i}",
                    "sex": "male",
                    "birth_on": date(1970, 1, 1),
                    "institution_id": 1,
                }
                for i in range(rows)
            ],
        )
        db.session.execute(
            insert(WechatAccount), [{"id": i + 1, "openid": f"o{i}", "resident_id": i + 1} for i in range(rows)]
        )
        db.session.execute(
            insert(SubscriptionCredit),
            [{"account_id": i + 1, "template_id": template.template_id, "credits": 1} for i in range(rows)],
        )
        notify.enqueue_many(
            [
                (
                    notify.resident(i + 1),
                    template.kind,
                    f"b:{i}",
                    {"title": "请按时随访", "team": "团队", "when": "2026-12-01 09:00"},
                    None,
                )
                for i in range(rows)
            ]
        )
        db.session.commit()
        db.engine.dispose()


def run(rows: int, dispatchers: int, concurrency: int | None = None) -> dict:
    with scratch_database() as url:
        populate(url, rows)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WECHAT_API_BASE": f"http://127.0.0.1:{port}",
            "QUIET_HOURS": "0-0",
            "LOG_LEVEL": "WARNING",
            **({"NOTIFY_SEND_CONCURRENCY": str(concurrency)} if concurrency else {}),
        }
        sandbox = start(flask_cmd("wechat-sandbox", "--port", str(port)), env)
        try:
            wait_http(f"http://127.0.0.1:{port}/sandbox/state")
            started = time.perf_counter()
            workers = [
                start(
                    [*flask_cmd("notify", "dispatch", "--once", "--batch", "100")], {**env, "BENCH_ROLE": "dispatcher"}
                )
                for _ in range(dispatchers)
            ]
            for w in workers:
                w.wait()
            seconds = time.perf_counter() - started
            sent = requests.get(f"http://127.0.0.1:{port}/sandbox/messages", timeout=30).json()["items"]
        finally:
            sandbox.terminate()
            sandbox.wait()
    unique = len({m["touser"] for m in sent})
    received = sorted(datetime.fromisoformat(m["received_at"]) for m in sent)
    return {
        "window": (received[-1] - received[0]).total_seconds() if received else 0.0,
        "dispatchers": dispatchers,
        "rows": rows,
        "seconds": seconds,
        "sent": len(sent),
        "duplicates": len(sent) - unique,
        "missing": rows - unique,
        "per_second": len(sent) / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, help="NOTIFY_SEND_CONCURRENCY for the dispatchers")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    one = run(args.rows, 1, args.concurrency)
    two = run(args.rows, 2, args.concurrency)
    print(f"data: {args.rows} due reminders, each to its own bound WeChat account with one credit")
    print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    for r in (one, two):
        print(
            f"{r['dispatchers']} dispatcher(s): {r['sent']} sent in {r['seconds']:.1f}s = "
            f"{r['per_second']:.0f}/s (window {r['window']:.1f}s), "
            f"duplicates {r['duplicates']}, missing {r['missing']}"
        )
    print(f"ratio two/one dispatchers: {two['per_second'] / one['per_second']:.2f}x")


if __name__ == "__main__":
    main()
