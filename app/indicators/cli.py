"""``flask targets import FILE [--year N]`` and ``flask indicators docs``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.indicators.catalogue import markdown_table
from app.indicators.targets import TargetFileError, import_file

targets_cli = AppGroup("targets", help="Indicator targets (任务指标) per institution and year.")
indicators_cli = AppGroup("indicators", help="Performance indicators.")


@targets_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--year",
    type=click.IntRange(2000, 2100),
    default=None,
    help="The year the targets are for (default: the year in the file name).",
)
def import_targets(path: str, year: int | None):
    """Load a targets table shaped like the district's 附件2 CSV (first column: institution name).

    Institutions are matched by exact name; an unknown name, a bad number or a missing year is an
    error and nothing is written. Existing targets of the same institution, year and indicator are
    replaced (docs/domain.md §7)."""
    try:
        result = import_file(path, year)
    except TargetFileError as err:
        db.session.rollback()
        raise click.ClickException(str(err)) from None
    db.session.commit()
    click.echo(
        f"targets {result.year}: {result.institutions} institutions, {result.targets} targets "
        f"({result.created} new, {result.updated} replaced)"
    )
    if result.ignored_columns:
        click.echo("ignored columns (not targets): " + ", ".join(result.ignored_columns))


@indicators_cli.command("docs")
def print_docs():
    """Print the definitions table of docs/indicators.md (generated from the Definition objects)."""
    click.echo(markdown_table(), nl=False)


commands = [targets_cli, indicators_cli]
