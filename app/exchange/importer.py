"""Run an import (docs/import.md): each batch checked exactly as ``check-import`` checks it, its valid
rows written (app.exchange.upsert), the import's counts, cursor and rejected rows saved — all in the
batch's one transaction. A failure part-way leaves every finished batch in place and the import
resumable from its cursor; a batch is never half written.

A dry run writes each batch and rolls it back: the counts are the ones the import would give, and
nothing stays but the import's own report. Rows whose archive the same file brings are new then.

Once every sheet is in, the follow-up plans follow the imported visits (a plan an older visit set is
done by the newest face-to-face one) and the daily plan job opens what is missing, as for data
entered by hand; populations and indicators are derived from the records and need nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from app.access.actors import Actor
from app.accounts.models import Staff
from app.archive.models import HealthCheck
from app.audit import services as audit
from app.common.time import now
from app.contracts.recorded import Service, deliver_recorded
from app.exchange import layout as L
from app.exchange.check import Checker, _Known
from app.exchange.models import Import, ImportFile, ImportRecord, ImportRejection
from app.exchange.reader import ReadError, open_workbook
from app.exchange.results import SheetCounts
from app.exchange.upsert import Batch, Outcome, insert_rows
from app.exchange.validate import Row
from app.exchange.writers import WRITERS
from app.extensions import db
from app.followups import plans_job
from app.followups.models import FollowupVisit, is_face_to_face
from app.followups.visits import DELIVERY_SERVICE_TYPE, delivery_note
from app.orgs.models import Institution

HEARTBEAT_ROWS = 5000  # rows re-read (a resumed import) between heartbeats
_COUNTS = ("rows", "valid", "rejected", "new", "existing", "created", "updated", "unchanged")


def _home(known: _Known) -> int:
    return int(known.path.strip("/").split("/")[-1])  # the path ends with the institution's own id


def staff_actor(staff: Staff) -> Actor:
    """The account that asked for the import, as the access log names it."""
    return Actor(
        kind="staff", id=staff.id, display=staff.name, roles=frozenset(staff.roles), institution_id=staff.institution_id
    )


class Importer(Checker):
    def __init__(self, job: Import, roots: list[Institution], actor: Actor | None, on_rows: Callable | None = None):
        super().__init__(roots)
        self.job, self.actor, self.on_rows = job, actor, on_rows
        self.section = f"import:{job.id}"
        self.lease = job.attempts  # this run's claim: a worker resuming a stale import claims it anew
        self.remembered = 0
        # residents with imported visits, whose plans follow: a resumed import's too
        visits = select(FollowupVisit.resident_id).join(
            ImportRecord, (ImportRecord.record_id == FollowupVisit.id) & (ImportRecord.kind == "followup_visits")
        )
        self.visited: set[int] = set(db.session.scalars(visits.where(ImportRecord.import_id == job.id)))

    def counts_for(self, sheet: L.Sheet, mapping) -> SheetCounts:
        counts = super().counts_for(sheet, mapping)
        for name, value in (self.job.sheets or {}).get(sheet.name, {}).items():
            if name in _COUNTS:
                setattr(counts, name, value)  # a resumed import goes on counting
        return counts

    def resume_after(self, sheet: L.Sheet) -> int:
        return int((self.job.cursor or {}).get(sheet.name, 0))

    def _remember(self, sheet: L.Sheet, row: Row, seen: dict) -> None:
        super()._remember(sheet, row, seen)
        number = row.values.get("id_number")
        if sheet is L.BASIC and number is not None and row.values.get("institution.code") in self.institutions:
            path = self.institutions[row.values["institution.code"]][1]  # a resumed dry run's new archives
            self.on_basic_sheet[number] = _Known(path, row.values.get("birth_on"))
        self.remembered += 1
        if self.remembered % HEARTBEAT_ROWS == 0:  # re-reading a long file: still alive, still ours
            own(self.job, self.lease)
            db.session.commit()

    def write(self, sheet: L.Sheet, rows: list[Row], archives: dict[str, _Known], counts: SheetCounts, last: int):
        own(self.job, self.lease)  # first in the batch's transaction: a worker that lost the import stops here
        in_db = {n: (k.resident_id, _home(k)) for n, k in archives.items() if k.resident_id is not None}
        key = "id_number" if sheet is L.BASIC else "resident.id_number"
        known = rows if sheet is L.BASIC else [r for r in rows if r.values[key] in in_db]
        outcome = Outcome()
        if known:
            actor_id = self.actor.id if self.actor else None
            outcome = WRITERS[sheet.name](Batch(sheet, self.present, in_db, actor_id), known)
        fresh = len(rows) - len(known)  # a dry run's records of archives the file brings: all new
        if fresh and not self.job.dry_run:  # the basic sheet's batches committed them before
            raise RuntimeError(f"{sheet.name}: {fresh} rows name archives that are not in the database")
        counts.created += len(outcome.created) + fresh
        counts.updated += len(outcome.updated)
        counts.unchanged += outcome.unchanged
        if self.job.dry_run:
            db.session.rollback()
        else:
            self._mark(sheet, outcome)
        self._save(sheet, counts, last)

    def _mark(self, sheet: L.Sheet, outcome: Outcome) -> None:
        """The import's mark on what it did, and the access-log rows of the archives it touched."""
        marks = [
            {"import_id": self.job.id, "kind": sheet.record, "record_id": rid, "action": action}
            for action, pairs in (("created", outcome.created), ("updated", outcome.updated))
            for rid, _ in pairs
        ]
        insert_rows(ImportRecord, marks)
        for action, pairs in (("create", outcome.created), ("update", outcome.updated)):
            residents = sorted({resident for _, resident in pairs})
            audit.record_many(self.actor, residents, action=action, section=self.section, purpose="registration")
            if sheet.record == "followup_visits":
                self.visited.update(residents)

    def _save(self, sheet: L.Sheet, counts: SheetCounts, last: int) -> None:
        """The batch's counts, cursor and rejected rows, committed with its records."""
        job = self.job
        own(job, self.lease)  # (again after a dry run's rollback)
        rejected = self.report.rejected
        if rejected:
            db.session.execute(
                insert(ImportRejection),
                [
                    {"import_id": job.id, **{k: item[k] for k in ("sheet", "row", "field", "reason")}}
                    | {"value": None if item["value"] is None else str(item["value"])[:200]}
                    for item in rejected
                ],
            )
            rejected.clear()  # saved: the report is read back from the table
        sheets = dict(job.sheets or {})
        sheets[sheet.name] = {k: v for k, v in asdict(counts).items() if k != "sheet"}
        job.sheets, job.cursor = sheets, {**(job.cursor or {}), sheet.name: last}
        for name in ("rows", "created", "updated", "unchanged", "rejected"):
            setattr(job, name, sum(s[name] for s in sheets.values()))
        if job.total_rows:
            job.progress = min(0.99, round(job.rows / job.total_rows, 4))
        job.heartbeat_at = now()
        db.session.commit()
        if self.on_rows is not None:
            self.on_rows(job.rows)

    def follow_through(self) -> None:
        """What entering the records by hand would have set off: plans follow the imported visits
        (app.followups.plans_job) and the services count against the contracts in force on their
        days (app.contracts.recorded) — once every sheet is in, the contracts too."""
        if self.job.dry_run:
            return
        deliver_recorded(self._services())
        plans_job.close_superseded(sorted(self.visited))
        plans_job.ensure_plans()  # commits

    def _services(self) -> list[Service]:
        """The face-to-face visits and the health checks this import created, as contract deliveries."""

        def created(table, kind):
            mark = (ImportRecord.record_id == table.c.id) & (ImportRecord.kind == kind)
            return (
                select(table)
                .join(ImportRecord, mark)
                .where(ImportRecord.import_id == self.job.id, ImportRecord.action == "created")
            )

        visits = db.session.execute(created(FollowupVisit.__table__, "followup_visits")).all()
        services = [
            Service(v.resident_id, DELIVERY_SERVICE_TYPE, v.visit_on, "followup_visit", v.id, delivery_note(v))
            for v in visits
            if is_face_to_face(v.method)
        ]
        for check in db.session.execute(created(HealthCheck.__table__, "health_checks")).all():
            services.append(Service(check.resident_id, "health_check", check.checked_on, "health_check", check.id))
            if (check.elderly or {}).get("cognitive_screen"):
                services.append(
                    Service(check.resident_id, "cognitive_screening", check.checked_on, "health_check", check.id)
                )
        return services


class LeaseLost(RuntimeError):
    """Another worker claimed the import (this one's heartbeat had stopped): this one stops."""


def own(job: Import, lease: int) -> None:
    """Touch the heartbeat if ``lease`` still holds the import, else LeaseLost. The UPDATE locks the
    import's row until the caller's commit, so a claim waits for the batch in progress."""
    result = db.session.execute(
        update(Import)
        .where(Import.id == job.id, Import.status == "running", Import.attempts == lease)
        .values(heartbeat_at=now())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"import {job.id} was claimed by another worker")


def failure_text(err: BaseException) -> str:
    """What a failed import says about its failure, in the API and the logs: never a value of the file
    (a database error's text carries the row's values and keys) nor a path."""
    if isinstance(err, ReadError):
        return str(err)
    if isinstance(err, DBAPIError):
        constraint = getattr(getattr(err.orig, "diag", None), "constraint_name", None)
        return f"a database error ({type(err.orig).__name__}{f' on {constraint}' if constraint else ''})"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    return f"{type(err).__name__} (the worker's log has the details)"


def run_import(job: Import, on_rows: Callable | None = None) -> Import:
    """Run (or resume) ``job``, claimed by the caller (status running). Its state is committed as it goes."""
    roots = [db.session.get(Institution, job.institution_id)]
    staff = db.session.get(Staff, job.requested_by_id) if job.requested_by_id else None
    actor = staff_actor(staff) if staff else None
    lease = job.attempts
    try:
        with _workbook_file(job) as path:
            book = open_workbook(path, job.sheet_name)
            try:
                if job.total_rows is None:
                    job.total_rows = sum(reader.size or 0 for reader in book.sheets) or None
                    db.session.commit()  # before a dry run's first rollback
                importer = Importer(job, roots, actor, on_rows)
                importer.check(book, file=job.file_name)
            finally:
                book.close()
        importer.follow_through()
        own(job, lease)
    except LeaseLost:
        db.session.rollback()
        raise
    except BaseException as err:  # also Ctrl-C on the CLI: the import is left failed, resumable
        db.session.rollback()
        db.session.execute(
            update(Import)
            .where(Import.id == job.id, Import.attempts == lease)
            .values(status="failed", error=failure_text(err), finished_at=now())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        raise
    job.status, job.progress, job.finished_at, job.error = "done", 1.0, now(), None
    _discard_upload(job)
    db.session.commit()
    return job


@contextmanager
def _workbook_file(job: Import) -> Iterator[Path]:
    """The workbook as a file to open: the CLI's own, or an upload's bytes in a temporary file of this
    worker's (gone when closed; calamine holds what it read, a csv is read while it is open)."""
    if job.stored_path:
        yield Path(job.stored_path)
        return
    content = db.session.scalar(select(ImportFile.content).where(ImportFile.import_id == job.id))
    if content is None:
        raise ReadError("the uploaded file is gone")
    with tempfile.NamedTemporaryFile(suffix=Path(job.file_name).suffix.lower()) as handle:
        handle.write(content)
        handle.flush()
        yield Path(handle.name)


def _discard_upload(job: Import) -> None:
    """An uploaded workbook holds ID numbers in full: once imported it goes (a failed import keeps it,
    to resume). A file the CLI was given is the operator's, never ours to delete."""
    db.session.execute(delete(ImportFile).where(ImportFile.import_id == job.id))


def rejections_of(job: Import) -> list[dict]:
    rows = db.session.scalars(
        db.select(ImportRejection).where(ImportRejection.import_id == job.id).order_by(ImportRejection.id)
    )
    return [{"sheet": r.sheet, "row": r.row, "field": r.field, "reason": r.reason, "value": r.value} for r in rows]
