"""An import of an exchange workbook (docs/import.md): its state, what it did to which record, and
the rows it turned away.

An upload waits in ``import_files`` until its import is done. The import's own rows say what it did — ``import_records`` names every record it created or changed
(the mark the records carry, kept beside them so the clinical tables stay the features' own) — and
``import_rejections`` every rejected row with its field and reason (the report).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.common.time import now
from app.common.types import BigId, JSONType, UTCDateTime
from app.extensions import db

STATUSES = ("queued", "running", "done", "failed")
ACTIONS = ("created", "updated")


class Import(db.Model):
    __tablename__ = "imports"
    __table_args__ = (
        # One import running at a time: institutions' subtrees overlap (a centre's and its clinic's, the
        # district's), so two imports side by side could write the same archives. A second worker
        # cannot start another one beside it; imports are rare, large and sequential anyway.
        Index(
            "uq_imports_one_running",
            "status",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
        Index("ix_imports_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"))  # the subtree imported into
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the CLI (the system)
    file_name: Mapped[str] = mapped_column(String(200))  # as uploaded, for people; never a path
    # The CLI's file, where the operator keeps it; an upload's bytes are in import_files instead
    # (no worker depends on a disk the API wrote to).
    stored_path: Mapped[str | None] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    sheet_name: Mapped[str | None] = mapped_column(String(40))  # the sheet a csv is
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    total_rows: Mapped[int | None] = mapped_column(Integer)  # the sheets' row counts, for the progress
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Where a resumed run starts: the last row (as Excel numbers it) finished per sheet, and the
    # counts per sheet so far — committed with each batch's records, so they never disagree.
    cursor: Mapped[dict] = mapped_column(JSONType, default=dict)
    sheets: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportFile(db.Model):
    """An uploaded workbook, until its import is done (it holds ID numbers in full: then it goes)."""

    __tablename__ = "import_files"

    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ImportRecord(db.Model):
    """A record an import created or changed: the import's mark on it."""

    __tablename__ = "import_records"
    __table_args__ = (Index("ix_import_records_record", "kind", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # the record's table: residents, conditions, …
    record_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(10))  # created | updated


class ImportRejection(db.Model):
    """A rejected row's field and reason (the ID number masked: the report is passed around)."""

    __tablename__ = "import_rejections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    sheet: Mapped[str] = mapped_column(String(40))
    row: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(String(300))
    value: Mapped[str | None] = mapped_column(String(200))
