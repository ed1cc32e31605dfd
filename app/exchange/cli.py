"""``flask export-archives [--institution CODE] FILE``: the exchange workbook of a subtree;
``flask check-import FILE``: what importing one would do, writing nothing."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.exchange.check import check_workbook, write_report
from app.exchange.export import export_archives
from app.exchange.reader import ReadError, open_workbook
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


def _roots(code: str | None) -> list[Institution]:
    if code:
        found = db.session.scalars(select(Institution).where(Institution.code == code)).all()
        if not found:
            raise click.ClickException(f"no institution with code {code!r}")
        return list(found)
    return list(db.session.scalars(select(Institution).where(Institution.parent_id.is_(None))))


@click.command("check-import")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--institution", "code", default=None, help="Import into this institution's subtree (default: the district)."
)
@click.option("--sheet", "sheet_name", default=None, help="The sheet a csv is (default: the file's name).")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, writable=True), help="Write the report as xlsx."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of the counts.")
def check_import_command(path: str, code: str | None, sheet_name: str | None, report_path: str | None, as_json: bool):
    """Check a workbook (xlsx, or a csv of one sheet) in the import layout (docs/import.md) and report
    every rejected row with its sheet, row, field and reason. Writes nothing to the database.

    Exit status 0 when every row is valid, 1 when some are rejected, 2 when the file cannot be read."""
    roots = _roots(code)
    try:
        book = open_workbook(path, sheet_name)
    except ReadError as err:
        raise click.UsageError(str(err)) from None
    try:
        report = check_workbook(book, roots=roots, file=path)
    except UnicodeDecodeError:
        raise click.UsageError("a csv must be UTF-8 (Excel: save as “CSV UTF-8”)") from None
    finally:
        book.close()
    if report_path:
        write_report(report, report_path)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        for s in report.sheets:
            line = f"{s.sheet}: rows {s.rows}, valid {s.valid}, rejected {s.rejected}, new {s.new}, existing {s.existing} (would update)"
            click.echo(line + (f"; ignored columns: {'、'.join(s.ignored_columns)}" if s.ignored_columns else ""))
            if s.missing_columns:
                click.echo(f"  missing required columns: {'、'.join(s.missing_columns)}")
        if report.ignored_sheets:
            click.echo(f"ignored sheets: {'、'.join(report.ignored_sheets)}")
        for item in report.rejected[:50]:
            click.echo(f"  {item['sheet']} row {item['row']} {item['field']}: {item['reason']}")
        if len(report.rejected) > 50:
            click.echo(f"  … {len(report.rejected) - 50} more (--report or --json for all)")
    if report.rejected_rows:
        raise SystemExit(1)


commands = [export_archives_command, check_import_command]
