"""``flask import``: the round trip (export → empty the archives → import → the same archives), the
same file twice, an update."""

from __future__ import annotations

from sqlalchemy import select, text

from app.exchange import layout as L
from tests.exchange.test_export import records  # noqa: F401  (the export's fixture, reused)

ARCHIVE_TABLES = (
    "import_records",
    "import_rejections",
    "imports",
    "access_log",
    "contract_deliveries",
    "contract_items",
    "contract_packages",
    "contracts",
    "followup_plans",
    "followup_visits",
    "health_checks",
    "conditions",
)


def _export(app, path):
    result = app.test_cli_runner().invoke(args=["export-archives", str(path)])
    assert result.exit_code == 0, result.output


def _import(app, path, *args):
    return app.test_cli_runner().invoke(args=["import", str(path), *args])


def _archives(app) -> dict:
    """The archives as the export sees them: every sheet's rows, ids aside (the workbook itself)."""
    from openpyxl import load_workbook

    out = app.config["_tmp"] / "again.xlsx"
    _export(app, out)
    book = load_workbook(out, read_only=True)
    sheets = {ws.title: sorted(map(repr, ws.iter_rows(min_row=2, values_only=True))) for ws in book.worksheets}
    book.close()
    return sheets


def _empty_archives(app) -> None:
    """Everything about residents deleted; the organisation, accounts and packages stay."""
    from app.extensions import db

    with app.app_context():
        for table in ARCHIVE_TABLES:
            db.session.execute(text(f'DELETE FROM "{table}"'))
        for table in ("family_grants", "wechat_accounts", "residents", "households"):
            if table in db.metadata.tables:
                db.session.execute(text(f'DELETE FROM "{table}"'))
        db.session.commit()


def test_export_then_import_into_an_empty_database_gives_the_same_archives(app, records, tmp_path):  # noqa: F811
    app.config["_tmp"] = tmp_path
    book = tmp_path / "all.xlsx"
    _export(app, book)
    before = _archives(app)
    _empty_archives(app)
    result = _import(app, book)
    assert result.exit_code == 0, result.output
    assert _archives(app) == before
    again = _import(app, book)
    assert again.exit_code == 0, again.output
    from app.exchange.models import Import
    from app.extensions import db

    with app.app_context():
        job = db.session.scalars(select(Import).order_by(Import.id.desc())).first()
        assert (job.created, job.updated, job.rejected) == (0, 0, 0), job.sheets
        assert job.unchanged == job.rows > 0
        first = db.session.scalars(select(Import).order_by(Import.id)).first()
        assert first.created == first.rows
    assert L.BASIC.name in before
