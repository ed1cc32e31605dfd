import click
from flask.cli import AppGroup

notify_cli = AppGroup("notify", help="The reminder pipeline.")


@notify_cli.command("dispatch")
@click.option("--once", is_flag=True, help="Drain what is due now, then exit.")
@click.option("--batch", type=int, default=None, help="Rows claimed per round [NOTIFY_BATCH_SIZE].")
@click.option("--idle", default=2.0, show_default=True, help="Seconds to sleep when nothing is due.")
def dispatch(once: bool, batch: int, idle: float):
    """Run a dispatcher worker (any number may run side by side on PostgreSQL)."""
    from flask import current_app

    from app.notify.dispatcher import drain, run_forever

    batch = batch or current_app.config["NOTIFY_BATCH_SIZE"]
    if once:
        result = drain(batch)
        click.echo(
            f"claimed={result.claimed} sent={result.sent} retried={result.retried} "
            f"failed={result.failed} deferred={result.deferred}"
        )
        return
    run_forever(batch, idle)


commands = [notify_cli]
