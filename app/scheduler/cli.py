from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

scheduler_cli = AppGroup("scheduler", help="The periodic jobs.")


@scheduler_cli.command("run")
def run():
    """Run the scheduler; a second process stands by and takes over if this one stops."""
    from app.scheduler.runner import SchedulerProcess

    SchedulerProcess(current_app._get_current_object()).run()


@scheduler_cli.command("list")
def list_jobs():
    """The jobs with their triggers and next run time."""
    from app.common.time import now
    from app.scheduler.jobs import JOBS
    from app.scheduler.runner import make_trigger

    tz = current_app.config["TZ_NAME"]
    for spec in JOBS:
        trigger = make_trigger(spec, tz)
        upcoming = trigger.get_next_fire_time(None, now())
        click.echo(f"{spec.id:28} {str(trigger):45} next {upcoming.isoformat()}  {spec.description}")


@scheduler_cli.command("run-once")
@click.argument("job_id")
@click.option("--at", "at", default=None, help="Run as if it were this instant (ISO 8601 with offset).")
def run_once(job_id: str, at: str | None):
    """Run one job now (or as of --at: catch-up after an outage, tests)."""
    from app.common.time import frozen, now
    from app.scheduler.jobs import by_id
    from app.scheduler.runner import run_job

    try:
        spec = by_id(job_id)
    except KeyError:
        raise click.BadParameter(f"unknown job {job_id!r}; see `flask scheduler list`") from None
    instant = now()
    if at:
        instant = datetime.fromisoformat(at)
        if instant.tzinfo is None:
            raise click.BadParameter("--at needs an offset, e.g. 2026-11-25T08:00:00+08:00")
    with frozen(instant):
        result = run_job(current_app._get_current_object(), spec)
    click.echo(f"{job_id}: {result}")


commands = [scheduler_cli]
