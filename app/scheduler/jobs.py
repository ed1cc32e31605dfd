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
    JobSpec("notify-dispatch", "app.notify.jobs:dispatch_due", "interval", {"seconds": 30},
            "deliver due reminders (WeChat + inbox)"),
    JobSpec("family-grants-daily", "app.family.jobs:family_grants_daily", "cron", {"hour": 1, "minute": 10},
            "guardian access ends at 14 (becomes a request); unanswered requests expire"),
)


def by_id(job_id: str) -> JobSpec:
    for spec in JOBS:
        if spec.id == job_id:
            return spec
    raise KeyError(job_id)
