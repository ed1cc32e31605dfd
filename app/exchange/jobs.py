"""Imports off the request: an upload is stored (in the database) and waits as a queued import; a worker — the
scheduler's ``imports`` job, or ``flask import-worker`` beside it — claims one and runs it.

A claim is one conditional UPDATE (queued → running), so two workers never take the same import, and
the partial unique index ``uq_imports_one_running`` keeps every other import waiting while one runs
(subtrees overlap: two at once could write the same archives). A running import whose worker stopped sending heartbeats for
IMPORT_STALE_MINUTES is claimed again and resumes from its cursor.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.common.time import now
from app.errors import AppError, Invalid
from app.exchange.importer import LeaseLost, failure_text, run_import
from app.exchange.models import Import, ImportFile
from app.exchange.reader import sheet_for
from app.extensions import db

log = logging.getLogger(__name__)

SUFFIXES = (".xlsx", ".csv")
_XLSX_MAGIC = b"PK\x03\x04"  # an xlsx is a zip archive
_CHUNK = 1024 * 1024


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KiB"


def _sniff(suffix: str, head: bytes) -> None:
    if suffix == ".xlsx" and not head.startswith(_XLSX_MAGIC):
        raise Invalid("file", "not an xlsx workbook (the file is not a zip archive)")
    if suffix == ".csv":
        if b"\x00" in head:
            raise Invalid("file", "not a text csv")
        try:
            head.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            if err.start < len(head) - 4:  # not merely a character cut at the chunk's end
                raise Invalid("file", "a csv must be UTF-8 (Excel: save as “CSV UTF-8”)") from None


def store_upload(stream, file_name: str, *, institution_id: int, requested_by_id: int | None, dry_run: bool,
                 sheet_name: str | None = None) -> Import:  # fmt: skip
    """Queue the import of an uploaded workbook, its bytes in the database (in the caller's transaction):
    every worker reads it there, whichever machine took the upload."""
    suffix = Path(file_name or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise Invalid("file", "only xlsx and csv files are accepted")
    limit, content = current_app.config["IMPORT_MAX_BYTES"], bytearray()
    while chunk := stream.read(_CHUNK):
        if not content:
            _sniff(suffix, chunk)
        content += chunk
        if len(content) > limit:
            reason = f"larger than the {_size(limit)} an import may be (IMPORT_MAX_BYTES)"
            raise AppError(f"file: {reason}", status=413, error="payload_too_large", errors={"file": [reason]})
    if not content:
        raise Invalid("file", "the file is empty")
    if suffix == ".csv" and sheet_name is None:  # the sheet a csv is: its name
        named = sheet_for(Path(file_name).stem)
        if named is None:
            raise Invalid("sheet", "a csv is one sheet of the layout: name the file after it or give sheet")
        sheet_name = named.name
    job = Import(
        institution_id=institution_id,
        requested_by_id=requested_by_id,
        file_name=Path(file_name).name[:200],
        size=len(content),
        sheet_name=sheet_name,
        dry_run=dry_run,
        status="queued",
    )
    db.session.add(job)
    db.session.flush()
    db.session.add(ImportFile(import_id=job.id, content=bytes(content)))
    db.session.flush()
    return job


def _claimable(cutoff):
    return or_(Import.status == "queued", and_(Import.status == "running", Import.heartbeat_at < cutoff))


def claim() -> Import | None:
    """Take the oldest import no worker is running; None when there is none or one is running."""
    cutoff = now() - timedelta(minutes=current_app.config["IMPORT_STALE_MINUTES"])
    candidates = db.session.scalars(select(Import.id).where(_claimable(cutoff)).order_by(Import.id)).all()
    for job_id in candidates:
        at = now()
        try:
            result = db.session.execute(
                update(Import)
                .where(Import.id == job_id, _claimable(cutoff))
                .values(status="running", started_at=at, heartbeat_at=at, attempts=Import.attempts + 1)
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
        except IntegrityError:  # an import is running
            db.session.rollback()
            continue
        if result.rowcount == 1:
            job = db.session.get(Import, job_id)
            db.session.refresh(job)
            return job
    return None


def work_queued(limit: int | None = None) -> dict:
    """Run the waiting imports one after another (the scheduler's ``imports`` job)."""
    done = failed = 0
    while limit is None or done + failed < limit:
        job = claim()
        if job is None:
            break
        try:
            run_import(job)
            done += 1
        except LeaseLost:
            log.warning("import %s: another worker took it over; this one stopped", job.id)
        except Exception as err:  # recorded on the import (status failed, error); the next one still runs
            if isinstance(err, DBAPIError):  # its text carries the row's values: not in a log line
                log.error("import %s failed: %s", job.id, failure_text(err))
            else:
                log.exception("import %s failed", job.id)
            failed += 1
    return {"done": done, "failed": failed}


def requeue(job: Import) -> bool:
    """A failed import goes back to the queue and resumes from its cursor."""
    result = db.session.execute(
        update(Import)
        .where(Import.id == job.id, Import.status == "failed")
        .values(status="queued", error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
