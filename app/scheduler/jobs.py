"""The central job list: every periodic job of the product, with its id and trigger.

Jobs are referenced by dotted path so this list imports no feature at load time.
Every job is idempotent and set-based; it may run twice (after a takeover, or by
``scheduler run-once``) without doing anything twice.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSpec:
    id: str
    target: str  # "package.module:function"
    trigger: str  # "interval" | "cron"
    trigger_args: dict
    description: str

    def function(self):
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        "notify-dispatch",
        "app.notify.jobs:dispatch_due",
        "interval",
        {"seconds": 30},
        "deliver due reminders (WeChat + inbox)",
    ),
    JobSpec(
        "imports",
        "app.exchange.jobs:work_queued",
        "interval",
        {"seconds": 10},
        "run the uploaded imports, one at a time; resume one whose worker stopped",
    ),
    JobSpec(
        "family-grants-daily",
        "app.family.jobs:family_grants_daily",
        "cron",
        {"hour": 1, "minute": 10},
        "guardian access ends at 14 (becomes a request); unanswered requests expire",
    ),
    JobSpec(
        "contracts-daily",
        "app.contracts.jobs:run_daily",
        "cron",
        {"hour": 1, "minute": 0},
        "expire ended contracts, start scheduled renewals, renewal reminders",
    ),
    JobSpec(
        "followups-plans",
        "app.followups.plans_job:ensure_plans",
        "cron",
        {"hour": 1, "minute": 30},
        "every managed patient has one open follow-up plan, every resident a yearly check plan due; "
        "close plans of those who left, fulfilled and lapsed checks",
    ),
    JobSpec(
        "indicators-snapshot",
        "app.indicators.jobs:snapshot_month_ends",
        "cron",
        {"hour": 2, "minute": 30},
        "freeze each finished month's indicators for the trend",
    ),
    JobSpec(
        "indicator-facts",
        "app.indicators.facts:refresh",
        "interval",
        {"minutes": 5},
        "rebuild today's per-resident indicator facts when the day turned or many residents changed",
    ),
    JobSpec(
        "idempotency-expire",
        "app.common.idempotency:expire_keys",
        "cron",
        {"hour": 3, "minute": 0},
        "delete Idempotency-Keys older than IDEMPOTENCY_KEY_HOURS",
    ),
    JobSpec(
        "rate-limits-expire",
        "app.common.rate_limits:expire_counters",
        "cron",
        {"hour": 3, "minute": 5},
        "delete rate-limit counters whose window has ended",
    ),
    JobSpec(
        "access-log-retention",
        "app.audit.retention:expire_access_log",
        "cron",
        {"hour": 3, "minute": 20},
        "delete access-log rows older than ACCESS_LOG_RETENTION_DAYS, in batches",
    ),
    JobSpec(
        "outbox-retention",
        "app.notify.retention:expire_outbox",
        "cron",
        {"hour": 3, "minute": 40},
        "delete finished outbox rows older than OUTBOX_RETENTION_DAYS, in batches",
    ),
    JobSpec(
        "followups-reminders",
        "app.followups.reminders_job:send_reminders",
        "cron",
        {"hour": 6, "minute": 0},
        "remind patients whose follow-up window opens",
    ),
    JobSpec(
        "followups-digest",
        "app.followups.digest_job:team_digest",
        "cron",
        {"hour": 7, "minute": 30},
        "each team's morning digest: due today and overdue",
    ),
    JobSpec(
        "surveys-invite",
        "app.surveys.jobs:invite_newcomers",
        "cron",
        {"hour": 7, "minute": 40},
        "invite residents who newly fall into an open survey's target",
    ),
    JobSpec(
        "appointments-day-lists",
        "app.appointments.jobs:send_day_lists",
        "cron",
        {"hour": 17, "minute": 0},
        "tomorrow's booked list to each team's inbox",
    ),
)


def by_id(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    raise KeyError(job_id)
