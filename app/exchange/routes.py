import tempfile

import marshmallow as ma
from flask import send_file
from flask_smorest import Blueprint

from app.access.actors import current_actor, staff_required
from app.access.scope import get_institution
from app.common.schemas import Strict
from app.exchange.export import XLSX_MIME, export_archives

blp = Blueprint(
    "exchange",
    __name__,
    url_prefix="/api/v1",
    description="Bulk exchange of existing records: the archives of a subtree in the published import layout",
)


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
    out.seek(0)
    response = send_file(
        out, mimetype=XLSX_MIME, as_attachment=True, download_name=f"archives-{institution.id}.xlsx", conditional=False
    )
    response.headers["Cache-Control"] = "no-store"  # send_file sets its own; ID numbers must not be cached
    return response
