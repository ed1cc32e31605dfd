"""``flask export-archives [--institution CODE] FILE``: the exchange workbook of a subtree;
``flask check-import FILE``: what importing one would do, writing nothing; ``flask import FILE``:
import it; ``flask import-worker``: run the imports uploaded through the API."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from tqdm import tqdm

from app.common.time import now
from app.exchange.check import check_workbook
from app.exchange.export import export_archives
from app.exchange.importer import failure_text, rejections_of, run_import
from app.exchange.jobs import requeue, work_queued
from app.exchange.models import Import
from app.exchange.reader import ReadError, open_workbook
from app.exchange.report import write_check_report, write_import_report
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
        write_check_report(report, report_path)
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


@click.command("import")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--institution", "code", default=None, help="Import into this institution's subtree (default: the district)."
)
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.option("--sheet", "sheet_name", default=None, help="The sheet a csv is (default: the file's name).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True), help="Rejected rows as xlsx.")
def import_command(path: str, code: str | None, dry_run: bool, sheet_name: str | None, report_path: str | None):
    """Import a workbook (xlsx, or a csv of one sheet) in the layout of docs/import.md: new records are
    created, changed ones updated, the same file twice changes nothing. Runs as the system (the access
    log names the import). Exit status 1 when some rows were rejected, 2 when the file cannot be read."""
    job = Import(
        institution_id=_roots(code)[0].id,
        file_name=Path(path).name[:200],
        stored_path=str(Path(path).resolve()),
        size=Path(path).stat().st_size,
        sheet_name=sheet_name,
        dry_run=dry_run,
        status="running",
        started_at=now(),
        heartbeat_at=now(),
        attempts=1,
    )
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException("an import is running; wait for it to finish") from None
    _run_with_bar(job)
    _summary(job, report_path)


def _run_with_bar(job: Import) -> None:
    with tqdm(total=job.total_rows, unit="row", desc=f"import {job.id}", disable=None) as bar:

        def advance(rows: int) -> None:
            bar.total = bar.total or job.total_rows
            bar.update(rows - bar.n)

        try:
            run_import(job, on_rows=advance)
        except ReadError as err:  # the file itself (opened once: reading a large workbook's index is not free)
            raise click.UsageError(str(err)) from None
        except Exception as err:
            raise click.ClickException(
                f"import {job.id} failed: {failure_text(err)}; `flask import-resume {job.id}` goes on"
            ) from None


def _summary(job: Import, report_path: str | None) -> None:
    verb = "would be" if job.dry_run else ""
    click.echo(f"import {job.id}{' (dry run)' if job.dry_run else ''}: {job.status}")
    for name, s in (job.sheets or {}).items():
        click.echo(
            f"{name}: rows {s['rows']}, created {s['created']}, updated {s['updated']}, "
            f"unchanged {s['unchanged']}, rejected {s['rejected']} {verb}".rstrip()
        )
    rejected = rejections_of(job)
    for item in rejected[:50]:
        click.echo(f"  {item['sheet']} row {item['row']} {item['field']}: {item['reason']}")
    if len(rejected) > 50:
        click.echo(f"  … {len(rejected) - 50} more (--report for all)")
    if report_path:
        write_import_report(job, report_path)
    if job.rejected:
        raise SystemExit(1)


@click.command("import-worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Run what is queued, then stop.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between looks at the queue.")
def import_worker_command(once: bool, poll: float):
    """Run the imports uploaded through POST /api/v1/imports, one at a time (beside
    the scheduler's own ``imports`` job, or instead of it)."""
    while True:
        counts = work_queued()
        db.session.remove()
        if once:
            click.echo(f"imports done {counts['done']}, failed {counts['failed']}")
            return
        time.sleep(poll)


@click.command("import-resume")
@with_appcontext
@click.argument("import_id", type=int)
def import_resume_command(import_id: int):
    """Queue a failed import again: it resumes after its last finished batch."""
    job = db.session.get(Import, import_id)
    if job is None or not requeue(job):
        raise click.ClickException(f"no failed import {import_id}")
    db.session.commit()
    click.echo(f"import {import_id} queued; a worker resumes it")


commands = [export_archives_command, check_import_command, import_command, import_worker_command, import_resume_command]
