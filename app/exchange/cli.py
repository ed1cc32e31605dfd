"""``flask export-archives [--institution CODE] FILE``: the exchange workbook of a subtree."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.exchange.export import export_archives
from app.extensions import db
from app.orgs.models import Institution


@click.command("export-archives")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--institution", "code", default=None, help="Institution code (default: the whole district).")
@click.option("--masked", is_flag=True, help="Mask ID numbers (the file then cannot be imported again).")
def export_archives_command(path: str, code: str | None, masked: bool):
    """Write the archives of an institution's subtree in the import layout (docs/import.md).

    Runs as the system: the access log names the system as exporter, and ID numbers are in full
    (whoever runs it holds ID_NUMBER_KEY anyway) unless --masked."""
    if code:
        found = db.session.scalars(select(Institution).where(Institution.code == code)).all()
        if not found:
            raise click.ClickException(f"no institution with code {code!r}")
    else:
        found = db.session.scalars(select(Institution).where(Institution.parent_id.is_(None))).all()
    try:
        counts = export_archives(path, actor=None, institutions=list(found), full_id_numbers=not masked)
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()  # the access-log rows, once the file is written
    click.echo(", ".join(f"{sheet} {n}" for sheet, n in counts.items()))


commands = [export_archives_command]
