"""``flask import``: the round trip (export → empty the archives → import → the same archives), the
same file twice, an update."""

from __future__ import annotations

from sqlalchemy import select

from app.exchange import layout as L
from tests.exchange.test_export import records  # noqa: F401  (the export's fixture, reused)

# What stays when the archives go: the organisation, its accounts and its service packages.
KEPT = {"institutions", "teams", "team_members", "staff", "service_packages", "package_items", "package_institutions"}


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
    """Everything about residents deleted (every table but the organisation's), children first."""
    from app.extensions import db

    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEPT:
                db.session.execute(table.delete())
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


def test_the_sample_workbook_imports_cleanly_into_the_demo_district(app, tmp_path):
    """docs/sample-import.xlsx (the demo's 鲸园 centre, exported) goes into a demo district without its
    archives: every row created, none rejected."""
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "docs" / "sample-import.xlsx"
    seeded = app.test_cli_runner().invoke(args=["seed-demo", "--scale", "0.001"])
    assert seeded.exit_code == 0, seeded.output
    _empty_archives(app)
    result = _import(app, sample, "--institution", "HC01")
    assert result.exit_code == 0, result.output
    from app.exchange.models import Import
    from app.extensions import db

    with app.app_context():
        job = db.session.scalars(select(Import)).one()
        assert job.rejected == 0 and job.created == job.rows > 100, job.sheets
        assert set(job.sheets) == {s.name for s in L.SHEETS}


def test_a_newborn_without_an_id_number_is_known_by_its_archive_number(app, world, tmp_path):
    """A baby's archive waits for the household registration's ID number: importing its row twice
    finds it by 档案编号 the second time instead of opening a second archive."""
    from app.common.time import today
    from app.extensions import db
    from app.orgs.models import Institution
    from app.residents.models import Resident
    from tests.factories import resident

    with app.app_context():
        baby = resident("王宝宝", db.session.get(Institution, world.ids["a"]), today(), sex="female")
        baby.id_number_enc = baby.id_number_hash = None
        db.session.commit()
    book = tmp_path / "a.xlsx"
    assert app.test_cli_runner().invoke(args=["export-archives", "--institution", "HC01", str(book)]).exit_code == 0
    first = _import(app, book, "--institution", "HC01")
    second = _import(app, book, "--institution", "HC01")
    assert first.exit_code == 0 and second.exit_code == 0, (first.output, second.output)
    with app.app_context():
        babies = db.session.scalars(select(Resident).where(Resident.name == "王宝宝")).all()
        assert len(babies) == 1 and babies[0].id_number_hash is None
        from app.exchange.models import Import

        for job in db.session.scalars(select(Import)):
            assert job.created == 0 and job.updated == 0 and job.unchanged == job.rows, job.sheets
