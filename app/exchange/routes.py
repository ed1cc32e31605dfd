import tempfile

import marshmallow as ma
from flask import current_app, request, send_file
from flask_smorest import Blueprint

from app.access.actors import current_actor, staff_required
from app.access.scope import get_institution
from app.common.schemas import Strict
from app.errors import NotFound
from app.exchange.export import XLSX_MIME, export_archives
from app.exchange.jobs import store_upload
from app.exchange.models import Import
from app.exchange.report import write_import_report
from app.exchange.schemas import ImportArgs, ImportFile, ImportOut, ImportQueuedOut
from app.extensions import db

blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1",
    description="Bulk exchange of existing records: the archives of a subtree in the published import layout, "
    "and imports of workbooks in it",
)
_FORM_OVERHEAD = 64 * 1024  # the multipart boundaries and the other fields around the file


@blp.before_request
def _upload_limit():
    # Only this endpoint takes a workbook; every other body keeps MAX_CONTENT_LENGTH.
    if request.endpoint == "exchange.post_import":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"] + _FORM_OVERHEAD


class ArchiveExportArgs(Strict):
    institution_id = ma.fields.Integer(metadata={"description": "default: the caller's institution"})


@blp.route("/exports/archives.xlsx", methods=["GET"])
@staff_required("institution_admin")
@blp.arguments(ArchiveExportArgs, location="query")
@blp.response(200, content_type=XLSX_MIME)
def get_archives_xlsx(args):
    """Every archive managed in an institution's subtree, as the import workbook (docs/import.md).

    Sheets 居民基本信息, 慢病登记, 高血压随访, 糖尿病随访, 健康体检, 签约, with the Chinese headers of the
    national forms. Institution admins (their subtree; another institution → 404) and the district
    admin; doctors → 403. ID numbers are in full for an institution admin, masked (area code only) for
    anyone else. Every exported archive gets an access-log row (action `export`)."""
    actor = current_actor()
    institution = get_institution(actor, args.get("institution_id") or actor.institution_id)
    # A file, not memory: a district's workbook runs to hundreds of megabytes; it is deleted when closed.
    out = tempfile.TemporaryFile()
    export_archives(out, actor=actor, institutions=[institution], full_id_numbers="institution_admin" in actor.roles)
    return _send_xlsx(out, f"archives-{institution.id}.xlsx")  # no-store: ID numbers must not be cached


def _send_xlsx(out, name: str):
    out.seek(0)
    response = send_file(out, mimetype=XLSX_MIME, as_attachment=True, download_name=name, conditional=False)
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/imports", methods=["POST"])
@staff_required("institution_admin")
@blp.arguments(ImportArgs, location="form")
@blp.arguments(ImportFile, location="files")
@blp.response(202, ImportQueuedOut)
def post_import(args, files):
    """Upload a workbook (xlsx, or a csv of one sheet named by `sheet`) in the layout of docs/import.md
    to import into an institution's subtree (default: the caller's). The file is stored and the import
    queued; a worker runs it (`GET /imports/{id}` follows it). Institution admins (their subtree;
    another institution → 404) and the district admin. At most IMPORT_MAX_BYTES (413 beyond);
    anything but xlsx or UTF-8 csv → 422 naming `file`. With `dry_run` nothing is written: the counts
    and the report are what the import would give."""
    actor = current_actor()
    institution = get_institution(actor, args.get("institution_id") or actor.institution_id)
    upload = files["file"]
    job = store_upload(
        upload.stream,
        upload.filename or "",
        institution_id=institution.id,
        requested_by_id=actor.id,
        dry_run=args.get("dry_run", False),
        sheet_name=args.get("sheet"),
    )
    return {"id": job.id, "status": job.status}


def _visible_import(import_id: int) -> Import:
    """An import of the caller's subtree; anyone else's is a 404 like a missing one."""
    job = db.session.get(Import, import_id)
    try:
        if job is not None:
            get_institution(current_actor(), job.institution_id)
    except NotFound:
        job = None
    if job is None:  # outside the caller's subtree: the same answer as a missing one
        raise NotFound("no such import")
    return job


@blp.route("/imports/<int:import_id>", methods=["GET"])
@staff_required("institution_admin")
@blp.response(200, ImportOut)
def get_import(import_id):
    """Where an import stands: `status` queued | running | done | failed, `progress` 0–1 while it runs,
    the rows so far and what became of them (`created`, `updated`, `unchanged`, `rejected`), per sheet
    too."""
    return _visible_import(import_id)


@blp.route("/imports/<int:import_id>/report.xlsx", methods=["GET"])
@staff_required("institution_admin")
@blp.response(200, content_type=XLSX_MIME)
def get_import_report(import_id):
    """Every rejected row of the import with its sheet, row, field and reason (ID numbers masked),
    then the counts per sheet — so far, while it runs."""
    job = _visible_import(import_id)
    out = tempfile.TemporaryFile()
    write_import_report(job, out)
    return _send_xlsx(out, f"import-{job.id}-report.xlsx")
